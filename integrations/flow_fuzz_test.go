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

// The names the Flow gives its cookies over https: the __Host- prefix and
// the path they were scoped to before (Flow.cookie).
const (
	fzConfirmCookie   = "__Host-tandem_confirm_step-connect"
	fzSlackStepCookie = "__Host-tandem_slack_step-oauth-slack"
	fzSignedInCookie  = "__Host-tandem_slack_user-connect"
)

// fzOAuthStepCookie names the cookie of provider's step.
func fzOAuthStepCookie(provider string) string { return "__Host-tandem_oauth_step-oauth-" + provider }

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

// fzSlackHost is where the stub Sign in with Slack sends browsers.
const fzSlackHost = "slack.example.test"

// fzSlack is Sign in with Slack in memory: AuthURL remembers the nonce it
// was given, and Identify answers by code: "alice-code" is UALICE (the user
// of every fuzzed link) in T1, "mallory-code" is UMALLORY in T1,
// "other-team-code" is UALICE in another workspace, anything else (or a
// nonce it never issued) is refused. It records what it answered.
type fzSlack struct {
	mu         sync.Mutex
	nonces     map[string]bool
	identify   int
	team, user string // the last identity Identify returned
}

func (s *fzSlack) AuthURL(state, nonce, redirectURI, team string) string {
	s.mu.Lock()
	s.nonces[nonce] = true
	s.mu.Unlock()
	return "https://" + fzSlackHost + "/openid/connect/authorize?" + url.Values{
		"response_type": {"code"}, "scope": {"openid"}, "client_id": {"1111.2222"},
		"state": {state}, "nonce": {nonce}, "redirect_uri": {redirectURI}, "team": {team},
	}.Encode()
}

func (s *fzSlack) Identify(_ context.Context, code, redirectURI, nonce string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identify++
	if !s.nonces[nonce] || redirectURI != fzPublicURL+"/oauth/slack/callback" {
		return "", "", fmt.Errorf("fzslack: nonce or redirect URI of no sign-in")
	}
	delete(s.nonces, nonce)
	switch code {
	case "alice-code":
		s.team, s.user = "T1", "UALICE"
	case "mallory-code":
		s.team, s.user = "T1", "UMALLORY"
	case "other-team-code":
		s.team, s.user = "T2", "UALICE"
	default:
		return "", "", fmt.Errorf("fzslack: invalid_code")
	}
	return s.team, s.user, nil
}

// reset forgets the input's sign-ins and returns how many times Identify
// ran and whom it named last.
func (s *fzSlack) reset() (identified int, team, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	identified, team, user = s.identify, s.team, s.user
	s.identify, s.team, s.user = 0, "", ""
	clear(s.nonces)
	return identified, team, user
}

// fzEnv is one Flow over a real bbolt store, shared by every input of a
// fuzz run (each worker process opens its own).
type fzEnv struct {
	flow      *integrations.Flow
	handler   http.Handler
	db        *store.DB
	providers map[tandem.ProviderID]*fzProvider
	tokens    *fzTokenEndpoint
	slack     *fzSlack // nil when the flow confirms on a page
	log       *fzLog
	mu        sync.Mutex
	onLinked  int
	onMisused int
}

// newFzEnv returns the flow without Sign in with Slack (the browser
// confirms on a page), or with the stub fzSlack when withSlack.
func newFzEnv(tb testing.TB, dir string, withSlack bool) *fzEnv {
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
		OnMisused: func(context.Context, string, string, tandem.ProviderID, string) {
			env.mu.Lock()
			env.onMisused++
			env.mu.Unlock()
		},
	}
	if withSlack {
		env.slack = &fzSlack{nonces: map[string]bool{}}
		env.flow.SignIn = env.slack
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

func (env *fzEnv) calls() (linked, misused int) {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.onLinked, env.onMisused
}

// connect makes a genuine connect link for UALICE and returns its query
// (only the query: the provider name may not make a valid URL) and its id.
// The link is dropped when the input ends, whether or not it was used.
func (env *fzEnv) connect(t *testing.T, provider string) (query, id string) {
	t.Helper()
	u, err := env.flow.ConnectURL(context.Background(), "T1", "UALICE", tandem.ProviderID(provider), "turn-1")
	if _, enabled := env.providers[tandem.ProviderID(provider)]; !enabled {
		// No link is made for a provider that is not enabled.
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Fatalf("a link for %q, which is not enabled: %v", provider, err)
		}
		return "", ""
	}
	if err != nil {
		t.Fatal(err)
	}
	_, query, _ = strings.Cut(u, "?")
	id = mustParseQuery(t, query).Get("link")
	env.dropAtEnd(t, id)
	return query, id
}

// dropAtEnd deletes the flow record id when the input ends, so a failed
// check still leaves the next input a clean store.
func (env *fzEnv) dropAtEnd(t *testing.T, id string) {
	if id != "" {
		t.Cleanup(func() { env.db.TakeOAuthState(context.Background(), id) })
	}
}

// taken reports whether the flow record id is gone (used up), deleting it
// if it was not.
func (env *fzEnv) taken(t *testing.T, id string) bool {
	t.Helper()
	_, err := env.db.TakeOAuthState(context.Background(), id)
	if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatal(err)
	}
	return err != nil
}

func mustParseQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serve serves method path?rawQuery with an optional Cookie header and form
// body, as the HTTP server would pass it on: the request is written out and
// read back with http.ReadRequest, and one that does not parse (a control
// character, a bad escape in the path, a line break in the cookie, ...) is
// one the server refuses itself, so serve returns nil for it.
func (env *fzEnv) serve(method, path, rawQuery, cookie, body string) *httptest.ResponseRecorder {
	raw := method + " " + path
	if rawQuery != "" {
		raw += "?" + rawQuery
	}
	raw += " HTTP/1.1\r\nHost: tandem.example.test\r\n"
	if cookie != "" {
		raw += "Cookie: " + cookie + "\r\n"
	}
	if method == http.MethodPost {
		raw += fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\n" + body)))
	if err != nil {
		return nil
	}
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)
	return rec
}

func (env *fzEnv) get(path, rawQuery, cookie string) *httptest.ResponseRecorder {
	return env.serve(http.MethodGet, path, rawQuery, cookie, "")
}

// cookieOf returns the value rec sets for cookie name, "" if none.
func cookieOf(rec *httptest.ResponseRecorder, name string) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// fzPageTags are the only tags the Flow's page templates write; http.Redirect
// adds an <a href> to its body.
var (
	fzPageTags = strings.NewReplacer(
		`<!doctype html>`, "", `<html lang="en">`, "", `<head>`, "", `<meta charset="utf-8">`, "",
		`<meta name="viewport" content="width=device-width, initial-scale=1">`, "",
		`<title>`, "", `</title>`, "", `<style>`, "", `</style>`, "", `</head>`, "",
		`<body>`, "", `<h1>`, "", `</h1>`, "", `<p>`, "", `</p>`, "", `</body>`, "", `</html>`, "", `</a>`, "",
		`<button type="submit">`, "", `</button>`, "", `</form>`, "",
	)
	fzRedirectAnchor = regexp.MustCompile(`<a href="[^"<>]*">`)
	fzFormTags       = regexp.MustCompile(`<form method="post" action="[^"<>]*">|<input type="hidden" name="token" value="[^"<>]*">`)
	fzForm           = regexp.MustCompile(`<form method="post" action="([^"<>]*)"><input type="hidden" name="token" value="([^"<>]*)">`)
)

// fzTarget is a page the Flow may send a browser to: a provider's authorize
// endpoint (which must get PKCE), or Slack's sign-in.
type fzTarget struct {
	host, path, callback string
	pkce                 bool
}

func (p *fzProvider) target() *fzTarget {
	if p == nil {
		return nil
	}
	return &fzTarget{host: p.host, path: "/login/oauth/authorize", callback: fzPublicURL + "/oauth/" + string(p.id) + "/callback", pkce: true}
}

var fzSlackTarget = &fzTarget{host: fzSlackHost, path: "/openid/connect/authorize", callback: fzPublicURL + "/oauth/slack/callback"}

// checkResponse holds for every answer of the Flow: no 5xx (unless
// allow5xx), no '<' but the templates' own tags, the page headers, and no
// redirect anywhere but to the same origin or, when to is not nil, to it.
func checkResponse(t *testing.T, what string, rec *httptest.ResponseRecorder, allow5xx bool, to *fzTarget) {
	t.Helper()
	if rec.Code >= 500 && !allow5xx {
		t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body)
	}
	rest := fzFormTags.ReplaceAllString(fzRedirectAnchor.ReplaceAllString(fzPageTags.Replace(rec.Body.String()), ""), "")
	if i := strings.IndexByte(rest, '<'); i >= 0 {
		t.Fatalf("%s: the page has an unescaped '<' that is not the template's: …%.80q… in %s", what, rest[i:], rec.Body)
	}
	if rec.Code < 300 || rec.Code >= 400 {
		// The Flow's pages are HTML; ServeMux's own 404 and 405 are text.
		if h := rec.Header(); strings.HasPrefix(h.Get("Content-Type"), "text/html") && (h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'")) {
			t.Fatalf("%s: a %d page without nosniff or frame-ancestors 'none': %v", what, rec.Code, h)
		}
		return
	}
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
	if err != nil || to == nil || u.Scheme != "https" || u.Host != to.host || u.Path != to.path {
		t.Fatalf("%s: %d redirect to %q (open redirect?)", what, rec.Code, loc)
	}
	q := u.Query()
	if q.Get("state") == "" || (to.pkce && (q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "")) {
		t.Fatalf("%s: redirect without state or PKCE: %s", what, loc)
	}
	if q.Get("redirect_uri") != to.callback {
		t.Fatalf("%s: redirect with redirect_uri %q, want %q", what, q.Get("redirect_uri"), to.callback)
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
// query strings and Cookie headers to the Flow's handler, the Flow
// confirming on a page (no Sign in with Slack; FuzzSlackCallback fuzzes
// that step). When fresh is true the input first gets a genuine connect
// link (its query comes first, the fuzzed one is appended to it), the
// landing's confirmation form is posted genuinely from the same browser,
// and the callback gets the genuine state first and, when cookie is "", the
// genuine nonce cookie: then the fuzzed parameters (code, error, extras)
// reach the code exchange. When fresh is false the fuzzed landing query is
// also posted as the confirmation form, with the fuzzed cookie. For every
// input: no panic, no 5xx but a refused exchange after a valid state, no
// stored link, a link used up once it led to a form, no flow record left
// behind, Identify only after a valid state and a successful exchange, no
// echoed '<', the page headers, no redirect but to the provider's authorize
// endpoint after a genuine confirmation, and no secret (link id, nonce,
// state, verifier, token) in a page or a log line. The seed corpus is in
// testdata/fuzz/FuzzOAuthCallback.
func FuzzOAuthCallback(f *testing.F) {
	env := newFzEnv(f, f.TempDir(), false)
	f.Cleanup(func() { env.db.Close() })
	f.Add("github", "", "state=abc.def&code=x", fzOAuthStepCookie("github")+"=nonce", false)
	f.Add("github", "", "code=good-code", "", true)
	f.Add("github", "token=C-abc.def", "", fzConfirmCookie+"=nonce", false)

	f.Fuzz(func(t *testing.T, provider, landingQuery, callbackQuery, cookie string, fresh bool) {
		env.log.take()
		env.tokens.reset()
		prov := env.providers[tandem.ProviderID(provider)]
		identifyBefore := 0
		if prov != nil {
			identifyBefore = prov.identifyCalls()
		}

		// The landing: a form to confirm, never a redirect.
		lq, linkID := landingQuery, ""
		if fresh {
			lq, linkID = env.connect(t, provider)
			lq += "&" + landingQuery
		}
		land := env.get("/connect/"+provider, lq, "")
		var action, token, confirmNonce string
		if land != nil {
			checkResponse(t, "landing", land, false, nil)
			if m := fzForm.FindStringSubmatch(land.Body.String()); m != nil {
				action, token, confirmNonce = m[1], m[2], cookieOf(land, fzConfirmCookie)
				if linkID == "" || action != "/connect/"+provider+"/confirm" || confirmNonce == "" {
					t.Fatalf("landing: a form posting to %q with cookie %q, for link %q", action, confirmNonce, linkID)
				}
				if !env.taken(t, linkID) {
					t.Fatal("the landing showed a form and left its link usable")
				}
				checkNoSecrets(t, "the landing page", land.Body.String(), linkID, confirmNonce)
			}
		}
		if token == "" && linkID != "" {
			// A link the landing refused (an unknown provider, a request the
			// server refused) stays until it expires; that is no leak.
			env.taken(t, linkID)
		}
		confirmID, _, _ := strings.Cut(token, ".")
		env.dropAtEnd(t, confirmID)

		// The confirmation.
		var state, nonce string
		if token != "" {
			conf := env.serve(http.MethodPost, "/connect/"+provider+"/confirm", "", fzConfirmCookie+"="+confirmNonce, "token="+url.QueryEscape(token))
			checkResponse(t, "confirm", conf, false, prov.target())
			if conf.Code != http.StatusFound {
				t.Fatalf("a genuine confirmation: %d %s", conf.Code, conf.Body)
			}
			loc, _ := url.Parse(conf.Header().Get("Location"))
			state, nonce = loc.Query().Get("state"), cookieOf(conf, fzOAuthStepCookie(provider))
			if state == "" || nonce == "" {
				t.Fatalf("confirm redirected without a state or a nonce cookie")
			}
			if !env.taken(t, confirmID) {
				t.Fatal("the confirmation left its token usable")
			}
		} else if !fresh {
			if conf := env.serve(http.MethodPost, "/connect/"+provider+"/confirm", "", cookie, landingQuery); conf != nil {
				checkResponse(t, "confirm", conf, false, nil)
			}
		}
		if _, states := env.counts(t); (state != "") != (states == 1) || states > 1 {
			t.Fatalf("before the callback: %d flow records stored, valid state %v", states, state != "")
		}

		// The callback.
		cq, ck := callbackQuery, cookie
		if state != "" {
			cq = "state=" + url.QueryEscape(state) + "&" + callbackQuery
			if ck == "" {
				ck = fzOAuthStepCookie(provider) + "=" + nonce
			}
		}
		stateID, _, _ := strings.Cut(state, ".")
		env.dropAtEnd(t, stateID)
		cb := env.get("/oauth/"+provider+"/callback", cq, ck)
		exchanges, verifiers := env.tokens.reset()
		if cb == nil {
			// The server refuses the request itself; drop the flow it left.
			if stateID != "" {
				env.taken(t, stateID)
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
			t.Fatalf("%d flow records left after the callback", states)
		}
		if linked, _ := env.calls(); linked != 0 {
			t.Fatalf("OnLinked ran")
		}

		secretsSeen := append([]string{linkID, confirmNonce, nonce, stateID, fzAccessToken}, verifiers...)
		if cb != nil {
			checkNoSecrets(t, "the callback page", cb.Body.String(), secretsSeen...)
			checkNoSecrets(t, "the callback headers", fmt.Sprint(cb.Header()), append([]string{linkID, stateID, fzAccessToken}, verifiers...)...)
		}
		checkNoSecrets(t, "the log", env.log.take(), append(secretsSeen, confirmID)...)
	})
}

// FuzzSlackCallback sends arbitrary provider names, landing and Slack
// callback query strings and Cookie headers to the Flow with Sign in with
// Slack (the stub fzSlack). When fresh is true the landing gets a genuine
// connect link for UALICE (the fuzzed query appended), and the Slack
// callback the genuine state first and the genuine step cookie before the
// fuzzed cookies; the fuzzed code then decides whom Slack names. For every
// input: no panic, no 5xx but 502 after Identify ran, the landing sends the
// browser to Slack and never straight to the provider (no fuzzed cookie
// passes as a sign-in), Identify only after a valid Slack state, the
// provider only after Slack named the link's user in the link's workspace,
// OnMisused exactly when Slack named someone else, no stored link, no flow
// record left behind, no echoed '<', and no secret (link id, nonce, state)
// in a page or a log line.
func FuzzSlackCallback(f *testing.F) {
	env := newFzEnv(f, f.TempDir(), true)
	f.Cleanup(func() { env.db.Close() })
	for _, seed := range []struct {
		provider, landing, slack, cookie string
		fresh                            bool
	}{
		{"github", "", "code=alice-code", "", true},
		{"gitlab", "", "code=alice-code", "", true},
		{"github", "", "code=mallory-code", "", true},
		{"github", "", "code=other-team-code", "", true},
		{"github", "", "code=bad-code", "", true},
		{"github", "", "error=access_denied&code=alice-code", "", true},
		{"github", "", "", "", true},
		{"jira", "", "code=alice-code", "", true},
		{"github", "", "code=alice-code", fzSignedInCookie + "=T1.UALICE.9999999999.AAAA", true},
		{"github", "team=T1&user=UALICE", "state=S-abc.def&code=alice-code", fzSlackStepCookie + "=nonce", false},
		{"github", "link=L-abc&exp=9999999999&sig=AAAA", "code=alice-code", fzSignedInCookie + "=T1.UALICE.9999999999.AAAA", false},
	} {
		f.Add(seed.provider, seed.landing, seed.slack, seed.cookie, seed.fresh)
	}

	f.Fuzz(func(t *testing.T, provider, landingQuery, slackQuery, cookie string, fresh bool) {
		env.log.take()
		env.slack.reset()
		linkedBefore, misusedBefore := env.calls()
		prov := env.providers[tandem.ProviderID(provider)]

		// The landing: to Slack, never straight to the provider.
		lq, linkID := landingQuery, ""
		if fresh {
			lq, linkID = env.connect(t, provider)
			lq += "&" + landingQuery
		}
		land := env.get("/connect/"+provider, lq, cookie)
		var state, nonce, slackNonce string
		if land != nil {
			checkResponse(t, "landing", land, false, fzSlackTarget)
			if land.Code == http.StatusFound {
				loc, _ := url.Parse(land.Header().Get("Location"))
				state, slackNonce, nonce = loc.Query().Get("state"), loc.Query().Get("nonce"), cookieOf(land, fzSlackStepCookie)
				if linkID == "" || state == "" || slackNonce == "" || nonce == "" {
					t.Fatalf("landing sent the browser to Slack with state %q, nonce %q, cookie %q, for link %q", state, slackNonce, nonce, linkID)
				}
				if !env.taken(t, linkID) {
					t.Fatal("the landing went on and left its link usable")
				}
				checkNoSecrets(t, "the landing page", land.Body.String(), linkID, nonce)
			}
		}
		stateID, _, _ := strings.Cut(state, ".")
		env.dropAtEnd(t, stateID)
		if _, states := env.counts(t); state != "" && states != 1 {
			t.Fatalf("after the landing: %d flow records stored, want the Slack step only", states)
		}

		// Slack's callback.
		sq, ck := slackQuery, cookie
		if state != "" {
			sq = "state=" + url.QueryEscape(state) + "&" + slackQuery
			ck = fzSlackStepCookie + "=" + nonce
			if cookie != "" {
				ck += "; " + cookie
			}
		}
		cb := env.get("/oauth/slack/callback", sq, ck)
		identified, team, user := env.slack.reset()
		var provState string
		if cb == nil {
			if stateID != "" {
				env.taken(t, stateID)
			}
		} else {
			named := identified > 0 && user != ""
			asLinkUser := named && team == "T1" && user == "UALICE"
			var to *fzTarget
			if asLinkUser {
				to = prov.target()
			}
			checkResponse(t, "Slack callback", cb, identified > 0 && !named, to)
			if cb.Code >= 500 && cb.Code != http.StatusBadGateway {
				t.Fatalf("Slack callback: status %d, want 502 at worst", cb.Code)
			}
			if asLinkUser != (cb.Code == http.StatusFound) {
				t.Fatalf("Slack callback: %d after Slack named %q in %q", cb.Code, user, team)
			}
			signedIn := cookieOf(cb, fzSignedInCookie)
			if (signedIn != "") != asLinkUser {
				t.Fatalf("Slack callback set the signed-in cookie %q after Slack named %q in %q", signedIn, user, team)
			}
			if cb.Code == http.StatusFound {
				loc, _ := url.Parse(cb.Header().Get("Location"))
				provState, _, _ = strings.Cut(loc.Query().Get("state"), ".")
				if cookieOf(cb, fzOAuthStepCookie(provider)) == "" || !strings.HasPrefix(provState, "P-") {
					t.Fatalf("Slack callback went to the provider with state %q and no step cookie", provState)
				}
				env.taken(t, provState)
			}
			checkNoSecrets(t, "the Slack callback page", cb.Body.String(), linkID, nonce, stateID, slackNonce, signedIn)
			checkNoSecrets(t, "the Slack callback headers", fmt.Sprint(cb.Header()), linkID, stateID, slackNonce)
		}
		if identified > 0 && state == "" {
			t.Fatalf("Identify ran without a valid Slack state")
		}
		linked, misused := env.calls()
		if wantMisused := identified > 0 && user != "" && (team != "T1" || user != "UALICE"); (misused-misusedBefore == 1) != wantMisused || misused-misusedBefore > 1 {
			t.Fatalf("OnMisused ran %d times after Slack named %q in %q", misused-misusedBefore, user, team)
		}
		if linked != linkedBefore {
			t.Fatal("OnLinked ran")
		}
		if linkID != "" {
			env.taken(t, linkID)
		}
		if links, states := env.counts(t); links != 0 || states != 0 {
			t.Fatalf("%d links and %d flow records left", links, states)
		}
		checkNoSecrets(t, "the log", env.log.take(), linkID, nonce, stateID, slackNonce, provState)
	})
}

// TestOAuthFuzzHarness checks that FuzzOAuthCallback's fresh inputs really
// get through the confirmation to the code exchange and Identify, so the
// fuzz target tests more than the state check.
func TestOAuthFuzzHarness(t *testing.T) {
	env := newFzEnv(t, t.TempDir(), false)
	t.Cleanup(func() { env.db.Close() })
	q, _ := env.connect(t, "github")
	land := env.get("/connect/github", q, "")
	m := fzForm.FindStringSubmatch(land.Body.String())
	if land.Code != http.StatusOK || m == nil {
		t.Fatalf("landing: %d %s", land.Code, land.Body)
	}
	conf := env.serve(http.MethodPost, m[1], "", fzConfirmCookie+"="+cookieOf(land, fzConfirmCookie), "token="+url.QueryEscape(m[2]))
	if conf.Code != http.StatusFound {
		t.Fatalf("confirm: %d %s", conf.Code, conf.Body)
	}
	loc, _ := url.Parse(conf.Header().Get("Location"))
	cb := env.get("/oauth/github/callback", "state="+url.QueryEscape(loc.Query().Get("state"))+"&code=good-code", fzOAuthStepCookie("github")+"="+cookieOf(conf, fzOAuthStepCookie("github")))
	exchanges, verifiers := env.tokens.reset()
	if cb.Code != http.StatusBadGateway || !strings.Contains(cb.Body.String(), "did not say who you are") {
		t.Fatalf("callback: %d %s", cb.Code, cb.Body)
	}
	if exchanges != 1 || len(verifiers) != 1 || verifiers[0] == "" || env.providers[tandem.GitHub].identifyCalls() != 1 {
		t.Fatalf("exchanges %d, verifiers %q, Identify %d; want 1, one, 1", exchanges, verifiers, env.providers[tandem.GitHub].identifyCalls())
	}
}

// TestSlackFuzzHarness checks that FuzzSlackCallback's fresh inputs reach
// both ends of the Slack step: on to the provider, and refused as misuse.
func TestSlackFuzzHarness(t *testing.T) {
	env := newFzEnv(t, t.TempDir(), true)
	t.Cleanup(func() { env.db.Close() })
	for code, want := range map[string]int{"alice-code": http.StatusFound, "mallory-code": http.StatusForbidden} {
		q, _ := env.connect(t, "github")
		land := env.get("/connect/github", q, "")
		if land.Code != http.StatusFound {
			t.Fatalf("landing: %d %s", land.Code, land.Body)
		}
		loc, _ := url.Parse(land.Header().Get("Location"))
		cb := env.get("/oauth/slack/callback", "state="+url.QueryEscape(loc.Query().Get("state"))+"&code="+code, fzSlackStepCookie+"="+cookieOf(land, fzSlackStepCookie))
		if identified, _, _ := env.slack.reset(); cb.Code != want || identified != 1 {
			t.Fatalf("%s: %d after %d Identify calls, want %d after 1: %s", code, cb.Code, identified, want, cb.Body)
		}
	}
	if _, misused := env.calls(); misused != 1 {
		t.Fatalf("OnMisused ran %d times, want 1", misused)
	}
}
