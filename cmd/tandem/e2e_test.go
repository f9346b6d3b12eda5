package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestSharedSessionEachMessageUsesItsSender is the product's promise end to
// end: in one thread, every message runs with its own sender's GitHub
// account, and someone without one is told so and never borrows another's.
func TestSharedSessionEachMessageUsesItsSender(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")

	// Alice starts the session; Bob, an editor, asks the same in its thread.
	root, _ := e.mention("UALICE", "list my open PRs", "")
	r := e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
	if !strings.Contains(plain(r), "Fix the thing alice found") || strings.Contains(plain(r), "bob found") {
		t.Errorf("alice's reply does not list exactly her PRs: %s", r.Blocks)
	}
	if !strings.Contains(plain(r), "2 open pull requests") {
		t.Errorf("alice's reply does not count her PRs: %s", r.Blocks)
	}
	e.mention("UBOB", "list my open PRs", root)
	r = e.reply(root, "ran as <@UBOB> · GitHub: bob-gh")
	if !strings.Contains(plain(r), "Fix the thing bob found") {
		t.Errorf("bob's reply does not list his PRs: %s", r.Blocks)
	}
	searches := e.gh.Requests()
	var logins []string
	for _, req := range searches {
		if req.Path == "/search/issues" {
			logins = append(logins, req.Login)
		}
	}
	if strings.Join(logins, ",") != "alice-gh,bob-gh" {
		t.Errorf("GitHub saw searches with the tokens of %v, want alice-gh then bob-gh", logins)
	}

	// Carol has linked nothing: she is told privately, with a link of her own.
	before := len(e.searchTokens())
	carolTS, _ := e.mention("UCAROL", "list my open PRs", root)
	eph, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == "UCAROL"
	})
	if err != nil {
		t.Fatalf("no ephemeral for carol: %v", err)
	}
	if !strings.Contains(plain(eph), "GitHub credentials not configured") || eph.ThreadTS != root {
		t.Errorf("carol's ephemeral = %+v, want 'GitHub credentials not configured' in the thread", eph)
	}
	e.reply(root, "private link to connect GitHub")
	if got := len(e.searchTokens()); got != before {
		t.Fatalf("a search ran for carol without her account (%d searches, want %d)", got, before)
	}
	_ = carolTS

	// Her button links her account; her failed message then runs by itself,
	// as her.
	u := buttonURL(t, eph.Blocks, "/connect/github")
	if status, page := open(t, e.browser("carol-gh"), u); status != 200 || !strings.Contains(page, "GitHub account carol-gh is now linked") {
		t.Fatalf("carol's connect: %d %s", status, page)
	}
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && strings.HasPrefix(m.Channel, "D") && strings.Contains(m.Text, "GitHub account carol-gh is now linked")
	}); err != nil {
		t.Errorf("carol got no DM naming her GitHub login: %v", err)
	}
	e.reply(root, "ran as <@UCAROL> · GitHub: carol-gh")
	e.mention("UCAROL", "my prs", root)
	waitFor(t, "carol's second reply", func() bool {
		return e.count(func(m fakeslack.Message) bool {
			return m.ThreadTS == root && strings.Contains(plain(m), "ran as <@UCAROL> · GitHub: carol-gh")
		}) == 2
	})
	tokens := e.searchTokens()
	last := e.gh.Requests()
	var carolLogins []string
	for _, req := range last {
		if req.Path == "/search/issues" {
			carolLogins = append(carolLogins, req.Login)
		}
	}
	if got := strings.Join(carolLogins[2:], ","); got != "carol-gh,carol-gh" {
		t.Errorf("after linking, searches ran as %s, want carol-gh twice", got)
	}
	if len(tokens) != 4 {
		t.Errorf("GitHub saw %d searches, want 4", len(tokens))
	}
}

// TestDuplicateDeliveriesRunOnce: a redelivered envelope and the second
// event of a mention (app_mention + message.channels) run one turn.
func TestDuplicateDeliveriesRunOnce(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	root, eventID := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE>")
	for attempt := 1; attempt <= 3; attempt++ {
		if _, err := e.slack.Redeliver(ctxFor(t), eventID, attempt); err != nil {
			t.Fatalf("redeliver: %v", err)
		}
	}
	// A later turn in the same session proves the queue moved past them.
	e.mention("UALICE", "whoami", root)
	e.reply(root, "Identities for this thread")
	replies := e.count(func(m fakeslack.Message) bool {
		return m.ThreadTS == root && strings.Contains(plain(m), "open pull requests")
	})
	if replies != 1 {
		t.Errorf("%d replies to one message delivered five times, want 1", replies)
	}
	if n := len(e.searchTokens()); n != 1 {
		t.Errorf("GitHub saw %d searches, want 1", n)
	}
	if un := e.slack.UnackedEnvelopes(); len(un) != 0 {
		t.Errorf("envelopes left unacknowledged: %v", un)
	}
}

// TestRestartMidTurnFinishesOnce: the bot stops while a turn waits on
// GitHub; after a restart the acknowledged turn runs to one reply.
func TestRestartMidTurnFinishesOnce(t *testing.T) {
	e := newEnv(t)
	e.vars["TANDEM_SHUTDOWN_TIMEOUT"] = "0s" // stop at once, like a crash mid-turn
	e.start()
	e.connect("UALICE", "alice-gh")
	e.gh.SetLatency(3 * time.Second)
	root, _ := e.mention("UALICE", "list my open PRs", "")
	waitFor(t, "the turn to call GitHub", func() bool { return strings.Contains(e.logs.String(), `"msg":"credentials resolved"`) })
	time.Sleep(200 * time.Millisecond) // the search is now waiting on GitHub
	e.stop()
	if n := e.count(func(m fakeslack.Message) bool { return m.ThreadTS == root }); n != 0 {
		t.Fatalf("the interrupted turn already replied %d times: %v", n, e.slack.Messages()[len(e.slack.Messages())-1].Text)
	}
	e.gh.SetLatency(0)
	e.start()
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
	e.mention("UALICE", "whoami", root)
	e.reply(root, "Identities for this thread")
	if n := e.count(func(m fakeslack.Message) bool {
		return m.ThreadTS == root && strings.Contains(plain(m), "open pull requests")
	}); n != 1 {
		t.Errorf("%d replies after restart, want 1", n)
	}
}

// TestChatterAndBotMessagesAreIgnored: messages that do not address the bot,
// edits and bot messages are acknowledged and never become turns.
func TestChatterAndBotMessagesAreIgnored(t *testing.T) {
	e := newEnv(t)
	e.start()
	root, _ := e.mention("UALICE", "help", "")
	e.reply(root, "Tandem runs every message")
	ctx := ctxFor(t)
	chatter := fakeslack.MessageEvent(channel, "UBOB", "lunch anyone?", e.slack.NextTS(), root)
	edit := fakeslack.MessageEvent(channel, "UBOB", "help", e.slack.NextTS(), root)
	edit["subtype"] = "message_changed"
	botMsg := fakeslack.MessageEvent(channel, "UBOB", "help", e.slack.NextTS(), root)
	botMsg["bot_id"] = "B0OTHER"
	outside := fakeslack.MessageEvent(channel, "UBOB", "help", e.slack.NextTS(), "")
	// Chat that happens to read as a schedule makes none: only a message
	// addressed to Tandem may set something to run as its sender later.
	planning := fakeslack.MessageEvent(channel, "UBOB", "tomorrow at 10:00 let's look at the failing build", e.slack.NextTS(), root)
	for _, ev := range []map[string]any{chatter, edit, botMsg, outside, planning} {
		if _, err := e.slack.SendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// A command typed plainly inside the session thread is a turn.
	if _, err := e.slack.SendEvent(ctx, fakeslack.MessageEvent(channel, "UBOB", "whoami", e.slack.NextTS(), root)); err != nil {
		t.Fatal(err)
	}
	e.reply(root, "Identities for this thread")
	if n := e.count(func(m fakeslack.Message) bool { return m.Method == "chat.postMessage" }); n != 2 {
		t.Errorf("%d replies, want 2 (help and whoami)", n)
	}
	e.mention("UBOB", "schedules", root)
	e.reply(root, "None. Start one with")
}
