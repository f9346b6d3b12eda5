package handlers

import (
	"fmt"
	"regexp"
	"strings"
)

// A phrasing is a small pattern language for the ways people ask for a
// command:
//
//	word         a literal word, matched case-insensitively
//	(a|b c)      one of several word sequences
//	[a|b c]      an optional group
//	{name}       one argument word, checked by the kind of the same name
//	{text}       one or more words, kept as typed
//
// Patterns are compiled once; matching backtracks over the few words of a
// message, so a phrasing never needs a chain of string checks.
type pattern []node

type node struct {
	word     string    // literal
	alts     []pattern // group
	optional bool      // [group]
	capture  string    // {name}
}

// argKind checks one captured argument and says what was expected.
type argKind struct {
	re     *regexp.Regexp
	expect string
}

var argKinds = map[string]argKind{
	"repo":    {regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`), "a repository as owner/repo"},
	"ref":     {regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}#[0-9]{1,9}$`), "an issue or pull request as owner/repo#123"},
	"project": {regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100})+$`), "a project as group/project"},
	"glissue": {regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100})+#[0-9]{1,9}$`), "a GitLab issue as group/project#12"},
	"mrref":   {regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100})+![0-9]{1,9}$`), "a merge request as group/project!12"},
	"key":     {regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,9}$`), "a Jira project key such as OPS"},
	"issue":   {regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,9}-[0-9]{1,9}$`), "a Jira issue key such as OPS-12"},
	"number":  {regexp.MustCompile(`^[0-9]{1,9}$`), "a number"},
	"branch":  {regexp.MustCompile(`^[A-Za-z0-9_./-]{1,200}$`), "a branch name"},
	"path":    {regexp.MustCompile(`^[A-Za-z0-9_./-]{1,400}$`), "a file path such as docs/notes.md"},
	"assign":  {regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}=[^\s]{0,100}$`), "a variable as NAME=value"},
	"var":     {regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`), "a variable name"},
	"user":    {regexp.MustCompile(`^<@[UW][A-Z0-9]{1,20}(\|[^>]*)?>$`), "a person as @name"},
	"word":    {regexp.MustCompile(`^\S{1,200}$`), "a word"},
}

// compile parses a phrasing; it panics on a malformed one, since phrasings
// are constants of the program.
func compile(s string) pattern {
	toks := lexPattern(s)
	p, rest := parseSeq(toks)
	if len(rest) != 0 {
		panic(fmt.Sprintf("handlers: phrasing %q: unexpected %q", s, rest[0]))
	}
	return p
}

func lexPattern(s string) []string {
	var toks []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch r {
		case '(', ')', '[', ']', '|':
			flush()
			toks = append(toks, string(r))
		case ' ':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

func parseSeq(toks []string) (pattern, []string) {
	var p pattern
	for len(toks) > 0 {
		t := toks[0]
		switch t {
		case ")", "]", "|":
			return p, toks
		case "(", "[":
			closer := map[string]string{"(": ")", "[": "]"}[t]
			var alts []pattern
			toks = toks[1:]
			for {
				var alt pattern
				alt, toks = parseSeq(toks)
				alts = append(alts, alt)
				if len(toks) == 0 {
					panic("handlers: unclosed group in phrasing")
				}
				if toks[0] == "|" {
					toks = toks[1:]
					continue
				}
				if toks[0] != closer {
					panic("handlers: mismatched group in phrasing")
				}
				toks = toks[1:]
				break
			}
			p = append(p, node{alts: alts, optional: t == "["})
		default:
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				name := t[1 : len(t)-1]
				if _, ok := argKinds[name]; !ok && name != "text" {
					panic("handlers: unknown argument kind " + name)
				}
				p = append(p, node{capture: name})
			} else {
				p = append(p, node{word: strings.ToLower(t)})
			}
			toks = toks[1:]
		}
	}
	return p, toks
}

// matchResult is a successful match, or the first argument that matched in
// shape but not in kind (so the reply can say what was expected).
type matchResult struct {
	args    map[string]string
	badArg  string
	badWord string
}

// match reports whether words match p entirely.
func (p pattern) match(words []string) (matchResult, bool) {
	var res matchResult
	ok := matchNodes(p, words, map[string]string{}, &res, func(args map[string]string) bool {
		res.args = args
		return true
	})
	return res, ok
}

// matchNodes matches ns against a prefix of words and calls k with the
// arguments for the rest; it backtracks when k reports false.
func matchNodes(ns pattern, words []string, args map[string]string, res *matchResult, k func(map[string]string) bool) bool {
	if len(ns) == 0 {
		if len(words) == 0 {
			return k(args)
		}
		return false
	}
	n, rest := ns[0], ns[1:]
	switch {
	case n.word != "":
		if len(words) == 0 || strings.ToLower(words[0]) != n.word {
			return false
		}
		return matchNodes(rest, words[1:], args, res, k)
	case n.capture == "text":
		for end := len(words); end >= 1; end-- {
			a := with(args, "text", strings.Join(words[:end], " "))
			if matchNodes(rest, words[end:], a, res, k) {
				return true
			}
		}
		return false
	case n.capture != "":
		if len(words) == 0 {
			return false
		}
		kind := argKinds[n.capture]
		if !kind.re.MatchString(words[0]) {
			// Remember the shape match so the reply can say what was expected,
			// but only if the rest of the phrasing would have matched.
			if res.badArg == "" && matchNodes(rest, words[1:], args, &matchResult{}, func(map[string]string) bool { return true }) {
				res.badArg, res.badWord = n.capture, words[0]
			}
			return false
		}
		return matchNodes(rest, words[1:], with(args, n.capture, words[0]), res, k)
	default:
		for _, alt := range n.alts {
			seq := append(append(pattern{}, alt...), rest...)
			if matchNodes(seq, words, args, res, k) {
				return true
			}
		}
		if n.optional {
			return matchNodes(rest, words, args, res, k)
		}
		return false
	}
}

func with(args map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(args)+1)
	for ak, av := range args {
		out[ak] = av
	}
	out[k] = v
	return out
}
