package manifest

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// An API key may post only where its creator is a member, which the bot
// learns from conversations.info and conversations.members: Slack answers
// those for a kind of conversation only with its :read scope.
var wantMembershipScopes = []string{"channels:read", "groups:read", "im:read", "mpim:read"}

func TestManifestLetsTheBotReadMembership(t *testing.T) {
	var m manifest
	if err := yaml.Unmarshal(readManifestJSON(t), &m); err != nil {
		t.Fatalf("decode manifest: %v", err)
	}
	for _, want := range wantMembershipScopes {
		if !slices.Contains(m.OAuthConfig.Scopes.Bot, want) {
			t.Errorf("oauth_config.scopes.bot lacks %s: conversations.members needs it", want)
		}
	}
}
