package turns

import (
	"errors"
	"sync"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// Command is a turn's text read as a command (which carries the operation
// it matched), or why the text is none. The zero Command is none.
type Command struct {
	cmd ops.Command
	err error
}

// Operations are what turns can ask for: the general operations and
// session controls, then each provider's declared operations. The zero
// Operations knows only the general ones and the controls.
type Operations struct{ catalog *ops.Catalog }

// NewOperations gathers providers' declared operations, in the order
// given (which is help's order, and the order Parse tries them in). It
// panics on a malformed declaration, as ops.NewCatalog does.
func NewOperations(providers ...[]ops.Spec) Operations {
	return Operations{ops.NewCatalog(providers...)}
}

var generalOnly = sync.OnceValue(func() *ops.Catalog { return ops.NewCatalog() })

func (o Operations) get() *ops.Catalog {
	if o.catalog == nil {
		return generalOnly()
	}
	return o.catalog
}

// Specs returns the declarations of every operation, for tools made from
// them (agent.Tools).
func (o Operations) Specs() []ops.Spec { return o.get().Specs() }

// Parse reads text as a command; a text that is none gives a Command whose
// Err says why (see Suggestions).
func (o Operations) Parse(text string) Command {
	c, err := o.get().Parse(text)
	return Command{cmd: c, err: err}
}

// Err is why the text is no command, for the sender (nil for a command).
func (c Command) Err() error { return c.err }

// Name is the command's name ("" for none).
func (c Command) Name() string { return c.cmd.Name }

// Provider is the provider the command needs ("" for none or several).
func (c Command) Provider() tandem.ProviderID {
	if c.err != nil {
		return ""
	}
	return c.cmd.Provider
}

// Mutating reports whether the command changes something at a provider,
// which must never be silently re-run.
func (c Command) Mutating() bool { return c.err == nil && c.cmd.Mutating }

// Control reports whether the command is a session control.
func (c Command) Control() bool { return c.err == nil && c.cmd.Control }

// Arg is the command's argument name ("" when absent).
func (c Command) Arg(name string) string { return c.cmd.Args[name] }

// Suggestions returns the closest commands' examples when err says a text
// is no command, and false for any other error.
func Suggestions(err error) ([]string, bool) {
	var unknown *ops.UnknownError
	if !errors.As(err, &unknown) {
		return nil, false
	}
	return unknown.Suggestions, true
}
