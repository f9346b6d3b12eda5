package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxEcho bounds how much of a rejected value a tool error repeats.
const maxEcho = 80

// ArgsError says why a model's tool arguments were refused; its text goes
// back to the model as a tool error.
type ArgsError struct{ Reason string }

func (e *ArgsError) Error() string { return "agent: tool arguments: " + e.Reason }

// Args checks a model's JSON arguments against t's declaration and returns
// them as an operation's arguments. It fails with an *ArgsError for text
// that is not one JSON object, a name the declaration lacks, a missing
// required argument, or a value that is not a string of the argument's
// kind (a full match of its pattern; non-empty, valid UTF-8 text of at
// most MaxWordsBytes for free text).
func (t Tool) Args(raw string) (map[string]string, error) {
	text := strings.TrimSpace(raw)
	if text == "" {
		text = "{}"
	}
	var in map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&in); err != nil || in == nil || dec.More() {
		return nil, &ArgsError{"the arguments must be one JSON object of strings"}
	}
	declared := map[string]toolArg{}
	for _, a := range t.args {
		declared[a.Name] = a
	}
	var unknown []string
	for name := range in {
		if _, ok := declared[name]; !ok {
			unknown = append(unknown, clip(name))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, &ArgsError{fmt.Sprintf("%s takes no argument %s; it takes %s", t.Name, strings.Join(unknown, ", "), t.argNames())}
	}
	out := map[string]string{}
	for _, a := range t.args {
		v, ok := in[a.Name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if a.required {
				return nil, &ArgsError{fmt.Sprintf("%s needs the argument %s: %s", t.Name, a.Name, describeArg(a.Arg))}
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &ArgsError{fmt.Sprintf("argument %s must be a string", a.Name)}
		}
		if err := a.check(s); err != nil {
			return nil, err
		}
		out[a.Name] = s
	}
	return out, nil
}

func (a toolArg) check(s string) error {
	if a.full != nil {
		if !a.full().MatchString(s) {
			return &ArgsError{fmt.Sprintf("argument %s: %q is not %s", a.Name, clip(s), a.Kind.Expect)}
		}
		return nil
	}
	switch {
	case strings.TrimSpace(s) == "":
		return &ArgsError{fmt.Sprintf("argument %s is empty", a.Name)}
	case len(s) > MaxWordsBytes:
		return &ArgsError{fmt.Sprintf("argument %s is %d bytes long; at most %d fit", a.Name, len(s), MaxWordsBytes)}
	case !utf8.ValidString(s):
		return &ArgsError{fmt.Sprintf("argument %s is not valid UTF-8", a.Name)}
	}
	return nil
}

func (t Tool) argNames() string {
	if len(t.args) == 0 {
		return "no arguments"
	}
	var names []string
	for _, a := range t.args {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// clip shortens s for an error message, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	n := maxEcho
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
