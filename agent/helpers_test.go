package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/ops"
)

// Fake secrets: the model's API key (allowed only in the auth header) and
// the token the executor holds (allowed nowhere in a model request).
const (
	apiKey    = "sk-fake-agent-key-0001"
	heldToken = "gho_FAKE_agent_token"
)

// apis are the two model APIs every planner test runs against.
var apis = []string{"openai", "anthropic"}

// catalogTools are the tools of every real provider's operations, with the
// general operations and session controls a catalog adds.
func catalogTools() []agent.Tool {
	return agent.Tools(ops.NewCatalog(github.Operations, gitlab.Operations, jira.Operations, google.Operations).Specs())
}

// fakeModel starts the fake for api with script and returns the real
// SDK-backed Model aimed at it, with retries as given.
func fakeModel(t *testing.T, api string, retries int, script fakellm.Script) (agent.Model, *fakellm.Server) {
	t.Helper()
	opts := fakellm.Options{Key: apiKey, Script: script}
	var srv *fakellm.Server
	if api == "openai" {
		srv = fakellm.NewOpenAI(t, opts)
	} else {
		srv = fakellm.NewAnthropic(t, opts)
	}
	m, err := agent.NewModel(agent.Config{API: api, BaseURL: srv.BaseURL(), APIKey: apiKey, Model: "fake-model", Timeout: 10 * time.Second, MaxRetries: retries})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoSecrets(t, srv) })
	return m, srv
}

// assertNoSecrets scans every request srv received: the held token may
// appear nowhere, the API key only in the auth header.
func assertNoSecrets(t *testing.T, srv *fakellm.Server) {
	t.Helper()
	for i, r := range srv.Requests() {
		if bytes.Contains(r.Body, []byte(heldToken)) || bytes.Contains(r.Body, []byte(apiKey)) {
			t.Errorf("request %d: body holds a secret", i)
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, heldToken) {
					t.Errorf("request %d: header %s holds the executor's token", i, k)
				}
				if strings.Contains(v, apiKey) && k != "Authorization" && k != "X-Api-Key" {
					t.Errorf("request %d: header %s holds the API key", i, k)
				}
			}
		}
	}
}

// read is one Executor.Read the fake executor saw.
type read struct {
	Op   string
	Args map[string]string
}

// executor is a fake turn engine: it holds a token it never returns and
// answers reads from results (by op) or fails them with errs.
type executor struct {
	token   string
	results map[string]string
	errs    map[string]error

	mu    sync.Mutex
	reads []read
}

func newExecutor() *executor {
	return &executor{token: heldToken, results: map[string]string{}, errs: map[string]error{}}
}

func (e *executor) Read(_ context.Context, op string, args map[string]string) (string, error) {
	e.mu.Lock()
	e.reads = append(e.reads, read{op, maps.Clone(args)})
	e.mu.Unlock()
	if err := e.errs[op]; err != nil {
		return "", err
	}
	if out, ok := e.results[op]; ok {
		return out, nil
	}
	return "", fmt.Errorf("executor: no result for %s", op)
}

func (e *executor) seen() []read {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]read(nil), e.reads...)
}

// conversations returns the decoded conversation of every request srv
// answered.
func conversations(t *testing.T, srv *fakellm.Server) []fakellm.Conversation {
	t.Helper()
	var out []fakellm.Conversation
	for i, r := range srv.Requests() {
		if r.Conversation == nil {
			t.Fatalf("request %d was rejected by the fake: %s", i, r.Body)
		}
		out = append(out, *r.Conversation)
	}
	return out
}

// toolResults returns every tool result in c, in order.
func toolResults(c fakellm.Conversation) []fakellm.ToolResult {
	var out []fakellm.ToolResult
	for _, m := range c.Messages {
		out = append(out, m.ToolResults...)
	}
	return out
}

// errorsAs reports whether err's chain holds a T.
func errorsAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
