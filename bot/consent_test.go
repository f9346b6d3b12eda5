package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// TestConsentDMNamesWhoAsks: the direct message that asks an owner to
// share their identity names who asked, as the thread does; an operator's
// request (tandem sessions keep-owner-credentials) was presented to the
// owner as "this channel's default, set by a channel admin".
func TestConsentDMNamesWhoAsks(t *testing.T) {
	sl, api := fakeSlack(t)
	b := New(Config{Slack: api})
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"}
	for _, tt := range []struct{ by, want, not string }{
		{turns.Operator + " ops-oncall", "operator ops-oncall asks", "channel admin"},
		{"channel default", "This channel's default, set by a channel admin, asks", "operator"},
		{"UCAROL", "<@UCAROL> asks", "channel admin"},
		{"UALICE", "You asked", "channel admin"},
	} {
		sess := tandem.Session{Key: key, Owner: "UALICE", Pending: &tandem.PendingChange{ID: "req1", RequestedBy: tt.by}}
		before := len(sl.Messages())
		if err := (people{b}).AskConsent(t.Context(), sess, tt.by, nil); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range sl.Messages()[before:] {
			var blocks []struct {
				Text struct{ Text string } `json:"text"`
			}
			if m.Method == "chat.postMessage" && json.Unmarshal(m.Blocks, &blocks) == nil && len(blocks) > 0 {
				got = append(got, blocks[0].Text.Text)
			}
		}
		if len(got) != 1 || !strings.Contains(got[0], tt.want) || strings.Contains(got[0], tt.not) {
			t.Errorf("asked by %q, the owner's message is %q; want it to say %q, not %q", tt.by, got, tt.want, tt.not)
		}
	}
}
