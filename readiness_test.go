package tandem_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

func TestReadiness(t *testing.T) {
	perMessage := tandem.Session{Owner: "UOWNER", Editors: []string{"UED"}}
	persistent := perMessage
	persistent.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
	pending := perMessage
	pending.Pending = &tandem.PendingChange{Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: "UADMIN", Editors: []string{"UED"}}
	used := []tandem.ProviderID{tandem.GitHub, tandem.GitLab}
	// The owner has GitHub only; the editor has both, GitLab needing a
	// reconnect.
	links := map[string][]tandem.Link{
		"UOWNER": {{Provider: tandem.GitHub}},
		"UED":    {{Provider: tandem.GitHub}, {Provider: tandem.GitLab, NeedsReconnect: true}},
	}
	owner := tandem.EditorReadiness{User: "UOWNER", Owner: true, Connected: []tandem.ProviderID{tandem.GitHub}, Missing: []tandem.ProviderID{tandem.GitLab}}
	ownEditor := tandem.EditorReadiness{User: "UED", Connected: []tandem.ProviderID{tandem.GitHub}, NeedsReconnect: []tandem.ProviderID{tandem.GitLab}}
	tests := []struct {
		name string
		s    tandem.Session
		want []tandem.EditorReadiness
	}{
		{"per-message: each as themselves", perMessage, []tandem.EditorReadiness{owner, ownEditor}},
		{"pending: still each as themselves", pending, []tandem.EditorReadiness{owner, ownEditor}},
		{"persistent: editors act as the owner", persistent, []tandem.EditorReadiness{owner, {User: "UED", ActsAs: "UOWNER"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tandem.Readiness(tt.s, used, links)
			if diff := cmp.Diff(got.Editors, tt.want); diff != "" {
				t.Errorf("editors (-got +want):\n%s", diff)
			}
			if got.Ready() {
				t.Error("ready, though the owner misses GitLab")
			}
			if o := got.OwnerReadiness(); o.User != "UOWNER" {
				t.Errorf("OwnerReadiness = %+v", o)
			}
		})
	}

	// Persistent, the session is exactly as ready as its owner: the
	// editor's own missing links do not matter.
	links["UOWNER"] = append(links["UOWNER"], tandem.Link{Provider: tandem.GitLab})
	delete(links, "UED")
	if r := tandem.Readiness(persistent, used, links); !r.Ready() {
		t.Errorf("persistent with a ready owner: not ready: %+v", r)
	}
	if r := tandem.Readiness(perMessage, used, links); r.Ready() {
		t.Errorf("per-message with an unlinked editor: ready: %+v", r)
	}
}
