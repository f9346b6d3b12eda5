package fakeslack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// threadLine is what these tests compare of a message conversations.replies
// returned.
type threadLine struct{ User, BotID, Text, TS, ThreadTS string }

func threadLines(msgs []slack.Message) []threadLine {
	var out []threadLine
	for _, m := range msgs {
		out = append(out, threadLine{m.User, m.BotID, m.Text, m.Timestamp, m.ThreadTimestamp})
	}
	return out
}

// sendAll delivers events to the harness's client and waits for each ack.
func sendAll(t *testing.T, srv *fakeslack.Server, events ...map[string]any) {
	t.Helper()
	for _, ev := range events {
		if _, err := srv.SendEvent(testCtx(t), ev); err != nil {
			t.Fatalf("SendEvent %v: %v", ev["ts"], err)
		}
	}
}

// A thread started by a mention, with replies by two people and the bot,
// comes back parent first then oldest first, with the bot's post marked by
// bot_id and its chat.update text; the message events duplicating the
// mention and echoing the bot's post, an ephemeral message and another
// thread's message add nothing. Each
// message is readable while its event is being handled, before the ack.
func TestConversationsRepliesThread(t *testing.T) {
	srv := startServer(t, fakeslack.Options{Users: testUsers, Channels: testChannels})
	var mu sync.Mutex
	var seenAtEvent []string // ts of each event whose message was readable when it arrived
	startClient(t, srv, func(h *harness, evt socketmode.Event) {
		if e, ok := evt.Data.(slackevents.EventsAPIEvent); ok {
			var ch, ts string
			switch inner := e.InnerEvent.Data.(type) {
			case *slackevents.AppMentionEvent:
				ch, ts = inner.Channel, inner.TimeStamp
			case *slackevents.MessageEvent:
				ch, ts = inner.Channel, inner.TimeStamp
			}
			msgs, _, _, err := h.api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: ts})
			if err == nil && slices.ContainsFunc(msgs, func(m slack.Message) bool { return m.Timestamp == ts }) {
				mu.Lock()
				seenAtEvent = append(seenAtEvent, ts)
				mu.Unlock()
			}
		}
		ackAll(h, evt)
	})
	api := apiFor(srv)

	parent, r1, r2, other := srv.NextTS(), srv.NextTS(), srv.NextTS(), srv.NextTS()
	sendAll(t, srv,
		fakeslack.AppMentionEvent("C1", "U1", "<@U0BOT> help", parent, ""),
		fakeslack.MessageEvent("C1", "U1", "<@U0BOT> help", parent, ""), // the same message via message.channels
		fakeslack.MessageEvent("C1", "U2", "first", r1, parent),
		fakeslack.MessageEvent("C1", "U1", "second", r2, parent),
		fakeslack.MessageEvent("C1", "U2", "elsewhere", other, ""),
	)
	_, botTS, err := api.PostMessage("C1", slack.MsgOptionText("working", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if _, _, _, err := api.UpdateMessage("C1", botTS, slack.MsgOptionText("done", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	// Slack echoes the bot's post as a message event; it stays the bot's.
	sendAll(t, srv, fakeslack.MessageEvent("C1", "U0BOT", "working", botTS, parent))
	if _, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("only you", false), slack.MsgOptionTS(parent)); err != nil {
		t.Fatalf("PostEphemeral: %v", err)
	}

	want := []threadLine{
		{"U1", "", "<@U0BOT> help", parent, parent},
		{"U2", "", "first", r1, parent},
		{"U1", "", "second", r2, parent},
		{"U0BOT", "B0BOT", "done", botTS, parent},
	}
	for _, ts := range []string{parent, r2} { // the parent's ts or any reply's names the thread
		msgs, hasMore, next, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: ts})
		if err != nil || hasMore || next != "" {
			t.Fatalf("replies of %s: has_more %v, cursor %q, err %v", ts, hasMore, next, err)
		}
		if diff := cmp.Diff(threadLines(msgs), want); diff != "" {
			t.Errorf("replies of %s (-got +want):\n%s", ts, diff)
		}
		if p := msgs[0]; p.ReplyCount != 3 || p.LatestReply != botTS || !slices.Equal(p.ReplyUsers, []string{"U2", "U1", "U0BOT"}) {
			t.Errorf("parent: reply_count %d, latest_reply %s, reply_users %v", p.ReplyCount, p.LatestReply, p.ReplyUsers)
		}
		if msgs[1].ParentUserId != "U1" || msgs[3].Edited == nil {
			t.Errorf("reply parent_user_id %q, bot reply edited %+v", msgs[1].ParentUserId, msgs[3].Edited)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{parent, parent, r1, r2, other, botTS}; !slices.Equal(seenAtEvent, want) {
		t.Errorf("messages readable while their event was handled: %v, want %v", seenAtEvent, want)
	}
}

// threadOf records a parent and n replies without events and returns their ts.
func threadOf(srv *fakeslack.Server, channel string, n int) []string {
	parent := srv.NextTS()
	srv.AddUserMessage(channel, "U1", "parent", parent, "")
	all := []string{parent}
	for range n {
		ts := srv.NextTS()
		srv.AddUserMessage(channel, "U2", "reply", ts, parent)
		all = append(all, ts)
	}
	return all
}

// With limit 2 a parent and four replies take three pages, each but the last
// with has_more and a cursor; following them yields every message once, in
// order. A cursor the fake did not make fails with invalid_cursor.
func TestConversationsRepliesPages(t *testing.T) {
	srv, api := webServer(t)
	want := threadOf(srv, "C1", 4)
	var got []string
	params := slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: want[0], Limit: 2}
	for pages := 1; ; pages++ {
		msgs, hasMore, next, err := api.GetConversationReplies(&params)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, m := range msgs {
			got = append(got, m.Timestamp)
		}
		if hasMore != (next != "") || len(msgs) > 2 {
			t.Fatalf("page %d: %d messages, has_more %v, cursor %q", pages, len(msgs), hasMore, next)
		}
		if next == "" {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		if pages == 5 {
			t.Fatalf("pagination never ends")
		}
		params.Cursor = next
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("walked thread (-got +want):\n%s", diff)
	}
	params.Cursor = "bm90IG1pbmU=" // "not mine"
	if _, _, _, err := api.GetConversationReplies(&params); slackErr(err) != "invalid_cursor" {
		t.Errorf("foreign cursor: %v, want invalid_cursor", err)
	}
}

// latest drops later replies (and the bound itself unless inclusive); oldest
// drops earlier ones. The parent always comes first.
func TestConversationsRepliesTimeBounds(t *testing.T) {
	srv, api := webServer(t)
	ts := threadOf(srv, "C1", 3)
	tests := []struct {
		name           string
		latest, oldest string
		inclusive      bool
		want           []string
	}{
		{"latest", ts[2], "", false, ts[:2]},
		{"latest inclusive", ts[2], "", true, ts[:3]},
		{"oldest", "", ts[1], false, []string{ts[0], ts[2], ts[3]}},
		{"both inclusive", ts[2], ts[1], true, []string{ts[0], ts[1], ts[2]}},
	}
	for _, tt := range tests {
		msgs, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{
			ChannelID: "C1", Timestamp: ts[0], Latest: tt.latest, Oldest: tt.oldest, Inclusive: tt.inclusive,
		})
		var got []string
		for _, m := range msgs {
			got = append(got, m.Timestamp)
		}
		if diff := cmp.Diff(got, tt.want); err != nil || diff != "" {
			t.Errorf("%s: err %v (-got +want):\n%s", tt.name, err, diff)
		}
	}
	if _, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: ts[0], Latest: "soon"}); slackErr(err) != "invalid_ts_latest" {
		t.Errorf("latest=soon: %v, want invalid_ts_latest", err)
	}
}

// Failures come back as Slack's error codes: an unknown thread, an unknown
// channel, a channel or private channel without the bot, a wrong or an
// app-level token.
func TestConversationsRepliesErrors(t *testing.T) {
	srv := startServer(t, fakeslack.Options{Users: testUsers, Channels: append(slices.Clone(testChannels),
		fakeslack.Channel{ID: "G2", Name: "hidden", Creator: "U1", IsPrivate: true, Members: []string{"U1"}})})
	ts := threadOf(srv, "C1", 1)
	for _, ch := range []string{"C3", "G2"} {
		srv.AddUserMessage(ch, "U1", "not for the bot", ts[0], "")
	}
	tests := []struct{ token, channel, ts, want string }{
		{srv.BotToken(), "C1", srv.NextTS(), "thread_not_found"},
		{srv.BotToken(), "C1", "", "invalid_arguments"},
		{srv.BotToken(), "C404", ts[0], "channel_not_found"},
		{srv.BotToken(), "C3", ts[0], "not_in_channel"},
		{srv.BotToken(), "G2", ts[0], "channel_not_found"},
		{"xoxb-wrong", "C1", ts[0], "invalid_auth"},
		{srv.AppToken(), "C1", ts[0], "not_allowed_token_type"},
	}
	for _, tt := range tests {
		api := slack.New(tt.token, slack.OptionAPIURL(srv.APIURL()))
		msgs, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: tt.channel, Timestamp: tt.ts})
		if slackErr(err) != tt.want || msgs != nil {
			t.Errorf("%s in %s: %d messages, err %v, want %s", tt.ts, tt.channel, len(msgs), err, tt.want)
		}
	}
}

// The body has Slack's shape: a lone message with no thread fields, has_more
// and an empty next_cursor.
func TestConversationsRepliesShape(t *testing.T) {
	srv, _ := webServer(t)
	ts := srv.NextTS()
	srv.AddUserMessage("C1", "U1", "hello", ts, "")
	form := url.Values{"token": {srv.BotToken()}, "channel": {"C1"}, "ts": {ts}}
	resp, err := http.Post(srv.APIURL()+"conversations.replies", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	if msgs, ok := got["messages"].([]any); ok && len(msgs) == 1 {
		m := msgs[0].(map[string]any)
		if m["blocks"] == nil || m["client_msg_id"] == nil {
			t.Errorf("message lacks blocks or client_msg_id: %v", m)
		}
		delete(m, "blocks")
		delete(m, "client_msg_id")
	}
	want := map[string]any{
		"ok":                true,
		"messages":          []any{map[string]any{"type": "message", "user": "U1", "text": "hello", "ts": ts, "team": "T0TANDEM"}},
		"has_more":          false,
		"response_metadata": map[string]any{"next_cursor": ""},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("conversations.replies body (-got +want):\n%s", diff)
	}
}
