package jira

import (
	"encoding/json"
	"strings"
)

// Jira's REST API v3 takes and returns rich text as Atlassian Document
// Format (ADF), a JSON tree, never as a string. Tandem writes plain text
// and reads plain text, so it needs only the mapping below.

// adfNode is one node of a document.
type adfNode struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"`
	Text    string         `json:"text,omitempty"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []adfNode      `json:"content,omitempty"`
}

// textDoc turns plain text into a document: a paragraph per block of
// lines separated by blank lines, hard breaks between the lines of a
// block. ADF forbids empty text nodes, so blank lines make none.
func textDoc(text string) adfNode {
	doc := adfNode{Type: "doc", Version: 1, Content: []adfNode{}}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	for _, block := range strings.Split(text, "\n\n") {
		block = strings.Trim(block, "\n")
		if strings.TrimSpace(block) == "" {
			continue
		}
		p := adfNode{Type: "paragraph"}
		for i, line := range strings.Split(block, "\n") {
			if i > 0 {
				p.Content = append(p.Content, adfNode{Type: "hardBreak"})
			}
			if line != "" {
				p.Content = append(p.Content, adfNode{Type: "text", Text: line})
			}
		}
		doc.Content = append(doc.Content, p)
	}
	return doc
}

// docText renders a document as plain text: blocks separated by blank
// lines, hard breaks as newlines, list items as "- item", mentions and
// emoji by their text, links by their URL. Anything that is not a document
// (null, a v2 string) gives "".
func docText(raw json.RawMessage) string {
	var doc adfNode
	if len(raw) == 0 || json.Unmarshal(raw, &doc) != nil || doc.Type != "doc" {
		return ""
	}
	var blocks []string
	appendBlocks(doc.Content, &blocks)
	return strings.Join(blocks, "\n\n")
}

func appendBlocks(nodes []adfNode, out *[]string) {
	var line strings.Builder
	flush := func() {
		if s := strings.TrimRight(line.String(), " "); s != "" {
			*out = append(*out, s)
		}
		line.Reset()
	}
	for _, n := range nodes {
		switch n.Type {
		case "text":
			line.WriteString(n.Text)
		case "hardBreak":
			line.WriteString("\n")
		case "mention", "emoji", "date", "status":
			if t, ok := n.Attrs["text"].(string); ok {
				line.WriteString(t)
			}
		case "inlineCard":
			if u, ok := n.Attrs["url"].(string); ok {
				line.WriteString(u)
			}
		case "bulletList", "orderedList":
			flush()
			var items []string
			for _, li := range n.Content {
				var inner []string
				appendBlocks(li.Content, &inner)
				items = append(items, "- "+strings.Join(inner, "\n  "))
			}
			*out = append(*out, strings.Join(items, "\n"))
		case "rule":
			flush()
			*out = append(*out, "---")
		default: // paragraph, heading, lists, code, quotes, panels, tables
			flush()
			appendBlocks(n.Content, out)
		}
	}
	flush()
}
