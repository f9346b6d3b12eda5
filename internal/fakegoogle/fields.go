package fakegoogle

import (
	"errors"
	"net/http"
	"strings"
)

// Partial responses: the "fields" system parameter, as in
// fields=nextPageToken,files(id,name) or items/start.

// selection is a parsed fields parameter: each selected name maps to what
// is selected below it, nil for everything. The name "*" selects every
// field at its level.
type selection map[string]selection

// parseFields parses Google's field selector syntax: names separated by
// commas, "a/b" to select b inside a, and "a(b,c)" to select b and c inside
// a. It returns an error for a malformed selector.
func parseFields(s string) (selection, error) {
	p := &fieldParser{in: s}
	sel, err := p.list()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.in) {
		return nil, errors.New("unexpected " + p.in[p.pos:])
	}
	return sel, nil
}

type fieldParser struct {
	in  string
	pos int
}

func (p *fieldParser) list() (selection, error) {
	out := selection{}
	for {
		if err := p.item(out); err != nil {
			return nil, err
		}
		if p.pos < len(p.in) && p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		return out, nil
	}
}

func (p *fieldParser) item(into selection) error {
	var path []string
	for {
		name := p.name()
		if name == "" {
			return errors.New("empty field name")
		}
		path = append(path, name)
		if p.pos < len(p.in) && p.in[p.pos] == '/' {
			p.pos++
			continue
		}
		break
	}
	var sub selection
	if p.pos < len(p.in) && p.in[p.pos] == '(' {
		p.pos++
		var err error
		if sub, err = p.list(); err != nil {
			return err
		}
		if p.pos >= len(p.in) || p.in[p.pos] != ')' {
			return errors.New("missing )")
		}
		p.pos++
	}
	// Build path[0]/path[1]/.../sub, merging into what is there.
	leaf := sub
	for i := len(path) - 1; i > 0; i-- {
		leaf = selection{path[i]: leaf}
	}
	into.merge(path[0], leaf)
	return nil
}

func (p *fieldParser) name() string {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '_' || c == '*' || c == '@' || c == '.' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			p.pos++
			continue
		}
		break
	}
	return strings.TrimSpace(p.in[start:p.pos])
}

// merge adds sub under name; a nil (everything) selection absorbs any
// narrower one.
func (s selection) merge(name string, sub selection) {
	old, ok := s[name]
	switch {
	case !ok:
		s[name] = sub
	case old == nil || sub == nil:
		s[name] = nil
	default:
		for k, v := range sub {
			old.merge(k, v)
		}
	}
}

// schema lists the field names a resource has; a nil schema accepts any
// selection below it.
type schema map[string]schema

// check returns the first selected name the schema does not know, with
// its path, or "".
func (s selection) check(sc schema, prefix string) string {
	if sc == nil {
		return ""
	}
	for name, sub := range s {
		if name == "*" {
			continue
		}
		inner, ok := sc[name]
		if !ok {
			return prefix + name
		}
		if sub != nil {
			if bad := sub.check(inner, prefix+name+"/"); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// apply keeps only the selected parts of v, a JSON value built of
// map[string]any, []map[string]any, []any and scalars.
func (s selection) apply(v any) any {
	if s == nil {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		if all, ok := s["*"]; ok {
			for k, x := range v {
				out[k] = all.apply(x)
			}
		}
		for k, sub := range s {
			if x, ok := v[k]; ok && k != "*" {
				out[k] = sub.apply(x)
			}
		}
		return out
	case []map[string]any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			out = append(out, s.apply(x))
		}
		return out
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			out = append(out, s.apply(x))
		}
		return out
	}
	return v
}

// selectFields applies the request's fields parameter (or def, when the
// parameter is absent and def is set) to v, checking it against sc. It
// answers 400 as Google does and returns false for a bad selector.
func selectFields(w http.ResponseWriter, raw, def string, sc schema, v map[string]any) (any, bool) {
	if raw == "" {
		raw = def
	}
	if raw == "" {
		return v, true
	}
	sel, err := parseFields(raw)
	if err != nil {
		badRequest(w, "Invalid field selection "+raw, "invalidParameter", "fields")
		return nil, false
	}
	if bad := sel.check(sc, ""); bad != "" {
		badRequest(w, "Invalid field selection "+bad, "invalidParameter", "fields")
		return nil, false
	}
	return sel.apply(v), true
}
