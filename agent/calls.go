package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/tandembot/tandem"
)

// turn is one Run's state.
type turn struct {
	req      Request
	ex       Executor
	tools    map[string]Tool
	maxCalls int
	calls    int
	res      Result
}

// handle answers one tool call: a refusal for an unknown tool or bad
// arguments, a Proposal for a change, the Executor's text for a read. It
// fails only when the turn must end.
func (t *turn) handle(ctx context.Context, call ToolCall) (ToolResult, error) {
	tool, ok := t.tools[call.Name]
	if !ok {
		return t.refuse(call, fmt.Sprintf("There is no tool named %q. The tools are: %s.", clip(call.Name), t.names()))
	}
	args, err := tool.Args(call.Arguments)
	var bad *ArgsError
	if errors.As(err, &bad) {
		return t.refuse(call, bad.Reason+".")
	} else if err != nil {
		return ToolResult{}, err
	}
	t.calls++
	if t.calls > t.maxCalls {
		return ToolResult{}, both(ErrTooManyCalls, tandem.EINVALID,
			"I stopped after %d tool calls without finishing; nothing was changed. Try a narrower request.", t.maxCalls)
	}
	c := Call{Op: tool.Op, Tool: tool.Name, Args: args, Change: tool.Change}
	if t.req.Progress != nil {
		t.req.Progress(c)
	}
	if tool.Change {
		return t.propose(call, tool, args), nil
	}
	out, err := t.ex.Read(ctx, tool.Op, maps.Clone(args))
	if err != nil {
		c.Failed = true
	}
	t.res.Calls = append(t.res.Calls, c)
	switch {
	case err != nil && ctx.Err() != nil:
		return ToolResult{}, timeoutError(ctx)
	case err != nil && StopsTurn(err):
		return ToolResult{}, fmt.Errorf("agent: %s: %w", tool.Op, err)
	case err != nil:
		return ToolResult{CallID: call.ID, IsError: true, Content: "The tool failed:\n" + quote("error from "+tool.Name, tandem.ErrorMessage(err))}, nil
	}
	return ToolResult{CallID: call.ID, Content: quote("result of "+tool.Name, clipBytes(out, maxResultBytes))}, nil
}

// refuse tells the model why a call was refused, until MaxBadCalls.
func (t *turn) refuse(call ToolCall, why string) (ToolResult, error) {
	t.res.RejectedCalls++
	if t.res.RejectedCalls > MaxBadCalls {
		return ToolResult{}, both(ErrBadToolCalls, tandem.EINTERNAL,
			"The language model kept asking for tools Tandem does not have, or with arguments that do not fit; nothing was changed.")
	}
	return ToolResult{CallID: call.ID, IsError: true, Content: "Refused: " + why}, nil
}

func (t *turn) names() string {
	var names []string
	for _, tool := range t.req.Tools {
		names = append(names, tool.Name)
	}
	return strings.Join(names, ", ")
}

// Proposal is a change the model asked for, which runs only if the sender
// confirms it.
type Proposal struct {
	Op   string
	Args map[string]string
	// Summary spells the change out from the declaration and the
	// arguments, never from the model's prose; it is plain text that the
	// edge escapes.
	Summary string
}

func (t *turn) propose(call ToolCall, tool Tool, args map[string]string) ToolResult {
	p := Proposal{Op: tool.Op, Args: args, Summary: tool.summarize(args)}
	for _, q := range t.res.Proposals {
		if q.Op == p.Op && maps.Equal(q.Args, p.Args) {
			return ToolResult{CallID: call.ID, Content: "Already proposed; not done. It runs only if the sender confirms it."}
		}
	}
	if t.req.Shows != nil && !t.req.Shows(append(Summaries(t.res.Proposals), p.Summary)) {
		t.res.Unshown = append(t.res.Unshown, p)
		what := "This change is too long"
		if len(t.res.Proposals) > 0 {
			what = fmt.Sprintf("This change, with the %d proposed before it, is too long", len(t.res.Proposals))
		}
		return ToolResult{CallID: call.ID, IsError: true, Content: "Not proposed: " + what + " for the sender to be shown it whole, " +
			"and nobody can confirm a change they were not shown. Nothing was done. Shorten its text (characters such as < and & count several times), or propose fewer changes."}
	}
	t.res.Proposals = append(t.res.Proposals, p)
	return ToolResult{CallID: call.ID, Content: "Proposed, not done: " + p.Summary + ". It runs only if the sender confirms it; do not call it again."}
}

// Summaries are the summaries of ps, in order: what a card that asks for
// their confirmation lists.
func Summaries(ps []Proposal) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Summary
	}
	return out
}

// summarize spells out a change: the operation's summary, then each
// argument given, by its description, in declaration order.
func (t Tool) summarize(args map[string]string) string {
	var parts []string
	for _, a := range t.args {
		v, ok := args[a.Name]
		if !ok {
			continue
		}
		if a.Kind.Words {
			v = "“" + v + "”"
		}
		parts = append(parts, a.Description+": "+v)
	}
	s := t.summary
	if s == "" {
		s = t.Op
	}
	if len(parts) == 0 {
		return s
	}
	return s + " — " + strings.Join(parts, "; ")
}
