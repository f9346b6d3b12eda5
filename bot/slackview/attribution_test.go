package slackview

import (
	"testing"

	"github.com/tandembot/tandem"
	_ "github.com/tandembot/tandem/integrations/github" // declares GitHub's name
)

func TestAttribution(t *testing.T) {
	owner := tandem.Session{Owner: "UOWN", Env: map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}}
	tests := []struct {
		name string
		sess tandem.Session
		id   *tandem.Identity
		want string
	}{
		{"sender", tandem.Session{}, &tandem.Identity{SlackUser: "U1", Provider: tandem.GitHub, Login: "octo", Reason: tandem.ReasonSender}, "ran as <@U1> · GitHub: octo"},
		{"persistent", owner, &tandem.Identity{SlackUser: "UOWN", Provider: tandem.GitHub, Login: "boss", Reason: tandem.ReasonPersistentOwner}, "ran as <@UOWN> (persistent session) · GitHub: boss"},
		{"no provider", tandem.Session{}, nil, "ran as <@U2>"},
	}
	for _, tt := range tests {
		if got := Attribution("", tt.id, tt.sess, "U2"); got != tt.want {
			t.Errorf("%s: attribution = %q, want %q", tt.name, got, tt.want)
		}
	}
	key := Attribution("ci <nightly>", &tandem.Identity{SlackUser: "U2", Provider: tandem.GitHub, Login: "octo"}, owner, "U2")
	if want := "via API key ci &lt;nightly&gt; of <@U2> · GitHub: octo"; key != want {
		t.Errorf("via key: attribution = %q, want %q", key, want)
	}
}
