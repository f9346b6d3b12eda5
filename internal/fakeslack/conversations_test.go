package fakeslack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// allMembers pages through conversations.members with the real client.
func allMembers(t *testing.T, api *slack.Client, channel string, limit int) ([]string, int, error) {
	t.Helper()
	var all []string
	pages, cursor := 0, ""
	for {
		got, next, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: channel, Cursor: cursor, Limit: limit})
		if err != nil {
			return all, pages, err
		}
		pages++
		all = append(all, got...)
		if next == "" {
			return all, pages, nil
		}
		if pages > 100 {
			t.Fatalf("conversations.members %s never ends", channel)
		}
		cursor = next
	}
}

func TestConversationsMembers(t *testing.T) {
	srv := startServer(t, fakeslack.Options{Users: testUsers, Channels: append(slices.Clone(testChannels),
		fakeslack.Channel{ID: "G1", Name: "secret", Creator: "U1", IsPrivate: true, Members: []string{"U1", "U0BOT"}},
		fakeslack.Channel{ID: "G2", Name: "hidden", Creator: "U1", IsPrivate: true, Members: []string{"U1", "U2"}},
	)})
	api := apiFor(srv)
	tests := []struct {
		channel string
		want    []string
		err     string
	}{
		{"C1", []string{"U0BOT", "U1", "U2"}, ""}, // nil Members: the whole workspace
		{"C2", []string{"U0BOT", "U1"}, ""},
		{"C3", []string{"U1"}, ""},           // a public channel the bot is not in
		{"G1", []string{"U1", "U0BOT"}, ""},  // a private channel with the bot
		{"G2", nil, "channel_not_found"},     // private and without the bot: invisible
		{"DU2", []string{"U2", "U0BOT"}, ""}, // a DM: its user and the bot
		{"C404", nil, "channel_not_found"},   // unknown
		{"DU404", nil, "channel_not_found"},  // a DM with nobody
	}
	for _, tt := range tests {
		got, _, err := allMembers(t, api, tt.channel, 0)
		if slackErr(err) != tt.err || (tt.err == "" && err != nil) {
			t.Errorf("conversations.members %s: err = %v, want %q", tt.channel, err, tt.err)
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("conversations.members %s (-got +want):\n%s", tt.channel, diff)
		}
	}
}

func TestConversationsMembersPages(t *testing.T) {
	var users []fakeslack.User
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("U%02d", i)
		users = append(users, fakeslack.User{ID: id, Name: id})
		want = append(want, id)
	}
	srv := startServer(t, fakeslack.Options{Users: users, Channels: []fakeslack.Channel{{ID: "C1", Name: "big", Members: want}}})
	api := apiFor(srv)
	for _, tt := range []struct{ limit, pages int }{{0, 1}, {1, 7}, {2, 4}, {3, 3}, {7, 1}, {1000, 1}} {
		got, pages, err := allMembers(t, api, "C1", tt.limit)
		if err != nil {
			t.Fatalf("limit %d: %v", tt.limit, err)
		}
		if diff := cmp.Diff(got, want); diff != "" || pages != tt.pages {
			t.Errorf("limit %d: %d pages, want %d (-got +want):\n%s", tt.limit, pages, tt.pages, diff)
		}
	}
	if _, _, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: "C1", Limit: 1001}); slackErr(err) != "invalid_limit" {
		t.Errorf("limit 1001: %v, want invalid_limit", err)
	}
	for _, cursor := range []string{"not base64!", "dXNlcjpVOTk=" /* user:U99 */, "Ym9ndXM=" /* bogus */} {
		if _, _, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: "C1", Cursor: cursor}); slackErr(err) != "invalid_cursor" {
			t.Errorf("cursor %q: %v, want invalid_cursor", cursor, err)
		}
	}
}

// The body has Slack's shape, including an empty next_cursor on the last
// page, and the method wants the bot token.
func TestConversationsMembersShape(t *testing.T) {
	srv, _ := webServer(t)
	form := url.Values{"token": {srv.BotToken()}, "channel": {"C2"}}
	resp, err := http.Post(srv.APIURL()+"conversations.members", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	want := map[string]any{"ok": true, "members": []any{"U0BOT", "U1"}, "response_metadata": map[string]any{"next_cursor": ""}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("conversations.members body (-got +want):\n%s", diff)
	}
	bad := slack.New(srv.AppToken(), slack.OptionAPIURL(srv.APIURL()))
	if _, _, err := bad.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: "C2"}); slackErr(err) != "not_allowed_token_type" {
		t.Errorf("with the app token: %v", err)
	}
}

// conversations.info tells a DM from a channel and names the DM's user,
// which is what decides whether an API key may post there.
func TestConversationsInfoOfADM(t *testing.T) {
	_, api := webServer(t)
	dm, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "DU1"})
	if err != nil || !dm.IsIM || dm.User != "U1" || dm.IsChannel {
		t.Errorf("conversations.info DU1 = %+v, %v", dm, err)
	}
}
