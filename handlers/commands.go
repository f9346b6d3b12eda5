package handlers

import (
	"context"
	"fmt"

	"github.com/tandembot/tandem"
)

// Request is everything a command may use: the turn, its session, the parsed
// command and the credentials the bot resolved for it. A command never looks
// credentials up itself, so it cannot act under the wrong identity.
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
	// Sources are the resolved credentials of a command that uses several
	// providers (Command.Uses), with the error of each that could not be
	// resolved.
	Sources map[tandem.ProviderID]Source
}

// Source is one provider's credentials for a multi-provider command, or why
// there are none.
type Source struct {
	Creds    tandem.Credentials
	Provider tandem.Provider
	Err      error
}

// spec is one command: how people phrase it and what it does.
type spec struct {
	name      string
	example   string
	help      string
	phrasings []string
	patterns  []pattern
	provider  tandem.ProviderID
	uses      []tandem.ProviderID // several providers, whichever are connected
	mutating  bool
	// control marks a session control (set, editors, audit, ...), which the
	// turns engine carries out: it changes the session, not a provider.
	control bool
	run     func(ctx context.Context, r Request) (tandem.Reply, error)
}

// specs holds every command in the order help lists them.
var specs []spec

func init() {
	for _, group := range [][]spec{generalSpecs(), sessionSpecs(), githubSpecs(), gitlabSpecs(), jiraSpecs(), googleSpecs()} {
		for _, s := range group {
			for _, ph := range s.phrasings {
				s.patterns = append(s.patterns, compile(ph))
			}
			specs = append(specs, s)
		}
	}
}

// Run executes a parsed command: the operation Parse matched, or for a
// Command built by hand the one of its Name. It fails with a *tandem.Error
// for anything a person should read (codes EINVALID, EFORBIDDEN, ...), and
// with a wrapped internal error otherwise.
func Run(ctx context.Context, r Request) (tandem.Reply, error) {
	s := r.Command.op
	for i := 0; s == nil && i < len(specs); i++ {
		if specs[i].name == r.Command.Name {
			s = &specs[i]
		}
	}
	switch {
	case s == nil:
		return tandem.Reply{}, fmt.Errorf("handlers: no command %q", r.Command.Name)
	case s.run == nil:
		return tandem.Reply{}, fmt.Errorf("handlers: %s is a session control the bot runs", s.name)
	case s.provider != "" && r.Provider == nil:
		return tandem.Reply{}, fmt.Errorf("handlers: %s ran without credentials", s.name)
	}
	return s.run(ctx, r)
}

// Help is one command's example and what it does.
type Help struct {
	Example  string
	Summary  string
	Provider tandem.ProviderID
}

// Commands lists every command for help texts.
func Commands() []Help {
	out := make([]Help, 0, len(specs))
	for _, s := range specs {
		out = append(out, Help{Example: s.example, Summary: s.help, Provider: s.provider})
	}
	return out
}
