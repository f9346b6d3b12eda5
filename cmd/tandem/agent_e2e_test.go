package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// testLLMKey is the agent model's API key: it may reach the model only in
// the Authorization header.
const testLLMKey = "sk-FAKE-llm-e2e-0000000001"

// withModel starts a fake OpenAI-compatible model answering with script and
// points the env at it (before start).
func (e *env) withModel(script fakellm.Script) *fakellm.Server {
	m := fakellm.NewOpenAI(e.t, fakellm.Options{Key: testLLMKey, Script: script})
	e.vars["TANDEM_LLM_URL"] = m.BaseURL()
	e.vars["TANDEM_LLM_API_KEY"] = testLLMKey
	e.vars["TANDEM_LLM_MODEL"] = "fake-model-1"
	return m
}

// readsThenAnswer is a script that asks for each tool in turn, one call a
// request, then answers.
func readsThenAnswer(answer string, tools ...string) fakellm.Script {
	return func(c fakellm.Conversation) fakellm.Reply {
		done := 0
		for _, m := range c.Messages {
			done += len(m.ToolResults)
		}
		if done < len(tools) {
			return fakellm.Call(tools[done], "{}")
		}
		return fakellm.Text(answer)
	}
}

// checkModelRequests fails the test if any request the model received holds
// a provider token, a client secret or the model's key outside its header.
func (e *env) checkModelRequests(m *fakellm.Server) {
	e.t.Helper()
	for _, p := range tandem.Providers {
		for _, r := range e.requests(p) {
			e.remember(r.token)
		}
	}
	e.mu.Lock()
	secrets := append([]string{testLLMKey, testClientSecret, testBotToken, testAppToken, testSlackSecret, testEncryptionKey}, e.secrets...)
	e.mu.Unlock()
	for i, r := range m.Requests() {
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(string(r.Body), s) {
				e.t.Errorf("model request %d carries a secret (%.6s…) in its body", i, s)
			}
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				for _, s := range e.secrets {
					if len(s) >= 8 && strings.Contains(v, s) {
						e.t.Errorf("model request %d carries a secret (%.6s…) in header %s", i, s, k)
					}
				}
			}
		}
	}
}

// auditOf reads the audit trail of the session of thread with tandem audit,
// as an operator does.
func (e *env) auditOf(thread string) []tandem.AuditRecord {
	e.t.Helper()
	var out, errs bytes.Buffer
	key := tandem.SessionKey{Team: faultTeam, Channel: channel, ThreadTS: thread}.String()
	if err := run(ctxFor(e.t), []string{"audit", "--session", key, "--json"}, e.getenv, &out, &errs); err != nil {
		e.t.Fatalf("tandem audit: %v\n%s", err, errs.String())
	}
	var recs []tandem.AuditRecord
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r tandem.AuditRecord
		if err := dec.Decode(&r); err != nil {
			e.t.Fatalf("tandem audit --json: %v", err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestAgentReadTurnRunsEveryCallAsTheSender: a free-form request is planned
// by the model in three reads; each reaches its provider with the sender's
// own token, is audited as its own record, and the answer says whose
// accounts and how many calls; nothing secret reaches the model.
func TestAgentReadTurnRunsEveryCallAsTheSender(t *testing.T) {
	e := newEnv(t)
	model := e.withModel(readsThenAnswer("Two reviews and a meeting at 10.", "github_review_requests", "jira_my_issues", "google_meetings_today"))
	e.start()
	e.connectAll("UBOB")
	e.connectAll("UALICE")
	before := map[tandem.ProviderID]int{}
	for _, p := range tandem.Providers {
		before[p] = len(e.requests(p))
	}
	thread, _ := e.mention("UBOB", "what is waiting on me today?", "")
	m := e.reply(thread, "Two reviews and a meeting at 10.")
	text := plain(m)
	for _, want := range []string{"ran as <@UBOB>", "GitHub: bob-gh", "Jira: bob@example.test", "Google: bob@example.test", "3 calls"} {
		if !strings.Contains(text, want) {
			t.Errorf("the answer does not say %q:\n%s", want, text)
		}
	}
	for _, p := range []tandem.ProviderID{tandem.GitHub, tandem.Jira, tandem.Google} {
		var logins []string
		for _, r := range e.requests(p)[before[p]:] {
			if !slices.Contains(logins, r.login) {
				logins = append(logins, r.login)
			}
		}
		want := "bob-gh"
		if p != tandem.GitHub {
			want = "bob@example.test"
		}
		if !slices.Equal(logins, []string{want}) {
			t.Errorf("%s received tokens of %v, want only %s", p.Name(), logins, want)
		}
	}
	progress := e.count(func(m fakeslack.Message) bool {
		return m.ThreadTS == thread && strings.Contains(plain(m), "Looking at pull requests where your review is requested")
	})
	if progress == 0 {
		t.Error("no progress message in the thread")
	}
	var resolves []string
	for _, r := range e.auditOf(thread) {
		if r.Action == "resolve" {
			resolves = append(resolves, fmt.Sprintf("%s %s as %s (%s, %s): %s", r.Actor, r.Provider, r.Effective, r.Reason, r.Outcome, r.Detail))
		}
	}
	wantAudit := []string{
		"UBOB github as UBOB (sender, ok): agent: github.review_requests",
		"UBOB jira as UBOB (sender, ok): agent: jira.my_issues",
		"UBOB google as UBOB (sender, ok): agent: google.meetings_today",
	}
	if !slices.Equal(resolves, wantAudit) {
		t.Errorf("audit of the turn:\n%s\nwant:\n%s", strings.Join(resolves, "\n"), strings.Join(wantAudit, "\n"))
	}
	if n := len(model.Requests()); n != 4 {
		t.Errorf("the model got %d requests, want 4 (three calls, then the answer)", n)
	}
	e.checkModelRequests(model)
	e.checkSecrets()
}
