package tandem_test

import (
	"testing"

	"github.com/tandembot/tandem"
)

func TestEffectiveUser(t *testing.T) {
	perMessage := tandem.Session{Owner: "UOWNER", Editors: []string{"UED"}}
	persistent := perMessage
	persistent.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
	// What the product stores while the owner has not answered: no
	// variable yet, and the request.
	pending := perMessage
	pending.Pending = &tandem.PendingChange{Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: "UADMIN", Editors: []string{"UED"}}
	tests := []struct {
		name       string
		s          tandem.Session
		sender     string
		wantUser   string
		wantReason tandem.Reason
	}{
		{"per-message owner", perMessage, "UOWNER", "UOWNER", tandem.ReasonSender},
		{"per-message editor", perMessage, "UED", "UED", tandem.ReasonSender},
		{"per-message anyone", perMessage, "UOTHER", "UOTHER", tandem.ReasonSender},
		{"persistent owner", persistent, "UOWNER", "UOWNER", tandem.ReasonPersistentOwner},
		{"persistent editor", persistent, "UED", "UOWNER", tandem.ReasonPersistentOwner},
		{"persistent outsider", persistent, "UOTHER", "", tandem.ReasonRefusedNotEditor},
		{"pending owner", pending, "UOWNER", "UOWNER", tandem.ReasonSender},
		{"pending editor", pending, "UED", "UED", tandem.ReasonSender},
		{"pending outsider", pending, "UOTHER", "", tandem.ReasonRefusedNotEditor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, reason := tandem.EffectiveUser(tt.s, tt.sender)
			if user != tt.wantUser || reason != tt.wantReason {
				t.Errorf("EffectiveUser(%s) = %q, %q; want %q, %q", tt.sender, user, reason, tt.wantUser, tt.wantReason)
			}
		})
	}
}
