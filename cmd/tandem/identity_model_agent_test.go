package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/internal/identitymodel"
)

// agentMarker starts the request of an agent turn in the model test: the
// fake model reads what to do from the last marker of its first message
// (earlier ones are the thread's history).
const agentMarker = "agentop "

// modelReadTools are the agent tools of the model test's reads.
var modelReadTools = map[tandem.ProviderID]string{
	tandem.GitHub: "github_my_prs",
	tandem.GitLab: "gitlab_my_mrs",
	tandem.Jira:   "jira_my_issues",
	tandem.Google: "google_meetings_today",
}

// modelScript is the fake model of the identity model test: "agentop read
// <provider>" asks for that provider's read, "agentop readtwice
// <provider>" for it twice in a row (calling between, when set, before it
// asks the second time), "agentop change <body>" for a comment with body
// on the model's GitHub issue; once its tools have answered, it answers
// with text.
func modelScript(c fakellm.Conversation, between func()) fakellm.Reply {
	if len(c.Messages) == 0 {
		return fakellm.Text("nothing asked")
	}
	first := c.Messages[0].Text
	i := strings.LastIndex(first, agentMarker)
	if i < 0 {
		return fakellm.Text("nothing asked")
	}
	fields := strings.Fields(first[i+len(agentMarker):])
	if len(fields) >= 2 && fields[0] == "readtwice" {
		answered := 0
		for _, m := range c.Messages {
			if m.Role == "tool" {
				answered++
			}
		}
		switch answered {
		case 0:
			return fakellm.Call(modelReadTools[tandem.ProviderID(fields[1])], "{}")
		case 1:
			if between != nil {
				between()
			}
			return fakellm.Call(modelReadTools[tandem.ProviderID(fields[1])], "{}")
		}
		return fakellm.Text("agent answer")
	}
	if c.LastMessage().Role == "tool" {
		return fakellm.Text("agent answer")
	}
	switch {
	case len(fields) >= 2 && fields[0] == "read":
		return fakellm.Call(modelReadTools[tandem.ProviderID(fields[1])], "{}")
	case len(fields) >= 2 && fields[0] == "change":
		return fakellm.Call("github_comment", `{"ref":"`+modelIssue+`","text":"`+fields[1]+`"}`)
	}
	return fakellm.Text("nothing asked")
}

// agentReadsRelinked is sender's free-form request that the model plans as
// two GitLab reads, while between them the person whose identity the turn
// uses relinks their other GitLab account (through /connect, as from
// another browser tab): the first read runs as the old account, by the
// rule; the second must not run as the new one, nor as anyone: the turn
// stops and says so, its refusal is audited, and the new account's token
// leaves only for the connect flow's own look-up of the account.
func (r *modelRun) agentReadsRelinked(sender string) {
	p := tandem.GitLab
	user, l, alt := r.relinkable(sender)
	_, reason := r.m.Identity(sender)
	text := agentMarker + "readtwice " + string(p)
	r.step(fmt.Sprintf("%s (agent): %s, while %s relinks GitLab as %s between the two reads", sender, text, user, alt))
	reached, goOn := make(chan struct{}), make(chan struct{})
	hold := func() {
		close(reached)
		<-goOn
	}
	r.between.Store(&hold)
	defer r.between.Store(nil)
	r.agent = true
	defer func() { r.agent = false }()
	want := r.m.MessageRelinked(sender, p, func() {
		defer close(goOn) // the model asks for the second read after the relink
		r.say(sender, text)
		select {
		case <-reached:
		case <-time.After(10 * time.Second):
			r.rt.Fatalf("the agent turn's first read never came back to the model")
		}
		r.relinkMidTurn(user, p, alt)
	})
	if want.Outcome != identitymodel.Relinked {
		r.rt.Fatalf("the model says %+v for a request it was told runs", want)
	}
	reply := plain(r.threadPost("changed to another account"))
	if r.checkRelinkedRequests(l.Login, alt) == 0 {
		r.rt.Fatalf("the agent turn's first read never reached GitLab as %s", l.Login)
	}
	if !strings.Contains(reply, "as "+alt) {
		r.rt.Fatalf("the turn's reply %q does not name %s, the account linked now", reply, alt)
	}
	// The first read's resolution as the old account, by the rule; the
	// second refused.
	var resolves []tandem.AuditRecord
	r.auditUntil(func(recs []tandem.AuditRecord) bool {
		resolves = nil
		for _, rec := range recs[min(r.audits, len(recs)):] {
			if rec.Action == "resolve" && rec.Provider == p && strings.HasPrefix(rec.Actor, sender) {
				resolves = append(resolves, rec)
			}
		}
		return slices.ContainsFunc(resolves, func(rec tandem.AuditRecord) bool { return rec.Outcome == tandem.OutcomeRefused })
	})
	var ok, refused int
	for _, rec := range resolves {
		if rec.Effective != user || rec.Reason != reason {
			r.rt.Fatalf("audit: %s as %q (%s); the model says as %s (%s)", rec.Actor, rec.Effective, rec.Reason, user, reason)
		}
		switch rec.Outcome {
		case tandem.OutcomeOK:
			ok++
		case tandem.OutcomeRefused:
			refused++
		}
	}
	if ok != 1 || refused != 1 {
		r.rt.Fatalf("audit: %d resolutions ok and %d refused (%+v); want the first read's, and the second's refusal", ok, refused, resolves)
	}
}

// agentRead is sender's free-form request that the model plans as one read
// at p: the same identity, links and re-runs as the command, by the rule.
func (r *modelRun) agentRead(sender string, p tandem.ProviderID) {
	text := agentMarker + "read " + string(p)
	r.step(fmt.Sprintf("%s (agent): %s", sender, text))
	want := r.m.Message(sender, p)
	r.bodies[want.Msg] = ""
	r.agent = true
	defer func() { r.agent = false }()
	r.say(sender, text)
	r.expectTurn(sender, p, want)
}

// agentChange is sender's free-form request that the model plans as a
// GitHub comment: a proposal card, which presser presses. Only the sender's
// press makes the comment, as the identity the rule gives them; anyone
// else's makes nothing.
func (r *modelRun) agentChange(sender, presser string) {
	body := fmt.Sprintf("model-agent-change-%d", r.steps+1)
	r.step(fmt.Sprintf("%s (agent): change %s, pressed by %s", sender, body, presser))
	r.m.Wrote(sender)
	user, reason := r.m.Identity(sender)
	r.agent = true
	defer func() { r.agent = false }()
	r.say(sender, agentMarker+"change "+body)
	if reason == tandem.ReasonRefusedNotEditor {
		r.threadPost("not on its editors list")
		r.checkRequests(nil)
		r.checkAudit(sender, "", identitymodel.Expect{Outcome: identitymodel.Refused, Reason: reason})
		return
	}
	card := r.threadPost("Proposed changes", body)
	r.checkRequests(nil) // proposing reaches no provider
	r.checkChange(tandem.GitHub, body, identitymodel.Expect{Outcome: identitymodel.Refused})
	payload := r.e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: presser, ChannelID: card.Channel, MessageTS: card.TS,
		ThreadTS: r.root, ActionID: "proposal_do", Value: buttonValue(r.t, card.Blocks, "proposal_do")})
	if _, err := r.e.slack.SendInteraction(ctxFor(r.t), payload); err != nil {
		r.rt.Fatalf("press Do it: %v", err)
	}
	if presser != sender {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := r.e.slack.WaitForMessage(ctx, func(m fakeslack.Message) bool {
			return m.Method == "chat.postEphemeral" && m.User == presser && strings.Contains(plain(m), "Only <@"+sender+"> can confirm")
		}); err != nil {
			r.rt.Fatalf("%s's press of %s's card was not refused privately: %v", presser, sender, err)
		}
		r.checkRequests(nil)
		r.checkChange(tandem.GitHub, body, identitymodel.Expect{Outcome: identitymodel.Refused})
		return
	}
	want := r.m.Use(user, tandem.GitHub, reason)
	name := tandem.GitHub.Name()
	switch want.Outcome {
	case identitymodel.OK:
		r.threadPost("Changes made", body)
		r.checkRequests(map[tandem.ProviderID]string{tandem.GitHub: want.Login})
	case identitymodel.NotConfigured:
		r.threadPost(name + " credentials not configured")
		r.checkRequests(nil)
	case identitymodel.Expired:
		r.threadPost(name + " credentials expired or revoked")
		l, _ := r.m.Link(want.User, tandem.GitHub)
		r.checkRequests(map[tandem.ProviderID]string{tandem.GitHub: l.Login})
	}
	r.checkChange(tandem.GitHub, body, want)
	// The confirmation's resolution is audited, as the same identity, with
	// its completion (just after its reply).
	var confirms []tandem.AuditRecord
	r.auditUntil(func(recs []tandem.AuditRecord) bool {
		confirms = nil
		for _, rec := range recs[min(r.audits, len(recs)):] {
			if rec.Action == "resolve" && strings.HasPrefix(rec.TurnID, "confirm/") {
				confirms = append(confirms, rec)
			}
		}
		return len(confirms) > 0
	})
	if len(confirms) != 1 || confirms[0].Actor != sender || confirms[0].Effective != user || confirms[0].Reason != reason || confirms[0].Provider != tandem.GitHub {
		r.rt.Fatalf("audit of the confirmation: %+v; want one GitHub resolution by %s as %s (%s)", confirms, sender, user, reason)
	}
}

// mcpCall is an MCP call by an agent with creator's API key, to replica
// (any of them): the read at p runs as the key's creator whatever the
// session's mode, as an API turn does.
func (r *modelRun) mcpCall(creator string, p tandem.ProviderID, replica int) {
	key := r.keyOf(creator)
	r.step(fmt.Sprintf("MCP call with %s's key on replica %d: %s", creator, replica+1, modelReadTools[p]))
	want := r.m.APITurn(creator, p)
	client := mcp.NewClient(&mcp.Implementation{Name: "model", Version: "1"}, nil)
	s, err := client.Connect(ctxFor(r.t), &mcp.StreamableClientTransport{Endpoint: "http://" + r.addrs[replica] + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{key: key, next: http.DefaultTransport}}}, nil)
	if err != nil {
		r.rt.Fatalf("MCP connect: %v", err)
	}
	defer s.Close()
	text, failed := callText(r.t, s, modelReadTools[p], nil)
	name := p.Name()
	switch want.Outcome {
	case identitymodel.OK:
		if failed {
			r.rt.Fatalf("MCP call of %s's key failed: %s; the model says ok as %s", creator, text, want.Login)
		}
		r.checkRequests(map[tandem.ProviderID]string{p: want.Login})
	case identitymodel.NotConfigured:
		if !failed || !strings.Contains(text, name+" credentials not configured for <@"+creator+">") {
			r.rt.Fatalf("MCP call of %s's key: %q, want %s credentials not configured", creator, text, name)
		}
		r.checkRequests(nil)
	case identitymodel.Expired:
		if !failed || !strings.Contains(text, name+" credentials expired or revoked for <@"+creator+">") {
			r.rt.Fatalf("MCP call of %s's key: %q, want %s credentials expired", creator, text, name)
		}
		l, _ := r.m.Link(creator, p)
		r.checkRequests(map[tandem.ProviderID]string{p: l.Login})
	}
}
