package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// toolResults returns the tool results the model got in the last message of
// request i, failing the test when there are none.
func toolResults(t *testing.T, m *fakellm.Server, i int) []fakellm.ToolResult {
	t.Helper()
	reqs := m.Requests()
	if i >= len(reqs) || reqs[i].Conversation == nil {
		t.Fatalf("the model got %d requests; want a decoded request %d", len(reqs), i)
	}
	last := reqs[i].Conversation.LastMessage()
	if last.Role != "tool" || len(last.ToolResults) == 0 {
		t.Fatalf("model request %d does not end with tool results: %+v", i, last)
	}
	return last.ToolResults
}

// threadReplies lists the visible replies (chat.postMessage) in thread.
func (e *env) threadReplies(thread string) []string {
	var out []string
	for _, m := range e.slack.Messages() {
		if m.Method == "chat.postMessage" && m.ThreadTS == thread {
			out = append(out, plain(m))
		}
	}
	return out
}

// resolvesOf waits until the turn started by the message at ts in thread
// has at least n resolve records in the audit trail and returns them as
// "provider as effective (reason, outcome): detail".
func (e *env) resolvesOf(thread string, n int) []string {
	e.t.Helper()
	var out []string
	waitFor(e.t, "the turn's audit records", func() bool {
		out = nil
		for _, r := range e.auditOf(thread) {
			if r.Action == "resolve" {
				out = append(out, fmt.Sprintf("%s %s as %s (%s, %s): %s", r.Actor, r.Provider, r.Effective, r.Reason, r.Outcome, r.Detail))
			}
		}
		return len(out) >= n
	})
	return out
}

// TestAgentReadWithoutTheLinkStopsTheTurn: the model reads Jira (linked)
// then GitHub (not linked): the GitHub read stops the turn with the usual
// "not configured" note and a private Connect button for the sender;
// nothing reaches GitHub, the model is not asked again, and the audit
// records the not_configured resolution.
func TestAgentReadWithoutTheLinkStopsTheTurn(t *testing.T) {
	e := newEnv(t)
	model := e.withModel(readsThenAnswer("You have one issue and some reviews.", "jira_my_issues", "github_review_requests"))
	e.start()
	e.connectTo("UBOB", tandem.Jira, "bob@example.test")
	ghBefore, jiraBefore := len(e.requests(tandem.GitHub)), len(e.requests(tandem.Jira))
	thread, _ := e.mention("UBOB", "what is waiting on me today?", "")
	eph, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && strings.Contains(plain(m), "GitHub credentials not configured")
	})
	if err != nil {
		t.Fatalf("no private 'GitHub credentials not configured': %v", err)
	}
	if eph.User != "UBOB" || eph.ThreadTS != thread {
		t.Errorf("the Connect button went to %s in thread %s; want UBOB in %s", eph.User, eph.ThreadTS, thread)
	}
	if u := buttonURL(t, eph.Blocks, "/connect/github"); u == "" {
		t.Error("no Connect GitHub button")
	}
	note := e.reply(thread, "GitHub credentials not configured")
	if text := plain(note); !strings.Contains(text, "private link to connect GitHub") || strings.Contains(text, "You have one issue") {
		t.Errorf("the visible note:\n%s", text)
	}
	resolves := e.resolvesOf(thread, 2)
	want := []string{
		"UBOB jira as UBOB (sender, ok): agent: jira.my_issues",
		"UBOB github as UBOB (sender, not_configured): agent: github.review_requests",
	}
	if !slices.Equal(resolves, want) {
		t.Errorf("audit of the turn:\n%s\nwant:\n%s", strings.Join(resolves, "\n"), strings.Join(want, "\n"))
	}
	if got := e.requests(tandem.GitHub)[ghBefore:]; len(got) != 0 {
		t.Errorf("GitHub received %d requests for a sender without a link: %+v", len(got), got)
	}
	jira := e.requests(tandem.Jira)[jiraBefore:]
	if len(jira) == 0 {
		t.Error("the Jira read never reached Jira")
	}
	for _, r := range jira {
		if r.login != "bob@example.test" {
			t.Errorf("Jira received a token of %q, want bob@example.test", r.login)
		}
	}
	if n := len(model.Requests()); n != 2 {
		t.Errorf("the model got %d requests, want 2: the stopped read is not handed back to it", n)
	}
	for _, r := range e.threadReplies(thread) {
		if strings.Contains(r, "You have one issue") {
			t.Errorf("the model's answer was posted after the turn stopped:\n%s", r)
		}
	}
	e.checkModelRequests(model)
}

// TestAgentPersistentSessionRunsAsTheOwner: in a persistent session (its
// owner alice turned it on; bob wrote before, so he is an editor), bob's
// agent read reaches GitHub with alice's token; bob's proposal is made as
// alice when bob presses, and alice's press of bob's card is refused.
func TestAgentPersistentSessionRunsAsTheOwner(t *testing.T) {
	e := newEnv(t)
	e.gh.AddRepo("acme/widgets")
	pr := e.gh.AddPullRequest("acme/widgets", "alice-gh", "Fix the login test", false)
	ref := fmt.Sprintf("acme/widgets#%d", pr)
	model := e.withModel(func(c fakellm.Conversation) fakellm.Reply {
		done := 0
		for _, m := range c.Messages {
			done += len(m.ToolResults)
		}
		switch {
		case !strings.Contains(c.Messages[0].Text, "flaky"):
			return fakellm.Text("ok")
		case done == 0:
			return fakellm.Call("github_my_prs", "{}")
		case done == 1:
			return fakellm.Call("github_comment", `{"ref":"`+ref+`","text":"Tracked as flaky"}`)
		}
		return fakellm.Text("I can comment that.")
	})
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	e.setPersistent("UALICE", root, "UBOB")

	searches := len(e.searchLogins())
	e.mention("UBOB", "note on the login PR that the test is flaky", root)
	card := e.reply(root, "Proposed changes")
	text := plain(card)
	for _, w := range []string{"made as <@UALICE> only if <@UBOB> presses", "Tracked as flaky", ref, "ran as <@UALICE> (persistent session)", "GitHub: alice-gh"} {
		if !strings.Contains(text, w) {
			t.Errorf("the card does not say %q:\n%s", w, text)
		}
	}
	if got := e.searchLogins()[searches:]; !slices.Equal(got, []string{"alice-gh"}) {
		t.Errorf("bob's agent read searched GitHub as %v, want [alice-gh]", got)
	}
	if n := len(e.gh.Comments()); n != 0 {
		t.Fatalf("%d comments before anyone pressed", n)
	}

	e.press("UALICE", card, root, "proposal_do")
	e.privately("UALICE", "Only <@UBOB> can confirm or cancel this")
	if n := len(e.gh.Comments()); n != 0 {
		t.Fatalf("alice's press of bob's card made %d comments", n)
	}
	e.press("UBOB", card, root, "proposal_do")
	made := e.reply(root, "Changes made")
	if !strings.Contains(plain(made), "ran as <@UALICE> (persistent session)") {
		t.Errorf("the confirmation's attribution:\n%s", plain(made))
	}
	comments := e.gh.Comments()
	if len(comments) != 1 || comments[0].AuthorLogin != "alice-gh" || comments[0].Body != "Tracked as flaky" {
		t.Errorf("comments at GitHub: %+v; want one by alice-gh (the owner)", comments)
	}
	var confirm []string
	waitFor(t, "the confirmation's audit record", func() bool {
		confirm = nil
		for _, r := range e.auditOf(root) {
			if r.Action == "resolve" && strings.HasPrefix(r.TurnID, "confirm/") {
				confirm = append(confirm, fmt.Sprintf("%s %s as %s (%s, %s): %s", r.Actor, r.Provider, r.Effective, r.Reason, r.Outcome, r.Detail))
			}
		}
		return len(confirm) > 0
	})
	if want := []string{"UBOB github as UALICE (persistent_owner, ok): confirm: github.comment"}; !slices.Equal(confirm, want) {
		t.Errorf("the confirmation's audit: %q, want %q", confirm, want)
	}
	e.checkModelRequests(model)
}

// TestAgentModelDown: a model that answers 500 to every request (with the
// API key in its error text) gets a clear reply in the thread: no silence,
// no stack trace, no key; nothing reaches a provider.
func TestAgentModelDown(t *testing.T) {
	e := newEnv(t)
	model := e.withModel(func(fakellm.Conversation) fakellm.Reply {
		return fakellm.Fail(500, "upstream exploded for key "+testLLMKey, "0")
	})
	e.start()
	e.connect("UBOB", "bob-gh")
	before := len(e.requests(tandem.GitHub))
	thread, _ := e.mention("UBOB", "what is waiting on me today?", "")
	m := e.reply(thread, "The language model is unavailable (HTTP 500)")
	text := plain(m)
	for _, bad := range []string{testLLMKey, "sk-FAKE", "goroutine ", ".go:", "panic", "upstream exploded", "openai"} {
		if strings.Contains(text, bad) {
			t.Errorf("the reply carries %q:\n%s", bad, text)
		}
	}
	if !strings.Contains(text, "nothing was changed") {
		t.Errorf("the reply does not say nothing was changed:\n%s", text)
	}
	reqs := model.Requests()
	if len(reqs) < 1 {
		t.Fatal("the model was never asked")
	}
	for i, r := range reqs {
		if r.Conversation == nil || len(r.Conversation.Messages) != 1 {
			t.Errorf("model request %d is not the first request again (a retry): %+v", i, r.Conversation)
		}
	}
	if got := e.requests(tandem.GitHub)[before:]; len(got) != 0 {
		t.Errorf("GitHub received %d requests while the model was down", len(got))
	}
	if n := len(e.threadReplies(thread)); n != 1 {
		t.Errorf("%d replies in the thread, want one:\n%s", n, strings.Join(e.threadReplies(thread), "\n---\n"))
	}
	if strings.Contains(e.logs.String(), testLLMKey) {
		t.Error("the model's API key (echoed in its error) reached the logs")
	}
	e.checkModelRequests(model)
}

// TestAgentModelLoopingStopsAtMaxCalls: a model that keeps asking for the
// same read is stopped after TANDEM_AGENT_MAX_CALLS reads with a clear
// reply; exactly that many reads reach GitHub, all as the sender.
func TestAgentModelLoopingStopsAtMaxCalls(t *testing.T) {
	e := newEnv(t)
	e.vars["TANDEM_AGENT_MAX_CALLS"] = "3"
	model := e.withModel(func(fakellm.Conversation) fakellm.Reply { return fakellm.Call("github_my_prs", "{}") })
	e.start()
	e.connect("UBOB", "bob-gh")
	searches := len(e.searchLogins())
	thread, _ := e.mention("UBOB", "keep looking at my PRs", "")
	m := e.reply(thread, "I stopped after 3 tool calls without finishing")
	if !strings.Contains(plain(m), "nothing was changed") {
		t.Errorf("the reply:\n%s", plain(m))
	}
	if got := e.searchLogins()[searches:]; !slices.Equal(got, []string{"bob-gh", "bob-gh", "bob-gh"}) {
		t.Errorf("GitHub searches of the turn: %v; want exactly 3, as bob-gh", got)
	}
	if n := len(model.Requests()); n != 4 {
		t.Errorf("the model got %d requests, want 4 (three answered reads, then the call over the limit)", n)
	}
	resolves := e.resolvesOf(thread, 3)
	if len(resolves) != 3 {
		t.Errorf("audit of the turn: %q; want one record per read", resolves)
	}
	e.checkModelRequests(model)
}

// TestAgentBadToolCallsGoBackToTheModel: an unknown tool and arguments
// that do not fit are refused, the refusal goes back to the model as a tool
// error, nothing reaches GitHub for them, and the turn still answers; a
// model that keeps doing it is stopped after agent.MaxBadCalls with a clear
// reply.
func TestAgentBadToolCallsGoBackToTheModel(t *testing.T) {
	e := newEnv(t)
	model := e.withModel(func(c fakellm.Conversation) fakellm.Reply {
		if strings.Contains(c.Messages[0].Text, "keep guessing") {
			return fakellm.Call("github_delete_everything", "{}")
		}
		switch len(c.Messages) {
		case 1:
			return fakellm.Call("github_delete_everything", `{"repo":"acme/widgets"}`)
		case 3:
			return fakellm.Call("github_pr_status", `{"ref":"not a ref","colour":"red"}`)
		case 5:
			return fakellm.Call("github_pr_status", `this is not json`)
		}
		return fakellm.Text("Sorry, I could not look that up.")
	})
	e.start()
	e.connect("UBOB", "bob-gh")
	before := len(e.requests(tandem.GitHub))
	thread, _ := e.mention("UBOB", "what is the status of the login PR?", "")
	e.reply(thread, "Sorry, I could not look that up.")
	// Chat Completions has no error flag on a tool message: the refusal
	// is its content.
	for i, want := range map[int]string{1: "Refused: There is no tool named \"github_delete_everything\"", 2: "Refused: github_pr_status takes no argument colour", 3: "Refused: the arguments must be one JSON object"} {
		rs := toolResults(t, model, i)
		if len(rs) != 1 || !strings.Contains(rs[0].Content, want) {
			t.Errorf("model request %d: tool results %+v; want an error with %q", i, rs, want)
		}
	}
	if n := len(model.Requests()); n != 4 {
		t.Errorf("the model got %d requests, want 4", n)
	}
	if got := e.requests(tandem.GitHub)[before:]; len(got) != 0 {
		t.Errorf("GitHub received %d requests for refused calls: %+v", len(got), got)
	}

	n := len(model.Requests())
	e.mention("UBOB", "keep guessing tools", thread)
	m := e.reply(thread, "kept asking for tools Tandem does not have")
	if !strings.Contains(plain(m), "nothing was changed") {
		t.Errorf("the reply:\n%s", plain(m))
	}
	if got := len(model.Requests()) - n; got != agent.MaxBadCalls+1 {
		t.Errorf("the model got %d requests for the looping turn, want %d (told of %d refusals, stopped at the next)", got, agent.MaxBadCalls+1, agent.MaxBadCalls)
	}
	e.checkModelRequests(model)
}
