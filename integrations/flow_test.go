package integrations_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

// flowEnv is the OAuth flow on loopback: Tandem's HTTP handler, a real bbolt
// store, and the fake GitHub.
type flowEnv struct {
	flow   *integrations.Flow
	db     *store.DB
	gh     *fakegithub.Server
	srv    *httptest.Server
	mu     sync.Mutex
	now    time.Time
	linked []tandem.Link
}

func newFlowEnv(t *testing.T) *flowEnv {
	t.Helper()
	fe := &flowEnv{now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	key, _ := secrets.GenerateKey()
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	fe.db, err = store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fe.db.Close() })
	fe.flow = &integrations.Flow{Store: fe.db, Signer: keys, Now: fe.clock}
	fe.srv = httptest.NewServer(fe.flow.Handler())
	t.Cleanup(fe.srv.Close)
	fe.flow.PublicURL = fe.srv.URL
	fe.gh = fakegithub.New(fakegithub.Options{
		ClientID: "cid", ClientSecret: "csecret", RedirectURL: fe.srv.URL + "/oauth/github/callback",
		Users: []fakegithub.User{{Login: "alice-gh"}, {Login: "mallory-gh"}},
	})
	if err := fe.gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fe.gh.Close)
	cfg, _ := github.ConfigFromBase(fe.gh.URL())
	cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
	p := github.New(cfg)
	// The same app registered twice lets a callback arrive at the wrong
	// provider's URL.
	fe.flow.Providers = map[tandem.ProviderID]tandem.Provider{tandem.GitHub: p, tandem.GitLab: p}
	fe.flow.OnLinked = func(_ context.Context, l tandem.Link, _ string) {
		fe.mu.Lock()
		fe.linked = append(fe.linked, l)
		fe.mu.Unlock()
	}
	return fe
}

func (fe *flowEnv) clock() time.Time {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return fe.now
}

func (fe *flowEnv) advance(d time.Duration) {
	fe.mu.Lock()
	fe.now = fe.now.Add(d)
	fe.mu.Unlock()
}

// begin opens user's connect link in a fresh browser, signs in at the fake
// GitHub as login, and stops before the callback: it returns the browser
// and the callback URL GitHub sent it to.
func (fe *flowEnv) begin(t *testing.T, user, login string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var callback string
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/callback") {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		if strings.HasSuffix(req.URL.Path, "/login/oauth/authorize") {
			q := req.URL.Query()
			q.Set("login", login)
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}}
	resp, err := browser.Get(fe.flow.ConnectURL("T1", user, tandem.GitHub, ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if callback == "" {
		t.Fatalf("the flow never reached the callback (status %d)", resp.StatusCode)
	}
	return browser, callback
}

func visit(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (fe *flowEnv) links(t *testing.T, user string) int {
	t.Helper()
	ls, err := fe.db.Links(context.Background(), "T1", user)
	if err != nil {
		t.Fatal(err)
	}
	return len(ls)
}

func TestFlowLinksTheSignedInAccount(t *testing.T) {
	fe := newFlowEnv(t)
	browser, cb := fe.begin(t, "UALICE", "alice-gh")
	status, page := visit(t, browser, cb)
	if status != 200 || !strings.Contains(page, "GitHub connected as alice-gh") {
		t.Fatalf("callback: %d %s", status, page)
	}
	l, err := fe.db.Link(context.Background(), "T1", "UALICE", tandem.GitHub)
	if err != nil {
		t.Fatal(err)
	}
	if l.Login != "alice-gh" || !strings.HasPrefix(l.Token.AccessToken, "gho_") {
		t.Errorf("stored link = %s with a %.4s token, want alice-gh with a gho_ token", l.Login, l.Token.AccessToken)
	}
	if !fe.gh.PKCEUsed() {
		t.Error("the authorize request carried no PKCE S256 challenge")
	}
	if len(fe.linked) != 1 {
		t.Errorf("OnLinked ran %d times, want 1", len(fe.linked))
	}
}

func TestFlowRefusesAttacks(t *testing.T) {
	tests := []struct {
		name string
		// attack returns the client and URL of the hostile callback.
		attack   func(t *testing.T, fe *flowEnv) (*http.Client, string)
		wantPage string
	}{
		{"reused state", func(t *testing.T, fe *flowEnv) (*http.Client, string) {
			b, cb := fe.begin(t, "UALICE", "alice-gh")
			if status, _ := visit(t, b, cb); status != 200 {
				t.Fatalf("first use refused: %d", status)
			}
			fe.db.DeleteLink(context.Background(), "T1", "UALICE", tandem.GitHub)
			return b, cb
		}, "already used"},
		{"expired state", func(t *testing.T, fe *flowEnv) (*http.Client, string) {
			b, cb := fe.begin(t, "UALICE", "alice-gh")
			fe.advance(integrations.StateTTL + time.Second)
			return b, cb
		}, "expired"},
		{"state for another user", func(t *testing.T, fe *flowEnv) (*http.Client, string) {
			// Mallory starts a flow for herself, then lures Alice's browser
			// (which has a flow cookie of its own) to Mallory's callback.
			_, mallorys := fe.begin(t, "UMALLORY", "mallory-gh")
			alice, _ := fe.begin(t, "UALICE", "alice-gh")
			return alice, mallorys
		}, "another browser"},
		{"forged signature", func(t *testing.T, fe *flowEnv) (*http.Client, string) {
			b, cb := fe.begin(t, "UALICE", "alice-gh")
			u, _ := url.Parse(cb)
			q := u.Query()
			id, _, _ := strings.Cut(q.Get("state"), ".")
			q.Set("state", id+".AAAAforgedAAAA")
			u.RawQuery = q.Encode()
			return b, u.String()
		}, "not valid"},
		{"missing cookie", func(t *testing.T, fe *flowEnv) (*http.Client, string) {
			_, cb := fe.begin(t, "UALICE", "alice-gh")
			return http.DefaultClient, cb
		}, "another browser"},
		{"callback for the wrong provider", func(t *testing.T, fe *flowEnv) (*http.Client, string) {
			b, cb := fe.begin(t, "UALICE", "alice-gh")
			return b, strings.Replace(cb, "/oauth/github/", "/oauth/gitlab/", 1)
		}, "another service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFlowEnv(t)
			client, u := tt.attack(t, fe)
			status, page := visit(t, client, u)
			if status != http.StatusBadRequest || !strings.Contains(page, tt.wantPage) {
				t.Errorf("hostile callback: %d %q, want 400 with %q", status, page, tt.wantPage)
			}
			if n := fe.links(t, "UALICE") + fe.links(t, "UMALLORY"); n != 0 {
				t.Errorf("%d links stored after a refused callback, want 0", n)
			}
		})
	}
}

func TestConnectLinkIsSignedForOneUser(t *testing.T) {
	fe := newFlowEnv(t)
	good := fe.flow.ConnectURL("T1", "UALICE", tandem.GitHub, "")
	for name, u := range map[string]string{
		"other user":     strings.Replace(good, "user=UALICE", "user=UMALLORY", 1),
		"other provider": strings.Replace(good, "/connect/github", "/connect/gitlab", 1),
		"no signature":   good[:strings.Index(good, "&sig=")],
	} {
		status, page := visit(t, http.DefaultClient, u)
		if status != http.StatusBadRequest || !strings.Contains(page, "not valid") {
			t.Errorf("%s: %d %q, want 400 'not valid'", name, status, page)
		}
	}
	fe.advance(integrations.LinkTTL + time.Second)
	if status, page := visit(t, http.DefaultClient, good); status != http.StatusBadRequest || !strings.Contains(page, "expired") {
		t.Errorf("expired link: %d %q", status, page)
	}
}

func TestCallbackPageEscapesWhatItEchoes(t *testing.T) {
	fe := newFlowEnv(t)
	status, page := visit(t, http.DefaultClient, fe.srv.URL+"/connect/%3Cscript%3Ealert(1)%3C%2Fscript%3E?team=T1")
	if status != http.StatusNotFound || strings.Contains(page, "<script>") {
		t.Errorf("unknown provider page: %d %q", status, page)
	}
}
