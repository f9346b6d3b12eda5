// Package ops declares what an operation is and reads messages as
// operations. An operation is declared once, by the package that can carry
// it out: its phrasings, its typed and described arguments, whether it
// changes something, how to run it and how to show the result. General
// operations (help, whoami, standup) and the session controls are declared
// here; each provider package declares its own (github.Operations, ...).
// A Catalog gathers them, parses a message into a Command carrying its
// operation, and runs it; help and standup are built from the same
// declarations.
//
// The package knows nothing of Slack or of the store: an operation receives
// the turn's already-resolved credentials and returns a tandem.Reply that
// the transport renders.
package ops

import (
	"context"
	"regexp"

	"github.com/tandembot/tandem"
)

// Spec declares one operation.
type Spec struct {
	// Name is unique in a catalog: "help", "github.comment".
	Name string
	// Example is a message that asks for it, shown by help and "did you
	// mean" ("comment on owner/repo#12 Looks good").
	Example string
	// Summary says what it does, in a line.
	Summary string
	// Phrasings are the ways people ask for it (see the pattern language
	// in grammar.go); each {name} is one of Args.
	Phrasings []string
	// Args are its arguments, each with a kind and a description.
	Args []Arg
	// Provider is the provider whose credentials it acts with ("" for
	// none, or for an operation that uses several).
	Provider tandem.ProviderID
	// Mutating marks an operation that changes something at the provider:
	// it is never retried or silently run again.
	Mutating bool
	// Control marks a session control (set, editors, audit, ...), which the
	// turn engine carries out: it changes the session, not a provider.
	Control bool
	// Standup, when set, makes the operation a part of the standup under
	// this heading ("GitHub pull requests"). It must take no arguments.
	Standup string
	// Run carries it out. It fails with a *tandem.Error for anything a
	// person should read (EINVALID, EFORBIDDEN, ...), and with a wrapped
	// internal error otherwise. Controls have none.
	Run func(ctx context.Context, r Request) (tandem.Reply, error)

	uses     []tandem.ProviderID // set by the catalog for standup
	patterns []phrasing
}

// Arg is one argument of an operation.
type Arg struct {
	// Name is how phrasings ({name}) and Run (Request.Arg) refer to it.
	Name string
	Kind Kind
	// Description says, in a line, what the argument is for this
	// operation ("the comment, as Slack text").
	Description string
}

// Kind is the type of an argument: which words it accepts and what it
// tells a person who typed something else.
type Kind struct {
	// Name is the kind's name ("repo", "text").
	Name string
	// Expect completes "“x” is not …": "a repository as owner/repo".
	Expect string
	// Pattern matches one accepted word in full; nil for Words.
	Pattern *regexp.Regexp
	// Words makes the argument take one or more words as typed.
	Words bool
}

// The kinds every provider may use.
var (
	// Text is one or more words, kept as typed.
	Text = Kind{Name: "text", Expect: "some text", Words: true}
	// Word is one word.
	Word = NewKind("word", `\S{1,200}`, "a word")
	// Number is a positive integer.
	Number = NewKind("number", `[0-9]{1,9}`, "a number")
	// User is a Slack mention, <@U123> as Slack sends it.
	User = NewKind("user", `<@[UW][A-Z0-9]{1,20}(\|[^>]*)?>`, "a person as @name")
	// Assignment is NAME=value.
	Assignment = NewKind("assign", `[A-Za-z_][A-Za-z0-9_]{0,63}=[^\s]{0,100}`, "a variable as NAME=value")
	// Variable is a session variable's name.
	Variable = NewKind("var", `[A-Za-z_][A-Za-z0-9_]{0,63}`, "a variable name")
)

// NewKind returns a one-word kind accepting words that match pattern in
// full. It panics on a pattern that does not compile, since kinds are
// constants of the program.
func NewKind(name, pattern, expect string) Kind {
	return Kind{Name: name, Expect: expect, Pattern: regexp.MustCompile(`^(?:` + pattern + `)$`)}
}

// accepts reports whether word is a valid one-word value of k.
func (k Kind) accepts(word string) bool { return k.Pattern != nil && k.Pattern.MatchString(word) }

// Request is everything an operation may use: the turn, its session, the
// parsed command and the credentials the engine resolved for it. An
// operation never looks credentials up itself, so it cannot act under the
// wrong identity.
type Request struct {
	Turn    tandem.Turn
	Session tandem.Session
	Command Command
	// Creds and Provider are set when Command.Provider is not "".
	Creds    tandem.Credentials
	Provider tandem.Provider
	// Identities lists, per enabled provider, the identity this turn would
	// use (for whoami).
	Identities []tandem.IdentityStatus
	// Sources are the resolved credentials of an operation that uses
	// several providers (Command.Uses), with the error of each that could
	// not be resolved.
	Sources map[tandem.ProviderID]Source
}

// Arg returns the argument name as typed ("" when absent).
func (r Request) Arg(name string) string { return r.Command.Args[name] }

// Source is one provider's credentials for an operation that uses several,
// or why there are none.
type Source struct {
	Creds    tandem.Credentials
	Provider tandem.Provider
	Err      error
}

// Command is a parsed request: which operation, its arguments, and the
// provider whose credentials it needs ("" for none).
type Command struct {
	Name     string
	Args     map[string]string
	Provider tandem.ProviderID
	// Uses lists the providers of an operation that combines several.
	Uses     []tandem.ProviderID
	Mutating bool
	// Control marks a session control the engine carries out itself.
	Control bool

	// op is the operation Parse matched, so Run need not look it up again.
	op *Spec
}

// Spec returns the operation the command was parsed as (nil for a Command
// built by hand).
func (c Command) Spec() *Spec { return c.op }

// Help is one operation's example and what it does.
type Help struct {
	Example  string
	Summary  string
	Provider tandem.ProviderID
}
