package agent

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/tandembot/tandem/ops"
)

// Tool is one operation offered to a model.
type Tool struct {
	// Name is the wire name, the operation's name with every character
	// outside [a-zA-Z0-9_-] replaced by "_" ("github.comment" is
	// "github_comment"), as OpenAI and Anthropic require.
	Name string
	// Op is the operation's name in the catalog ("github.comment").
	Op          string
	Description string
	// Schema is the JSON Schema of the arguments: an object of strings,
	// additionalProperties false.
	Schema json.RawMessage
	// Change marks an operation that changes something (ops.Spec.Mutating):
	// it is only ever proposed, never run by this package.
	Change bool

	summary string
	args    []toolArg
}

// toolArg is one declared argument with its full-match pattern.
type toolArg struct {
	ops.Arg
	// full compiles the anchored pattern on the first call that checks
	// an argument: compiling every tool's patterns (counted repetitions
	// such as {1,400} make large programs) took most of serve's start-up.
	// nil for Words kinds.
	full     func() *regexp.Regexp
	required bool
}

// MaxWordsBytes bounds a Words argument (free text such as a comment).
const MaxWordsBytes = 10000

// noTool names, as a whole name or as one dotted part of it, operations a
// model never gets: identity, accounts, keys, schedules and the session.
var noTool = map[string]bool{
	"help": true, "whoami": true, "connect": true, "disconnect": true, "reconnect": true,
	"link": true, "unlink": true, "login": true, "logout": true, "apikey": true, "apikeys": true,
	"api_key": true, "keys": true, "schedule": true, "schedules": true, "unschedule": true,
	"session": true, "editors": true, "audit": true, "identity": true, "consent": true,
}

// readsWithoutProvider are the operations of no single provider that are
// still tools: standup is a plain read of what the sender has connected,
// each part under the identity the engine resolves.
var readsWithoutProvider = map[string]bool{"standup": true}

var wireUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// Tools returns one Tool per operation a model may use, in specs' order:
// provider operations, and of the others only plain reads named in
// readsWithoutProvider. It leaves out session controls, anything about
// identity, accounts, keys or schedules (noTool), operations without Run,
// and operations with an argument no value can match. It panics when two
// operations get the same wire name, since declarations are constants of
// the program.
func Tools(specs []ops.Spec) []Tool {
	var out []Tool
	seen := map[string]string{}
	for _, s := range specs {
		if !offered(s) {
			continue
		}
		t, ok := newTool(s)
		if !ok {
			continue
		}
		if other, dup := seen[t.Name]; dup {
			panic(fmt.Sprintf("agent: operations %s and %s share the tool name %s", other, s.Name, t.Name))
		}
		seen[t.Name] = s.Name
		out = append(out, t)
	}
	return out
}

func offered(s ops.Spec) bool {
	if s.Control || s.Run == nil || noTool[s.Name] {
		return false
	}
	for _, part := range strings.Split(s.Name, ".") {
		if noTool[part] {
			return false
		}
	}
	return s.Provider != "" || (readsWithoutProvider[s.Name] && !s.Mutating)
}

func newTool(s ops.Spec) (Tool, bool) {
	name := wireUnsafe.ReplaceAllString(s.Name, "_")
	if len(name) > 64 {
		name = name[:64]
	}
	t := Tool{Name: name, Op: s.Name, Change: s.Mutating, summary: s.Summary}
	props := map[string]any{}
	required := []string{}
	for _, a := range s.Args {
		ta := toolArg{Arg: a, required: requiredArg(s.Phrasings, a.Name)}
		prop := map[string]any{"type": "string", "description": describeArg(a)}
		switch {
		case a.Kind.Pattern != nil:
			p := `^(?:` + a.Kind.Pattern.String() + `)$`
			ta.full = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(p) })
			prop["pattern"] = p
		case a.Kind.Words:
			prop["minLength"], prop["maxLength"] = 1, MaxWordsBytes
		default:
			return Tool{}, false
		}
		if ta.required {
			required = append(required, a.Name)
		}
		props[a.Name] = prop
		t.args = append(t.args, ta)
	}
	schema, err := json.Marshal(map[string]any{
		"type": "object", "properties": props, "required": required, "additionalProperties": false,
	})
	if err != nil {
		panic("agent: schema of " + s.Name + ": " + err.Error())
	}
	t.Schema = schema
	t.Description = describeTool(s)
	return t, true
}

func describeArg(a ops.Arg) string {
	d := strings.TrimSpace(a.Description)
	if a.Kind.Expect != "" {
		d += " (" + a.Kind.Expect + ")"
	}
	return d
}

func describeTool(s ops.Spec) string {
	d := s.Summary
	if d == "" {
		d = s.Name
	}
	d += "."
	if s.Example != "" {
		d += " A person would ask for it as: " + s.Example + "."
	}
	if s.Mutating {
		d += " This changes something, so calling it only proposes the change: it runs only if the sender confirms it."
	}
	return d
}

// requiredArg reports whether every phrasing needs the argument: one that
// a phrasing leaves out, or takes only inside [optional] brackets (as in
// "commit {path} to {repo} [on {branch}]"), may be left out. Without
// phrasings every argument is required.
func requiredArg(phrasings []string, name string) bool {
	for _, ph := range phrasings {
		i := strings.Index(ph, "{"+name+"}")
		if i < 0 || strings.Count(ph[:i], "[") > strings.Count(ph[:i], "]") {
			return false
		}
	}
	return true
}
