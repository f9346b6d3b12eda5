package turns

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/tandembot/tandem"
)

// scopeChat is a Chat that notes what RunAPI asked of it and says the
// creator is not in the channel, so a turn that gets past the scope check
// ends there, recorded nowhere.
type scopeChat struct {
	mu    sync.Mutex
	calls []string
}

func (c *scopeChat) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *scopeChat) CheckMember(_ context.Context, _ tandem.APIKey, channel string) error {
	c.note("check member " + channel)
	return tandem.Errorf(tandem.ECHANNELNOTALLOWED, "not a member")
}

func (c *scopeChat) StartThread(_ context.Context, channel, _ string) (string, error) {
	c.note("start thread " + channel)
	return "1.1", nil
}

func (c *scopeChat) Submit(t tandem.Turn) { c.note("submit " + t.ID) }

// TestRunAPIKeyScope: a read key may not run a command that changes
// something, nor allow changes: RunAPI refuses with EFORBIDDEN naming the
// scope needed, before it asks the chat anything or records a turn. Reads
// and free-form requests without allow_changes go on, as does anything of
// a write key or of a key from before scopes.
func TestRunAPIKeyScope(t *testing.T) {
	db := openStore(t)
	chat := &scopeChat{}
	e := New(Config{Store: db, Resolver: &credsResolver{}, Chat: chat, Operations: testOperations, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	key := tandem.APIKey{Prefix: "tdm_aaaa1111", Name: "laptop", Team: "T1", Creator: "UALICE", Scope: tandem.ScopeRead}
	refused := []struct {
		text         string
		allowChanges bool
		want         string
	}{
		{"comment on acme/tools#1 On it", false, "API key laptop has the read scope; this command changes something and needs a key with --scope write."},
		{"comment on acme/tools#1 On it", true, "API key laptop has the read scope; this command changes something and needs a key with --scope write."},
		{"create issue in acme/tools Broken link", false, "API key laptop has the read scope; this command changes something and needs a key with --scope write."},
		{"tell the login PR it shipped", true, "API key laptop has the read scope; allow_changes makes changes and needs a key with --scope write."},
		{"list my open PRs", true, "API key laptop has the read scope; allow_changes makes changes and needs a key with --scope write."},
	}
	for _, tt := range refused {
		_, err := e.RunAPI(t.Context(), key, "C1", "", tt.text, tt.allowChanges)
		if tandem.ErrorCode(err) != tandem.EFORBIDDEN || tandem.ErrorMessage(err) != tt.want {
			t.Errorf("read key, %q (allow_changes %v): %v (%q), want EFORBIDDEN %q", tt.text, tt.allowChanges, err, tandem.ErrorMessage(err), tt.want)
		}
	}
	if len(chat.calls) != 0 {
		t.Errorf("refused turns reached the chat: %v", chat.calls)
	}
	if open, err := db.UnfinishedTurns(t.Context()); err != nil || len(open) != 0 {
		t.Errorf("refused turns were recorded: %d, %v", len(open), err)
	}

	allowed := []struct {
		scope        tandem.Scope
		text         string
		allowChanges bool
	}{
		{tandem.ScopeRead, "list my open PRs", false},
		{tandem.ScopeRead, "tell the login PR it shipped", false}, // only proposes
		{tandem.ScopeWrite, "comment on acme/tools#1 On it", false},
		{tandem.ScopeWrite, "tell the login PR it shipped", true},
		{"", "comment on acme/tools#1 On it", true}, // a key from before scopes
	}
	for _, tt := range allowed {
		chat.calls = nil
		k := key
		k.Scope = tt.scope
		_, err := e.RunAPI(t.Context(), k, "C1", "", tt.text, tt.allowChanges)
		if tandem.ErrorCode(err) != tandem.ECHANNELNOTALLOWED || len(chat.calls) != 1 {
			t.Errorf("%q key, %q (allow_changes %v): %v after %v; want it past the scope check, to the membership check", tt.scope, tt.text, tt.allowChanges, err, chat.calls)
		}
	}
}
