package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store"
)

// visits records the paths a browser was sent to, so a test can prove where
// it never went.
type visits struct {
	mu    sync.Mutex
	paths []string
}

func (v *visits) add(u *url.URL) {
	v.mu.Lock()
	v.paths = append(v.paths, u.Path)
	v.mu.Unlock()
}

func (v *visits) saw(suffix string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range v.paths {
		if strings.HasSuffix(p, suffix) {
			return true
		}
	}
	return false
}

// tracked wraps a browser so that every redirect it follows is recorded.
func tracked(b *http.Client) (*http.Client, *visits) {
	v := &visits{}
	inner := b.CheckRedirect
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		v.add(req.URL)
		return inner(req, via)
	}
	return b, v
}

// notConfigured mentions "list my open PRs" as user in a new thread and
// returns the Connect link of the private "not configured" reply.
func (e *env) notConfigured(user string) (thread, link string) {
	e.t.Helper()
	root, _ := e.mention(user, "list my open PRs", "")
	eph, err := e.slack.WaitForMessage(ctxFor(e.t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == user && m.ThreadTS == root && strings.Contains(plain(m), "GitHub credentials not configured")
	})
	if err != nil {
		e.t.Fatalf("no private 'not configured' reply for %s: %v", user, err)
	}
	return root, buttonURL(e.t, eph.Blocks, "/connect/github")
}

// storedLinks stops the bot (bbolt has one writer), reads the links of the
// users from the database file, and starts the bot again.
func (e *env) storedLinks(users ...string) []tandem.Link {
	e.t.Helper()
	e.stop()
	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(e.t), Timeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []tandem.Link
	for _, u := range users {
		ls, err := db.Links(ctxFor(e.t), "T0TANDEM", u)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ls...)
	}
	db.Close()
	e.start()
	return out
}

// TestForwardedConnectLinkLinksNothing is the forwarded-link attack end to
// end: Bob's "Connect GitHub" link, opened in Alice's browser (signed in to
// Slack as Alice and to GitHub as alice-gh), links nothing and never
// reaches GitHub's token endpoint; Bob is told; his next turn is still "not
// configured"; the link is spent; Bob's own browser then links a new one.
func TestForwardedConnectLinkLinksNothing(t *testing.T) {
	e := newEnv(t)
	e.start()
	thread, bobsLink := e.notConfigured("UBOB")

	alice, went := tracked(e.browserAs("UALICE", "alice-gh"))
	status, page := open(t, alice, bobsLink)
	if status != http.StatusForbidden || !strings.Contains(page, "This link was made for another Slack user") || !strings.Contains(page, "use /connect in Slack") {
		t.Fatalf("Bob's link in Alice's browser: %d %s", status, page)
	}
	if went.saw("/login/oauth/authorize") {
		t.Error("Alice's browser was sent to GitHub with Bob's link")
	}
	if n := e.gh.TokenRequests(); n != 0 {
		t.Errorf("GitHub's token endpoint was called %d times, want 0", n)
	}
	if ls := e.storedLinks("UBOB", "UALICE"); len(ls) != 0 {
		t.Fatalf("%d links stored after a forwarded link, want 0", len(ls))
	}
	dm, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.Channel == "DUBOB" && strings.Contains(plain(m), "opened the Connect GitHub link Tandem made for you")
	})
	if err != nil {
		t.Fatalf("Bob was not told: %v", err)
	}
	if !strings.Contains(plain(dm), "<@UALICE>") {
		t.Errorf("Bob's DM does not say who opened his link: %s", plain(dm))
	}

	// Bob's next turn: still not configured, and GitHub saw no search.
	e.mention("UBOB", "list my open PRs", thread)
	e.reply(thread, "GitHub credentials not configured")
	if toks := e.searchTokens(); len(toks) != 0 {
		t.Errorf("GitHub received %d searches, want none", len(toks))
	}

	// The link is spent, even for Bob.
	if status, page := open(t, e.browserAs("UBOB", "bob-gh"), bobsLink); status != http.StatusGone || !strings.Contains(page, "already used") {
		t.Errorf("the spent link reopened by Bob: %d %s", status, page)
	}

	// A new link, in Bob's own browser.
	status, page = open(t, e.browserAs("UBOB", "bob-gh"), e.connectLink("UBOB", tandem.GitHub))
	if status != 200 || !strings.Contains(page, "GitHub account bob-gh is now linked to @bob in Tandem") {
		t.Fatalf("Bob's own link: %d %s", status, page)
	}
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.Channel == "DUBOB" && strings.Contains(plain(m), "GitHub account bob-gh is now linked to <@UBOB>")
	}); err != nil {
		t.Errorf("no DM confirming Bob's link: %v", err)
	}
	e.mention("UBOB", "list my open PRs", thread)
	e.reply(thread, "ran as <@UBOB> · GitHub: bob-gh")
	for _, r := range e.gh.Requests() {
		if r.Path == "/search/issues" && r.Login != "bob-gh" {
			t.Errorf("a search reached GitHub as %q, want bob-gh", r.Login)
		}
	}
}

// TestBrowserNotSignedInToSlackStopsAtSlack: without a Slack session the
// browser stays on Slack's sign-in page; GitHub is never visited.
func TestBrowserNotSignedInToSlackStopsAtSlack(t *testing.T) {
	e := newEnv(t)
	e.start()
	_, link := e.notConfigured("UBOB")
	b, went := tracked(e.browserAs("", "bob-gh"))
	status, page := open(t, b, link)
	if status != 200 || !strings.Contains(page, "Sign in to Tandem") {
		t.Fatalf("a browser signed out of Slack: %d %s", status, page)
	}
	if went.saw("/login/oauth/authorize") || e.gh.TokenRequests() != 0 {
		t.Error("a browser not signed in to Slack reached GitHub")
	}
	if ls := e.storedLinks("UBOB"); len(ls) != 0 {
		t.Errorf("%d links stored, want 0", len(ls))
	}
}

// TestOneGitHubAccountOneSlackUser: a second Slack user linking a GitHub
// account that another already linked is refused, without naming the
// other, and keeps no token; the first user's link keeps working.
func TestOneGitHubAccountOneSlackUser(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	_, carolsLink := e.notConfigured("UCAROL")
	status, page := open(t, e.browserAs("UCAROL", "alice-gh"), carolsLink)
	if status != http.StatusConflict || !strings.Contains(page, "already linked to another Slack user") {
		t.Fatalf("Carol linking alice-gh: %d %s", status, page)
	}
	if strings.Contains(page, "UALICE") || strings.Contains(page, "@alice") {
		t.Errorf("the refusal names the other Slack user: %s", page)
	}
	if ls := e.storedLinks("UCAROL"); len(ls) != 0 {
		t.Errorf("Carol has %d links, want 0", len(ls))
	}
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
}

// TestServeNeedsSlackSignIn: serve refuses to start without the Slack
// app's client, naming the variables, unless told to go without it.
func TestServeNeedsSlackSignIn(t *testing.T) {
	e := newEnv(t)
	delete(e.vars, "TANDEM_SLACK_CLIENT_ID")
	delete(e.vars, "TANDEM_SLACK_CLIENT_SECRET")
	err := run(ctxFor(t), []string{"serve"}, e.getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "TANDEM_SLACK_CLIENT_ID") || !strings.Contains(err.Error(), "TANDEM_SLACK_CLIENT_SECRET") ||
		!strings.Contains(err.Error(), "TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN") {
		t.Fatalf("serve without Sign in with Slack: %v", err)
	}
}

// confirmToken finds the single-use token of the confirmation form.
var confirmToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

// TestConnectWithoutSlackSignIn: with TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN
// the link's page names the Slack user and workspace and goes on only by a
// POST from the same browser; the link still works once.
func TestConnectWithoutSlackSignIn(t *testing.T) {
	e := newEnv(t)
	delete(e.vars, "TANDEM_SLACK_CLIENT_ID")
	delete(e.vars, "TANDEM_SLACK_CLIENT_SECRET")
	e.vars["TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN"] = "true"
	e.start()
	if !strings.Contains(e.logs.String(), "TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true") {
		t.Error("no warning at start")
	}
	_, link := e.notConfigured("UBOB")
	b, went := tracked(e.browserAs("", "bob-gh"))
	status, page := open(t, b, link)
	if status != 200 || !strings.Contains(page, "@bob") || !strings.Contains(page, "Tandem workspace") {
		t.Fatalf("confirmation page: %d %s", status, page)
	}
	if went.saw("/login/oauth/authorize") {
		t.Fatal("the GET alone went on to GitHub")
	}
	m := confirmToken.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no confirmation form: %s", page)
	}
	token := url.Values{"token": {html.UnescapeString(m[1])}}
	e.remember(token.Get("token"))
	// Another browser cannot use the token.
	if resp, err := http.PostForm(e.public+"/connect/github/confirm", token); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the token from another browser: %v %v", resp, err)
	}
	// The token was spent by that attempt: this browser starts over.
	resp, err := b.PostForm(e.public+"/connect/github/confirm", token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a spent confirmation token: %d", resp.StatusCode)
	}
	link = e.connectLink("UBOB", tandem.GitHub)
	_, page = open(t, b, link)
	m = confirmToken.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no confirmation form: %s", page)
	}
	resp, err = b.PostForm(e.public+"/connect/github/confirm", url.Values{"token": {html.UnescapeString(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "GitHub account bob-gh is now linked to @bob") {
		t.Fatalf("confirmed link: %d %s", resp.StatusCode, body)
	}
	if status, page := open(t, b, link); status != http.StatusGone {
		t.Errorf("the used link again: %d %s", status, page)
	}
	if ls := e.storedLinks("UBOB"); len(ls) != 1 || ls[0].Login != "bob-gh" {
		t.Errorf("Bob's links: %+v, want bob-gh", ls)
	}
}
