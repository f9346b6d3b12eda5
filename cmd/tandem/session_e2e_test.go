package main

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// searchLogins returns the logins GitHub saw on searches, in order.
func (e *env) searchLogins() []string {
	var out []string
	for _, r := range e.gh.Requests() {
		if r.Path == "/search/issues" {
			out = append(out, r.Login)
		}
	}
	return out
}

// mrLogins returns the logins GitLab saw on merge request lists.
func (e *env) mrLogins() []string {
	var out []string
	for _, r := range e.gl.Requests() {
		if r.Path == "/merge_requests" {
			out = append(out, r.Login)
		}
	}
	return out
}

// ask mentions the bot as user in thread and waits for a reply with want.
func (e *env) ask(user, text, thread, want string) fakeslack.Message {
	e.t.Helper()
	before := e.count(func(m fakeslack.Message) bool { return m.ThreadTS == thread && m.Method == "chat.postMessage" })
	e.mention(user, text, thread)
	var got fakeslack.Message
	waitFor(e.t, fmt.Sprintf("reply to %q", text), func() bool {
		n := 0
		for _, m := range e.slack.Messages() {
			if m.ThreadTS == thread && m.Method == "chat.postMessage" {
				n++
				if n > before {
					got = m
					return true
				}
			}
		}
		return false
	})
	if !strings.Contains(plain(got), want) {
		e.t.Fatalf("reply to %q = %s\nwant it to contain %q", text, plain(got), want)
	}
	return got
}

// setPersistent has owner turn persistent mode on in thread, whose other
// writers are on its editors list: the typed set shows no list, so Tandem
// asks the owner by DM to approve the one it names (which must name each
// of editors), and the owner approves it.
func (e *env) setPersistent(owner, thread string, editors ...string) {
	e.t.Helper()
	before := len(e.slack.Messages())
	reply := e.ask(owner, "set KEEP_CREDENTIALS_PERSISTENT=true", thread, "Confirm who may act as you")
	var dm fakeslack.Message
	waitFor(e.t, "the owner's DM with the editors to approve", func() bool {
		for _, m := range e.slack.Messages()[before:] {
			if m.Channel == "D"+owner && strings.Contains(plain(m), "You asked to turn on KEEP_CREDENTIALS_PERSISTENT") {
				dm = m
				return true
			}
		}
		return false
	})
	for _, ed := range editors {
		if !strings.Contains(plain(reply), "<@"+ed+">") || !strings.Contains(plain(dm), "<@"+ed+">") {
			e.t.Fatalf("the reply or the DM does not name the editor %s:\n%s\n%s", ed, plain(reply), plain(dm))
		}
	}
	payload := e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: owner, ChannelID: dm.Channel, MessageTS: dm.TS,
		ActionID: "consent_approve", Value: buttonValue(e.t, dm.Blocks, "consent_approve")})
	if _, err := e.slack.SendInteraction(ctxFor(e.t), payload); err != nil {
		e.t.Fatal(err)
	}
	waitFor(e.t, "persistent mode on", func() bool {
		for _, m := range e.slack.Messages()[before:] {
			if m.ThreadTS == thread && strings.Contains(plain(m), "every turn now runs as the owner") {
				return true
			}
		}
		return false
	})
}

// TestPerMessageAndPersistentModes runs the same thread (owner, two
// editors, an outsider; GitHub and GitLab) per-message, then persistent,
// then per-message again, and checks every request's identity and what the
// session holds between turns.
func TestPerMessageAndPersistentModes(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connectAll("UALICE")
	e.connectAll("UBOB")
	e.connectTo("UCAROL", tandem.GitHub, "carol-gh")
	e.connectTo("UDAVE", tandem.GitHub, "dave-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")

	// Per-message: each as themselves; Carol has no GitLab.
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	e.ask("UCAROL", "list my open PRs", root, "ran as <@UCAROL> · GitHub: carol-gh")
	e.ask("UBOB", "list my open MRs", root, "ran as <@UBOB> · GitLab: bob-gl")
	e.ask("UCAROL", "list my open MRs", root, "GitLab credentials not configured")
	e.ask("UALICE", "session", root, "Credentials held between turns: none")
	if got := strings.Join(e.searchLogins(), ","); got != "alice-gh,bob-gh,carol-gh" {
		t.Errorf("per-message searches ran as %s", got)
	}

	// Persistent: every editor's turn runs as Alice, once she approved
	// the list (Bob and Carol, who wrote here); Dave, who never wrote
	// here, is refused.
	e.setPersistent("UALICE", root, "UBOB", "UCAROL")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UALICE> (persistent session) · GitHub: alice-gh")
	e.ask("UCAROL", "list my open MRs", root, "ran as <@UALICE> (persistent session) · GitLab: alice-gl")
	e.ask("UDAVE", "list my open PRs", root, "not on its editors list")
	e.ask("UBOB", "session", root, "Credentials held between turns: GitHub as alice-gh of <@UALICE>, GitLab as alice-gl of <@UALICE>")
	if got := strings.Join(e.searchLogins(), ","); got != "alice-gh,bob-gh,carol-gh,alice-gh" {
		t.Errorf("searches ran as %s; Dave's refused turn must not reach GitHub", got)
	}
	if got := strings.Join(e.mrLogins(), ","); got != "bob-gl,alice-gl" {
		t.Errorf("merge request lists ran as %s", got)
	}

	// Back to per-message: the held credentials are dropped at once.
	e.ask("UALICE", "unset KEEP_CREDENTIALS_PERSISTENT", root, "every turn runs as its sender")
	e.ask("UALICE", "session", root, "Credentials held between turns: none")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
}

// TestPersistentNeedsTheOwnersConsent: a channel admin's request waits for
// the owner; a non-admin cannot ask; only the owner's own press approves;
// disabling is immediate.
func TestPersistentNeedsTheOwnersConsent(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UALICE", "whoami", "")
	e.reply(root, "Identities for this thread")
	e.ask("UBOB", "whoami", root, "Identities")

	e.ask("UBOB", "set KEEP_CREDENTIALS_PERSISTENT=true", root, "Only <@UALICE> (who owns this session) or a channel admin")
	e.ask("UDAVE", "set KEEP_CREDENTIALS_PERSISTENT=true", root, "Waiting for the owner's approval")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	e.ask("UBOB", "env", root, "waiting for <@UALICE>'s approval")

	dm, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Channel == "DUALICE" && strings.Contains(plain(m), "asks to turn on KEEP_CREDENTIALS_PERSISTENT")
	})
	if err != nil {
		t.Fatalf("the owner was not asked: %v", err)
	}
	// Dave pressing the owner's button changes nothing.
	press := func(user string, dm fakeslack.Message, action string) {
		payload := e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: user, ChannelID: dm.Channel, MessageTS: dm.TS, ActionID: action, Value: buttonValue(t, dm.Blocks, action)})
		if _, err := e.slack.SendInteraction(ctxFor(t), payload); err != nil {
			t.Fatal(err)
		}
	}
	press("UDAVE", dm, "consent_approve")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	// Dave asks again: the request is replaced, and a second message asks
	// the owner. The first message's buttons answer nothing any more.
	e.ask("UDAVE", "set KEEP_CREDENTIALS_PERSISTENT=true", root, "Waiting for the owner's approval")
	second, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Channel == "DUALICE" && m.TS != dm.TS && strings.Contains(plain(m), "asks to turn on KEEP_CREDENTIALS_PERSISTENT")
	})
	if err != nil {
		t.Fatalf("the owner was not asked again: %v", err)
	}
	if buttonValue(t, second.Blocks, "consent_approve") == buttonValue(t, dm.Blocks, "consent_approve") {
		t.Fatalf("both requests' buttons carry %q: a press could not tell them apart", buttonValue(t, dm.Blocks, "consent_approve"))
	}
	press("UALICE", dm, "consent_approve")
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.update" && m.TS == dm.TS && strings.Contains(m.Text, "Nothing changed")
	}); err != nil {
		t.Fatalf("the press on the replaced request was not answered: %v", err)
	}
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	e.ask("UBOB", "env", root, "waiting for <@UALICE>'s approval")
	press("UALICE", second, "consent_approve")
	e.reply(root, "every turn now runs as the owner")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UALICE> (persistent session) · GitHub: alice-gh")

	e.ask("UDAVE", "unset KEEP_CREDENTIALS_PERSISTENT", root, "every turn runs as its sender")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	e.ask("UALICE", "audit", root, "request_env")
}

// TestIdentityFollowsTheModeAtEachTurn interleaves many senders' turns with
// mode switches in one session: every GitHub request carries the identity
// the rules give when its turn started.
func TestIdentityFollowsTheModeAtEachTurn(t *testing.T) {
	e := newEnv(t)
	e.start()
	for _, u := range []struct{ id, login string }{{"UALICE", "alice-gh"}, {"UBOB", "bob-gh"}, {"UCAROL", "carol-gh"}} {
		e.connect(u.id, u.login)
	}
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE>")
	// Everyone writes once, so all are editors before the first switch.
	want := []string{"alice-gh"}
	for _, u := range []struct{ id, login string }{{"UBOB", "bob-gh"}, {"UCAROL", "carol-gh"}} {
		e.mention(u.id, "list my open PRs", root)
		want = append(want, u.login)
	}
	r := rand.New(rand.NewSource(7))
	senders := []struct{ id, login string }{{"UALICE", "alice-gh"}, {"UBOB", "bob-gh"}, {"UCAROL", "carol-gh"}}
	persistent := false
	for i := 0; i < 40; i++ {
		if r.Intn(6) == 0 {
			if persistent {
				e.mention("UALICE", "unset KEEP_CREDENTIALS_PERSISTENT", root)
			} else {
				// The owner's typed set takes effect at its place in the
				// thread only with no other editors (with some, it waits
				// for her press on the list): she removes them, sets it,
				// and adds them back, which her own adds do at once.
				for _, text := range []string{"editors remove <@UBOB>", "editors remove <@UCAROL>", "set KEEP_CREDENTIALS_PERSISTENT=true", "editors add <@UBOB>", "editors add <@UCAROL>"} {
					e.mention("UALICE", text, root)
				}
			}
			persistent = !persistent
			continue
		}
		s := senders[r.Intn(len(senders))]
		e.mention(s.id, "list my open PRs", root)
		if persistent {
			want = append(want, "alice-gh")
		} else {
			want = append(want, s.login)
		}
	}
	waitFor(t, "every turn", func() bool { return len(e.searchLogins()) == len(want) })
	if got := e.searchLogins(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("GitHub saw\n%v\nwant\n%v", got, want)
	}
}
