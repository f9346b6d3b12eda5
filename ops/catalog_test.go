package ops_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tandembot/tandem"

	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/ops"
)

// catalog holds the operations of the four providers, in the order the
// wiring lists them.
var catalog = ops.NewCatalog(github.Operations, gitlab.Operations, jira.Operations, google.Operations)

// Parse parses text with catalog.
func Parse(text string) (ops.Command, error) { return catalog.Parse(text) }

// TestParsedCommandCarriesItsOperation: what Parse returns names the
// operation it matched, and Run runs that one without looking it up by
// name; a Command built by hand is still found by its Name.
func TestParsedCommandCarriesItsOperation(t *testing.T) {
	for _, s := range catalog.Specs() {
		cmd, err := Parse(s.Example)
		if err != nil {
			continue // an example with a placeholder, such as @someone
		}
		if cmd.Spec() == nil || cmd.Spec().Name != cmd.Name {
			t.Errorf("Parse(%q) = %q carrying operation %v", s.Example, cmd.Name, cmd.Spec())
		}
	}

	cmd, err := Parse("help")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Name = "renamed after parsing"
	if reply, err := catalog.Run(context.Background(), ops.Request{Command: cmd}); err != nil || reply.Title == "" {
		t.Errorf("Run of a parsed help = %+v, %v; want help's reply", reply, err)
	}
	if reply, err := catalog.Run(context.Background(), ops.Request{Command: ops.Command{Name: "help"}}); err != nil || reply.Title == "" {
		t.Errorf("Run of a Command built by hand = %+v, %v; want help's reply", reply, err)
	}
	if _, err := catalog.Run(context.Background(), ops.Request{Command: ops.Command{Name: "no such command"}}); err == nil {
		t.Error("Run of an unknown command succeeded")
	}
}

// TestDeclarationsAreComplete: every operation says what it does and how to
// ask for it, every argument has a kind and a description and appears in a
// phrasing, and each example parses as its own operation, since help, "did
// you mean" and (later) a model's tool list are built from these.
func TestDeclarationsAreComplete(t *testing.T) {
	for _, s := range catalog.Specs() {
		if s.Name == "" || s.Example == "" || s.Summary == "" || len(s.Phrasings) == 0 {
			t.Errorf("%q: name, example, summary or phrasings missing: %+v", s.Name, s)
		}
		if !s.Control && s.Run == nil {
			t.Errorf("%s: no Run", s.Name)
		}
		for _, a := range s.Args {
			used := false
			for _, ph := range s.Phrasings {
				used = used || strings.Contains(ph, "{"+a.Name+"}")
			}
			if a.Kind.Name == "" || a.Description == "" || !used {
				t.Errorf("%s: argument %q has kind %q, description %q, used in a phrasing: %v", s.Name, a.Name, a.Kind.Name, a.Description, used)
			}
		}
		if strings.Contains(s.Example, "@someone") {
			continue // a placeholder no phrasing accepts as typed
		}
		if cmd, err := Parse(s.Example); err != nil || cmd.Name != s.Name {
			t.Errorf("example %q of %s parses as %q, %v", s.Example, s.Name, cmd.Name, err)
		}
	}
}

// TestHelpAndStandupComeFromTheDeclarations: help lists every declared
// operation, and standup uses exactly the providers that declare a part.
func TestHelpAndStandupComeFromTheDeclarations(t *testing.T) {
	extra := ops.Spec{Name: "acme.mine", Example: "my acme things", Summary: "your Acme things", Provider: "acme",
		Phrasings: []string{"my acme things"}, Standup: "Acme things",
		Run: func(context.Context, ops.Request) (tandem.Reply, error) {
			return tandem.Reply{Title: "2 Acme things", Items: []tandem.Item{{Text: "thing one"}, {Text: "thing two"}}}, nil
		}}
	cat := ops.NewCatalog(jira.Operations, []ops.Spec{extra})
	help, err := cat.Run(context.Background(), ops.Request{Command: ops.Command{Name: "help"}})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, it := range help.Items {
		listed = append(listed, it.Text)
	}
	for _, want := range []string{"`my acme things`: your Acme things", "`move OPS-12 to In Progress`"} {
		if !strings.Contains(strings.Join(listed, "\n"), want) {
			t.Errorf("help does not list %q:\n%s", want, strings.Join(listed, "\n"))
		}
	}
	if strings.Contains(strings.Join(listed, "\n"), "list my open PRs") {
		t.Errorf("help lists GitHub's operation, which this catalog does not have")
	}

	cmd, err := cat.Parse("standup")
	if err != nil {
		t.Fatal(err)
	}
	if want := []tandem.ProviderID{tandem.Jira, "acme"}; !slices.Equal(cmd.Uses, want) {
		t.Errorf("standup uses %v, want %v", cmd.Uses, want)
	}
	reply, err := cat.Run(context.Background(), ops.Request{Command: cmd, Sources: map[tandem.ProviderID]ops.Source{
		"acme":      {Creds: tandem.Credentials{Identity: tandem.Identity{Login: "ann"}}},
		tandem.Jira: {Err: &tandem.NotConnectedError{Provider: tandem.Jira}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range reply.Items {
		got = append(got, it.Text)
	}
	want := []string{"*Jira issues*: Jira credentials not configured", "*Acme things* — 2 Acme things (as ann)", "    thing one", "    thing two"}
	if !slices.Equal(got, want) {
		t.Errorf("standup items:\n got %q\nwant %q", got, want)
	}
}
