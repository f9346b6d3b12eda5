package schedule

import "strings"

// token is a word of a message, or a comma on its own, with the offset just
// past it so the rest of the message can be returned as typed.
type token struct {
	text string
	end  int
}

// lex splits text into words and commas.
func lex(text string) []token {
	var toks []token
	i := 0
	for i < len(text) {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ',':
			i++
			toks = append(toks, token{",", i})
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\n\r,", rune(text[j])) {
				j++
			}
			toks = append(toks, token{text[i:j], j})
			i = j
		}
	}
	return toks
}

// cursor walks the tokens of a message.
type cursor struct {
	toks []token
	i    int
}

// peek returns the current word in lower case, or "" at the end.
func (c *cursor) peek() string {
	if c.i >= len(c.toks) {
		return ""
	}
	return strings.ToLower(c.toks[c.i].text)
}

// raw returns the current word as typed.
func (c *cursor) raw() string {
	if c.i >= len(c.toks) {
		return ""
	}
	return c.toks[c.i].text
}

// skip consumes the current word if it is one of words.
func (c *cursor) skip(words ...string) bool {
	for _, w := range words {
		if c.peek() == w && w != "" {
			c.i++
			return true
		}
	}
	return false
}

// end is the offset just past the last consumed token.
func (c *cursor) end() int {
	if c.i == 0 {
		return 0
	}
	return c.toks[c.i-1].end
}
