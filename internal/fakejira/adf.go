package fakejira

import (
	"encoding/json"
	"strings"
)

// Atlassian Document Format (ADF): REST API v3 takes and returns rich text
// (descriptions, comment bodies) as a JSON document, never as a string.
// The fake checks the part of the schema that clients commonly get wrong
// and renders documents as plain text for its records.

type adfNode struct {
	Type    string          `json:"type"`
	Version *int            `json:"version,omitempty"`
	Text    *string         `json:"text,omitempty"`
	Attrs   map[string]any  `json:"attrs,omitempty"`
	Content json.RawMessage `json:"content,omitempty"`
	Marks   json.RawMessage `json:"marks,omitempty"`
}

// adfBlocks are the node types the fake accepts, by whether they are
// blocks (true) or inline (false).
var adfBlocks = map[string]bool{
	"paragraph": true, "heading": true, "bulletList": true, "orderedList": true,
	"listItem": true, "codeBlock": true, "blockquote": true, "rule": true, "panel": true,
	"text": false, "hardBreak": false, "mention": false, "emoji": false, "inlineCard": false,
}

// validDoc reports whether raw is an ADF document: {"type":"doc",
// "version":1,"content":[...]} whose nodes are known and whose text nodes
// are not empty.
func validDoc(raw json.RawMessage) bool {
	var doc adfNode
	if json.Unmarshal(raw, &doc) != nil || doc.Type != "doc" || doc.Version == nil || *doc.Version != 1 || doc.Content == nil {
		return false
	}
	return validContent(doc.Content)
}

func validContent(raw json.RawMessage) bool {
	var nodes []adfNode
	if json.Unmarshal(raw, &nodes) != nil {
		return false
	}
	for _, n := range nodes {
		if _, known := adfBlocks[n.Type]; !known {
			return false
		}
		if n.Type == "text" && (n.Text == nil || *n.Text == "") {
			return false
		}
		if n.Content != nil && !validContent(n.Content) {
			return false
		}
	}
	return true
}

// emptyDoc reports whether a valid document holds no text at all.
func emptyDoc(raw json.RawMessage) bool { return strings.TrimSpace(adfText(raw)) == "" }

// adfText renders a document as plain text: blocks separated by blank
// lines, hard breaks as newlines, list items prefixed with "- ".
func adfText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var doc adfNode
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	var blocks []string
	collectBlocks(doc.Content, "", &blocks)
	return strings.Join(blocks, "\n\n")
}

func collectBlocks(raw json.RawMessage, prefix string, out *[]string) {
	var nodes []adfNode
	if json.Unmarshal(raw, &nodes) != nil {
		return
	}
	var line strings.Builder
	flush := func() {
		if line.Len() > 0 {
			*out = append(*out, prefix+line.String())
			line.Reset()
		}
	}
	for _, n := range nodes {
		switch n.Type {
		case "text":
			if n.Text != nil {
				line.WriteString(*n.Text)
			}
		case "hardBreak":
			line.WriteString("\n")
		case "mention", "emoji":
			if t, ok := n.Attrs["text"].(string); ok {
				line.WriteString(t)
			}
		case "inlineCard":
			if u, ok := n.Attrs["url"].(string); ok {
				line.WriteString(u)
			}
		case "listItem":
			flush()
			var item []string
			collectBlocks(n.Content, "", &item)
			*out = append(*out, prefix+"- "+strings.Join(item, "\n"))
		default:
			flush()
			collectBlocks(n.Content, prefix, out)
		}
	}
	flush()
}

// textADF turns plain text into a document: blank lines separate
// paragraphs, single newlines become hard breaks.
func textADF(text string) json.RawMessage {
	var paras []obj
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		var inline []obj
		for i, l := range strings.Split(strings.Trim(p, "\n"), "\n") {
			if i > 0 {
				inline = append(inline, obj{"type": "hardBreak"})
			}
			if l != "" {
				inline = append(inline, obj{"type": "text", "text": l})
			}
		}
		if len(inline) > 0 {
			paras = append(paras, obj{"type": "paragraph", "content": inline})
		}
	}
	b, _ := json.Marshal(obj{"type": "doc", "version": 1, "content": append([]obj{}, paras...)})
	return b
}
