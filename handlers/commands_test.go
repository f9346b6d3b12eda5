package handlers

import (
	"context"
	"testing"
)

// TestParsedCommandCarriesItsOperation: what Parse returns names the
// operation it matched, and Run runs that one without looking it up by
// name; a Command built by hand is still found by its Name.
func TestParsedCommandCarriesItsOperation(t *testing.T) {
	for i := range specs {
		s := &specs[i]
		cmd, err := Parse(s.example)
		if err != nil {
			continue // an example with a placeholder, such as @someone
		}
		if cmd.op == nil || cmd.op.name != cmd.Name {
			t.Errorf("Parse(%q) = %q carrying operation %v", s.example, cmd.Name, cmd.op)
		}
	}

	cmd, err := Parse("help")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Name = "renamed after parsing"
	if reply, err := Run(context.Background(), Request{Command: cmd}); err != nil || reply.Title == "" {
		t.Errorf("Run of a parsed help = %+v, %v; want help's reply", reply, err)
	}
	if reply, err := Run(context.Background(), Request{Command: Command{Name: "help"}}); err != nil || reply.Title == "" {
		t.Errorf("Run of a Command built by hand = %+v, %v; want help's reply", reply, err)
	}
	if _, err := Run(context.Background(), Request{Command: Command{Name: "no such command"}}); err == nil {
		t.Error("Run of an unknown command succeeded")
	}
}
