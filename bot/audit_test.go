package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/tandembot/tandem/internal/syncbuf"
	"log/slog"
	"testing"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
)

// failingAuditStore refuses every audit record, and links too, so the App
// Home is not published. Methods a test does not expect panic through the
// nil Store.
type failingAuditStore struct{ Store }

func (failingAuditStore) AppendAudit(ctx context.Context, r tandem.AuditRecord) error {
	return errors.New("audit table unavailable")
}

func (failingAuditStore) Links(ctx context.Context, team, user string) ([]tandem.Link, error) {
	return nil, errors.New("links unavailable")
}

// linkResolver disconnects and chooses sites without complaint.
type linkResolver struct{ Resolver }

func (linkResolver) Disconnect(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	return tandem.Link{Team: team, User: user, Provider: p, Login: "alice"}, nil
}

func (linkResolver) ChooseSite(ctx context.Context, team, user string, p tandem.ProviderID, siteID string) (tandem.Link, error) {
	return tandem.Link{Team: team, User: user, Provider: p, Login: "alice", Site: siteID, SiteName: "Acme"}, nil
}

// syncBuffer is a log destination several goroutines may write to.
type syncBuffer struct{ syncbuf.Buffer }

// lines returns the log lines written so far, decoded.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace([]byte(b.String())), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("decode log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestFailedAuditAppendIsLogged: unlinking an account or choosing a site is
// recorded in the audit trail; when the record cannot be written, an error
// says so in the log.
func TestFailedAuditAppendIsLogged(t *testing.T) {
	tests := []struct {
		action string
		do     func(b *Bot)
	}{
		{"unlink", func(b *Bot) { b.disconnect(context.Background(), "T1", "U1", "github") }},
		{"choose_site", func(b *Bot) {
			b.homeAction(context.Background(), "T1", "U1", &slack.BlockAction{
				ActionID:       slackview.ActionSite + string(tandem.Jira),
				SelectedOption: slack.OptionBlockObject{Value: "cloud-1"},
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			var logs syncBuffer
			b := New(Config{
				Store:     failingAuditStore{},
				Resolver:  linkResolver{},
				Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: nil, tandem.Jira: nil},
				Logger:    slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			tt.do(b)
			for _, l := range logs.lines(t) {
				if l["msg"] == "append audit" && l["action"] == tt.action && l["level"] == "ERROR" &&
					l["err"] == "audit table unavailable" {
					return
				}
			}
			t.Errorf("no error logged for the failed %s audit record; log:\n%s", tt.action, logs.String())
		})
	}
}
