package turns

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

// linkReader serves links from a map and records whose it read.
type linkReader struct {
	links map[string][]tandem.Link
	read  []string
	err   error
}

func (r *linkReader) Links(_ context.Context, team, user string) ([]tandem.Link, error) {
	r.read = append(r.read, team+"/"+user)
	return r.links[user], r.err
}

func TestReadinessReadsTheLinksTurnsRunWith(t *testing.T) {
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	perMessage := tandem.Session{Key: key, Owner: "UOWNER", Editors: []string{"UED"}}
	persistent := perMessage
	persistent.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
	pending := perMessage
	pending.Pending = &tandem.PendingChange{Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: "UADMIN", Editors: []string{"UED"}}
	recs := []tandem.AuditRecord{
		{Session: key, Action: "resolve", Provider: tandem.GitLab},
		{Session: key, Action: "resolve", Provider: tandem.GitHub},
		{Session: key, Action: "choose_site", Provider: tandem.Jira},
	}
	links := map[string][]tandem.Link{
		"UOWNER": {{Provider: tandem.GitHub}},
		"UED":    {{Provider: tandem.GitHub}, {Provider: tandem.GitLab, NeedsReconnect: true}},
	}
	tests := []struct {
		name     string
		s        tandem.Session
		wantRead []string
	}{
		{"per-message: everyone's own", perMessage, []string{"T1/UOWNER", "T1/UED"}},
		{"pending: still everyone's own", pending, []string{"T1/UOWNER", "T1/UED"}},
		{"persistent: the owner's alone", persistent, []string{"T1/UOWNER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := &linkReader{links: links}
			got, err := Readiness(context.Background(), tt.s, recs, lr)
			if err != nil {
				t.Fatalf("Readiness: %v", err)
			}
			if diff := cmp.Diff(lr.read, tt.wantRead); diff != "" {
				t.Errorf("links read (-got +want):\n%s", diff)
			}
			want := tandem.Readiness(tt.s, []tandem.ProviderID{tandem.GitHub, tandem.GitLab}, links)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("readiness (-got +want):\n%s", diff)
			}
		})
	}

	t.Run("a failed read fails", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := Readiness(context.Background(), perMessage, recs, &linkReader{err: boom}); !errors.Is(err, boom) {
			t.Errorf("Readiness error = %v, want %v", err, boom)
		}
	})
}
