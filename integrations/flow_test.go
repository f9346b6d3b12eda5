package integrations_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/providertest"
	"github.com/tandembot/tandem/integrations/slacksignin"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

// flowTeam is the workspace every test's links are made in, and the fake
// Slack's.
const flowTeam = "T1"

// The Slack app's own OAuth client, for Sign in with Slack.
const (
	flowSlackClientID     = "1111.2222"
	flowSlackClientSecret = "slack-FAKE-oidc-client-secret"
)

// flowLinked is one call of Flow.OnLinked.
type flowLinked struct {
	link  tandem.Link
	rerun string
}

// flowMisuse is one call of Flow.OnMisused.
type flowMisuse struct {
	team, user string
	provider   tandem.ProviderID
	opener     string
}

// flowEnv is the connect flow on loopback: Tandem's HTTP handler served by
// httptest, a real bbolt store, the fake GitHub, and (unless the flow runs
// without it) the fake Slack's Sign in with Slack with the real
// slacksignin client.
type flowEnv struct {
	flow    *integrations.Flow
	db      *store.DB
	gh      *fakegithub.Server
	slack   *fakeslack.Server // nil without Sign in with Slack
	srv     *httptest.Server
	mu      sync.Mutex
	now     time.Time
	linked  []flowLinked
	misused []flowMisuse
	log     *fzLog // what the flow logged
}

// newFlowEnv is the flow with Sign in with Slack. The fake Slack knows
// UALICE, UBOB and UMALLORY; the fake GitHub knows alice-gh, bob-gh and
// mallory-gh.
func newFlowEnv(t *testing.T) *flowEnv {
	t.Helper()
	return newFlowEnvOver(t, false)
}

// newFlowEnvOver is newFlowEnv, serving the flow over https when tls is
// set (PublicURL https://, as in production).
func newFlowEnvOver(t *testing.T, tls bool) *flowEnv {
	t.Helper()
	fe := newFlowEnvWithoutSlackOver(t, tls)
	fe.slack = fakeslack.New(fakeslack.Options{
		TeamID: flowTeam, TeamName: "Acme", Clock: fe.clock,
		Users:          []fakeslack.User{{ID: "UALICE", Name: "alice"}, {ID: "UBOB", Name: "bob"}, {ID: "UMALLORY", Name: "mallory"}},
		OpenIDClientID: flowSlackClientID, OpenIDClientSecret: flowSlackClientSecret,
		OpenIDRedirectURLs: []string{fe.flow.SlackRedirectURL()},
	})
	if err := fe.slack.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fe.slack.Close)
	fe.flow.SignIn = &slacksignin.Client{
		ClientID: flowSlackClientID, ClientSecret: flowSlackClientSecret,
		AuthorizeURL: fe.slack.OpenIDAuthorizeURL(), APIURL: fe.slack.APIURL(), Now: fe.clock,
	}
	return fe
}

// newFlowEnvWithoutSlack is the flow with Flow.SignIn nil
// (TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN): the browser confirms on a page.
func newFlowEnvWithoutSlack(t *testing.T) *flowEnv {
	t.Helper()
	return newFlowEnvWithoutSlackOver(t, false)
}

func newFlowEnvWithoutSlackOver(t *testing.T, tls bool) *flowEnv {
	t.Helper()
	fe := &flowEnv{now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), log: &fzLog{}}
	fe.db = openFlowStore(t)
	fe.flow = &integrations.Flow{
		Store: fe.db, Signer: newFlowKeyring(t, flowKey(t)), Now: fe.clock,
		Logger: slog.New(slog.NewTextHandler(fe.log, nil)),
	}
	if tls {
		fe.srv = httptest.NewTLSServer(fe.flow.Handler())
	} else {
		fe.srv = httptest.NewServer(fe.flow.Handler())
	}
	t.Cleanup(fe.srv.Close)
	fe.flow.PublicURL = fe.srv.URL
	fe.gh = fakegithub.New(fakegithub.Options{
		ClientID: "cid", ClientSecret: "csecret", RedirectURL: fe.flow.RedirectURL(tandem.GitHub), Now: fe.clock,
		Users: []fakegithub.User{{Login: "alice-gh"}, {Login: "bob-gh"}, {Login: "mallory-gh"}},
	})
	if err := fe.gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fe.gh.Close)
	cfg, err := github.ConfigFromBase(fe.gh.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
	p := github.New(cfg)
	// The same app registered twice lets a callback arrive at the wrong
	// provider's URL.
	fe.flow.Providers = map[tandem.ProviderID]tandem.Provider{tandem.GitHub: p, tandem.GitLab: p}
	fe.flow.OnLinked = func(_ context.Context, l tandem.Link, rerun string) {
		fe.mu.Lock()
		fe.linked = append(fe.linked, flowLinked{l, rerun})
		fe.mu.Unlock()
	}
	fe.flow.OnMisused = func(_ context.Context, team, user string, p tandem.ProviderID, opener string) {
		fe.mu.Lock()
		fe.misused = append(fe.misused, flowMisuse{team, user, p, opener})
		fe.mu.Unlock()
	}
	return fe
}

func openFlowStore(t *testing.T) *store.DB {
	t.Helper()
	keys := newFlowKeyring(t, flowKey(t))
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func flowKey(t *testing.T) []byte {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFlowKeyring(t *testing.T, current []byte, previous ...[]byte) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return k
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

// connectURL is the link Tandem would show user in Slack.
func (fe *flowEnv) connectURL(t *testing.T, user string, p tandem.ProviderID, rerun string) string {
	t.Helper()
	u, err := fe.flow.ConnectURL(t.Context(), flowTeam, user, p, rerun)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// links returns how many accounts user has linked.
func (fe *flowEnv) links(t *testing.T, user string) int {
	t.Helper()
	ls, err := fe.db.Links(t.Context(), flowTeam, user)
	if err != nil {
		t.Fatal(err)
	}
	return len(ls)
}

func (fe *flowEnv) link(t *testing.T, user string) tandem.Link {
	t.Helper()
	l, err := fe.db.Link(t.Context(), flowTeam, user, tandem.GitHub)
	if err != nil {
		t.Fatalf("%s's GitHub link: %v", user, err)
	}
	return l
}

// states returns how many flow records (links, steps) the store holds.
func (fe *flowEnv) states(t *testing.T) int {
	t.Helper()
	c, err := fe.db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return c["oauth_states"]
}

// linkAudit returns the audit records of linking, oldest first.
func (fe *flowEnv) linkAudit(t *testing.T) []tandem.AuditRecord {
	t.Helper()
	recs, err := fe.db.Audit(t.Context(), tandem.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []tandem.AuditRecord
	for _, r := range recs {
		if r.Action == "link" {
			out = append(out, r)
		}
	}
	return out
}

func (fe *flowEnv) calls() (linked []flowLinked, misused []flowMisuse) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return append([]flowLinked(nil), fe.linked...), append([]flowMisuse(nil), fe.misused...)
}

// slackVisits is how many times a browser reached Slack's sign-in page.
func (fe *flowEnv) slackVisits() int { return fe.slack.OpenIDStats().AuthorizeVisits }

// flowBrowser is one person's browser: a cookie jar, signed in to the fake
// Slack as a member (or not), and to the fake GitHub as a login (the fake's
// login= parameter on its authorize page). It follows redirects, records
// every URL it requests, and checks the headers of every page the flow
// serves.
type flowBrowser struct {
	t       *testing.T
	fe      *flowEnv
	client  *http.Client
	ghLogin string
	// stopAt is a path: a redirect there is not followed, and its URL is
	// kept in stopped.
	stopAt  string
	stopped string
	mu      sync.Mutex
	visited []*url.URL
}

// flowPage is what a browser ended up showing.
type flowPage struct {
	status int
	body   string
	url    *url.URL
	header http.Header
}

func (fe *flowEnv) browser(t *testing.T, slackUser, ghLogin string) *flowBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &flowBrowser{t: t, fe: fe, ghLogin: ghLogin}
	if slackUser != "" {
		base, _ := url.Parse(fe.slack.BaseURL())
		jar.SetCookies(base, []*http.Cookie{fe.slack.SignInCookie(slackUser)})
	}
	b.client = &http.Client{Jar: jar, Transport: b, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if b.stopAt != "" && req.URL.Path == b.stopAt {
			b.stopped = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// RoundTrip signs the browser in at GitHub's authorize page, and records
// the request.
func (b *flowBrowser) RoundTrip(req *http.Request) (*http.Response, error) {
	gh, _ := url.Parse(b.fe.gh.URL())
	if b.ghLogin != "" && req.URL.Host == gh.Host && req.URL.Path == "/login/oauth/authorize" {
		req = req.Clone(req.Context())
		q := req.URL.Query()
		q.Set("login", b.ghLogin)
		req.URL.RawQuery = q.Encode()
	}
	b.mu.Lock()
	b.visited = append(b.visited, req.URL)
	b.mu.Unlock()
	rt := http.DefaultTransport
	if b.fe.srv.TLS != nil {
		rt = b.fe.srv.Client().Transport // trusts the flow's certificate
	}
	resp, err := rt.RoundTrip(req)
	srv, _ := url.Parse(b.fe.srv.URL)
	if err == nil && req.URL.Host == srv.Host && (resp.StatusCode < 300 || resp.StatusCode >= 400) &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		checkPageHeaders(b.t, req.URL.Path, resp.Header)
	}
	return resp, err
}

// checkPageHeaders fails unless h keeps a page of the flow out of other
// sites' frames and content sniffing.
func checkPageHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
	}
	if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q, want frame-ancestors 'none'", what, got)
	}
}

func (b *flowBrowser) do(req *http.Request) flowPage {
	b.t.Helper()
	b.stopped = ""
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return flowPage{status: resp.StatusCode, body: string(body), url: resp.Request.URL, header: resp.Header}
}

// get opens u and follows redirects (up to stopAt).
func (b *flowBrowser) get(u string) flowPage {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits form to u, as the confirmation page's button does.
func (b *flowBrowser) post(u string, form url.Values) flowPage {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// begin opens link and stops where GitHub sends the browser back to
// Tandem, returning that callback URL.
func (b *flowBrowser) begin(link string) string {
	b.t.Helper()
	b.stopAt = "/oauth/github/callback"
	defer func() { b.stopAt = "" }()
	p := b.get(link)
	if b.stopped == "" {
		b.t.Fatalf("the flow never reached GitHub's callback: %d at %s: %s", p.status, p.url, p.body)
	}
	return b.stopped
}

// atSlack opens link and stops where Slack sends the browser back to
// Tandem, returning that callback URL.
func (b *flowBrowser) atSlack(link string) string {
	b.t.Helper()
	b.stopAt = "/oauth/slack/callback"
	defer func() { b.stopAt = "" }()
	p := b.get(link)
	if b.stopped == "" {
		b.t.Fatalf("the flow never reached Slack's callback: %d at %s: %s", p.status, p.url, p.body)
	}
	return b.stopped
}

// visits returns the URLs this browser requested on the fake host at path.
func (b *flowBrowser) visits(host, path string) []*url.URL {
	h, _ := url.Parse(host)
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*url.URL
	for _, u := range b.visited {
		if u.Host == h.Host && u.Path == path {
			out = append(out, u)
		}
	}
	return out
}

func (b *flowBrowser) sawGitHubAuthorize() bool {
	return len(b.visits(b.fe.gh.URL(), "/login/oauth/authorize")) > 0
}

// confirmForm is the action and token of a confirmation page's form.
var confirmForm = regexp.MustCompile(`<form method="post" action="([^"]*)"><input type="hidden" name="token" value="([^"]*)">`)

func wantPage(t *testing.T, what string, p flowPage, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("%s: the page does not say %q: %s", what, s, p.body)
		}
	}
}

// A user's own link, opened in their browser signed in to Slack as
// them, links the GitHub account they sign in to.
func TestFlowLinksTheUsersOwnAccount(t *testing.T) {
	fe := newFlowEnv(t)
	alice := fe.browser(t, "UALICE", "alice-gh")
	link := fe.connectURL(t, "UALICE", tandem.GitHub, "turn-7")
	page := alice.get(link)
	wantPage(t, "Alice's link", page, http.StatusOK, "GitHub account alice-gh is now linked to @UALICE in T1")

	l := fe.link(t, "UALICE")
	if l.Login != "alice-gh" || !strings.HasPrefix(l.Token.AccessToken, "gho_FAKE_alice-gh_") {
		t.Errorf("stored link = %s with a %.14s… token, want alice-gh with one of alice's gho_ tokens", l.Login, l.Token.AccessToken)
	}
	if !fe.gh.PKCEUsed() {
		t.Error("the authorize request carried no PKCE S256 challenge")
	}
	if got := fe.gh.TokenRequests(); got != 1 {
		t.Errorf("GitHub's token endpoint got %d requests, want 1", got)
	}
	if got := fe.slack.OpenIDStats(); got.AuthorizeVisits != 1 || got.CodesIssued != 1 || got.CodesExchanged != 1 {
		t.Errorf("Sign in with Slack saw %+v, want one visit, one code issued and exchanged", got)
	}
	// The browser proved who it is at Slack, for the link's workspace,
	// before it ever reached GitHub.
	slack, gh := alice.visits(fe.slack.BaseURL(), "/openid/connect/authorize"), alice.visits(fe.gh.URL(), "/login/oauth/authorize")
	if len(slack) != 1 || len(gh) != 1 {
		t.Fatalf("visited Slack's sign-in %d times and GitHub's authorize %d times, want 1 and 1", len(slack), len(gh))
	}
	if slack[0].Query().Get("team") != flowTeam {
		t.Errorf("Slack's sign-in was not for the link's workspace: %s", slack[0])
	}
	if i, j := indexURL(alice.visited, slack[0]), indexURL(alice.visited, gh[0]); i > j {
		t.Errorf("the browser reached GitHub (request %d) before Slack (request %d)", j, i)
	}
	linked, misused := fe.calls()
	if len(linked) != 1 || linked[0].link.User != "UALICE" || linked[0].link.Login != "alice-gh" || linked[0].rerun != "turn-7" {
		t.Errorf("OnLinked calls = %+v, want one for UALICE as alice-gh re-running turn-7", linked)
	}
	if len(misused) != 0 {
		t.Errorf("OnMisused ran: %+v", misused)
	}
	if recs := fe.linkAudit(t); len(recs) != 1 || recs[0].Outcome != tandem.OutcomeOK || recs[0].Actor != "UALICE" || recs[0].Effective != "UALICE" {
		t.Errorf("link audit = %+v, want one ok record by and for UALICE", recs)
	}
	if n := fe.states(t); n != 0 {
		t.Errorf("%d flow records left in the store after a completed link, want 0", n)
	}
	u, _ := url.Parse(link)
	logged := fe.log.take()
	for _, secret := range []string{l.Token.AccessToken, u.Query().Get("link"), u.Query().Get("sig")} {
		if strings.Contains(logged, secret) || strings.Contains(page.body, secret) {
			t.Errorf("a secret (%.8s…) is in the log or on the page", secret)
		}
	}
}

func indexURL(us []*url.URL, u *url.URL) int {
	for i, v := range us {
		if v == u {
			return i
		}
	}
	return -1
}

// Bob's link opened in Alice's browser never reaches GitHub: Slack says
// the browser is Alice.
func TestFlowRefusesALinkOpenedByAnotherSlackUser(t *testing.T) {
	fe := newFlowEnv(t)
	alice := fe.browser(t, "UALICE", "alice-gh")
	page := alice.get(fe.connectURL(t, "UBOB", tandem.GitHub, ""))
	wantPage(t, "Bob's link in Alice's browser", page, http.StatusForbidden, "made for another Slack user", "use /connect")

	if got := fe.gh.TokenRequests(); got != 0 {
		t.Errorf("GitHub's token endpoint got %d requests, want 0", got)
	}
	if alice.sawGitHubAuthorize() {
		t.Error("the browser was sent to GitHub's authorize page")
	}
	if reqs := fe.gh.Requests(); len(reqs) != 0 {
		t.Errorf("GitHub's API got %d requests, want 0", len(reqs))
	}
	if n := fe.links(t, "UALICE") + fe.links(t, "UBOB"); n != 0 {
		t.Errorf("%d links stored, want 0", n)
	}
	linked, misused := fe.calls()
	want := flowMisuse{team: flowTeam, user: "UBOB", provider: tandem.GitHub, opener: "UALICE"}
	if len(misused) != 1 || misused[0] != want {
		t.Errorf("OnMisused calls = %+v, want one %+v", misused, want)
	}
	if len(linked) != 0 {
		t.Errorf("OnLinked ran: %+v", linked)
	}
	recs := fe.linkAudit(t)
	if len(recs) != 1 || recs[0].Outcome != tandem.OutcomeRefused || recs[0].Actor != "UALICE" || recs[0].Effective != "UBOB" || recs[0].Provider != tandem.GitHub {
		t.Errorf("link audit = %+v, want one refused record by UALICE for UBOB", recs)
	}
}

// A link works once: after it completed, and while it is in progress.
func TestFlowLinkWorksOnce(t *testing.T) {
	t.Run("after completing", func(t *testing.T) {
		fe := newFlowEnv(t)
		alice := fe.browser(t, "UALICE", "alice-gh")
		link := fe.connectURL(t, "UALICE", tandem.GitHub, "")
		wantPage(t, "first open", alice.get(link), http.StatusOK, "is now linked")
		before := fe.link(t, "UALICE")
		fe.advance(time.Minute)

		wantPage(t, "second open", alice.get(link), http.StatusGone, "already used")
		if after := fe.link(t, "UALICE"); after.Token != before.Token || !after.LinkedAt.Equal(before.LinkedAt) {
			t.Errorf("the link changed after a used link was opened again")
		}
		if got := fe.gh.TokenRequests(); got != 1 {
			t.Errorf("GitHub's token endpoint got %d requests, want 1", got)
		}
		if linked, _ := fe.calls(); len(linked) != 1 {
			t.Errorf("OnLinked ran %d times, want 1", len(linked))
		}
	})
	t.Run("opened twice before completing", func(t *testing.T) {
		fe := newFlowEnv(t)
		first, second := fe.browser(t, "UALICE", "alice-gh"), fe.browser(t, "UALICE", "alice-gh")
		link := fe.connectURL(t, "UALICE", tandem.GitHub, "")
		back := first.atSlack(link)

		wantPage(t, "second open", second.get(link), http.StatusGone, "already used")
		if second.sawGitHubAuthorize() || len(second.visits(fe.slack.BaseURL(), "/openid/connect/authorize")) != 0 {
			t.Error("the second open went on to Slack or GitHub")
		}
		if n := fe.links(t, "UALICE"); n != 0 {
			t.Fatalf("%d links stored before the first open completed", n)
		}
		// The first open is unharmed.
		wantPage(t, "the first open, completed", first.get(back), http.StatusOK, "is now linked")
		if n := fe.links(t, "UALICE"); n != 1 {
			t.Errorf("%d links stored, want 1", n)
		}
	})
}

// An expired link, or one changed in any part, is refused before it
// does anything.
func TestFlowRefusesExpiredAndTamperedLinks(t *testing.T) {
	fe := newFlowEnv(t)
	good := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	u, _ := url.Parse(good)
	q := u.Query()
	with := func(key, value string) string {
		v := u.Query()
		if value == "" {
			v.Del(key)
		} else {
			v.Set(key, value)
		}
		return fe.srv.URL + u.Path + "?" + v.Encode()
	}
	id := q.Get("link")
	otherID := id[:len(id)-1] + "A"
	if strings.HasSuffix(id, "A") {
		otherID = id[:len(id)-1] + "B"
	}
	bobs, _ := url.Parse(fe.connectURL(t, "UBOB", tandem.GitHub, ""))
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	alice := fe.browser(t, "UALICE", "alice-gh")
	for name, tampered := range map[string]string{
		"other provider":  strings.Replace(good, "/connect/github?", "/connect/gitlab?", 1),
		"changed link id": with("link", otherID),
		"changed expiry":  with("exp", strconv.FormatInt(exp+int64(time.Hour/time.Second), 10)),
		"no signature":    with("sig", ""),
		"empty signature": good[:strings.Index(good, "&sig=")] + "&sig=",
		"no link id":      with("link", ""),
		"Bob's signature": with("sig", bobs.Query().Get("sig")),
		"Bob's link id":   with("link", bobs.Query().Get("link")),
	} {
		wantPage(t, name, alice.get(tampered), http.StatusBadRequest, "not valid")
	}
	if got := fe.slackVisits(); got != 0 || alice.sawGitHubAuthorize() {
		t.Fatalf("tampered links reached Slack (%d visits) or GitHub (%v)", got, alice.sawGitHubAuthorize())
	}
	// Refusing them did not use the genuine link up.
	wantPage(t, "the genuine link", alice.get(good), http.StatusOK, "is now linked")

	expiring := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	fe.advance(integrations.LinkTTL + time.Second)
	wantPage(t, "expired link", alice.get(expiring), http.StatusGone, "expired")
	if got := fe.slackVisits(); got != 1 || fe.gh.TokenRequests() != 1 {
		t.Errorf("after the expired link: %d Slack visits and %d GitHub token requests, want 1 and 1 (the genuine link's)", got, fe.gh.TokenRequests())
	}
}

// Every link the landing page refuses (spent, tampered, expired) leaves a
// line in the log, as a refused callback does, without the link's id or
// signature: whoever opens a link that was sent on after its use is seen
// by nothing else.
func TestFlowLogsRefusedLinks(t *testing.T) {
	fe := newFlowEnv(t)
	alice, stranger := fe.browser(t, "UALICE", "alice-gh"), fe.browser(t, "", "")
	used := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	wantPage(t, "Alice's own open", alice.get(used), http.StatusOK, "is now linked")
	expiring := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	u, _ := url.Parse(expiring)
	q := u.Query()
	q.Set("sig", "AAAA"+q.Get("sig")[4:])
	tampered := fe.srv.URL + u.Path + "?" + q.Encode()
	fe.log.take()
	for _, tc := range []struct {
		name, url string
		status    int
		why       string
	}{
		{"a spent link reopened", used, http.StatusGone, "already used"},
		{"a tampered link", tampered, http.StatusBadRequest, "bad link signature"},
		{"an expired link", expiring, http.StatusGone, "link expired"},
	} {
		if tc.name == "an expired link" {
			fe.advance(integrations.LinkTTL + time.Second)
		}
		stranger.get(tc.url)
		logged := fe.log.take()
		if !strings.Contains(logged, "connect link refused") || !strings.Contains(logged, tc.why) {
			t.Errorf("%s: the log says %q, want a refused link (%s)", tc.name, logged, tc.why)
		}
		lu, _ := url.Parse(tc.url)
		for _, secret := range []string{lu.Query().Get("link"), lu.Query().Get("sig")} {
			if strings.Contains(logged, secret) {
				t.Errorf("%s: the log holds the link's secret %.8s…", tc.name, secret)
			}
		}
	}
	if got := fe.gh.TokenRequests(); got != 1 || stranger.sawGitHubAuthorize() {
		t.Errorf("GitHub's token endpoint got %d requests (want Alice's 1), or the stranger reached GitHub", got)
	}
}

// A browser not signed in to Slack stops at Slack's sign-in page.
func TestFlowStopsAtSlackForABrowserNotSignedIn(t *testing.T) {
	fe := newFlowEnv(t)
	stranger := fe.browser(t, "", "alice-gh")
	page := stranger.get(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
	slack, _ := url.Parse(fe.slack.BaseURL())
	wantPage(t, "link in a browser not signed in to Slack", page, http.StatusOK, "You are not signed in to Slack")
	if page.url.Host != slack.Host {
		t.Errorf("the browser ended at %s, want Slack's sign-in page", page.url)
	}
	if stranger.sawGitHubAuthorize() || fe.gh.TokenRequests() != 0 {
		t.Error("the browser reached GitHub")
	}
	if got := fe.slack.OpenIDStats(); got.AuthorizeVisits != 1 || got.CodesIssued != 0 {
		t.Errorf("Sign in with Slack saw %+v, want one visit and no code", got)
	}
	if n := fe.links(t, "UALICE"); n != 0 {
		t.Errorf("%d links stored, want 0", n)
	}

	// Signing in there as Alice takes the browser on, and links.
	m := regexp.MustCompile(`name="return" value="([^"]*)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("Slack's sign-in page has no form: %s", page.body)
	}
	ret := strings.ReplaceAll(m[1], "&amp;", "&")
	signedIn := stranger.post(fe.slack.BaseURL()+"/openid/connect/signin", url.Values{"user": {"UALICE"}, "return": {ret}})
	wantPage(t, "after signing in to Slack as Alice", signedIn, http.StatusOK, "GitHub account alice-gh is now linked to @UALICE")
}

// A browser that signed in to Slack minutes ago skips Slack for that
// same user's next links, and for nobody else's.
func TestFlowSignedInBrowserSkipsSlackForItsOwnLinksOnly(t *testing.T) {
	fe := newFlowEnv(t)
	alice := fe.browser(t, "UALICE", "alice-gh")
	wantPage(t, "Alice's first link", alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, "")), http.StatusOK, "is now linked")
	visits := fe.slackVisits()

	fe.advance(time.Minute)
	wantPage(t, "Alice's next link", alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, "")), http.StatusOK, "is now linked")
	if got := fe.slackVisits(); got != visits {
		t.Errorf("Alice's next link went to Slack again (%d visits, want %d)", got, visits)
	}
	if linked, _ := fe.calls(); len(linked) != 2 {
		t.Errorf("OnLinked ran %d times, want 2", len(linked))
	}

	wantPage(t, "Bob's link in Alice's signed-in browser", alice.get(fe.connectURL(t, "UBOB", tandem.GitHub, "")), http.StatusForbidden, "made for another Slack user")
	if got := fe.slackVisits(); got != visits+1 {
		t.Errorf("Bob's link in Alice's browser: %d Slack visits, want %d (through Slack again)", got, visits+1)
	}
	if _, misused := fe.calls(); len(misused) != 1 || misused[0].user != "UBOB" || misused[0].opener != "UALICE" {
		t.Errorf("OnMisused calls = %+v, want one for UBOB opened by UALICE", misused)
	}
	if n := fe.links(t, "UBOB"); n != 0 {
		t.Errorf("Bob has %d links, want 0", n)
	}

	// A cookie for Bob that Tandem did not sign is worthless.
	mallory := fe.browser(t, "UMALLORY", "mallory-gh")
	srv, _ := url.Parse(fe.srv.URL + "/connect/")
	exp := strconv.FormatInt(fe.clock().Add(time.Hour).Unix(), 10)
	mallory.client.Jar.SetCookies(srv, []*http.Cookie{{Name: "tandem_slack_user", Value: flowTeam + ".UBOB." + exp + ".AAAAforgedAAAA", Path: "/connect/"}})
	wantPage(t, "Bob's link with a forged signed-in cookie", mallory.get(fe.connectURL(t, "UBOB", tandem.GitHub, "")), http.StatusForbidden, "made for another Slack user")
	if got := fe.slackVisits(); got != visits+2 {
		t.Errorf("a forged signed-in cookie skipped Slack (%d visits, want %d)", got, visits+2)
	}

	// Alice's sign-in lasts SignedInTTL.
	fe.advance(integrations.SignedInTTL)
	wantPage(t, "Alice's link after the sign-in expired", alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, "")), http.StatusOK, "is now linked")
	if got := fe.slackVisits(); got != visits+3 {
		t.Errorf("after SignedInTTL Alice's link skipped Slack (%d visits, want %d)", got, visits+3)
	}
	if n := fe.links(t, "UBOB") + fe.links(t, "UMALLORY"); n != 0 {
		t.Errorf("%d links for Bob and Mallory, want 0", n)
	}
}

// TestFlowSignedInCookieCannotBePlantedOverHTTPS: over https the flow's
// cookies carry the __Host- prefix (Secure, Path=/, no Domain), which a
// browser lets no sibling subdomain and no plain-http page set; a cookie
// without it, as such a page could plant, is not read. So Mallory cannot
// put her own signed-in cookie in Alice's browser and have the account
// Alice authorizes on Mallory's link linked to Mallory: the link still
// goes through Sign in with Slack, which names Alice.
func TestFlowSignedInCookieCannotBePlantedOverHTTPS(t *testing.T) {
	fe := newFlowEnvOver(t, true)
	mallory := fe.browser(t, "UMALLORY", "mallory-gh")
	wantPage(t, "Mallory's own link", mallory.get(fe.connectURL(t, "UMALLORY", tandem.GitHub, "")), http.StatusOK, "is now linked")
	connect, _ := url.Parse(fe.srv.URL + "/connect/")
	var signedIn *http.Cookie
	for _, c := range mallory.client.Jar.Cookies(connect) {
		if strings.Contains(c.Name, "tandem_slack_user") {
			signedIn = c
		}
	}
	if signedIn == nil || signedIn.Name != "__Host-tandem_slack_user-connect" {
		t.Fatalf("Mallory's signed-in cookie is %+v, want __Host-tandem_slack_user-connect", signedIn)
	}
	visits := fe.slackVisits()
	wantPage(t, "Mallory's next link", mallory.get(fe.connectURL(t, "UMALLORY", tandem.GitHub, "")), http.StatusOK, "is now linked")
	if got := fe.slackVisits(); got != visits {
		t.Fatalf("over https a signed-in browser went to Slack again (%d visits, want %d)", got, visits)
	}

	alice := fe.browser(t, "UALICE", "alice-gh")
	alice.client.Jar.SetCookies(connect, []*http.Cookie{{Name: "tandem_slack_user", Value: signedIn.Value, Path: "/connect/"}})
	wantPage(t, "Mallory's link in Alice's browser with Mallory's cookie planted", alice.get(fe.connectURL(t, "UMALLORY", tandem.GitHub, "")),
		http.StatusForbidden, "made for another Slack user")
	if got := fe.slackVisits(); got != visits+1 {
		t.Errorf("a planted cookie skipped Sign in with Slack (%d visits, want %d)", got, visits+1)
	}
	if l := fe.link(t, "UMALLORY"); l.Login != "mallory-gh" {
		t.Errorf("Mallory's GitHub link is %s, want her own mallory-gh", l.Login)
	}
}

// flowNames is a Directory with fixed names; an unknown id is its own name.
type flowNames map[string]string

func (d flowNames) Names(_ context.Context, team, user string) (string, string) {
	name := func(id string) string {
		if n, ok := d[id]; ok {
			return n
		}
		return id
	}
	return name(user), name(team)
}

// One GitHub account acts for one Slack user: Mallory cannot link the
// account Alice linked, and is not told who holds it.
func TestFlowRefusesAnAccountLinkedToAnotherUser(t *testing.T) {
	fe := newFlowEnv(t)
	fe.flow.Directory = flowNames{"UALICE": "Alice Liddell", "UMALLORY": "Mallory", flowTeam: "Acme"}
	alice := fe.browser(t, "UALICE", "alice-gh")
	wantPage(t, "Alice's link", alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, "")), http.StatusOK, "GitHub account alice-gh is now linked to @Alice Liddell in Acme")
	before := fe.link(t, "UALICE")
	fe.advance(time.Minute)

	mallory := fe.browser(t, "UMALLORY", "alice-gh")
	page := mallory.get(fe.connectURL(t, "UMALLORY", tandem.GitHub, ""))
	wantPage(t, "Mallory signed in at GitHub as alice-gh", page, http.StatusConflict, "already linked to someone else")
	for _, s := range []string{"UALICE", "Alice Liddell"} {
		if strings.Contains(page.body, s) {
			t.Errorf("the refusal names the account's owner (%q): %s", s, page.body)
		}
	}
	if n := fe.links(t, "UMALLORY"); n != 0 {
		t.Errorf("Mallory has %d links, want 0", n)
	}
	after := fe.link(t, "UALICE")
	if after.Login != "alice-gh" || after.Token != before.Token || !after.LinkedAt.Equal(before.LinkedAt) {
		t.Errorf("Alice's link changed: %s linked at %s, want it as before", after.Login, after.LinkedAt)
	}
	if fe.gh.Revoked(before.Token.AccessToken) {
		t.Error("Alice's token was revoked")
	}
	if linked, _ := fe.calls(); len(linked) != 1 {
		t.Errorf("OnLinked ran %d times, want 1 (Alice's)", len(linked))
	}
	recs := fe.linkAudit(t)
	if len(recs) != 2 || recs[1].Outcome != tandem.OutcomeRefused || recs[1].Actor != "UMALLORY" || recs[1].Effective != "UMALLORY" {
		t.Errorf("link audit = %+v, want Alice's ok record and a refused one for UMALLORY", recs)
	}
}

// Attacks on the steps after the link: each is refused with a page that
// says why, and nothing is linked.
func TestFlowRefusesStepAttacks(t *testing.T) {
	// stateOf returns the state parameter of a callback URL.
	stateOf := func(t *testing.T, cb string) string {
		t.Helper()
		u, err := url.Parse(cb)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query().Get("state")
	}
	tests := []struct {
		name string
		// attack returns the browser and URL of the hostile request.
		attack   func(t *testing.T, fe *flowEnv) (*flowBrowser, string)
		wantPage string
	}{
		{"reused state", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			b := fe.browser(t, "UALICE", "alice-gh")
			cb := b.begin(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
			wantPage(t, "first use", b.get(cb), http.StatusOK, "is now linked")
			if _, err := fe.db.DeleteLink(t.Context(), flowTeam, "UALICE", tandem.GitHub); err != nil {
				t.Fatal(err)
			}
			return b, cb
		}, "already used"},
		{"expired state", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			b := fe.browser(t, "UALICE", "alice-gh")
			cb := b.begin(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
			fe.advance(integrations.StateTTL + time.Second)
			return b, cb
		}, "expired"},
		{"state of another user's flow", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			// Mallory starts a flow for herself, then lures Alice's browser
			// (which has a flow of its own) to Mallory's callback.
			mallorys := fe.browser(t, "UMALLORY", "mallory-gh").begin(fe.connectURL(t, "UMALLORY", tandem.GitHub, ""))
			alice := fe.browser(t, "UALICE", "alice-gh")
			alice.begin(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
			return alice, mallorys
		}, "another browser"},
		{"forged signature", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			b := fe.browser(t, "UALICE", "alice-gh")
			u, _ := url.Parse(b.begin(fe.connectURL(t, "UALICE", tandem.GitHub, "")))
			q := u.Query()
			id, _, _ := strings.Cut(q.Get("state"), ".")
			q.Set("state", id+".AAAAforgedAAAA")
			u.RawQuery = q.Encode()
			return b, u.String()
		}, "not valid"},
		{"missing cookie", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			cb := fe.browser(t, "UALICE", "alice-gh").begin(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
			return fe.browser(t, "", ""), cb
		}, "another browser"},
		{"callback for the wrong provider", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			b := fe.browser(t, "UALICE", "alice-gh")
			cb := b.begin(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
			return b, strings.Replace(cb, "/oauth/github/", "/oauth/gitlab/", 1)
		}, "another service"},
		{"provider state at the Slack callback", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			b := fe.browser(t, "UALICE", "alice-gh")
			st := stateOf(t, b.begin(fe.connectURL(t, "UALICE", tandem.GitHub, "")))
			return b, fe.flow.SlackRedirectURL() + "?" + url.Values{"state": {st}, "code": {"x"}}.Encode()
		}, "not valid"},
		{"Slack state at the provider callback", func(t *testing.T, fe *flowEnv) (*flowBrowser, string) {
			b := fe.browser(t, "UALICE", "alice-gh")
			back, _ := url.Parse(b.atSlack(fe.connectURL(t, "UALICE", tandem.GitHub, "")))
			return b, fe.flow.RedirectURL(tandem.GitHub) + "?" + back.RawQuery
		}, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFlowEnv(t)
			b, u := tt.attack(t, fe)
			linked, _ := fe.calls()
			tokenRequests := fe.gh.TokenRequests()
			wantPage(t, "hostile request", b.get(u), http.StatusBadRequest, tt.wantPage)
			if n := fe.links(t, "UALICE") + fe.links(t, "UMALLORY"); n != 0 {
				t.Errorf("%d links stored after a refused request, want 0", n)
			}
			if got := fe.gh.TokenRequests(); got != tokenRequests {
				t.Errorf("the refused request reached GitHub's token endpoint (%d requests, want %d)", got, tokenRequests)
			}
			if got, _ := fe.calls(); len(got) != len(linked) {
				t.Errorf("OnLinked ran for a refused request")
			}
		})
	}
}

// With Sign in with Slack on there is no confirmation page to skip it by.
func TestFlowConfirmIsOffWithSlackSignIn(t *testing.T) {
	fe := newFlowEnv(t)
	b := fe.browser(t, "UALICE", "alice-gh")
	p := b.post(fe.srv.URL+"/connect/github/confirm", url.Values{"token": {"C-x.y"}})
	if p.status != http.StatusNotFound || b.sawGitHubAuthorize() {
		t.Errorf("confirm with Sign in with Slack on: %d, GitHub visited %v; want 404 and no visit", p.status, b.sawGitHubAuthorize())
	}
}

// Without Sign in with Slack the landing names the user the link was
// made for and goes on only by a POST from the same browser, once.
func TestFlowConfirmPage(t *testing.T) {
	fe := newFlowEnvWithoutSlack(t)
	fe.flow.Directory = flowNames{"UALICE": "alice", "UBOB": "bob<img src=x onerror=alert(1)>", flowTeam: "Acme Corp"}
	alice := fe.browser(t, "", "alice-gh")
	page := alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, "turn-9"))
	// The display name is anyone's to choose; the member ID, which the
	// page names too, is not.
	wantPage(t, "landing", page, http.StatusOK, "@alice", "Acme Corp", "Continue only if you are @alice", "member ID UALICE", "is UALICE")
	m := confirmForm.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the landing has no confirmation form: %s", page.body)
	}
	action, token := fe.srv.URL+m[1], m[2]
	if m[1] != "/connect/github/confirm" || token == "" {
		t.Fatalf("the form posts %q to %q", token, m[1])
	}
	if alice.sawGitHubAuthorize() || fe.gh.TokenRequests() != 0 || fe.links(t, "UALICE") != 0 {
		t.Fatal("the landing alone reached GitHub or linked")
	}
	// A GET of the confirmation (a prefetch, an image tag) does nothing.
	if p := alice.get(action + "?" + url.Values{"token": {token}}.Encode()); p.status < 400 || alice.sawGitHubAuthorize() {
		t.Fatalf("a GET of the confirmation: %d, GitHub visited %v", p.status, alice.sawGitHubAuthorize())
	}

	wantPage(t, "confirmed", alice.post(action, url.Values{"token": {token}}), http.StatusOK, "GitHub account alice-gh is now linked to @alice in Acme Corp")
	if l := fe.link(t, "UALICE"); l.Login != "alice-gh" {
		t.Errorf("stored link for %s, want alice-gh", l.Login)
	}
	if !fe.gh.PKCEUsed() {
		t.Error("the authorize request carried no PKCE S256 challenge")
	}
	if linked, _ := fe.calls(); len(linked) != 1 || linked[0].rerun != "turn-9" {
		t.Errorf("OnLinked calls = %+v, want one re-running turn-9", linked)
	}
	before := fe.link(t, "UALICE")

	wantPage(t, "the POST replayed", alice.post(action, url.Values{"token": {token}}), http.StatusBadRequest, "already used")
	if got := fe.gh.TokenRequests(); got != 1 || fe.link(t, "UALICE").Token != before.Token {
		t.Errorf("the replayed POST reached GitHub (%d token requests) or changed the link", got)
	}

	// Bob's confirmation token, posted from another browser (Mallory's
	// page that auto-submits it), is refused.
	bob := fe.browser(t, "", "bob-gh")
	page = bob.get(fe.connectURL(t, "UBOB", tandem.GitHub, ""))
	if strings.Contains(page.body, "<img") {
		t.Errorf("the confirmation page does not escape a Slack name: %s", page.body)
	}
	m = confirmForm.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("Bob's landing has no confirmation form: %s", page.body)
	}
	mallory := fe.browser(t, "", "mallory-gh")
	wantPage(t, "Bob's token from another browser", mallory.post(fe.srv.URL+m[1], url.Values{"token": {m[2]}}), http.StatusBadRequest, "another browser")
	if mallory.sawGitHubAuthorize() || fe.links(t, "UBOB") != 0 || fe.gh.TokenRequests() != 1 {
		t.Error("a confirmation from another browser reached GitHub or linked")
	}
	// Nor does the Slack callback do anything when Sign in with Slack is off.
	wantPage(t, "Slack callback", alice.get(fe.flow.SlackRedirectURL()+"?state=S-x.y&code=z"), http.StatusNotFound)
}

// Links made just before the flow's key is rotated keep working; a link
// made under a key that is no longer configured is not valid.
func TestFlowSurvivesKeyRotation(t *testing.T) {
	fe := newFlowEnv(t)
	oldKey, newKey := flowKey(t), flowKey(t)
	fe.flow.Signer = newFlowKeyring(t, oldKey)
	link := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	mid := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	alice := fe.browser(t, "UALICE", "alice-gh")
	// The browser of another tab is at Slack, with a state signed under the
	// old key, when the key rotates.
	other := fe.browser(t, "UALICE", "alice-gh")
	back := other.atSlack(mid)

	fe.flow.Signer = newFlowKeyring(t, newKey, oldKey)
	wantPage(t, "link made under the previous key", alice.get(link), http.StatusOK, "is now linked")
	wantPage(t, "sign-in started under the previous key", other.get(back), http.StatusOK, "is now linked")
	if got := fe.gh.TokenRequests(); got != 2 {
		t.Errorf("GitHub's token endpoint got %d requests, want 2", got)
	}

	fe.flow.Signer = newFlowKeyring(t, oldKey)
	stale := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	visits := fe.slackVisits()
	fe.flow.Signer = newFlowKeyring(t, newKey)
	wantPage(t, "link made under a retired key", fe.browser(t, "UALICE", "alice-gh").get(stale), http.StatusBadRequest, "not valid")
	if got := fe.slackVisits(); got != visits || fe.gh.TokenRequests() != 2 {
		t.Errorf("a link under a retired key went on (%d Slack visits, want %d)", got, visits)
	}
}

// Every kind of page keeps out of frames and content sniffing (the
// browser checks this on every page it gets from the flow; this test makes
// sure each kind is seen).
func TestFlowPagesForbidFramingAndSniffing(t *testing.T) {
	fe := newFlowEnv(t)
	b := fe.browser(t, "UALICE", "alice-gh")
	pages := map[string]flowPage{
		"unknown integration": b.get(fe.srv.URL + "/connect/nope?link=L-x&exp=1&sig=x"),
		"not valid":           b.get(fe.srv.URL + "/connect/github?link=L-x&exp=1&sig=x"),
		"linked":              b.get(fe.connectURL(t, "UALICE", tandem.GitHub, "")),
		"sign-in not valid":   b.get(fe.flow.RedirectURL(tandem.GitHub) + "?state=P-x.y"),
		"made for another":    b.get(fe.connectURL(t, "UBOB", tandem.GitHub, "")),
	}
	confirm := newFlowEnvWithoutSlack(t)
	pages["confirmation form"] = confirm.browser(t, "", "").get(confirm.connectURL(t, "UALICE", tandem.GitHub, ""))
	for name, p := range pages {
		if p.status == http.StatusOK && !strings.Contains(p.body, "<h1>") {
			t.Errorf("%s: not a page of the flow: %s", name, p.body)
		}
		checkPageHeaders(t, name, p.header)
	}
}

// The confirmation form posts to Tandem, which redirects the browser to the
// provider. Chrome applies a page's CSP form-action to every redirect of
// the form's submission, so form-action must allow the provider's authorize
// page, or the button does nothing in Chrome.
func TestFlowConfirmFormMayRedirectToTheProvider(t *testing.T) {
	fe := newFlowEnvWithoutSlack(t)
	page := fe.browser(t, "", "").get(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
	wantPage(t, "confirmation page", page, http.StatusOK)
	for _, d := range strings.Split(page.header.Get("Content-Security-Policy"), ";") {
		f := strings.Fields(d)
		if len(f) == 0 || f[0] != "form-action" {
			continue
		}
		gh, _ := url.Parse(fe.gh.URL())
		allowed := false
		for _, src := range f[1:] {
			allowed = allowed || src == "*" || strings.TrimSuffix(src, "/") == gh.Scheme+"://"+gh.Host
		}
		if !allowed {
			t.Errorf("the confirmation page's %q does not allow the redirect to %s", d, gh.Host)
		}
	}
}

func TestCallbackPageEscapesWhatItEchoes(t *testing.T) {
	fe := newFlowEnv(t)
	for _, path := range []string{"/connect/%3Cscript%3Ealert(1)%3C%2Fscript%3E?link=L-x", "/oauth/%3Cscript%3Ealert(1)%3C%2Fscript%3E/callback?state=x"} {
		page := fe.browser(t, "", "").get(fe.srv.URL + path)
		if page.status != http.StatusNotFound || strings.Contains(page.body, "<script>") {
			t.Errorf("unknown provider page for %s: %d %q", path, page.status, page.body)
		}
	}
}

// A HEAD (a link checker, a preview) does not spend a person's link, and no
// link is made for a provider that is not enabled.
func TestFlowHeadDoesNotSpendALink(t *testing.T) {
	fe := newFlowEnv(t)
	u := fe.connectURL(t, "UALICE", tandem.GitHub, "")
	resp, err := http.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %d", resp.StatusCode)
	}
	if _, err := fe.flow.ConnectURL(t.Context(), "T1", "UALICE", tandem.Google, ""); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("a link for a provider that is not enabled: %v", err)
	}
	page := fe.browser(t, "UALICE", "alice-gh").get(u)
	wantPage(t, "the link after a HEAD", page, http.StatusOK)
	if !strings.Contains(page.body, "is now linked") {
		t.Errorf("the link after a HEAD did not complete: %s", page.body)
	}
}

// identifyRedirect is a transport for the flow's own HTTP client: GitHub's
// GET /user answers a redirect to away, as a provider (or whoever makes
// it redirect) could; everything else goes to GitHub.
type identifyRedirect struct{ away string }

func (ir identifyRedirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/user") && req.Method == http.MethodGet {
		return &http.Response{
			StatusCode: http.StatusFound, Status: "302 Found", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Location": {ir.away + "/collect"}}, Body: http.NoBody, Request: req,
		}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestFlowIdentifyNeverSendsTheNewTokenToAnotherHost: when the provider's
// "who is this" answers a redirect to another host, the grant just made
// is not sent there (before, x/oauth2's client set it on the redirected
// request too), and nothing is linked.
func TestFlowIdentifyNeverSendsTheNewTokenToAnotherHost(t *testing.T) {
	away := providertest.NewElsewhere(t, http.StatusNotFound, "")
	fe := newFlowEnv(t)
	fe.flow.HTTPClient = &http.Client{Transport: identifyRedirect{away: away.URL}, Timeout: 10 * time.Second}
	alice := fe.browser(t, "UALICE", "alice-gh")
	page := alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
	wantPage(t, "the page after a redirected identify", page, http.StatusBadGateway, "did not say who you are")
	if got := away.Arrivals(); len(got) != 1 || got[0].Authorization != "" {
		t.Errorf("the other host saw %+v, want one request without Authorization", got)
	}
	if n := fe.links(t, "UALICE"); n != 0 {
		t.Errorf("%d links after a failed identify, want none", n)
	}
}

// TestFlowCookiesOverHTTPSWhateverTheSchemesCase: TANDEM_PUBLIC_URL
// written HTTPS:// (which the configuration accepts, as URLs' schemes are
// case-insensitive) still gives the flow's cookies the __Host- prefix
// and Secure: a plain-http page or a sibling subdomain cannot plant one.
func TestFlowCookiesOverHTTPSWhateverTheSchemesCase(t *testing.T) {
	fe := newFlowEnvWithoutSlackOver(t, true)
	fe.flow.PublicURL = "HTTPS://" + strings.TrimPrefix(fe.flow.PublicURL, "https://")
	alice := fe.browser(t, "", "alice-gh")
	alice.get(fe.connectURL(t, "UALICE", tandem.GitHub, ""))
	root, _ := url.Parse(fe.srv.URL + "/")
	var names []string
	for _, c := range alice.client.Jar.Cookies(root) {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, "__Host-tandem_confirm_step-connect") {
		t.Errorf("cookies over HTTPS://: %v; want __Host-tandem_confirm_step-connect", names)
	}
}
