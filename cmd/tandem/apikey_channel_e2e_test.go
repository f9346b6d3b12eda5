package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// Conversations of the channel tests, beside the shared channel everyone is in.
const (
	bobDM        = "DUBOB"   // Bob's DM with Tandem, as the fake names DMs
	privateBobs  = "G0BOBS"  // private, with Bob and Tandem, without Alice
	publicNoAli  = "C0NOALI" // public, with Bob and Tandem, without Alice
	publicTeam   = "C0TEAM"  // public, with Alice, Bob and Tandem
	publicNoBot  = "C0NOBOT" // public, with Alice, without Tandem
	crowdChannel = "C0CROWD" // public, Alice listed after more than a page of members
	crowdBefore  = 450       // members listed before Alice in crowdChannel
	refusalCode  = "channel_not_allowed"
	refusalWords = "not a member"
)

// newChannelEnv is an installation whose fake Slack also has the channels
// above; Alice and Bob have connected GitHub, and Alice has a key.
func newChannelEnv(t *testing.T) (*env, string) {
	t.Helper()
	crowd := make([]string, 0, crowdBefore+2)
	for i := range crowdBefore {
		crowd = append(crowd, fmt.Sprintf("UCROWD%04d", i))
	}
	crowd = append(crowd, "U0BOT", "UALICE")
	e := newEnvWith(t, func(o *fakeslack.Options) {
		o.Channels = append(o.Channels,
			fakeslack.Channel{ID: privateBobs, Name: "bobs-plans", Creator: "UBOB", IsPrivate: true, Members: []string{"UBOB", "U0BOT"}},
			fakeslack.Channel{ID: publicNoAli, Name: "bobs-corner", Creator: "UBOB", Members: []string{"UBOB", "U0BOT"}},
			fakeslack.Channel{ID: publicTeam, Name: "team", Creator: "UBOB", Members: []string{"UALICE", "UBOB", "U0BOT"}},
			fakeslack.Channel{ID: publicNoBot, Name: "no-bot", Creator: "UALICE", Members: []string{"UALICE"}},
			fakeslack.Channel{ID: crowdChannel, Name: "crowd", Creator: "UBOB", Members: crowd},
		)
	})
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	return e, e.createKey("UALICE", "ci-bot")
}

// inChannel counts the messages Tandem sent into channel.
func (e *env) inChannel(channel string) int {
	return e.count(func(m fakeslack.Message) bool { return m.Channel == channel })
}

// turnsLoggedIn counts the turns of user the binary recorded in channel.
func (e *env) turnsLoggedIn(channel, user string) int {
	n := 0
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"turn recorded"`) && strings.Contains(line, channel) && strings.Contains(line, `"user":"`+user+`"`) {
			n++
		}
	}
	return n
}

// TestAPIKeyRefusedWhereItsCreatorIsNot: an API key acts as its creator, so
// it may post only where the creator is a member. Elsewhere (another
// person's DM with Tandem, a private channel, a public channel the creator
// is not in, or one that does not exist) it gets 403 channel_not_allowed,
// and nothing reaches Slack's channel or GitHub: no intro, no reply, no turn.
func TestAPIKeyRefusedWhereItsCreatorIsNot(t *testing.T) {
	e, key := newChannelEnv(t)
	// Bob talks to Tandem in his DM: the thread the key will try to join.
	bobThread := e.slack.NextTS()
	if _, err := e.slack.SendEvent(ctxFor(t), fakeslack.MessageEvent(bobDM, "UBOB", "list my open PRs", bobThread, "")); err != nil {
		t.Fatalf("deliver Bob's DM: %v", err)
	}
	e.reply(bobThread, "ran as <@UBOB>")
	tests := []struct{ name, body, channel string }{
		{"Bob's DM, new thread", `{"channel":"` + bobDM + `","text":"list my open PRs"}`, bobDM},
		{"Bob's DM, his thread", `{"channel":"` + bobDM + `","thread_ts":"` + bobThread + `","text":"list my open PRs"}`, bobDM},
		{"a private channel without Alice", `{"channel":"` + privateBobs + `","text":"list my open PRs"}`, privateBobs},
		{"a private channel without Alice, in a thread", `{"channel":"` + privateBobs + `","thread_ts":"1700000000.000100","text":"list my open PRs"}`, privateBobs},
		{"a public channel without Alice", `{"channel":"` + publicNoAli + `","text":"list my open PRs"}`, publicNoAli},
		{"a channel that does not exist", `{"channel":"C0NOWHERE","text":"list my open PRs"}`, "C0NOWHERE"},
		{"a DM with nobody", `{"channel":"DUNOBODY","text":"list my open PRs"}`, "DUNOBODY"},
	}
	ghBefore := len(e.gh.Requests())
	for _, tt := range tests {
		posted := e.inChannel(tt.channel)
		status, out := e.post(key, tt.body)
		if status != 403 || out["ok"] != false || errCode(out) != refusalCode || !strings.Contains(errMessage(out), refusalWords) || !strings.Contains(errMessage(out), "UALICE") {
			t.Errorf("%s: %d %v, want 403 %s", tt.name, status, out, refusalCode)
		}
		if n := e.inChannel(tt.channel) - posted; n != 0 {
			t.Errorf("%s: Tandem posted %d messages there", tt.name, n)
		}
		if n := e.turnsLoggedIn(tt.channel, "UALICE"); n != 0 {
			t.Errorf("%s: %d turns of Alice recorded there", tt.name, n)
		}
	}
	if n := len(e.gh.Requests()) - ghBefore; n != 0 {
		t.Errorf("refused requests reached GitHub %d times: %v", n, e.gh.Requests()[ghBefore:])
	}
	// The same words whether or not the channel exists.
	_, nowhere := e.post(key, `{"channel":"C0NOWHERE","text":"x"}`)
	_, private := e.post(key, `{"channel":"`+privateBobs+`","text":"x"}`)
	if a, b := strings.ReplaceAll(errMessage(nowhere), "C0NOWHERE", "#"), strings.ReplaceAll(errMessage(private), privateBobs, "#"); a != b {
		t.Errorf("a missing channel and a private one are told apart:\n%s\n%s", a, b)
	}
	// Bob's own key still works in his DM: the rule is about the creator.
	var stdout, stderr strings.Builder
	if err := run(ctxFor(t), []string{"apikey", "create", "--user", "UBOB", "--name", "bobs"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("tandem apikey create: %v\n%s", err, stderr.String())
	}
	bobKey := strings.TrimSpace(stdout.String())
	e.remember(bobKey)
	// An operator made it: it acts as Bob once he allows it, here by
	// typing the command (Alice's try at it allows nothing).
	prefix := bobKey[:len("tdm_")+8]
	if ack, _ := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey approve " + prefix, UserID: "UALICE", ChannelID: channel}); !strings.Contains(string(ack), "Nothing allowed") {
		t.Errorf("Alice's /tandem apikey approve of Bob's key: %s; want nothing allowed", ack)
	}
	if status, out := e.post(bobKey, `{"channel":"`+bobDM+`","text":"list my open PRs"}`); status != 403 || errCode(out) != "key_pending" {
		t.Errorf("Bob's key after Alice's approve: %d %v; want still pending", status, out)
	}
	if ack, _ := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey approve " + prefix, UserID: "UBOB", ChannelID: bobDM}); !strings.Contains(string(ack), "API key bobs allowed") {
		t.Fatalf("Bob's /tandem apikey approve: %s", ack)
	}
	status, out := e.post(bobKey, `{"channel":"`+bobDM+`","text":"list my open PRs"}`)
	if status != 200 || out["identity"].(map[string]any)["login"] != "bob-gh" {
		t.Errorf("Bob's key in Bob's DM: %d %v", status, out)
	}
}

// TestAPIKeyWorksWhereItsCreatorIs: in the creator's own DM with Tandem, the
// shared channel, a channel the creator was added to, and a channel whose
// member list spans several pages, the key runs as before, with the
// creator's token.
func TestAPIKeyWorksWhereItsCreatorIs(t *testing.T) {
	e, key := newChannelEnv(t)
	for _, ch := range []string{"DUALICE", channel, publicTeam, crowdChannel} {
		before, pages := len(e.searchLogins()), e.slack.Calls("conversations.members")
		status, out := e.post(key, `{"channel":"`+ch+`","text":"list my open PRs"}`)
		if status != 200 || out["ok"] != true {
			t.Errorf("%s: %d %v", ch, status, out)
			continue
		}
		if id := out["identity"].(map[string]any); id["slack_user"] != "UALICE" || id["login"] != "alice-gh" || id["reason"] != "api_key_creator" {
			t.Errorf("%s: identity = %v", ch, id)
		}
		if out["channel"] != ch {
			t.Errorf("%s: ran in %v", ch, out["channel"])
		}
		e.reply(out["thread_ts"].(string), "via API key ci-bot of <@UALICE> · GitHub: alice-gh")
		if got := e.searchLogins()[before:]; strings.Join(got, ",") != "alice-gh" {
			t.Errorf("%s: GitHub saw the tokens of %v, want alice-gh's", ch, got)
		}
		// Alice is listed after more than one page of the crowd.
		if n := e.slack.Calls("conversations.members") - pages; ch == crowdChannel && n < 2 {
			t.Errorf("%s: %d conversations.members calls, want every page up to Alice's", ch, n)
		}
	}
}

// TestAPIKeyFollowsMembershipAtOnce: the creator leaving a channel stops the
// key there from the next request, and joining again lets it back in;
// membership is asked of Slack every time, never cached.
func TestAPIKeyFollowsMembershipAtOnce(t *testing.T) {
	e, key := newChannelEnv(t)
	body := `{"channel":"` + publicTeam + `","text":"list my open PRs"}`
	if status, out := e.post(key, body); status != 200 {
		t.Fatalf("while Alice is in #team: %d %v", status, out)
	}
	posted := e.inChannel(publicTeam)
	e.slack.AddChannel(fakeslack.Channel{ID: publicTeam, Name: "team", Creator: "UBOB", Members: []string{"UBOB", "U0BOT"}})
	if status, out := e.post(key, body); status != 403 || errCode(out) != refusalCode {
		t.Errorf("after Alice left #team: %d %v, want 403 %s", status, out, refusalCode)
	}
	if n := e.inChannel(publicTeam); n != posted {
		t.Errorf("after Alice left #team Tandem posted %d more messages there", n-posted)
	}
	e.slack.AddChannel(fakeslack.Channel{ID: publicTeam, Name: "team", Creator: "UBOB", Members: []string{"UBOB", "U0BOT", "UALICE"}})
	if status, out := e.post(key, body); status != 200 {
		t.Errorf("after Alice rejoined #team: %d %v", status, out)
	}
}

// TestAPIKeyInAChannelWithoutTandem: where the creator is a member but
// Tandem is not, the answer is still the old one: invite @tandem.
func TestAPIKeyInAChannelWithoutTandem(t *testing.T) {
	e, key := newChannelEnv(t)
	status, out := e.post(key, `{"channel":"`+publicNoBot+`","text":"whoami"}`)
	if status != 403 || errCode(out) != "forbidden" || !strings.Contains(errMessage(out), "invite @tandem") {
		t.Errorf("a channel Alice is in and Tandem is not: %d %v", status, out)
	}
}
