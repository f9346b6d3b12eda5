package ops

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

// Catalog is the set of operations a Tandem knows, in the order help lists
// them and Parse tries them: the general ones, the session controls, then
// each provider's in the order given. It is safe for concurrent use.
type Catalog struct {
	specs []Spec
}

// NewCatalog gathers the general operations, the session controls and
// providers' operations, compiling every phrasing. It panics on a
// malformed declaration (a phrasing naming no argument, a name declared
// twice, a standup part with arguments), since declarations are constants
// of the program.
func NewCatalog(providers ...[]Spec) *Catalog {
	c := &Catalog{}
	all := append(c.general(), sessionControls()...)
	for _, group := range providers {
		all = append(all, group...)
	}
	seen := map[string]bool{}
	var standupUses []tandem.ProviderID
	var headings []string
	for _, s := range all {
		if seen[s.Name] {
			panic("ops: operation " + s.Name + " declared twice")
		}
		seen[s.Name] = true
		args := map[string]Kind{}
		for _, a := range s.Args {
			args[a.Name] = a.Kind
		}
		for _, ph := range s.Phrasings {
			s.patterns = append(s.patterns, newPhrasing(compile(ph, args)))
		}
		if s.Standup != "" {
			if len(s.Args) > 0 || s.Provider == "" || s.Mutating {
				panic("ops: standup part " + s.Name + " must read one provider without arguments")
			}
			standupUses = append(standupUses, s.Provider)
			headings = append(headings, s.Standup)
		}
		c.specs = append(c.specs, s)
	}
	for i := range c.specs {
		if c.specs[i].Name == "standup" {
			c.specs[i].uses = standupUses
			c.specs[i].Summary = "one reply with what you have connected: " + strings.Join(headings, " · ")
		}
	}
	return c
}

// Run executes a parsed command: the operation Parse matched, or for a
// Command built by hand the one of its Name. It fails with what the
// operation's Run fails with, and with an internal error for a command it
// does not know, a session control (the engine carries those out) or a
// provider operation without credentials.
func (c *Catalog) Run(ctx context.Context, r Request) (tandem.Reply, error) {
	s := c.lookup(r.Command)
	switch {
	case s == nil:
		return tandem.Reply{}, fmt.Errorf("ops: no operation %q", r.Command.Name)
	case s.Run == nil:
		return tandem.Reply{}, fmt.Errorf("ops: %s is a session control the engine runs", s.Name)
	case s.Provider != "" && r.Provider == nil:
		return tandem.Reply{}, fmt.Errorf("ops: %s ran without credentials", s.Name)
	}
	return s.Run(ctx, r)
}

func (c *Catalog) lookup(cmd Command) *Spec {
	if cmd.op != nil {
		return cmd.op
	}
	for i := range c.specs {
		if c.specs[i].Name == cmd.Name {
			return &c.specs[i]
		}
	}
	return nil
}

// Specs returns every operation's declaration, in help's order.
func (c *Catalog) Specs() []Spec { return append([]Spec(nil), c.specs...) }

// Spec returns the operation named name, or nil when there is none.
func (c *Catalog) Spec(name string) *Spec { return c.lookup(Command{Name: name}) }

// Commands lists every operation for help texts.
func (c *Catalog) Commands() []Help {
	out := make([]Help, 0, len(c.specs))
	for _, s := range c.specs {
		out = append(out, Help{Example: s.Example, Summary: s.Summary, Provider: s.Provider})
	}
	return out
}
