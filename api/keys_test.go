package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/api"
)

// TestCreateKeyScope: a new key is a read key unless its creator asks for
// write; a scope that is neither is refused and makes no key.
func TestCreateKeyScope(t *testing.T) {
	st := &memKeys{keys: map[string]tandem.APIKey{}}
	keys := &api.Keys{Store: st}
	ctx := t.Context()
	for _, tt := range []struct{ typed, want string }{{"", "read"}, {"read", "read"}, {"write", "write"}, {" Write ", "write"}} {
		_, rec, err := keys.CreateTextScoped(ctx, "T1", "UALICE", "k-"+tt.typed, "", tt.typed, "UALICE")
		if err != nil || string(rec.Scope) != tt.want {
			t.Errorf("CreateTextScoped scope %q = %q, %v; want %s", tt.typed, rec.Scope, err, tt.want)
		}
		if stored, _ := st.APIKeyByHash(ctx, rec.Hash); string(stored.Scope) != tt.want {
			t.Errorf("scope %q stored as %q, want %s", tt.typed, stored.Scope, tt.want)
		}
	}
	if _, rec, err := keys.CreateText(ctx, "T1", "UALICE", "plain", "", "UALICE"); err != nil || rec.Scope != tandem.ScopeRead {
		t.Errorf("CreateText = scope %q, %v; want read", rec.Scope, err)
	}
	if _, rec, err := keys.Create(ctx, "T1", "UALICE", "plain2", 0, "UALICE"); err != nil || rec.Scope != tandem.ScopeRead {
		t.Errorf("Create = scope %q, %v; want read", rec.Scope, err)
	}
	before := len(st.keys)
	_, _, err := keys.CreateTextScoped(ctx, "T1", "UALICE", "admin", "", "admin", "UALICE")
	if tandem.ErrorCode(err) != tandem.EINVALID || tandem.ErrorMessage(err) != "“admin” is not a key scope; use read or write." {
		t.Errorf("scope admin: %v (%q), want EINVALID naming read and write", err, tandem.ErrorMessage(err))
	}
	if len(st.keys) != before {
		t.Error("a key with scope admin was made")
	}
}

// TestWhoamiShowsScope: whoami says what the key may do; a key record
// without a scope (one made before scopes) is a write key.
func TestWhoamiShowsScope(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	st := &memKeys{keys: map[string]tandem.APIKey{}}
	keys := &api.Keys{Store: st, Now: func() time.Time { return now }}
	srv := &api.Server{Keys: keys, Runner: &fakeRunner{}, Links: noLinks{}, Providers: []tandem.ProviderID{tandem.GitHub}, Logger: slog.New(slog.DiscardHandler)}
	h := srv.Handler()
	read, _, err := keys.CreateText(t.Context(), "T1", "UALICE", "laptop", "", "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	write, _, err := keys.CreateTextScoped(t.Context(), "T1", "UALICE", "deploy", "", "write", "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	old, oldRec, err := keys.CreateText(t.Context(), "T1", "UALICE", "old", "", "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	oldRec.Scope = ""
	st.keys[oldRec.Hash] = oldRec
	for key, want := range map[string]string{read: "read", write: "write", old: "write"} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out struct {
			Scope string            `json:"scope"`
			Key   map[string]string `json:"key"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
			t.Fatalf("whoami: %d %s", w.Code, w.Body)
		}
		if out.Scope != want || out.Key["scope"] != want {
			t.Errorf("whoami of a %s key: scope %q, key.scope %q\n%s", want, out.Scope, out.Key["scope"], w.Body)
		}
	}
}
