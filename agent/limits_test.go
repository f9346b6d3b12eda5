package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/internal/fakellm"
)

func TestBadToolCallsGoBackBounded(t *testing.T) {
	bad := []fakellm.Reply{
		fakellm.Call("github_delete_repo", `{"repo":"acme/w"}`),                 // unknown tool
		fakellm.Call("github_pr_status", `{"ref":`),                             // not JSON
		fakellm.Call("github_pr_status", `{"ref":"acme/w#12","as_user":"bob"}`), // undeclared argument
		fakellm.Call("github_pr_status", `{"ref":"acme/w 12"}`),                 // not the kind
	}
	for _, api := range apis {
		t.Run(api+"/recovers", func(t *testing.T) {
			m, srv := fakeModel(t, api, -1, fakellm.Steps(bad[0], bad[2], fakellm.Text("Sorry, I cannot do that.")))
			ex := newExecutor()
			res, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "delete acme/w", Tools: catalogTools()}, ex)
			if err != nil {
				t.Fatal(err)
			}
			if res.RejectedCalls != 2 || len(ex.seen()) != 0 || res.Text != "Sorry, I cannot do that." {
				t.Errorf("result %+v, reads %v: want 2 refused calls, nothing run, the final text", res, ex.seen())
			}
			results := toolResults(conversations(t, srv)[2])
			if len(results) != 2 || !strings.Contains(results[0].Content, `no tool named "github_delete_repo"`) || !strings.Contains(results[1].Content, "takes no argument as_user") {
				t.Errorf("the model was told %+v, want why each call was refused", results)
			}
		})
		t.Run(api+"/stops", func(t *testing.T) {
			m, srv := fakeModel(t, api, -1, fakellm.Steps(append(bad, fakellm.Text("unreachable"))...))
			ex := newExecutor()
			res, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "status", Tools: catalogTools()}, ex)
			if !errors.Is(err, agent.ErrBadToolCalls) || tandem.ErrorCode(err) != tandem.EINTERNAL {
				t.Fatalf("err %v (code %s), want ErrBadToolCalls with EINTERNAL", err, tandem.ErrorCode(err))
			}
			if srv.Calls() != agent.MaxBadCalls+1 || res.RejectedCalls != agent.MaxBadCalls+1 || len(ex.seen()) != 0 {
				t.Errorf("%d model requests, %d refused, reads %v: want %d, %d, none", srv.Calls(), res.RejectedCalls, ex.seen(), agent.MaxBadCalls+1, agent.MaxBadCalls+1)
			}
			last := toolResults(conversations(t, srv)[agent.MaxBadCalls])
			if len(last) != agent.MaxBadCalls || !strings.Contains(last[2].Content, "is not an issue or pull request as owner/repo#123") && !strings.Contains(last[2].Content, "takes no argument") {
				t.Errorf("tool errors %+v, want each refusal told", last)
			}
		})
	}
}

func TestLoopingPastMaxCallsStops(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			loop := func(fakellm.Conversation) fakellm.Reply { return fakellm.Call("github_my_prs", `{}`) }
			m, srv := fakeModel(t, api, -1, loop)
			ex := newExecutor()
			ex.results["github.my_prs"] = "1 open pull request"
			res, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "my prs", Tools: catalogTools(), MaxCalls: 3}, ex)
			if !errors.Is(err, agent.ErrTooManyCalls) || tandem.ErrorCode(err) != tandem.EINVALID {
				t.Fatalf("err %v (code %s), want ErrTooManyCalls with EINVALID", err, tandem.ErrorCode(err))
			}
			if len(ex.seen()) != 3 || len(res.Calls) != 3 || srv.Calls() != 4 || res.Text != "" {
				t.Errorf("%d reads, %d calls, %d model requests, text %q: want 3, 3, 4 and no text", len(ex.seen()), len(res.Calls), srv.Calls(), res.Text)
			}
		})
	}
}

func TestDefaultMaxCallsIsEight(t *testing.T) {
	m, _ := fakeModel(t, "openai", -1, func(fakellm.Conversation) fakellm.Reply { return fakellm.Call("github_my_prs", `{}`) })
	ex := newExecutor()
	ex.results["github.my_prs"] = "none"
	_, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "my prs", Tools: catalogTools()}, ex)
	if !errors.Is(err, agent.ErrTooManyCalls) || len(ex.seen()) != agent.DefaultMaxCalls || agent.DefaultMaxCalls != 8 {
		t.Errorf("err %v after %d reads, want ErrTooManyCalls after 8", err, len(ex.seen()))
	}
}

func TestModelFailuresAreClear(t *testing.T) {
	cases := []struct {
		name     string
		reply    fakellm.Reply
		retries  int
		code     string
		requests int
	}{
		{"500 after retries", fakellm.Fail(500, "boom "+apiKey, "0"), 2, tandem.EUNAVAILABLE, 3},
		{"429 after retries", fakellm.Fail(429, "slow down", "0"), 1, tandem.EUNAVAILABLE, 2},
		{"bad key", fakellm.Fail(401, "Incorrect API key provided: "+apiKey, ""), 2, tandem.EINTERNAL, 1},
		{"bad request", fakellm.Fail(400, "model not found", ""), 2, tandem.EINTERNAL, 1},
		{"unreadable answer", fakellm.Malformed(`{"choices":`), -1, tandem.EUNAVAILABLE, 1},
	}
	for _, api := range apis {
		for _, tc := range cases {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				m, srv := fakeModel(t, api, tc.retries, func(fakellm.Conversation) fakellm.Reply { return tc.reply })
				ex := newExecutor()
				res, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "my prs", Tools: catalogTools()}, ex)
				if tandem.ErrorCode(err) != tc.code {
					t.Fatalf("err %v: code %q, want %q", err, tandem.ErrorCode(err), tc.code)
				}
				if srv.Calls() != tc.requests || res.ModelRequests != 1 || len(ex.seen()) != 0 {
					t.Errorf("%d requests at the fake, %d by the planner, reads %v: want %d, 1, none", srv.Calls(), res.ModelRequests, ex.seen(), tc.requests)
				}
				if strings.Contains(err.Error(), apiKey) || strings.Contains(tandem.ErrorMessage(err), apiKey) {
					t.Errorf("the error holds the API key: %v", err)
				}
			})
		}
	}
}

func TestAnthropicOverloadedIsUnavailable(t *testing.T) {
	m, srv := fakeModel(t, "anthropic", 2, fakellm.Steps(fakellm.Fail(529, "Overloaded", "0"), fakellm.Fail(529, "Overloaded", "0"), fakellm.Text("fine")))
	res, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "hi", Tools: catalogTools()}, newExecutor())
	if err != nil || res.Text != "fine" || srv.Calls() != 3 {
		t.Errorf("err %v, text %q after %d requests: want the SDK's retries to reach the answer", err, res.Text, srv.Calls())
	}
}

func TestTurnDeadline(t *testing.T) {
	for _, api := range apis {
		t.Run(api+"/model hangs", func(t *testing.T) {
			m, _ := fakeModel(t, api, -1, func(fakellm.Conversation) fakellm.Reply { return fakellm.Hang() })
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			_, err := (&agent.Planner{Model: m}).Run(ctx, agent.Request{Text: "my prs", Tools: catalogTools()}, newExecutor())
			if !errors.Is(err, agent.ErrTimeout) || tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
				t.Errorf("err %v: code %q, want ErrTimeout, unavailable", err, tandem.ErrorCode(err))
			}
		})
	}
	t.Run("request timeout", func(t *testing.T) {
		srv := fakellm.NewOpenAI(t, fakellm.Options{Key: apiKey, Script: func(fakellm.Conversation) fakellm.Reply { return fakellm.Hang() }})
		m, _ := agent.NewModel(agent.Config{BaseURL: srv.BaseURL(), APIKey: apiKey, Model: "fake-model", Timeout: 100 * time.Millisecond, MaxRetries: -1})
		_, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "my prs"}, newExecutor())
		if errors.Is(err, agent.ErrTimeout) || tandem.ErrorCode(err) != tandem.EUNAVAILABLE || srv.Calls() != 1 {
			t.Errorf("err %v (code %s) after %d requests: want unavailable (not the turn's deadline) after 1", err, tandem.ErrorCode(err), srv.Calls())
		}
	})
	t.Run("deadline passed between calls", func(t *testing.T) {
		m, srv := fakeModel(t, "openai", -1, fakellm.Steps(fakellm.Call("github_my_prs", `{}`), fakellm.Text("unreachable")))
		ctx, cancel := context.WithCancelCause(t.Context())
		ex := &deadlineExecutor{cancel: cancel}
		_, err := (&agent.Planner{Model: m}).Run(ctx, agent.Request{Text: "my prs", Tools: catalogTools()}, ex)
		if !errors.Is(err, agent.ErrTimeout) || tandem.ErrorCode(err) != tandem.EUNAVAILABLE || srv.Calls() != 1 {
			t.Errorf("err %v (code %s) after %d requests: want ErrTimeout, unavailable, 1 request", err, tandem.ErrorCode(err), srv.Calls())
		}
	})
}

// deadlineExecutor answers a read, then ends the turn's context as its
// deadline would.
type deadlineExecutor struct{ cancel context.CancelCauseFunc }

func (e *deadlineExecutor) Read(context.Context, string, map[string]string) (string, error) {
	e.cancel(context.DeadlineExceeded)
	return "1 open pull request", nil
}

func TestDefaultRetriesAreTwo(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			m, srv := fakeModel(t, api, 0, func(fakellm.Conversation) fakellm.Reply { return fakellm.Fail(503, "down", "0") })
			_, err := (&agent.Planner{Model: m}).Run(t.Context(), agent.Request{Text: "hi"}, newExecutor())
			if tandem.ErrorCode(err) != tandem.EUNAVAILABLE || srv.Calls() != 1+agent.DefaultMaxRetries || agent.DefaultMaxRetries != 2 {
				t.Errorf("err %v after %d requests, want unavailable after 3", err, srv.Calls())
			}
		})
	}
}

func TestNewModelChecksItsConfig(t *testing.T) {
	for _, cfg := range []agent.Config{
		{API: "openai", Model: "m"},
		{API: "openai", BaseURL: "http://127.0.0.1:1/v1"},
		{API: "gemini", BaseURL: "http://127.0.0.1:1", Model: "m"},
	} {
		if _, err := agent.NewModel(cfg); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("NewModel(%+v): %v, want EINVALID", cfg, err)
		}
	}
}

func TestRequestChecks(t *testing.T) {
	p := &agent.Planner{Model: nil} // never reached
	for _, text := range []string{"  ", strings.Repeat("x", 16001)} {
		if _, err := p.Run(t.Context(), agent.Request{Text: text}, newExecutor()); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("request of %d bytes: err %v, want EINVALID", len(text), err)
		}
	}
}
