package bot

import (
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

func TestAttribution(t *testing.T) {
	owner := tandem.Session{Owner: "UOWN", Env: map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}}
	tests := []struct {
		name string
		res  turns.Result
		want string
	}{
		{"sender", turns.Result{Identity: &tandem.Identity{SlackUser: "U1", Provider: tandem.GitHub, Login: "octo", Reason: tandem.ReasonSender}}, "ran as <@U1> · GitHub: octo"},
		{"persistent", turns.Result{Session: owner, Identity: &tandem.Identity{SlackUser: "UOWN", Provider: tandem.GitHub, Login: "boss", Reason: tandem.ReasonPersistentOwner}}, "ran as <@UOWN> (persistent session) · GitHub: boss"},
		{"no provider", turns.Result{}, "ran as <@U2>"},
	}
	for _, tt := range tests {
		if got := attribution(tt.res, "U2"); got != tt.want {
			t.Errorf("%s: attribution = %q, want %q", tt.name, got, tt.want)
		}
	}
}
