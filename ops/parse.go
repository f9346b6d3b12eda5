package ops

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tandembot/tandem"
)

// MaxCommandBytes bounds what the parser reads; longer messages are refused
// with a clear message before anything reaches a provider.
const MaxCommandBytes = 4000

// Parse reads text as a command. It fails with code EINVALID and a message
// that says what was expected (a bad argument), or what the closest commands
// are (nothing matched).
func (c *Catalog) Parse(text string) (Command, error) { return c.parse(text, true) }

// parse is Parse; skipByFirstWord lets it pass over the phrasings the
// message's first word rules out (tests compare it with trying them all).
func (c *Catalog) parse(text string, skipByFirstWord bool) (Command, error) {
	if len(text) > MaxCommandBytes {
		return Command{}, tandem.Errorf(tandem.EINVALID, "That message is %d characters long; Tandem reads commands of at most %d.", len(text), MaxCommandBytes)
	}
	if !utf8.ValidString(text) {
		return Command{}, tandem.Errorf(tandem.EINVALID, "That message is not valid text.")
	}
	words := splitWords(text)
	if len(words) == 0 {
		return Command{}, &UnknownError{Suggestions: []string{"help"}}
	}
	var bad *matchResult
	var badSpec *Spec
	first := strings.ToLower(words[0])
	for i := range c.specs {
		s := &c.specs[i]
		for _, p := range s.patterns {
			if skipByFirstWord && !p.mayStartWith(first) {
				continue
			}
			res, ok := p.match(words)
			if ok {
				return Command{Name: s.Name, Args: res.args, Provider: s.Provider, Uses: s.uses, Mutating: s.Mutating, Control: s.Control, op: s}, nil
			}
			if res.badWord != "" && bad == nil {
				bad, badSpec = &res, s
			}
		}
	}
	if bad != nil {
		return Command{}, tandem.Errorf(tandem.EINVALID, "“%s” is not %s. Try: `%s`", Escape(ClipText(bad.badWord, 60)), bad.badKind.Expect, badSpec.Example)
	}
	return Command{}, &UnknownError{Suggestions: c.suggest(strings.Join(words, " "), 3)}
}

// UnknownError says a message addressed to the bot is no command; it carries
// the closest commands' examples. It unwraps to a *tandem.Error with code
// EUNKNOWNCOMMAND whose message lists them, for callers that only read
// codes (the HTTP API).
type UnknownError struct{ Suggestions []string }

func (e *UnknownError) Error() string { return "ops: unknown command" }

// Unwrap returns the coded, person-safe form of e.
func (e *UnknownError) Unwrap() error {
	quoted := make([]string, len(e.Suggestions))
	for i, s := range e.Suggestions {
		quoted[i] = "`" + s + "`"
	}
	return tandem.Errorf(tandem.EUNKNOWNCOMMAND, "That is none of Tandem's commands. Did you mean: %s? Say `help` for everything Tandem can do.", strings.Join(quoted, ", "))
}

// splitWords splits on white space and drops sentence punctuation at the end,
// so "list my open PRs?" reads like "list my open PRs".
func splitWords(text string) []string {
	words := strings.Fields(text)
	if n := len(words); n > 0 {
		words[n-1] = strings.TrimRightFunc(words[n-1], func(r rune) bool { return r == '?' || r == '!' || r == '.' })
		if words[n-1] == "" {
			words = words[:n-1]
		}
	}
	// Slack wraps links as <https://…|label> and user mentions as <@U…>; a
	// leading "please" is noise.
	if len(words) > 0 && strings.EqualFold(words[0], "please") {
		words = words[1:]
	}
	return words
}

// suggest returns the examples of the n commands closest to text, among
// those at most half of whose letters would need changing (a typo, not
// another question); when none is that close, it suggests help alone.
func (c *Catalog) suggest(text string, n int) []string {
	type scored struct {
		example string
		d       int
	}
	text = strings.ToLower(text)
	// A long message is no typo of a command; comparing its first runes is
	// enough, and keeps the cost bounded for any sender (the longest
	// example is about 64 runes).
	if r := []rune(text); len(r) > 128 {
		text = string(r[:128])
	}
	var all []scored
	for _, s := range c.specs {
		ex := strings.ToLower(s.Example)
		d := distance(text, ex)
		if d <= max(utf8.RuneCountInString(text), utf8.RuneCountInString(ex))/2 {
			all = append(all, scored{s.Example, d})
		}
	}
	if len(all) == 0 {
		return []string{"help"}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].d < all[j].d })
	var out []string
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.example)
	}
	return out
}

// distance is the word-aware edit distance between a and b (Levenshtein on
// runes, with letters compared case-insensitively).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if unicode.ToLower(ra[i-1]) == unicode.ToLower(rb[j-1]) {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
