package integrations_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
)

// TestStaleTokens401LeavesANewerLink: a turn that still holds the token of
// an earlier link gets a 401 for it after the person relinked; the newer
// link must not be marked "needs reconnect". The same 401 for the token
// stored now does mark it.
func TestStaleTokens401LeavesANewerLink(t *testing.T) {
	for _, relinked := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/revoked" {
				http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
				return
			}
			w.Write([]byte("{}"))
		}))
		t.Cleanup(srv.Close)
		cfg, err := github.ConfigFromBase(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		old := tandem.Link{Team: "T1", User: "U1", Provider: tandem.GitHub, Login: "octo", AccountID: "1",
			Token: tandem.Token{AccessToken: "gho_FAKE_old_link_token", TokenType: "bearer"}}
		store := &memStore{link: old}
		dead := 0
		tokens := &integrations.Tokens{Store: store, Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: github.New(cfg)},
			HTTPClient: srv.Client(), OnNeedsReconnect: func(context.Context, tandem.Link) { dead++ }}
		creds, err := tokens.Credentials(context.Background(), "T1", "U1", tandem.GitHub, tandem.ReasonPersistentOwner)
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) error {
			resp, err := creds.Client.Get(srv.URL + path)
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		}
		if err := get("/user"); err != nil { // the turn now holds the old token
			t.Fatal(err)
		}
		if relinked {
			newer := old
			newer.Login, newer.AccountID = "octo2", "2"
			newer.Token = tandem.Token{AccessToken: "gho_FAKE_new_link_token", TokenType: "bearer"}
			store.SaveLink(context.Background(), newer)
		}
		err = get("/revoked")
		// The turn started as the old account: after a relink it stops
		// (ECONFLICT) rather than going on as the new one.
		if code := tandem.ErrorCode(err); relinked && code != tandem.ECONFLICT || !relinked && err != nil {
			t.Errorf("relinked %v: the 401's request failed with %v (code %q)", relinked, err, code)
		}
		store.mu.Lock()
		marked := store.link.NeedsReconnect
		store.mu.Unlock()
		if relinked && (marked || dead != 0) {
			t.Errorf("a 401 for the replaced token marked the new link (marked %v, owner told %d times)", marked, dead)
		}
		if !relinked && (!marked || dead != 1) {
			t.Errorf("a 401 for the stored token: marked %v, owner told %d times; want marked, told once", marked, dead)
		}
	}
}
