package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// The promise a turn that waits for its sender's link makes, privately.
const (
	rerunPromise   = "If you connect GitHub within 30 minutes of sending your message (with this button, `/connect github` or the App Home), it runs again here."
	reRunPromise   = "If you reconnect GitHub within 30 minutes of sending your message (with this button, `/connect github` or the App Home), it runs again here."
	carolsRerun    = "ran as <@UCAROL> · GitHub: carol-gh"
	carolsPRsReply = "open pull requests"
)

// failedFor waits for the private "credentials not configured" (or
// "expired or revoked") reply of user's turn in thread, and returns it.
func (e *env) failedFor(user, thread, title string) fakeslack.Message {
	e.t.Helper()
	e.reply(thread, title)
	eph, err := e.slack.WaitForMessage(ctxFor(e.t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == user && m.ThreadTS == thread && strings.Contains(plain(m), title)
	})
	if err != nil {
		e.t.Fatalf("no private %q reply for %s: %v", title, user, err)
	}
	return eph
}

// ghSince is what the fake GitHub received after its first n requests.
func (e *env) ghSince(n int) []fakegithub.Request {
	reqs := e.gh.Requests()
	for _, q := range reqs {
		e.remember(q.Token)
	}
	return reqs[min(n, len(reqs)):]
}

// checkRerunAt fails unless GitHub, after its first n requests, received
// exactly: the /user request of login's new link, then one search of the
// re-run, both with the token that link got.
func (e *env) checkRerunAt(n int, login string) {
	e.t.Helper()
	var linkToken string
	searches := 0
	for _, q := range e.ghSince(n) {
		if q.Token == "" {
			continue // the app's own calls (basic auth), such as revoking a grant
		}
		switch {
		case q.Path == "/user" && linkToken == "":
			linkToken = q.Token
		case q.Path == "/search/issues":
			searches++
		}
		if q.Login != login {
			e.t.Errorf("GitHub received %s %s with %q's token, want only %s's", q.Method, q.Path, q.Login, login)
		}
		if linkToken != "" && q.Token != linkToken {
			e.t.Errorf("GitHub received %s %s with a token other than the one %s's new link got", q.Method, q.Path, login)
		}
	}
	if linkToken == "" || searches != 1 {
		e.t.Errorf("GitHub saw the link's /user: %v, and %d searches; want the link, then the re-run's one search", linkToken != "", searches)
	}
}

// TestRerunAfterConnectingThroughAnyPath: a message that failed because
// its sender had not connected GitHub (or GitHub refused their link) says
// it runs again once they connect, and it does, once, as them with their
// new token, whichever way they connect: the button under the failed
// message, /connect, the App Home, or the Reconnect button of the DM that
// said the link died.
func TestRerunAfterConnectingThroughAnyPath(t *testing.T) {
	for _, c := range []struct {
		path    string
		expired bool // the link died at GitHub, rather than never existed
		link    func(e *env, private fakeslack.Message) string
	}{
		{"the failed message's button", false, func(e *env, private fakeslack.Message) string {
			return buttonURL(e.t, private.Blocks, "/connect/github")
		}},
		{"/connect", false, func(e *env, _ fakeslack.Message) string { return e.connectLink("UCAROL", tandem.GitHub) }},
		{"the App Home", false, func(e *env, _ fakeslack.Message) string { return e.homeConnectLink("UCAROL", tandem.GitHub) }},
		{"the DM's Reconnect", true, func(e *env, _ fakeslack.Message) string {
			dm, err := e.slack.WaitForMessage(ctxFor(e.t), func(m fakeslack.Message) bool {
				return m.Channel == "DUCAROL" && strings.Contains(plain(m), "Reconnect GitHub")
			})
			if err != nil {
				e.t.Fatalf("no DM saying Carol's link died: %v", err)
			}
			return buttonURL(e.t, dm.Blocks, "/connect/github")
		}},
	} {
		t.Run(c.path, func(t *testing.T) {
			e := newEnv(t)
			e.start()
			title, promise := "GitHub credentials not configured", rerunPromise
			if c.expired {
				e.connect("UCAROL", "carol-gh")
				e.gh.RevokeGrant("carol-gh")
				title, promise = "GitHub credentials expired or revoked", reRunPromise
			}
			root, _ := e.mention("UCAROL", "list my open PRs", "")
			private := e.failedFor("UCAROL", root, title)
			if !strings.Contains(plain(private), promise) {
				t.Errorf("the private reply does not promise the re-run:\n%s\nwant %q", plain(private), promise)
			}
			u := c.link(e, private)
			n := len(e.gh.Requests())
			if status, page := open(t, e.browser("carol-gh"), u); status != 200 || !strings.Contains(page, "GitHub account carol-gh is now linked") {
				t.Fatalf("connect: %d %s", status, page)
			}
			if r := e.reply(root, carolsRerun); !strings.Contains(plain(r), carolsPRsReply) {
				t.Errorf("the re-run replied %s", plain(r))
			}
			e.settle()
			e.checkRerunAt(n, "carol-gh")
			if got := e.count(func(m fakeslack.Message) bool {
				return m.Method == "chat.postMessage" && m.ThreadTS == root && strings.Contains(plain(m), carolsRerun)
			}); got != 1 {
				t.Errorf("%d re-run replies, want 1", got)
			}
		})
	}
}

// homeConnectLink opens user's App Home and returns the Connect link it
// shows for p.
func (e *env) homeConnectLink(user string, p tandem.ProviderID) string {
	e.t.Helper()
	from := len(e.slack.Views())
	if _, err := e.slack.SendEvent(ctxFor(e.t), e.slack.AppHomeOpenedEvent(user)); err != nil {
		e.t.Fatal(err)
	}
	var u string
	waitFor(e.t, "the App Home with a Connect button", func() bool {
		for _, v := range e.slack.Views()[from:] {
			if v.Method == "views.publish" && v.User == user && strings.Contains(string(v.View), "/connect/"+string(p)) {
				u = buttonURL(e.t, v.View, "/connect/"+string(p))
				return true
			}
		}
		return false
	})
	return u
}

// settle gives a stray re-run, which must not happen, time to show.
func (e *env) settle() { time.Sleep(time.Second) }

// TestRerunNeverForSomeoneElsesConnect: Bob connecting GitHub, and Bob
// opening the Connect link of Carol's failed message, never re-run Carol's
// message, as Bob or anyone; Carol's own connect later does, as Carol.
func TestRerunNeverForSomeoneElsesConnect(t *testing.T) {
	e := newEnv(t)
	e.start()
	root, _ := e.mention("UCAROL", "list my open PRs", "")
	private := e.failedFor("UCAROL", root, "GitHub credentials not configured")
	n := len(e.gh.Requests())

	e.connect("UBOB", "bob-gh")
	// Bob's browser opens Carol's link: it links nothing and re-runs nothing.
	if status, page := open(t, e.browser("bob-gh"), buttonURL(t, private.Blocks, "/connect/github")); status == 200 && strings.Contains(page, "is now linked") {
		t.Fatalf("Bob's browser linked through Carol's link: %s", page)
	}
	e.settle()
	for _, q := range e.ghSince(n) {
		if q.Path != "/user" {
			t.Errorf("GitHub received %s with %s's token after Bob connected; Carol's message must not run", q.Path, q.Login)
		}
	}
	if got := e.count(func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.ThreadTS == root && strings.Contains(plain(m), "ran as")
	}); got != 1 {
		t.Fatalf("%d replies in Carol's thread after Bob connected, want only the failed one", got)
	}

	n = len(e.gh.Requests())
	e.connect("UCAROL", "carol-gh")
	e.reply(root, carolsRerun)
	e.settle()
	e.checkRerunAt(n, "carol-gh")
}

// TestRerunOnceForTwoConnects: a change that failed for want of Carol's
// link is carried out once when Carol connects twice, from the button and
// through /connect at the same moment, and not again when she connects a
// third time. With PostgreSQL the two links complete on two replicas.
func TestRerunOnceForTwoConnects(t *testing.T) {
	for _, backend := range []string{"bbolt", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t)
			issue := e.addFaultRepo()
			addrs := []string{hostPort(e.public)}
			if backend == "postgres" {
				e.vars["TANDEM_DATABASE_URL"] = pgtest.URL(t)
				addrs = append(addrs, "127.0.0.1:"+freePort(t))
			}
			var procs []*faultProc
			for _, a := range addrs {
				procs = append(procs, e.startProc(a))
			}
			root, _ := e.mention("UCAROL", "comment on "+issue+" once-only", "")
			private := e.failedFor("UCAROL", root, "GitHub credentials not configured")
			links := []string{buttonURL(t, private.Blocks, "/connect/github"), e.connectLink("UCAROL", tandem.GitHub)}
			var wg sync.WaitGroup
			for i, u := range links {
				// Each browser comes back from GitHub to its own replica.
				b := e.browserVia(addrs[i%len(addrs)])
				wg.Add(1)
				go func() {
					defer wg.Done()
					if status, page := open(t, b, u); status != 200 || !strings.Contains(page, "GitHub account carol-gh is now linked") {
						t.Errorf("connect: %d %s", status, page)
					}
				}()
			}
			wg.Wait()
			for i, p := range procs {
				if !strings.Contains(p.logs.String(), `"msg":"account linked"`) {
					t.Errorf("replica %d did not complete a link", i+1)
				}
			}
			e.reply(root, "ran as <@UCAROL> · GitHub: carol-gh")
			e.connect("UCAROL", "carol-gh")
			e.settle()
			var authors []string
			for _, c := range e.gh.Comments() {
				if strings.TrimSpace(c.Body) == "once-only" {
					authors = append(authors, c.AuthorLogin)
				}
			}
			if len(authors) != 1 || authors[0] != "carol-gh" {
				t.Errorf("the change was made by %v, want once by carol-gh", authors)
			}
			if got := e.count(func(m fakeslack.Message) bool {
				return m.Method == "chat.postMessage" && m.ThreadTS == root && strings.Contains(plain(m), "ran as <@UCAROL> · GitHub: carol-gh")
			}); got != 1 {
				t.Errorf("%d re-run replies, want 1", got)
			}
		})
	}
}

// browserVia is Carol's browser (carol-gh at GitHub) whose return from
// GitHub reaches the replica at addr rather than the public URL's.
func (e *env) browserVia(addr string) *http.Client {
	b := e.browser("carol-gh")
	check := b.CheckRedirect
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/oauth/github/callback") {
			pub, _ := url.Parse(e.public)
			if req.URL.Host == pub.Host {
				req.URL.Host = addr
			}
		}
		return check(req, via)
	}
	return b
}
