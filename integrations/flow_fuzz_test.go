package integrations_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"golang.org/x/oauth2"
)

// fzPublicURL is where the fuzzed Flow believes browsers reach it.
const fzPublicURL = "https://tandem.example.test"

// fzAccessToken is what the stub token endpoint issues; it must never reach
// a page or a log.
const fzAccessToken = "gho_FUZZaccessTOKENmustNEVERbeSHOWN0123456789"

// fzProvider is a tandem.Provider whose authorize and token endpoints live
// on their own host and whose Identify records that it ran and refuses, so
// nothing can ever be linked.
type fzProvider struct {
	id       tandem.ProviderID
	host     string
	mu       sync.Mutex
	identify int
}

func (p *fzProvider) ID() tandem.ProviderID { return p.id }

func (p *fzProvider) OAuth2Config() oauth2.Config {
	return oauth2.Config{
		ClientID: "cid-" + string(p.id), ClientSecret: "csecret-" + string(p.id),
		Endpoint: oauth2.Endpoint{
			AuthURL:   "https://" + p.host + "/login/oauth/authorize",
			TokenURL:  "https://" + p.host + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{"repo"},
	}
}

func (p *fzProvider) AuthCodeOptions() []oauth2.AuthCodeOption { return nil }

func (p *fzProvider) Identify(context.Context, *http.Client) (tandem.Account, error) {
	p.mu.Lock()
	p.identify++
	p.mu.Unlock()
	return tandem.Account{}, tandem.Errorf(tandem.EUNAUTHORIZED, "the stub provider refuses every token")
}

func (p *fzProvider) identifyCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.identify
}

// fzTokenEndpoint answers the code exchange in memory: "good-code" gets a
// token, anything else is refused. It records the PKCE verifiers it saw.
type fzTokenEndpoint struct {
	mu        sync.Mutex
	exchanges int
	verifiers []string
}

func (te *fzTokenEndpoint) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
	te.mu.Lock()
	te.exchanges++
	te.verifiers = append(te.verifiers, form.Get("code_verifier"))
	te.mu.Unlock()
	status, answer := http.StatusBadRequest, `{"error":"bad_verification_code"}`
	if form.Get("code") == "good-code" && form.Get("code_verifier") != "" {
		status, answer = http.StatusOK, `{"access_token":"`+fzAccessToken+`","token_type":"bearer","scope":"repo"}`
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(answer)),
		Request: req, ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

func (te *fzTokenEndpoint) reset() (exchanges int, verifiers []string) {
	te.mu.Lock()
	defer te.mu.Unlock()
	exchanges, verifiers = te.exchanges, te.verifiers
	te.exchanges, te.verifiers = 0, nil
	return exchanges, verifiers
}

// fzLog collects what the Flow logs during one input.
type fzLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *fzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *fzLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// fzEnv is one Flow over a real bbolt store, shared by every input of a
// fuzz run (each worker process opens its own).
type fzEnv struct {
	flow      *integrations.Flow
	handler   http.Handler
	db        *store.DB
	providers map[tandem.ProviderID]*fzProvider
	tokens    *fzTokenEndpoint
	log       *fzLog
	mu        sync.Mutex
	onLinked  int
}

func newFzEnv(tb testing.TB, dir string) *fzEnv {
	tb.Helper()
	key, err := secrets.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(dir, "fuzz.db"), store.Options{Keyring: keys, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	env := &fzEnv{
		db: db, tokens: &fzTokenEndpoint{}, log: &fzLog{},
		providers: map[tandem.ProviderID]*fzProvider{
			tandem.GitHub: {id: tandem.GitHub, host: "github.example.test"},
			tandem.GitLab: {id: tandem.GitLab, host: "gitlab.example.test"},
		},
	}
	env.flow = &integrations.Flow{
		Store: db, Signer: keys, PublicURL: fzPublicURL,
		Providers:  map[tandem.ProviderID]tandem.Provider{},
		HTTPClient: &http.Client{Transport: env.tokens},
		Now:        func() time.Time { return now },
		Logger:     slog.New(slog.NewTextHandler(env.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnLinked: func(context.Context, tandem.Link, string) {
			env.mu.Lock()
			env.onLinked++
			env.mu.Unlock()
		},
	}
	for id, p := range env.providers {
		env.flow.Providers[id] = p
	}
	env.handler = env.flow.Handler()
	return env
}

func (env *fzEnv) counts(t *testing.T) (links, states int) {
	t.Helper()
	c, err := env.db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return c["links"], c["oauth_states"]
}

// get serves GET path?rawQuery with an optional Cookie header, as the HTTP
// server would pass it on: the request is written out and read back with
// http.ReadRequest, and one that does not parse (a control character, a
// bad escape in the path, a line break in the cookie, ...) is one the
// server refuses itself, so get returns nil for it.
func (env *fzEnv) get(path, rawQuery, cookie string) *httptest.ResponseRecorder {
	raw := "GET " + path
	if rawQuery != "" {
		raw += "?" + rawQuery
	}
	raw += " HTTP/1.1\r\nHost: tandem.example.test\r\n"
	if cookie != "" {
		raw += "Cookie: " + cookie + "\r\n"
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\n")))
	if err != nil {
		return nil
	}
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)
	return rec
}

// fzPageTags are the only tags the Flow's page template writes; http.Redirect
// adds an <a href> to its body.
var (
	fzPageTags = strings.NewReplacer(
		`<!doctype html>`, "", `<html lang="en">`, "", `<head>`, "", `<meta charset="utf-8">`, "",
		`<meta name="viewport" content="width=device-width, initial-scale=1">`, "",
		`<title>`, "", `</title>`, "", `<style>`, "", `</style>`, "", `</head>`, "",
		`<body>`, "", `<h1>`, "", `</h1>`, "", `<p>`, "", `</p>`, "", `</body>`, "", `</html>`, "", `</a>`, "",
	)
	fzRedirectAnchor = regexp.MustCompile(`<a href="[^"<>]*">`)
)

// checkResponse holds for every answer of the Flow: no 5xx (unless
// allow5xx), no '<' but the template's own tags, and no redirect anywhere
// but to the same origin or, when to is not nil, to its authorize endpoint.
func checkResponse(t *testing.T, what string, rec *httptest.ResponseRecorder, allow5xx bool, to *fzProvider) {
	t.Helper()
	if rec.Code >= 500 && !allow5xx {
		t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body)
	}
	rest := fzRedirectAnchor.ReplaceAllString(fzPageTags.Replace(rec.Body.String()), "")
	if i := strings.IndexByte(rest, '<'); i >= 0 {
		t.Fatalf("%s: the page has an unescaped '<' that is not the template's: …%.80q… in %s", what, rest[i:], rec.Body)
	}
	if rec.Code >= 300 && rec.Code < 400 {
		loc := rec.Header().Get("Location")
		// Where a browser goes is decided by what comes before the query.
		target := loc
		if i := strings.IndexAny(target, "?#"); i >= 0 {
			target = target[:i]
		}
		if strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") && !strings.ContainsAny(target, "\\\t\r\n") {
			return // the same origin (ServeMux cleaning a path)
		}
		u, err := url.Parse(loc)
		if err != nil || to == nil || u.Scheme != "https" || u.Host != to.host || u.Path != "/login/oauth/authorize" {
			t.Fatalf("%s: %d redirect to %q (open redirect?)", what, rec.Code, loc)
		}
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
			t.Fatalf("%s: authorize redirect without PKCE or state: %s", what, loc)
		}
		if want := fzPublicURL + "/oauth/" + string(to.id) + "/callback"; q.Get("redirect_uri") != want {
			t.Fatalf("%s: authorize redirect with redirect_uri %q, want %q", what, q.Get("redirect_uri"), want)
		}
	}
}

// checkNoSecrets fails when any of secrets shows in s.
func checkNoSecrets(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("%s shows a secret (%.12s…): %s", what, sec, s)
		}
	}
}

// FuzzOAuthCallback sends arbitrary provider names, landing and callback
// query strings and Cookie headers to the Flow's handler. When fresh is
// true the input first gets a genuine signed connect link (its query comes
// first, the fuzzed one is appended), and the callback gets the genuine
// state first and, when cookie is "", the genuine nonce cookie: then the
// fuzzed parameters (code, error, extras) reach the code exchange. For
// every input: no panic, no 5xx but a refused exchange after a valid state,
// no stored link, no OAuth state left behind, Identify only after a valid
// state and a successful exchange, no echoed '<', no redirect but to the
// provider's authorize endpoint, and no secret (state, nonce, verifier,
// token) in a page or a log line. The seed corpus is in
// testdata/fuzz/FuzzOAuthCallback.
func FuzzOAuthCallback(f *testing.F) {
	env := newFzEnv(f, f.TempDir())
	f.Cleanup(func() { env.db.Close() })
	f.Add("github", "", "state=abc.def&code=x", "tandem_oauth_github=nonce", false)
	f.Add("github", "", "code=good-code", "", true)

	f.Fuzz(func(t *testing.T, provider, landingQuery, callbackQuery, cookie string, fresh bool) {
		env.log.take()
		env.tokens.reset()
		prov := env.providers[tandem.ProviderID(provider)]
		identifyBefore := 0
		if prov != nil {
			identifyBefore = prov.identifyCalls()
		}

		// The landing page.
		lq := landingQuery
		if fresh {
			// Only the query: the provider name may not make a valid URL.
			_, signed, _ := strings.Cut(env.flow.ConnectURL("T1", "UALICE", tandem.ProviderID(provider), "turn-1"), "?")
			lq = signed + "&" + landingQuery
		}
		var redirectTo *fzProvider
		if fresh {
			redirectTo = prov
		}
		land := env.get("/connect/"+provider, lq, "")
		if land != nil {
			checkResponse(t, "landing", land, false, redirectTo)
		}

		var state, nonce string
		if land != nil && land.Code == http.StatusFound && redirectTo != nil {
			loc, _ := url.Parse(land.Header().Get("Location"))
			state = loc.Query().Get("state")
			for _, c := range land.Result().Cookies() {
				if c.Name == "tandem_oauth_"+provider {
					nonce = c.Value
				}
			}
			if state == "" || nonce == "" {
				t.Fatalf("landing redirected without a state or a nonce cookie")
			}
		}
		if _, states := env.counts(t); (state != "") != (states == 1) || states > 1 {
			t.Fatalf("after the landing: %d OAuth states stored, valid link %v", states, state != "")
		}
		if land != nil {
			checkNoSecrets(t, "the landing page", land.Body.String(), nonce)
		}

		// The callback.
		cq, ck := callbackQuery, cookie
		if state != "" {
			cq = "state=" + url.QueryEscape(state) + "&" + callbackQuery
			if ck == "" {
				ck = "tandem_oauth_" + provider + "=" + nonce
			}
		}
		stateID, _, _ := strings.Cut(state, ".")
		if stateID != "" {
			// Should a check below fail, the next input still starts clean.
			t.Cleanup(func() { env.db.TakeOAuthState(context.Background(), stateID) })
		}
		cb := env.get("/oauth/"+provider+"/callback", cq, ck)
		exchanges, verifiers := env.tokens.reset()
		if cb == nil {
			// The server refuses the request itself; drop the flow it left.
			if stateID != "" {
				if _, err := env.db.TakeOAuthState(context.Background(), stateID); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			checkResponse(t, "callback", cb, state != "" && exchanges > 0, nil)
			if cb.Code >= 500 && cb.Code != http.StatusBadGateway {
				t.Fatalf("callback: status %d after a refused exchange, want 502", cb.Code)
			}
		}
		if exchanges > 0 && state == "" {
			t.Fatalf("callback exchanged a code without a valid state")
		}

		identified := 0
		if prov != nil {
			identified = prov.identifyCalls() - identifyBefore
		}
		if identified > 0 && (state == "" || exchanges == 0) {
			t.Fatalf("Identify ran %d times without a valid state and exchange", identified)
		}
		links, states := env.counts(t)
		if links != 0 {
			t.Fatalf("%d links stored", links)
		}
		if states != 0 {
			t.Fatalf("%d OAuth states left after the callback", states)
		}
		env.mu.Lock()
		linked := env.onLinked
		env.mu.Unlock()
		if linked != 0 {
			t.Fatalf("OnLinked ran")
		}

		secretsSeen := append([]string{nonce, stateID, fzAccessToken}, verifiers...)
		if cb != nil {
			checkNoSecrets(t, "the callback page", cb.Body.String(), secretsSeen...)
			checkNoSecrets(t, "the callback headers", fmt.Sprint(cb.Header()), append([]string{stateID, fzAccessToken}, verifiers...)...)
		}
		checkNoSecrets(t, "the log", env.log.take(), secretsSeen...)
	})
}

// TestOAuthFuzzHarness checks that FuzzOAuthCallback's fresh inputs really
// reach the code exchange and Identify, so the fuzz target tests more than
// the state check.
func TestOAuthFuzzHarness(t *testing.T) {
	env := newFzEnv(t, t.TempDir())
	t.Cleanup(func() { env.db.Close() })
	signed, _ := url.Parse(env.flow.ConnectURL("T1", "UALICE", tandem.GitHub, ""))
	land := env.get("/connect/github", signed.RawQuery, "")
	if land.Code != http.StatusFound {
		t.Fatalf("landing: %d %s", land.Code, land.Body)
	}
	loc, _ := url.Parse(land.Header().Get("Location"))
	nonce := land.Result().Cookies()[0].Value
	cb := env.get("/oauth/github/callback", "state="+url.QueryEscape(loc.Query().Get("state"))+"&code=good-code", "tandem_oauth_github="+nonce)
	exchanges, verifiers := env.tokens.reset()
	if cb.Code != http.StatusBadGateway || !strings.Contains(cb.Body.String(), "did not say who you are") {
		t.Fatalf("callback: %d %s", cb.Code, cb.Body)
	}
	if exchanges != 1 || len(verifiers) != 1 || verifiers[0] == "" || env.providers[tandem.GitHub].identifyCalls() != 1 {
		t.Fatalf("exchanges %d, verifiers %q, Identify %d; want 1, one, 1", exchanges, verifiers, env.providers[tandem.GitHub].identifyCalls())
	}
}
