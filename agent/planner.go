package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

// Executor runs read operations for a turn; the turn engine implements it.
type Executor interface {
	// Read runs the read operation op with args under the identity the
	// engine's rule gives, audits it, and returns its reply as plain text.
	// An error for which StopsTurn is true ends the turn and comes back
	// from Run wrapped; any other error goes back to the model, as its
	// tandem.ErrorMessage words only.
	Read(ctx context.Context, op string, args map[string]string) (string, error)
}

// Request is one agent turn.
type Request struct {
	// Text is the sender's message: the only instructions the model gets.
	Text string
	// History is the thread before it, oldest first: data, never
	// instructions, trimmed to HistoryTokens.
	History []ThreadMessage
	Tools   []Tool
	// MaxCalls bounds the tool calls (reads and proposals) of the turn;
	// 0 means DefaultMaxCalls.
	MaxCalls int
	// HistoryTokens is the history's budget; 0 means DefaultHistoryTokens.
	HistoryTokens int
	// Progress, when set, is told of each valid tool call as it starts.
	Progress func(Call)
	// Shows, when set, reports whether the sender can be shown these
	// changes' summaries whole, in order, as the card they confirm lists
	// them. A change that would make the list not fit is not proposed
	// (Result.Unshown) and the model is told to shorten it: nobody can
	// confirm what they were not shown. Nil shows any list.
	Shows func(summaries []string) bool
}

// Call is one tool call the model made: a read run through the Executor,
// or a change turned into a Proposal.
type Call struct {
	Op     string
	Tool   string
	Args   map[string]string
	Change bool
	// Failed marks a read whose Executor call returned an error.
	Failed bool
}

// Result is what a turn produced. On error, Calls and Proposals still say
// what happened before the stop (for the audit and the reply); Text is
// then empty, since the model never finished its answer.
type Result struct {
	// Text is the model's final answer, as it wrote it (not escaped).
	Text      string
	Proposals []Proposal
	// Unshown are the changes the model asked for that Request.Shows
	// refused: they were not proposed.
	Unshown []Proposal
	// Calls are the reads the Executor was asked to run, in order.
	Calls []Call
	// ModelRequests counts the requests sent to the model; RejectedCalls
	// the tool calls refused as unknown or malformed.
	ModelRequests int
	RejectedCalls int
}

// Limits of a turn.
const (
	DefaultMaxCalls = 8
	// MaxBadCalls is how many refused tool calls the model is told about;
	// one more ends the turn with ErrBadToolCalls.
	MaxBadCalls = 3
	// maxResultBytes bounds one tool result in the conversation.
	maxResultBytes = 8000
	// maxRequestBytes bounds the sender's message.
	maxRequestBytes = 16000
)

// Planner runs agent turns with Model.
type Planner struct {
	Model Model
}

// Run plans req with the model until it answers without tool calls. Reads
// run through ex; changes become Proposals, or Unshown when req.Shows
// refuses them, and are never run. It fails with
// EINVALID for an empty or overlong request and ErrTooManyCalls past
// MaxCalls, with ErrBadToolCalls (EINTERNAL) past MaxBadCalls refused
// calls, with ErrTimeout (EUNAVAILABLE) when ctx's deadline passes, with
// the Model's error when the model fails, and with the Executor's error
// (wrapped, for errors.As) when StopsTurn says it ends the turn.
func (p *Planner) Run(ctx context.Context, req Request, ex Executor) (Result, error) {
	switch {
	case strings.TrimSpace(req.Text) == "":
		return Result{}, tandem.Errorf(tandem.EINVALID, "The request is empty.")
	case len(req.Text) > maxRequestBytes:
		return Result{}, tandem.Errorf(tandem.EINVALID, "The request is %d bytes long; an agent turn takes at most %d.", len(req.Text), maxRequestBytes)
	}
	t := &turn{req: req, ex: ex, tools: map[string]Tool{}, maxCalls: req.MaxCalls}
	if t.maxCalls <= 0 {
		t.maxCalls = DefaultMaxCalls
	}
	for _, tool := range req.Tools {
		t.tools[tool.Name] = tool
	}
	conv := Conversation{System: systemPrompt, Tools: req.Tools, Messages: []Message{
		{Role: RoleUser, Text: requestText(renderHistory(req.History, req.HistoryTokens), req.Text)},
	}}
	for {
		if ctx.Err() != nil {
			return t.res, timeoutError(ctx)
		}
		reply, err := p.Model.Complete(ctx, conv)
		t.res.ModelRequests++
		if err != nil {
			return t.res, err
		}
		if len(reply.Calls) == 0 {
			t.res.Text = reply.Text
			return t.res, nil
		}
		for i := range reply.Calls {
			if reply.Calls[i].ID == "" {
				reply.Calls[i].ID = fmt.Sprintf("call_tandem_%d_%d", t.res.ModelRequests, i)
			}
		}
		conv.Messages = append(conv.Messages, Message{Role: RoleAssistant, Text: reply.Text, Calls: reply.Calls})
		results := Message{Role: RoleTool}
		for _, call := range reply.Calls {
			r, err := t.handle(ctx, call)
			if err != nil {
				return t.res, err
			}
			results.Results = append(results.Results, r)
		}
		conv.Messages = append(conv.Messages, results)
	}
}
