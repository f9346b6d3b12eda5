package manifest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Slack's schema is written for ECMAScript regular expressions. Two of its
// patterns (unfurl_domains, outgoing_domains) open with a negative lookahead,
// ^(?![\.\-])…, which Go's regexp package cannot parse, so the schema does not
// compile with the default engine. compileECMAPattern accepts what Go accepts
// plus exactly that form, a leading ^(?!A)B, matched as "A does not match at
// the start and ^B matches". Any other unsupported syntax is still an error.
func compileECMAPattern(pattern string) (jsonschema.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err == nil {
		return re, nil
	}
	const open = "^(?!"
	if !strings.HasPrefix(pattern, open) {
		return nil, err
	}
	end := closingParen(pattern, len(open))
	if end < 0 {
		return nil, err
	}
	ahead, aerr := regexp.Compile("^(?:" + pattern[len(open):end] + ")")
	body, berr := regexp.Compile("^(?:" + pattern[end+1:] + ")")
	if aerr != nil || berr != nil {
		return nil, err
	}
	return negativeLookahead{pattern: pattern, ahead: ahead, body: body}, nil
}

// closingParen returns the index of the ")" that closes a group whose content
// starts at i, or -1. Escapes and character classes are skipped.
func closingParen(s string, i int) int {
	depth, inClass := 1, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

type negativeLookahead struct {
	pattern     string
	ahead, body *regexp.Regexp
}

func (n negativeLookahead) MatchString(s string) bool {
	return !n.ahead.MatchString(s) && n.body.MatchString(s)
}

func (n negativeLookahead) String() string { return n.pattern }

func TestCompileECMAPattern(t *testing.T) {
	// The domain pattern as it stands in Slack's schema.
	const domain = `^(?![\.\-])([-a-z0-9\.])+([a-z0-9])$`
	re, err := compileECMAPattern(domain)
	if err != nil {
		t.Fatalf("compile %s: %v", domain, err)
	}
	for s, want := range map[string]bool{
		"example.com":  true,
		"a-b.example":  true,
		"x1":           true,
		".example.com": false,
		"-example.com": false,
		"example.com.": false,
		"Example.com":  false,
		"":             false,
	} {
		if got := re.MatchString(s); got != want {
			t.Errorf("%s matches %q = %v, want %v", domain, s, got, want)
		}
	}
	if re.String() != domain {
		t.Errorf("String() = %q, want %q", re.String(), domain)
	}

	// Plain patterns go to Go's engine; other unsupported syntax stays an error.
	if re, err := compileECMAPattern(`^\/`); err != nil || fmt.Sprint(re) != `^\/` || !re.MatchString("/tandem") {
		t.Errorf(`compile ^\/: %v, %v`, re, err)
	}
	for _, bad := range []string{`^a(?!b)`, `(?<=a)b`, `^(?!a`, `^(?!a)(`} {
		if _, err := compileECMAPattern(bad); err == nil {
			t.Errorf("compile %q: want an error", bad)
		}
	}
}
