package fakeslack

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Slack's limits, from the facts sheet.
const (
	maxMessageBlocks = 50      // blocks in a message
	maxViewBlocks    = 100     // blocks in a modal or Home tab
	maxSectionText   = 3000    // characters in a section's text
	maxSectionFields = 10      // fields in a section
	maxFieldText     = 2000    // characters in one field
	maxTextLength    = 40000   // characters in a message's text
	maxViewBytes     = 250_000 // "250 kB" of view payload
	maxAckFrame      = 20 * 1024
	maxConnections   = 10
)

// invalidBlocks builds Slack's invalid_blocks answer, whose messages carry a
// JSON pointer to the offending field.
func invalidBlocks(msg, pointer string) *apiError {
	return fail("invalid_blocks", fmt.Sprintf("[ERROR] %s [json-pointer:%s]", msg, pointer))
}

// validateBlocks checks a blocks array against Slack's limits: at most max
// blocks, every block typed, and section text and fields within bounds.
// It returns nil when Slack would accept the blocks.
func validateBlocks(raw json.RawMessage, max int) *apiError {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return fail("invalid_blocks_format")
	}
	if len(list) > max {
		return invalidBlocks(fmt.Sprintf("no more than %d items allowed", max), "/blocks")
	}
	for i, b := range list {
		var blk struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
		}
		ptr := fmt.Sprintf("/blocks/%d", i)
		if err := json.Unmarshal(b, &blk); err != nil || blk.Type == "" {
			return invalidBlocks("missing required field: type", ptr)
		}
		if blk.Type != "section" {
			continue
		}
		if blk.Text == nil && len(blk.Fields) == 0 {
			return invalidBlocks("must provide either text or fields", ptr)
		}
		if blk.Text != nil && utf8.RuneCountInString(blk.Text.Text) > maxSectionText {
			return invalidBlocks(fmt.Sprintf("must be less than %d characters", maxSectionText+1), ptr+"/text/text")
		}
		if len(blk.Fields) > maxSectionFields {
			return invalidBlocks(fmt.Sprintf("no more than %d items allowed", maxSectionFields), ptr+"/fields")
		}
		for j, f := range blk.Fields {
			if utf8.RuneCountInString(f.Text) > maxFieldText {
				return invalidBlocks(fmt.Sprintf("must be less than %d characters", maxFieldText+1), fmt.Sprintf("%s/fields/%d/text", ptr, j))
			}
		}
	}
	return nil
}

// messageContent returns the text and blocks of a chat.* call after checking
// them: msg_too_long over 40000 characters, invalid_blocks over the block
// limits, no_text when there is nothing to show.
func messageContent(q *apiRequest) (string, json.RawMessage, *apiError) {
	text := q.str("text")
	if utf8.RuneCountInString(text) > maxTextLength {
		return "", nil, fail("msg_too_long")
	}
	blocks := q.rawJSON("blocks")
	if blocks != nil {
		if err := validateBlocks(blocks, maxMessageBlocks); err != nil {
			return "", nil, err
		}
	}
	if text == "" && !hasItems(blocks) && !hasItems(q.rawJSON("attachments")) {
		return "", nil, fail("no_text")
	}
	return text, blocks, nil
}

// hasItems reports whether raw is a non-empty JSON array.
func hasItems(raw json.RawMessage) bool {
	var list []json.RawMessage
	return json.Unmarshal(raw, &list) == nil && len(list) > 0
}
