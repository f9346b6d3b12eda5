package bot

import (
	"testing"
)

func TestFromHuman(t *testing.T) {
	tests := []struct {
		name string
		e    innerEvent
		want bool
	}{
		{"plain message", innerEvent{User: "U1"}, true},
		{"thread broadcast", innerEvent{User: "U1", Subtype: "thread_broadcast"}, true},
		{"bot message", innerEvent{User: "U1", Subtype: "bot_message"}, false},
		{"has bot id", innerEvent{User: "U1", BotID: "B1"}, false},
		{"own bot user", innerEvent{User: "UBOT"}, false},
		{"edit", innerEvent{User: "U1", Subtype: "message_changed"}, false},
		{"deletion", innerEvent{Subtype: "message_deleted"}, false},
		{"join", innerEvent{User: "U1", Subtype: "channel_join"}, false},
		{"hidden", innerEvent{User: "U1", Hidden: true}, false},
		{"no user", innerEvent{}, false},
	}
	for _, tt := range tests {
		if got := tt.e.fromHuman("UBOT"); got != tt.want {
			t.Errorf("%s: fromHuman = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStripMention(t *testing.T) {
	tests := []struct {
		in, want  string
		mentioned bool
	}{
		{"<@UBOT> list my open PRs", "list my open PRs", true},
		{"hey <@UBOT|tandem>   whoami", "hey whoami", true},
		{"<@UOTHER> list my open PRs", "<@UOTHER> list my open PRs", false},
		{"list my open PRs", "list my open PRs", false},
	}
	for _, tt := range tests {
		got, m := stripMention(tt.in, "UBOT")
		if got != tt.want || m != tt.mentioned {
			t.Errorf("stripMention(%q) = %q, %v; want %q, %v", tt.in, got, m, tt.want, tt.mentioned)
		}
	}
}

func FuzzDecodeCallback(f *testing.F) {
	f.Add([]byte(`{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"app_mention","user":"U1","text":"<@UBOT> help","ts":"1.1","channel":"C1"}}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev2","event":{"type":"message","subtype":"message_changed","channel":"C1"}}`))
	f.Add([]byte(`{"type":"url_verification"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		cb, err := decodeCallback(payload)
		if err != nil {
			return
		}
		if cb.EventID == "" || cb.Event.Type == "" {
			t.Fatalf("accepted a callback without event id or type: %q", payload)
		}
		text, _ := stripMention(cb.Event.Text, "UBOT")
		_ = cb.Event.fromHuman("UBOT")
		if len(text) > len(cb.Event.Text) {
			t.Fatalf("stripMention grew the text")
		}
	})
}
