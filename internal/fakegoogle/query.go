package fakegoogle

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Drive's search query language (the q parameter of files.list), the part
// a client of the fake needs: terms on fullText, name, mimeType, trashed,
// starred, modifiedTime and createdTime, "'x' in owners|readers|writers",
// joined by and, or, not and parentheses. Strings are single-quoted, with
// \' and \\ the only escapes.

// query is a parsed q: a predicate on a file seen by a caller.
type query interface {
	match(f *file, viewer string) bool
}

type (
	andQ  struct{ l, r query }
	orQ   struct{ l, r query }
	notQ  struct{ q query }
	termQ struct{ field, op, value string }
	boolQ struct {
		field, op string
		value     bool
	}
	timeQ struct {
		field, op string
		value     time.Time
	}
	inQ   struct{ value, field string }
	trueQ struct{}
)

func (q andQ) match(f *file, v string) bool { return q.l.match(f, v) && q.r.match(f, v) }
func (q orQ) match(f *file, v string) bool  { return q.l.match(f, v) || q.r.match(f, v) }
func (q notQ) match(f *file, v string) bool { return !q.q.match(f, v) }
func (trueQ) match(*file, string) bool      { return true }

func (q termQ) match(f *file, _ string) bool {
	var got string
	switch q.field {
	case "fullText":
		return fullTextScore(f, q.value) > 0
	case "name":
		got = f.name
		if q.op == "contains" {
			return namePrefix(f.name, q.value)
		}
	case "mimeType":
		got = f.mimeType
		if q.op == "contains" {
			return strings.Contains(got, q.value)
		}
	}
	return (q.op == "=") == (got == q.value)
}

func (q boolQ) match(f *file, _ string) bool {
	got := f.trashed
	if q.field == "starred" {
		got = f.starred
	}
	return (q.op == "=") == (got == q.value)
}

func (q timeQ) match(f *file, _ string) bool {
	got := f.modified
	if q.field == "createdTime" {
		got = f.created
	}
	c := got.Compare(q.value)
	switch q.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "!=":
		return c != 0
	}
	return c == 0
}

func (q inQ) match(f *file, _ string) bool {
	switch q.field {
	case "owners":
		return key(q.value) == f.owner
	case "writers":
		return key(q.value) == f.owner || slices.Contains(f.writers, key(q.value))
	}
	return key(q.value) == f.owner || slices.Contains(f.writers, key(q.value)) || slices.Contains(f.readers, key(q.value))
}

// hasFullText reports whether q has a fullText term, which rules out
// orderBy.
func hasFullText(q query) bool {
	switch q := q.(type) {
	case andQ:
		return hasFullText(q.l) || hasFullText(q.r)
	case orQ:
		return hasFullText(q.l) || hasFullText(q.r)
	case notQ:
		return hasFullText(q.q)
	case termQ:
		return q.field == "fullText"
	}
	return false
}

// fullTextTerms returns the values of q's fullText terms, for ranking.
func fullTextTerms(q query) []string {
	switch q := q.(type) {
	case andQ:
		return append(fullTextTerms(q.l), fullTextTerms(q.r)...)
	case orQ:
		return append(fullTextTerms(q.l), fullTextTerms(q.r)...)
	case termQ:
		if q.field == "fullText" {
			return []string{q.value}
		}
	}
	return nil
}

// words splits text into lower-case words of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// fullTextScore is how well f matches a fullText value, 0 for not at all:
// every word must occur in the name, description or content, or, for a
// value in double quotes, the exact phrase. Words in the name weigh more,
// as in Drive's relevance order.
func fullTextScore(f *file, value string) int {
	value = strings.TrimSpace(value)
	phrase := len(value) >= 2 && strings.HasPrefix(value, `"`) && strings.HasSuffix(value, `"`)
	want := words(value)
	if len(want) == 0 {
		return 0
	}
	name, body := words(f.name), words(f.description+" "+f.content)
	if phrase {
		n := 3*occurrences(name, want) + occurrences(body, want)
		return n
	}
	score := 0
	for _, w := range want {
		n := 3*occurrences(name, []string{w}) + occurrences(body, []string{w})
		if n == 0 {
			return 0
		}
		score += n
	}
	return score
}

// occurrences counts where seq occurs in text, word by word.
func occurrences(text, seq []string) int {
	n := 0
	for i := 0; i+len(seq) <= len(text); i++ {
		if slices.Equal(text[i:i+len(seq)], seq) {
			n++
		}
	}
	return n
}

// namePrefix is Drive's "name contains": a prefix match on the name's
// words, so "HelloWorld" matches 'Hello' but not 'World'.
func namePrefix(name, value string) bool {
	value = strings.ToLower(value)
	for _, w := range strings.Fields(strings.ToLower(name)) {
		if strings.HasPrefix(w, value) {
			return true
		}
	}
	return strings.HasPrefix(strings.ToLower(name), value)
}

// parseQuery parses q; "" matches every file.
func parseQuery(q string) (query, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return trueQ{}, nil
	}
	p := &queryParser{toks: toks}
	out, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return out, nil
}

type qtok struct {
	text string
	str  bool // a quoted string, text unescaped
}

func lex(q string) ([]qtok, error) {
	var out []qtok
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, qtok{text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(q) {
					return nil, errors.New("unterminated string")
				}
				if q[i] == '\\' {
					if i+1 >= len(q) || (q[i+1] != '\'' && q[i+1] != '\\') {
						return nil, errors.New("bad escape")
					}
					b.WriteByte(q[i+1])
					i += 2
					continue
				}
				if q[i] == '\'' {
					i++
					break
				}
				b.WriteByte(q[i])
				i++
			}
			out = append(out, qtok{text: b.String(), str: true})
		case strings.ContainsRune("=!<>", rune(c)):
			j := i + 1
			if j < len(q) && q[j] == '=' {
				j++
			}
			op := q[i:j]
			if op == "!" {
				return nil, errors.New("bad operator !")
			}
			out = append(out, qtok{text: op})
			i = j
		default:
			j := i
			for j < len(q) && (unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j])) || q[j] == '_') {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q", q[i:i+1])
			}
			out = append(out, qtok{text: q[i:j]})
			i = j
		}
	}
	return out, nil
}

type queryParser struct {
	toks []qtok
	pos  int
}

func (p *queryParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].str && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *queryParser) take() (qtok, error) {
	if p.pos >= len(p.toks) {
		return qtok{}, errors.New("unexpected end of query")
	}
	p.pos++
	return p.toks[p.pos-1], nil
}

func (p *queryParser) or() (query, error) {
	l, err := p.and()
	for err == nil && p.peekWord("or") {
		p.pos++
		var r query
		if r, err = p.and(); err == nil {
			l = orQ{l, r}
		}
	}
	return l, err
}

func (p *queryParser) and() (query, error) {
	l, err := p.unary()
	for err == nil && p.peekWord("and") {
		p.pos++
		var r query
		if r, err = p.unary(); err == nil {
			l = andQ{l, r}
		}
	}
	return l, err
}

func (p *queryParser) unary() (query, error) {
	switch {
	case p.peekWord("not"):
		p.pos++
		q, err := p.unary()
		return notQ{q}, err
	case p.peekWord("("):
		p.pos++
		q, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peekWord(")") {
			return nil, errors.New("missing )")
		}
		p.pos++
		return q, nil
	}
	return p.term()
}

func (p *queryParser) term() (query, error) {
	first, err := p.take()
	if err != nil {
		return nil, err
	}
	if first.str { // 'x' in owners
		if !p.peekWord("in") {
			return nil, errors.New("expected in")
		}
		p.pos++
		field, err := p.take()
		if err != nil || field.str || !slices.Contains([]string{"owners", "readers", "writers"}, field.text) {
			return nil, errors.New("bad collection after in")
		}
		return inQ{value: first.text, field: field.text}, nil
	}
	opTok, err := p.take()
	if err != nil || opTok.str {
		return nil, errors.New("expected an operator")
	}
	op := strings.ToLower(opTok.text)
	val, err := p.take()
	if err != nil {
		return nil, err
	}
	switch field := first.text; field {
	case "fullText":
		if op != "contains" || !val.str {
			return nil, errors.New("fullText takes contains 'string'")
		}
		return termQ{field, op, val.text}, nil
	case "name", "mimeType":
		if (op != "contains" && op != "=" && op != "!=") || !val.str {
			return nil, fmt.Errorf("%s takes contains, = or != and a string", field)
		}
		return termQ{field, op, val.text}, nil
	case "trashed", "starred":
		b := strings.ToLower(val.text)
		if (op != "=" && op != "!=") || val.str || (b != "true" && b != "false") {
			return nil, fmt.Errorf("%s takes = or != and true or false", field)
		}
		return boolQ{field, op, b == "true"}, nil
	case "modifiedTime", "createdTime":
		t, terr := time.Parse(time.RFC3339, val.text)
		if !slices.Contains([]string{"<", "<=", "=", "!=", ">", ">="}, op) || !val.str || terr != nil {
			return nil, fmt.Errorf("%s takes a comparison and an RFC 3339 string", field)
		}
		return timeQ{field, op, t}, nil
	}
	return nil, fmt.Errorf("unknown field %q", first.text)
}
