package fakeslack_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/testclock"

	"github.com/slack-go/slack"

	"github.com/tandembot/tandem/internal/fakeslack"
)

var testUsers = []fakeslack.User{
	{ID: "U1", Name: "ann", RealName: "Ann Admin", IsAdmin: true, IsOwner: true, IsPrimaryOwner: true},
	{ID: "U2", Name: "bob", RealName: "Bob"},
}

var testChannels = []fakeslack.Channel{
	{ID: "C1", Name: "general", Creator: "U1"},
	{ID: "C2", Name: "small", Creator: "U2", Members: []string{"U0BOT", "U1"}},
	{ID: "C3", Name: "nobot", Creator: "U2", Members: []string{"U1"}},
}

func webServer(t *testing.T) (*fakeslack.Server, *slack.Client) {
	t.Helper()
	srv := startServer(t, fakeslack.Options{Users: testUsers, Channels: testChannels})
	return srv, apiFor(srv)
}

// slackErr returns the Slack error code of err, or "" if err is not one.
func slackErr(err error) string {
	var e slack.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	return ""
}

func sections(n, textLen int) []slack.Block {
	blocks := make([]slack.Block, n)
	for i := range blocks {
		blocks[i] = slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("a", textLen), false, false), nil, nil)
	}
	return blocks
}

// tsLess compares Slack timestamps of the "seconds.micro" form.
func tsLess(a, b string) bool {
	var as, am, bs, bm int64
	fmt.Sscanf(a, "%d.%d", &as, &am)
	fmt.Sscanf(b, "%d.%d", &bs, &bm)
	return as < bs || (as == bs && am < bm)
}

func TestAuthTestAndTokens(t *testing.T) {
	srv, api := webServer(t)
	res, err := api.AuthTest()
	if err != nil {
		t.Fatalf("AuthTest: %v", err)
	}
	if res.UserID != "U0BOT" || res.TeamID != "T0TANDEM" || res.BotID != "B0BOT" || res.User == "" || res.URL == "" || res.Team == "" {
		t.Errorf("auth.test = %+v", res)
	}
	for token, want := range map[string]string{"xoxb-wrong": "invalid_auth", srv.AppToken(): "not_allowed_token_type", "": "not_authed"} {
		bad := slack.New(token, slack.OptionAPIURL(srv.APIURL()))
		if _, err := bad.AuthTest(); slackErr(err) != want {
			t.Errorf("auth.test with a bad token: err = %v, want %s", err, want)
		}
		if _, _, err := bad.PostMessage("C1", slack.MsgOptionText("x", false)); slackErr(err) != want {
			t.Errorf("chat.postMessage with a bad token: err = %v, want %s", err, want)
		}
	}
	if len(srv.Messages()) != 0 {
		t.Errorf("a message with a bad token was recorded")
	}
}

func TestPostMessageAndUpdate(t *testing.T) {
	srv, api := webServer(t)
	ch, parent, err := api.PostMessage("C1", slack.MsgOptionText("parent", false))
	if err != nil || ch != "C1" {
		t.Fatalf("PostMessage = %q, %v", ch, err)
	}
	_, ts, msg, err := api.PostMessageWithResponse("C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent),
		slack.MsgOptionBlocks(sections(2, 10)...))
	if err != nil {
		t.Fatalf("PostMessageWithResponse: %v", err)
	}
	if !tsLess(parent, ts) || msg.User != "U0BOT" || msg.BotID != "B0BOT" || msg.ThreadTimestamp != parent ||
		msg.Text != "reply" || msg.Timestamp != ts || len(msg.Blocks.BlockSet) != 2 {
		t.Errorf("reply ts %s after %s, message = %+v", ts, parent, msg.Msg)
	}
	got, err := srv.WaitForMessage(testCtx(t), func(m fakeslack.Message) bool { return m.TS == ts })
	if err != nil || got.Method != "chat.postMessage" || got.ThreadTS != parent || got.Text != "reply" || !strings.Contains(string(got.Blocks), "section") {
		t.Errorf("recorded = %+v, %v", got, err)
	}
	if _, _, _, err := api.UpdateMessage("C1", ts, slack.MsgOptionText("edited", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if m := srv.Messages(); len(m) != 3 || m[2].Method != "chat.update" || m[2].Text != "edited" || m[2].ThreadTS != parent {
		t.Errorf("messages = %+v", m)
	}
	if _, _, _, err := api.UpdateMessage("C1", "1.000001", slack.MsgOptionText("x", false)); slackErr(err) != "message_not_found" {
		t.Errorf("update of unknown ts: %v", err)
	}
	if _, _, err := api.PostMessage("C9", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
	if _, _, err := api.PostMessage("C3", slack.MsgOptionText("x", false)); slackErr(err) != "not_in_channel" {
		t.Errorf("channel without the bot: %v", err)
	}
	if _, _, err := api.PostMessage("DU2", slack.MsgOptionText("dm", false)); err != nil {
		t.Errorf("DM to a known user: %v", err)
	}
	if ch, _, err := api.PostMessage("#general", slack.MsgOptionText("by name", false)); err != nil || ch != "C1" {
		t.Errorf("post by channel name = %q, %v; want C1", ch, err)
	}
}

func TestMessageLimits(t *testing.T) {
	srv, api := webServer(t)
	cases := []struct {
		name string
		opts []slack.MsgOption
		want string
	}{
		{"50 blocks", []slack.MsgOption{slack.MsgOptionBlocks(sections(50, 10)...)}, ""},
		{"51 blocks", []slack.MsgOption{slack.MsgOptionBlocks(sections(51, 10)...)}, "invalid_blocks"},
		{"section of 3000", []slack.MsgOption{slack.MsgOptionBlocks(sections(1, 3000)...)}, ""},
		{"section of 3001", []slack.MsgOption{slack.MsgOptionBlocks(sections(1, 3001)...)}, "invalid_blocks"},
		{"text of 40000", []slack.MsgOption{slack.MsgOptionText(strings.Repeat("é", 40000), false)}, ""},
		{"text of 40001", []slack.MsgOption{slack.MsgOptionText(strings.Repeat("é", 40001), false)}, "msg_too_long"},
		{"nothing", nil, "no_text"},
	}
	accepted := 0
	for _, c := range cases {
		_, _, err := api.PostMessage("C1", c.opts...)
		if got := slackErr(err); got != c.want || (c.want == "" && err != nil) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if c.want == "" {
			accepted++
		}
	}
	if n := len(srv.Messages()); n != accepted {
		t.Errorf("recorded %d messages, want only the %d accepted", n, accepted)
	}
}

func TestPostEphemeral(t *testing.T) {
	srv, api := webServer(t)
	ts, err := api.PostEphemeral("C2", "U1", slack.MsgOptionText("psst", false))
	if err != nil || ts == "" {
		t.Fatalf("PostEphemeral = %q, %v", ts, err)
	}
	m := srv.Messages()
	if len(m) != 1 || !m[0].Ephemeral || m[0].User != "U1" || m[0].TS != ts || m[0].Method != "chat.postEphemeral" {
		t.Errorf("recorded = %+v", m)
	}
	if _, err := api.PostEphemeral("C2", "U2", slack.MsgOptionText("psst", false)); slackErr(err) != "user_not_in_channel" {
		t.Errorf("user outside the channel: %v", err)
	}
	if _, err := api.PostEphemeral("C1", "U404", slack.MsgOptionText("psst", false)); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
	if _, _, _, err := api.UpdateMessage("C2", ts, slack.MsgOptionText("edit", false)); slackErr(err) != "message_not_found" {
		t.Errorf("chat.update of an ephemeral message: %v, want message_not_found", err)
	}
}

func TestRateLimitedPostMessage(t *testing.T) {
	srv, api := webServer(t)
	srv.RateLimit("chat.postMessage", 2, 3*time.Second)
	for i := range 2 {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
			t.Fatalf("call %d: err = %v, want RateLimitedError after 3s", i, err)
		}
	}
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("third call: %v", err)
	}
	if n := srv.Calls("chat.postMessage"); n != 3 {
		t.Errorf("Calls = %d, want 3", n)
	}
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("other methods are not limited: %v", err)
	}
}

func TestUsersAndConversations(t *testing.T) {
	_, api := webServer(t)
	u, err := api.GetUserInfo("U1")
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	if !u.IsAdmin || !u.IsOwner || !u.IsPrimaryOwner || u.IsBot || u.RealName != "Ann Admin" || u.Profile.DisplayName != "ann" || u.TeamID != "T0TANDEM" {
		t.Errorf("user = %+v", u)
	}
	if bot, err := api.GetUserInfo("U0BOT"); err != nil || !bot.IsBot || bot.IsAdmin {
		t.Errorf("bot user = %+v, %v", bot, err)
	}
	if _, err := api.GetUserInfo("U404"); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
	c, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C1"})
	if err != nil || c.Creator != "U1" || !c.IsChannel || c.IsIM || c.Name != "general" {
		t.Errorf("conversations.info C1 = %+v, %v", c, err)
	}
	dm, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "DU2"})
	if err != nil || !dm.IsIM || dm.User != "U2" || dm.IsChannel {
		t.Errorf("conversations.info DU2 = %+v, %v", dm, err)
	}
	if _, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C404"}); slackErr(err) != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
	for i, wantOpen := range []bool{false, true} {
		ch, _, already, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U2"}})
		if err != nil || ch.ID != "DU2" || already != wantOpen {
			t.Errorf("conversations.open #%d = %+v, already %v, %v", i, ch, already, err)
		}
	}
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U404"}}); slackErr(err) != "user_not_found" {
		t.Errorf("open with unknown user: %v", err)
	}
}

func TestReactions(t *testing.T) {
	srv, api := webServer(t)
	item := slack.ItemRef{Channel: "C1", Timestamp: "1700000000.000100"}
	if err := api.AddReaction("eyes", item); err != nil {
		t.Fatalf("AddReaction: %v", err)
	}
	if err := api.AddReaction("eyes", item); slackErr(err) != "already_reacted" {
		t.Errorf("second AddReaction: %v", err)
	}
	if got := srv.Reactions("C1", item.Timestamp); len(got) != 1 || got[0] != "eyes" {
		t.Errorf("reactions = %v", got)
	}
	if err := api.RemoveReaction("eyes", item); err != nil {
		t.Fatalf("RemoveReaction: %v", err)
	}
	if err := api.RemoveReaction("eyes", item); slackErr(err) != "no_reaction" {
		t.Errorf("second RemoveReaction: %v", err)
	}
}

func TestViewsPublish(t *testing.T) {
	srv, api := webServer(t)
	home := func(blocks []slack.Block) slack.HomeTabViewRequest {
		return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
	}
	if _, ok := srv.HomeView("U1"); ok {
		t.Fatalf("HomeView before any publish")
	}
	res, err := api.PublishView("U1", home(sections(100, 10)), "")
	if err != nil || res.View.ID == "" || res.View.Hash == "" || res.View.TeamID != "T0TANDEM" || len(res.View.Blocks.BlockSet) != 100 {
		t.Fatalf("PublishView = %+v, %v", res, err)
	}
	if v, ok := srv.HomeView("U1"); !ok || strings.Count(string(v), `"section"`) != 100 {
		t.Errorf("HomeView = %.80s…, %v", v, ok)
	}
	if _, err := api.PublishView("U1", home(sections(101, 10)), ""); slackErr(err) != "invalid_blocks" {
		t.Errorf("101 blocks: %v", err)
	}
	if _, err := api.PublishView("U1", home(sections(90, 3000)), ""); slackErr(err) != "view_too_large" {
		t.Errorf("270 kB view: %v", err)
	}
	if _, err := api.PublishView("U1", home(sections(1, 10)), "stale"); slackErr(err) != "hash_conflict" {
		t.Errorf("stale hash: %v", err)
	}
	if _, err := api.PublishView("U1", home(sections(1, 10)), res.View.Hash); err != nil {
		t.Errorf("current hash: %v", err)
	}
	if _, err := api.PublishView("U404", home(sections(1, 10)), ""); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
	if v := srv.Views(); len(v) != 2 || v[0].Method != "views.publish" || v[0].User != "U1" {
		t.Errorf("recorded views = %d, want the 2 accepted", len(v))
	}
	if len(srv.Messages()) != 0 {
		t.Errorf("views.publish was recorded as a message")
	}
}

func TestTriggerAndResponseURLExpiry(t *testing.T) {
	clock := testclock.New(time.Unix(1700000000, 0))
	srv := startServer(t, fakeslack.Options{Users: testUsers, Channels: testChannels, Clock: clock.Now})
	api := apiFor(srv)
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "T", false, false)}

	p := srv.MessageShortcutPayload(fakeslack.ShortcutSpec{CallbackID: "s", UserID: "U1", ChannelID: "C1", MessageTS: srv.NextTS()})
	responseURL := p["response_url"].(string)
	for i := 1; i <= 6; i++ {
		_, _, err := api.PostMessage("", slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(fmt.Sprint("use ", i), false))
		if i <= 5 && err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
		if i == 6 && slackErr(err) != "used_url" {
			t.Errorf("use 6: err = %v, want used_url", err)
		}
	}
	if m := srv.Messages(); len(m) != 5 || m[0].Method != "response_url" || !m[0].Ephemeral || m[0].Channel != "C1" || m[0].User != "U1" {
		t.Errorf("recorded = %+v", m)
	}

	p = srv.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: "U1", ChannelID: "C1", MessageTS: srv.NextTS(), ActionID: "a"})
	clock.Advance(4 * time.Second)
	if _, err := api.OpenView(p["trigger_id"].(string), modal); slackErr(err) != "expired_trigger_id" {
		t.Errorf("trigger after 4s: %v, want expired_trigger_id", err)
	}
	if _, err := api.OpenView("1.2.bogus", modal); slackErr(err) != "invalid_arguments" {
		t.Errorf("unknown trigger: %v", err)
	}
	clock.Advance(30 * time.Minute)
	_, _, err := api.PostMessage("", slack.MsgOptionResponseURL(p["response_url"].(string), slack.ResponseTypeInChannel), slack.MsgOptionText("late", false))
	if slackErr(err) != "expired_url" {
		t.Errorf("response_url after 30 min: %v, want expired_url", err)
	}
}

func TestUnknownMethod(t *testing.T) {
	srv, _ := webServer(t)
	resp, err := http.PostForm(srv.APIURL()+"chat.nope", url.Values{"token": {srv.BotToken()}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != `{"error":"unknown_method","ok":false}` {
		t.Errorf("body = %s", body)
	}
	if srv.Calls("chat.nope") != 1 {
		t.Errorf("unknown method call not counted")
	}
}

func TestConcurrentPostsGetUniqueTS(t *testing.T) {
	srv, api := webServer(t)
	var wg sync.WaitGroup
	tss := make([]string, 20)
	for i := range tss {
		wg.Go(func() {
			_, ts, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
			if err != nil {
				t.Errorf("PostMessage: %v", err)
			}
			tss[i] = ts
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, ts := range tss {
		if seen[ts] {
			t.Errorf("duplicate ts %s", ts)
		}
		seen[ts] = true
	}
	if len(srv.Messages()) != 20 {
		t.Errorf("recorded %d messages, want 20", len(srv.Messages()))
	}
}

func TestLogsNeverContainTokens(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	srv := startServer(t, fakeslack.Options{
		BotToken: "xoxb-secret-bot", AppToken: "xapp-secret-app", Users: testUsers, Channels: testChannels,
		Logf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(&logs, format+"\n", args...)
		},
	})
	h := startClient(t, srv, ackAll)
	if _, _, err := h.api.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatal(err)
	}
	_, _ = slack.New("xoxb-secret-wrong", slack.OptionAPIURL(srv.APIURL())).AuthTest()
	if _, err := srv.SendEvent(testCtx(t), fakeslack.MessageEvent("C1", "U1", "x", srv.NextTS(), "")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "chat.postMessage") {
		t.Fatalf("logger got nothing useful: %q", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("a token leaked into the logs:\n%s", out)
	}
}
