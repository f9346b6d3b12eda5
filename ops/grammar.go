package ops

import (
	"fmt"
	"strings"
)

// A phrasing is a small pattern language for the ways people ask for a
// command:
//
//	word         a literal word, matched case-insensitively
//	(a|b c)      one of several word sequences
//	[a|b c]      an optional group
//	{name}       the operation's argument name: one word its kind accepts,
//	             or one or more words as typed for a kind of Words
//
// Patterns are compiled once; matching backtracks over the few words of a
// message, so a phrasing never needs a chain of string checks.
type pattern []node

type node struct {
	word     string    // literal
	alts     []pattern // group
	optional bool      // [group]
	capture  string    // {name}
	kind     Kind      // the captured argument's kind
}

// compile parses a phrasing whose {name}s are args; it panics on a
// malformed one, since phrasings are constants of the program.
func compile(s string, args map[string]Kind) pattern {
	toks := lexPattern(s)
	p, rest := parseSeq(toks, args)
	if len(rest) != 0 {
		panic(fmt.Sprintf("ops: phrasing %q: unexpected %q", s, rest[0]))
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

func parseSeq(toks []string, args map[string]Kind) (pattern, []string) {
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
				alt, toks = parseSeq(toks, args)
				alts = append(alts, alt)
				if len(toks) == 0 {
					panic("ops: unclosed group in phrasing")
				}
				if toks[0] == "|" {
					toks = toks[1:]
					continue
				}
				if toks[0] != closer {
					panic("ops: mismatched group in phrasing")
				}
				toks = toks[1:]
				break
			}
			p = append(p, node{alts: alts, optional: t == "["})
		default:
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				name := t[1 : len(t)-1]
				kind, ok := args[name]
				if !ok {
					panic("ops: phrasing names no argument " + name)
				}
				p = append(p, node{capture: name, kind: kind})
			} else {
				p = append(p, node{word: strings.ToLower(t)})
			}
			toks = toks[1:]
		}
	}
	return p, toks
}

// phrasing is a compiled pattern and the literal words it can begin with,
// so that Parse skips, without backtracking through it, a phrasing the
// message's first word already rules out.
type phrasing struct {
	pattern
	firsts map[string]bool // the literal words it can begin with
	open   bool            // it can also begin with an argument, or match no word
}

func newPhrasing(p pattern) phrasing {
	ph := phrasing{pattern: p, firsts: map[string]bool{}}
	open, empty := p.addFirsts(ph.firsts)
	ph.open = open || empty
	return ph
}

// mayStartWith reports whether a message whose first word, in lower case,
// is w can match ph. When it reports false, matching would fail at that
// word, before any argument is read, so skipping ph changes no result and
// no "is not" refusal.
func (ph phrasing) mayStartWith(w string) bool { return ph.open || ph.firsts[w] }

// addFirsts adds to set the literal words p can begin with. open reports
// that p can begin with an argument (set is then incomplete, and no
// matter); empty that p can match no word at all.
func (p pattern) addFirsts(set map[string]bool) (open, empty bool) {
	for _, n := range p {
		switch {
		case n.word != "":
			set[n.word] = true
			return false, false
		case n.capture != "":
			return true, false
		default:
			skippable := n.optional
			for _, alt := range n.alts {
				o, e := alt.addFirsts(set)
				if o {
					return true, false
				}
				skippable = skippable || e
			}
			if !skippable {
				return false, false
			}
		}
	}
	return false, true
}

// matchResult is a successful match, or the first argument that matched in
// shape but not in kind (so the reply can say what was expected).
type matchResult struct {
	args    map[string]string
	badKind Kind
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
	case n.capture != "" && n.kind.Words:
		for end := len(words); end >= 1; end-- {
			a := with(args, n.capture, strings.Join(words[:end], " "))
			if matchNodes(rest, words[end:], a, res, k) {
				return true
			}
		}
		return false
	case n.capture != "":
		if len(words) == 0 {
			return false
		}
		if !n.kind.accepts(words[0]) {
			// Remember the shape match so the reply can say what was expected,
			// but only if the rest of the phrasing would have matched.
			if res.badWord == "" && matchNodes(rest, words[1:], args, &matchResult{}, func(map[string]string) bool { return true }) {
				res.badKind, res.badWord = n.kind, words[0]
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
