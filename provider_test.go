package tandem_test

import (
	"testing"

	"github.com/tandembot/tandem"
)

// A provider's name and try-message come from the spec it registers; an id
// nobody registered shows as itself.
func TestRegisterProvider(t *testing.T) {
	p := tandem.ProviderID("forgejo-test")
	if got := p.Name(); got != "forgejo-test" {
		t.Errorf("unregistered Name = %q, want the id", got)
	}
	if got := p.TryMessage(); got != "" {
		t.Errorf("unregistered TryMessage = %q, want none", got)
	}
	tandem.RegisterProvider(tandem.ProviderSpec{ID: p, Name: "Forgejo", TryMessage: "list my open PRs on forgejo"})
	if got := p.Name(); got != "Forgejo" {
		t.Errorf("Name = %q, want Forgejo", got)
	}
	if got := p.TryMessage(); got != "list my open PRs on forgejo" {
		t.Errorf("TryMessage = %q", got)
	}
	if s, ok := p.Spec(); !ok || s.ID != p {
		t.Errorf("Spec = %+v, %v", s, ok)
	}
}
