package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestOperatorKeyWaitsForItsPerson: a key an operator made for UALICE is
// pending: over HTTP it is refused 403 key_pending and runs nothing, and
// its refusals never count as guesses; UBOB cannot allow it (nor learn
// that it exists); a revoked one cannot be allowed; once UALICE allows
// it, it runs as her. A key a person made themselves is never pending.
func TestOperatorKeyWaitsForItsPerson(t *testing.T) {
	ctx := t.Context()
	st := &memKeys{keys: map[string]tandem.APIKey{}}
	keys := &api.Keys{Store: st}
	runner := &fakeRunner{}
	srv := &api.Server{Keys: keys, Runner: runner, Links: noLinks{}, Providers: []tandem.ProviderID{tandem.GitHub}, Logger: slog.New(slog.DiscardHandler)}
	h := srv.Handler()
	call := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", strings.NewReader(`{"channel":"C0123ABCD","text":"list my open PRs"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}

	if _, own, err := keys.CreateText(ctx, "T1", "UALICE", "laptop", "", "UALICE"); err != nil || own.Pending {
		t.Fatalf("a key UALICE made herself: pending %v, %v; want allowed", own.Pending, err)
	}
	key, rec, err := keys.CreateText(ctx, "T1", "UALICE", "ci", "", "operator")
	if err != nil || !rec.Pending {
		t.Fatalf("a key an operator made: pending %v, %v; want pending", rec.Pending, err)
	}
	for range 12 { // more than the refused keys an address may present
		w := call(key)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"key_pending"`) || !strings.Contains(w.Body.String(), "apikey approve "+rec.Prefix) {
			t.Fatalf("a pending key: %d %s; want 403 key_pending naming how to allow it", w.Code, w.Body)
		}
	}
	// The trail shows the tries, by the key and as nobody: once a minute.
	if got := st.refusals(); len(got) != 1 || got[0].Actor != "apikey:"+rec.Prefix || got[0].Effective != "" || got[0].Outcome != tandem.OutcomeRefused || !strings.Contains(got[0].Detail, "key_pending") {
		t.Errorf("audit of 12 calls with the pending key: %+v; want one refusal by the key, as nobody", got)
	}
	if _, _, err := keys.Approve(ctx, rec.Prefix, "UBOB"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("UBOB allowing UALICE's key: %v; want ENOTFOUND", err)
	}
	if w := call(key); w.Code != http.StatusForbidden {
		t.Errorf("after UBOB's try: %d %s; want still pending", w.Code, w.Body)
	}
	if len(runner.calls) != 0 {
		t.Fatalf("a pending key ran %d calls", len(runner.calls))
	}
	got, allowed, err := keys.Approve(ctx, rec.Prefix, "UALICE")
	if err != nil || !allowed || got.Pending {
		t.Fatalf("UALICE allowing her key: %+v, allowed %v, %v", got, allowed, err)
	}
	if _, again, err := keys.Approve(ctx, rec.Prefix, "UALICE"); err != nil || again {
		t.Errorf("allowing it twice: allowed %v, %v; want already allowed", again, err)
	}
	if w := call(key); w.Code != http.StatusOK || len(runner.calls) != 1 || runner.calls[0].key.Creator != "UALICE" {
		t.Fatalf("the allowed key: %d %s, calls %+v; want one call as UALICE", w.Code, w.Body, runner.calls)
	}

	_, gone, err := keys.CreateText(ctx, "T1", "UALICE", "gone", "", "operator")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(ctx, gone.Prefix, "UALICE", "UALICE"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.Approve(ctx, gone.Prefix, "UALICE"); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("allowing a declined key: %v; want EINVALID", err)
	}
}

// TestRefusedKeyUseIsAudited: a call with a real key that does not stand
// (revoked, expired) is refused and audited, by the key and as nobody, at
// most once a minute per key: a job that retries it every second leaves
// one record a minute. A key that is not Tandem's at all (a guess) is not
// audited: it names no key.
func TestRefusedKeyUseIsAudited(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	st := &memKeys{keys: map[string]tandem.APIKey{}}
	keys := &api.Keys{Store: st, Now: func() time.Time { return now }}
	key, rec, err := keys.CreateText(ctx, "T1", "UALICE", "ci", "", "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(ctx, rec.Prefix, "UALICE", "UALICE"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := keys.Check(ctx, key); !strings.Contains(fmt.Sprint(err), "revoked") {
			t.Fatalf("a revoked key: %v", err)
		}
		now = now.Add(time.Second)
	}
	if got := st.refusals(); len(got) != 1 || !strings.Contains(got[0].Detail, "key_revoked") {
		t.Fatalf("after 5 calls in 5 s: %+v; want one refusal", got)
	}
	now = now.Add(time.Minute)
	keys.Check(ctx, key)
	if got := st.refusals(); len(got) != 2 {
		t.Errorf("a minute later: %d refusals, want 2", len(got))
	}
	keys.Check(ctx, "tdm_abcdefgh_notakeyatall000000000000000000")
	if got := st.refusals(); len(got) != 2 {
		t.Errorf("a guessed key was audited: %+v", got)
	}
}

// TestHaltedServerActsForNobody: a replica that found its database
// migrated by a newer release (Server.Halted) answers every API and MCP
// request 503 before it reads the key, and runs nothing, while it drains:
// it would ignore what the new schema adds.
func TestHaltedServerActsForNobody(t *testing.T) {
	ctx := t.Context()
	st := &memKeys{keys: map[string]tandem.APIKey{}}
	keys := &api.Keys{Store: st}
	key, _, err := keys.CreateText(ctx, "T1", "UALICE", "ci", "", "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	halted := false
	runner := &fakeRunner{}
	srv := &api.Server{Keys: keys, Runner: runner, Links: noLinks{}, Providers: []tandem.ProviderID{tandem.GitHub},
		Logger: slog.New(slog.DiscardHandler), Halted: func() bool { return halted }}
	reached := 0
	mcp := srv.RequireKey(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	call := func(h http.Handler, path string) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"channel":"C0123ABCD","text":"list my open PRs"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if code := call(srv.Handler(), "/api/v1/messages"); code != http.StatusOK || len(runner.calls) != 1 {
		t.Fatalf("before the halt: %d, %d runs; want 200 and one run", code, len(runner.calls))
	}
	if call(mcp, "/mcp"); reached != 1 {
		t.Fatalf("before the halt the MCP handler was reached %d times, want 1", reached)
	}
	halted = true
	if code := call(srv.Handler(), "/api/v1/messages"); code != http.StatusServiceUnavailable || len(runner.calls) != 1 {
		t.Errorf("halted: %d, %d runs; want 503 and no new run", code, len(runner.calls))
	}
	if code := call(mcp, "/mcp"); code != http.StatusServiceUnavailable || reached != 1 {
		t.Errorf("halted MCP: %d, reached %d times; want 503 and not reached", code, reached)
	}
}
