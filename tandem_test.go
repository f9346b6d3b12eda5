package tandem_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

var _ slog.LogValuer = tandem.Token{}

// Fake secrets that are easy to spot in output.
const (
	fakeAccess  = "gho_FAKEACCESSTOKEN0123456789"
	fakeRefresh = "ghr_FAKEREFRESHTOKEN0123456789"
)

func fakeToken() tandem.Token {
	return tandem.Token{
		AccessToken:  fakeAccess,
		RefreshToken: fakeRefresh,
		TokenType:    "bearer",
		Expiry:       time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// TestTokenLogsNoSecret logs a Token, and a Link that carries one, the ways
// a mistake would (by value, by pointer, nested in a group) through slog's
// JSON and text handlers, and checks that neither token shows.
func TestTokenLogsNoSecret(t *testing.T) {
	tok := fakeToken()
	link := tandem.Link{Team: "T1", User: "U1", Provider: tandem.GitHub, Login: "alice", Token: tok}
	args := map[string][]any{
		"token":          {"token", tok},
		"token pointer":  {"token", &tok},
		"token in group": {slog.Group("refresh", "token", tok)},
		"link":           {"link", link},
		"link pointer":   {"link", &link},
		"links":          {"links", []tandem.Link{link}},
	}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(buf *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(buf, nil) },
		"text": func(buf *bytes.Buffer) slog.Handler { return slog.NewTextHandler(buf, nil) },
	}
	for hname, newHandler := range handlers {
		for aname, a := range args {
			t.Run(hname+"/"+aname, func(t *testing.T) {
				var buf bytes.Buffer
				slog.New(newHandler(&buf)).Info("refreshed", a...)
				out := buf.String()
				for _, secret := range []string{fakeAccess, fakeRefresh} {
					if strings.Contains(out, secret) {
						t.Errorf("log line holds a token:\n%s", out)
					}
				}
			})
		}
	}
}

// TestTokenLogValue checks that a logged Token still says what helps debug a
// refresh.
func TestTokenLogValue(t *testing.T) {
	tests := []struct {
		name string
		tok  tandem.Token
		want map[string]any
	}{
		{
			name: "full",
			tok:  fakeToken(),
			want: map[string]any{"type": "bearer", "has_access_token": true, "has_refresh_token": true, "expiry": "2030-01-02T03:04:05Z"},
		},
		{
			name: "access only, no expiry",
			tok:  tandem.Token{AccessToken: fakeAccess, TokenType: "bearer"},
			want: map[string]any{"type": "bearer", "has_access_token": true, "has_refresh_token": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("refreshed", "token", tt.tok)
			var line struct {
				Token map[string]any `json:"token"`
			}
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("decode %q: %v", buf.String(), err)
			}
			if d := cmp.Diff(line.Token, tt.want); d != "" {
				t.Errorf("logged token (-got +want):\n%s", d)
			}
		})
	}
}

// TestTokenFormatsNoSecret covers fmt, the other way a token reaches a log.
func TestTokenFormatsNoSecret(t *testing.T) {
	tok := fakeToken()
	link := tandem.Link{Login: "alice", Token: tok}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tok, &tok, link, &link} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, fakeAccess) || strings.Contains(out, fakeRefresh) {
				t.Errorf("fmt.Sprintf(%q, %T) holds a token: %s", verb, v, out)
			}
		}
	}
}

func TestLinkStates(t *testing.T) {
	gh := tandem.Link{Provider: tandem.GitHub, Login: "octocat"}
	broken := tandem.Link{Provider: tandem.GitLab, Login: "tanuki", NeedsReconnect: true}
	both := []tandem.ProviderID{tandem.GitHub, tandem.GitLab}
	tests := []struct {
		name      string
		links     []tandem.Link
		providers []tandem.ProviderID
		want      []tandem.IdentityStatus
	}{
		{"no providers", []tandem.Link{gh}, nil, nil},
		{"no links: every provider missing", nil, both, []tandem.IdentityStatus{
			{Provider: tandem.GitHub, State: tandem.LinkMissing},
			{Provider: tandem.GitLab, State: tandem.LinkMissing},
		}},
		{"connected, needs reconnect with its login kept", []tandem.Link{broken, gh}, both, []tandem.IdentityStatus{
			{Provider: tandem.GitHub, Login: "octocat", State: tandem.LinkConnected},
			{Provider: tandem.GitLab, Login: "tanuki", State: tandem.LinkNeedsReconnect},
		}},
		{"in the order of providers, links to others ignored", []tandem.Link{gh, broken}, []tandem.ProviderID{tandem.Jira, tandem.GitLab}, []tandem.IdentityStatus{
			{Provider: tandem.Jira, State: tandem.LinkMissing},
			{Provider: tandem.GitLab, Login: "tanuki", State: tandem.LinkNeedsReconnect},
		}},
		{"a link with no login is still connected", []tandem.Link{{Provider: tandem.Google}}, []tandem.ProviderID{tandem.Google}, []tandem.IdentityStatus{
			{Provider: tandem.Google, State: tandem.LinkConnected},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tandem.LinkStates(tt.links, tt.providers)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("LinkStates (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTurnSentAt(t *testing.T) {
	received := time.Date(2025, 3, 1, 12, 0, 0, 250000000, time.UTC) // 1740830400.25
	tests := []struct {
		name string
		turn tandem.Turn
		want float64
	}{
		{"a message: its ts", tandem.Turn{TS: "1740830399.000100", ReceivedAt: received}, 1740830399.000100},
		{"a re-run: when it was recorded", tandem.Turn{TS: "1740830399.000100/rerun/github", Rerun: true, ReceivedAt: received}, 1740830400.25},
		{"a re-run with a plain ts", tandem.Turn{TS: "1740830399.000100", Rerun: true, ReceivedAt: received}, 1740830400.25},
		{"an API turn", tandem.Turn{TS: "api-1", APIKey: "tdm_1", ReceivedAt: received}, 1740830400.25},
		{"no ts", tandem.Turn{ReceivedAt: received}, 1740830400.25},
	}
	for _, tt := range tests {
		if got := tt.turn.SentAt(); got != tt.want {
			t.Errorf("%s: SentAt = %f, want %f", tt.name, got, tt.want)
		}
	}
}
