package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/tandembot/tandem/internal/syncbuf"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"github.com/tandembot/tandem/internal/fakejira"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// Recognisable fake secrets: the suite fails if any reaches a log line or
// the database file in clear.
const (
	testAppToken      = "xapp-1-FAKEAPPTOKEN-e2e-0000000001"
	testBotToken      = "xoxb-FAKEBOTTOKEN-e2e-0000000001"
	testClientSecret  = "gh-FAKE-client-secret-e2e"
	testEncryptionKey = "Zm9yLXRhbmRlbS10ZXN0cy1vbmx5LTMyLWJ5dGVzISE=" // 32 bytes
	testSlackClientID = "1234567890.e2e"
	testSlackSecret   = "slack-FAKE-oidc-secret-e2e"
	channel           = "C0SHARED"
)

// The people of the tests: Slack user id, GitHub login, GitLab username;
// their Jira and Google login is name@example.test.
var people = []struct{ slack, name, login, gitlab string }{
	{"UALICE", "alice", "alice-gh", "alice-gl"},
	{"UBOB", "bob", "bob-gh", "bob-gl"},
	{"UCAROL", "carol", "carol-gh", "carol-gl"},
	{"UDAVE", "dave", "dave-gh", "dave-gl"},
}

// jiraSite is the test's Jira Cloud site.
const jiraSite = "cloud-acme-0001"

// syncBuffer collects the log lines of a run of the binary.
type syncBuffer = syncbuf.Buffer

// env is a whole Tandem installation on loopback: a fake Slack, a fake
// GitHub, and the real binary's run.
type env struct {
	t      *testing.T
	slack  *fakeslack.Server
	gh     *fakegithub.Server
	gl     *fakegitlab.Server
	jira   *fakejira.Server
	google *fakegoogle.Server
	vars   map[string]string
	logs   *syncBuffer
	db     string
	public string

	mu      sync.Mutex
	secrets []string // codes, states and tokens seen during the test
	cancel  context.CancelFunc
	done    chan error
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the fake Slack's options adjusted by slackOpts.
func newEnvWith(t *testing.T, slackOpts func(*fakeslack.Options)) *env {
	t.Helper()
	var users []fakeslack.User
	var ghUsers []fakegithub.User
	for _, p := range people {
		// Dave is a workspace admin, and so a channel admin everywhere.
		users = append(users, fakeslack.User{ID: p.slack, Name: p.name, RealName: p.name, IsAdmin: p.name == "dave"})
		ghUsers = append(ghUsers, fakegithub.User{Login: p.login, Name: p.name})
	}
	port := freePort(t)
	public := "http://127.0.0.1:" + port
	slOpts := fakeslack.Options{
		BotToken: testBotToken, AppToken: testAppToken, Users: users,
		Channels:       []fakeslack.Channel{{ID: channel, Name: "shared", Creator: "UALICE"}},
		PingInterval:   200 * time.Millisecond,
		OpenIDClientID: testSlackClientID, OpenIDClientSecret: testSlackSecret,
		OpenIDRedirectURLs: []string{public + "/oauth/slack/callback"},
	}
	if slackOpts != nil {
		slackOpts(&slOpts)
	}
	sl := fakeslack.New(slOpts)
	if err := sl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Close)

	gh := fakegithub.New(fakegithub.Options{
		ClientID: "e2e-client", ClientSecret: testClientSecret,
		RedirectURL: public + "/oauth/github/callback", Users: ghUsers,
	})
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	for _, p := range people {
		gh.AddRepo(p.login + "/tools")
		gh.AddPullRequest(p.login+"/tools", p.login, "Fix the thing "+p.name+" found", false)
		gh.AddPullRequest(p.login+"/tools", p.login, "Draft by "+p.name, true)
	}

	var glUsers []fakegitlab.User
	var jiraUsers []fakejira.User
	var gUsers []fakegoogle.User
	for _, p := range people {
		glUsers = append(glUsers, fakegitlab.User{Login: p.gitlab, Name: p.name})
		jiraUsers = append(jiraUsers, fakejira.User{Email: p.name + "@example.test", Name: p.name, Sites: []string{jiraSite}})
		gUsers = append(gUsers, fakegoogle.User{Email: p.name + "@example.test", Name: p.name})
	}
	gl := fakegitlab.New(fakegitlab.Options{ClientID: "gl-client", ClientSecret: testClientSecret, Users: glUsers})
	jr := fakejira.New(fakejira.Options{ClientID: "jira-client", ClientSecret: testClientSecret,
		Sites: []fakejira.Site{{CloudID: jiraSite, Name: "acme"}}, Users: jiraUsers})
	gg := fakegoogle.New(fakegoogle.Options{ClientID: "google-client", ClientSecret: testClientSecret, Users: gUsers})
	for _, f := range []interface {
		Start() error
		Close()
	}{gl, jr, gg} {
		if err := f.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
	}
	jr.AddProject(jiraSite, "OPS", "Operations")
	for _, p := range people {
		gl.AddProject("acme/" + p.name)
		gl.AddMergeRequest("acme/"+p.name, p.gitlab, "MR by "+p.name, false)
		jr.AddIssue(jiraSite, fakejira.Issue{Project: "OPS", Summary: "Task for " + p.name, Assignee: p.name + "@example.test"})
		noon := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour) // today, whatever the hour
		gg.AddEvent(p.name+"@example.test", "Standup with "+p.name, noon, noon.Add(30*time.Minute))
	}

	dir := t.TempDir()
	e := &env{
		t: t, slack: sl, gh: gh, gl: gl, jira: jr, google: gg, logs: &syncBuffer{}, db: filepath.Join(dir, "tandem.db"), public: public,
		secrets: []string{testAppToken, testBotToken, testClientSecret, testEncryptionKey, testSlackSecret},
	}
	e.vars = map[string]string{
		"SLACK_APP_TOKEN":             testAppToken,
		"SLACK_BOT_TOKEN":             testBotToken,
		"TANDEM_SLACK_API_URL":        sl.APIURL(),
		"TANDEM_SLACK_CLIENT_ID":      testSlackClientID,
		"TANDEM_SLACK_CLIENT_SECRET":  testSlackSecret,
		"TANDEM_SLACK_AUTH_URL":       sl.OpenIDAuthorizeURL(),
		"TANDEM_DB":                   e.db,
		"TANDEM_ENCRYPTION_KEY":       testEncryptionKey,
		"TANDEM_PUBLIC_URL":           public,
		"TANDEM_HTTP_ADDR":            "127.0.0.1:" + port,
		"TANDEM_GITHUB_CLIENT_ID":     "e2e-client",
		"TANDEM_GITHUB_CLIENT_SECRET": testClientSecret,
		"TANDEM_GITHUB_URL":           gh.URL(),
		"TANDEM_GITLAB_CLIENT_ID":     "gl-client",
		"TANDEM_GITLAB_CLIENT_SECRET": testClientSecret,
		"TANDEM_GITLAB_URL":           gl.URL(),
		"TANDEM_JIRA_CLIENT_ID":       "jira-client",
		"TANDEM_JIRA_CLIENT_SECRET":   testClientSecret,
		"TANDEM_JIRA_URL":             jr.URL(),
		"TANDEM_GOOGLE_CLIENT_ID":     "google-client",
		"TANDEM_GOOGLE_CLIENT_SECRET": testClientSecret,
		"TANDEM_GOOGLE_URL":           gg.URL(),
		"TANDEM_LOG_FORMAT":           "json",
		"TANDEM_SLACK_PING_INTERVAL":  "5s",
	}
	t.Cleanup(e.checkSecrets)
	return e
}

// freePort returns a free port below Linux's ephemeral range (32768 and
// up), which the fakes' ":0" listeners draw from: a port picked there could
// be handed to a fake started after the pick, before run listens on it.
func freePort(t *testing.T) string {
	t.Helper()
	for range 1000 {
		port := strconv.Itoa(20000 + mathrand.IntN(12000))
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

func (e *env) getenv(k string) string { return e.vars[k] }

// start runs the binary's run until stop, and waits until it is connected to
// Slack and serving HTTP.
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opened := e.slack.ConnectionsOpened()
	go func() { done <- run(ctx, []string{"serve"}, e.getenv, io.Discard, e.logs) }()
	e.mu.Lock()
	e.cancel, e.done = cancel, done
	e.mu.Unlock()
	e.t.Cleanup(e.stop)
	waitFor(e.t, "bot connected and serving", func() bool {
		select {
		case err := <-done:
			e.t.Fatalf("run ended early: %v\nlogs:\n%s", err, e.logs.String())
		default:
		}
		resp, err := http.Get(e.public + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && e.slack.ConnectionsOpened() > opened
	})
}

// stop ends the run and waits for it to return.
func (e *env) stop() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.cancel, e.done = nil, nil
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			e.t.Errorf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Fatalf("run did not stop")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mention posts "@tandem text" as user in the channel, in thread threadTS
// ("" starts a thread), delivered like Slack does: as app_mention and as a
// message.channels event, two event ids for one message.
func (e *env) mention(user, text, threadTS string) (ts, eventID string) {
	e.t.Helper()
	ts = e.slack.NextTS()
	full := "<@" + e.slack.BotUserID() + "> " + text
	d, err := e.slack.SendEvent(ctxFor(e.t), fakeslack.AppMentionEvent(channel, user, full, ts, threadTS))
	if err != nil {
		e.t.Fatalf("deliver mention: %v", err)
	}
	if _, err := e.slack.SendEvent(ctxFor(e.t), fakeslack.MessageEvent(channel, user, full, ts, threadTS)); err != nil {
		e.t.Fatalf("deliver message: %v", err)
	}
	return ts, d.EventID
}

// reply waits for a visible reply in thread that contains want.
func (e *env) reply(thread, want string) fakeslack.Message {
	e.t.Helper()
	m, err := e.slack.WaitForMessage(ctxFor(e.t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.ThreadTS == thread && strings.Contains(plain(m), want)
	})
	if err != nil {
		var seen []string
		for _, m := range e.slack.Messages() {
			seen = append(seen, m.Method+" "+m.Channel+"/"+m.ThreadTS+": "+plain(m))
		}
		e.t.Fatalf("no reply in thread %s containing %q: %v\nmessages:\n%s", thread, want, err, strings.Join(seen, "\n"))
	}
	return m
}

// plain is a message's text and every string in its blocks, as a person
// would read them.
func plain(m fakeslack.Message) string {
	var v any
	json.Unmarshal(m.Blocks, &v)
	var parts []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			parts = append(parts, x)
		case map[string]any:
			for _, k := range []string{"text", "elements", "fields", "accessory", "placeholder"} {
				if c, ok := x[k]; ok {
					walk(c)
				}
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return m.Text + "\n" + strings.Join(parts, "\n")
}

// count returns how many messages match.
func (e *env) count(match func(fakeslack.Message) bool) int {
	n := 0
	for _, m := range e.slack.Messages() {
		if match(m) {
			n++
		}
	}
	return n
}

// buttonURL finds the first button URL in blocks that contains part.
func buttonURL(t *testing.T, raw json.RawMessage, part string) string {
	t.Helper()
	found := inBlocks(t, raw, func(x map[string]any) string {
		if u, ok := x["url"].(string); ok && strings.Contains(u, part) {
			return u
		}
		return ""
	})
	if found == "" {
		t.Fatalf("no button URL containing %q in %s", part, raw)
	}
	return found
}

// inBlocks walks the JSON of blocks and returns the first non-empty answer
// of pick for one of its objects.
func inBlocks(t *testing.T, raw json.RawMessage, pick func(map[string]any) string) string {
	t.Helper()
	found, err := findInBlocks(raw, pick)
	if err != nil {
		t.Fatalf("blocks: %v", err)
	}
	return found
}

// findInBlocks is inBlocks for callers that fail their own way: it
// returns the first non-empty pick, "" when there is none, and the error
// of blocks that do not decode.
func findInBlocks(raw json.RawMessage, pick func(map[string]any) string) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	var found string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if found == "" {
				found = pick(x)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return found, nil
}

// browser is a person's browser: it keeps cookies, is signed in to Slack
// as the person one of whose accounts login is (if any), and at a fake
// provider's consent page signs in as login.
func (e *env) browser(login string) *http.Client {
	return e.browserAs(slackUserOf(login), login)
}

// browserAs is a browser signed in to Slack as slackUser ("" for nobody)
// that signs in to providers as login.
func (e *env) browserAs(slackUser, login string) *http.Client {
	jar, _ := cookiejar.New(nil)
	if slackUser != "" {
		base, _ := url.Parse(e.slack.BaseURL())
		c := e.slack.SignInCookie(slackUser)
		e.remember(c.Value)
		jar.SetCookies(base, []*http.Cookie{c})
	}
	return &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			q := req.URL.Query()
			if isAuthorize(req.URL.Path) && login != "" {
				q.Set("login", login)
				req.URL.RawQuery = q.Encode()
				e.remember(q.Get("state"))
			}
			if strings.HasSuffix(req.URL.Path, "/callback") {
				e.remember(q.Get("code"), q.Get("state"))
			}
			return nil
		},
	}
}

func (e *env) remember(vals ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range vals {
		if v != "" {
			e.secrets = append(e.secrets, v)
		}
	}
}

// isAuthorize reports whether path is a fake provider's consent page.
func isAuthorize(path string) bool {
	for _, suffix := range []string{"/login/oauth/authorize", "/oauth/authorize", "/authorize", "/o/oauth2/auth"} {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}

// open visits u in browser and returns the final page.
func open(t *testing.T, browser *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// connect links user's GitHub account as login through /connect github and
// the browser, as a person would.
func (e *env) connect(user, login string) { e.connectTo(user, tandem.GitHub, login) }

// connectLink is the link the Connect button of user's `/connect p` opens.
func (e *env) connectLink(user string, p tandem.ProviderID) string {
	e.t.Helper()
	ack, err := e.slack.SendSlashCommand(ctxFor(e.t), fakeslack.SlashCommand{Command: "/connect", Text: string(p), UserID: user, ChannelID: channel})
	if err != nil {
		e.t.Fatalf("/connect: %v", err)
	}
	return buttonURL(e.t, ack, "/connect/"+string(p))
}

// connectTo links user's account at p as login.
func (e *env) connectTo(user string, p tandem.ProviderID, login string) {
	e.t.Helper()
	status, page := open(e.t, e.browserAs(user, login), e.connectLink(user, p))
	if status != 200 || !strings.Contains(page, p.Name()+" account "+login+" is now linked to @") {
		e.t.Fatalf("connect %s to %s: status %d page %s", login, p, status, page)
	}
}

// connectAll links every provider of the person with Slack id user.
func (e *env) connectAll(user string) {
	e.t.Helper()
	for _, p := range people {
		if p.slack == user {
			e.connectTo(user, tandem.GitHub, p.login)
			e.connectTo(user, tandem.GitLab, p.gitlab)
			e.connectTo(user, tandem.Jira, p.name+"@example.test")
			e.connectTo(user, tandem.Google, p.name+"@example.test")
		}
	}
}

// tokensOf returns the tokens the fake GitHub saw on search requests.
func (e *env) searchTokens() []string {
	var out []string
	for _, r := range e.gh.Requests() {
		if r.Path == "/search/issues" {
			out = append(out, r.Token)
			e.remember(r.Token)
		}
	}
	return out
}

// checkSecrets fails the test if any secret seen in it reached a log line
// or the database file in clear.
func (e *env) checkSecrets() {
	for _, p := range tandem.Providers {
		for _, r := range e.requests(p) {
			e.remember(r.token)
		}
	}
	logs := e.logs.String()
	db, _ := os.ReadFile(e.db)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if len(s) < 8 {
			continue
		}
		if strings.Contains(logs, s) {
			e.t.Errorf("a secret (%.6s…) appears in the logs", s)
		}
		if bytes.Contains(db, []byte(s)) {
			e.t.Errorf("a secret (%.6s…) appears in the database file in clear", s)
		}
	}
	for _, prefix := range []string{"gho_", "ghu_", "ghr_", "xoxb-", "xapp-", "gloas-", "glrt-", "atl-FAKE", "atlr-FAKE", "ya29.", "1//FAKE", "xoxp-", "fake-oidc-code-", "fakeslack-session-"} {
		if strings.Contains(logs, prefix) {
			e.t.Errorf("something token-shaped (%s…) appears in the logs", prefix)
		}
	}
}

// slackUserOf returns the Slack id of the person one of whose provider
// logins is login, or "".
func slackUserOf(login string) string {
	for _, p := range people {
		if login == p.login || login == p.gitlab || login == p.name+"@example.test" {
			return p.slack
		}
	}
	return ""
}

func userOf(login string) string {
	for _, p := range people {
		if p.login == login {
			return p.slack
		}
	}
	panic(fmt.Sprintf("no person %s", login))
}

// providerRequest is one request a fake provider received: its path, the
// bearer token it carried ("" for none) and that token's owner.
type providerRequest struct{ path, token, login string }

// requests lists what the fake of p received, oldest first.
func (e *env) requests(p tandem.ProviderID) []providerRequest {
	var out []providerRequest
	switch p {
	case tandem.GitHub:
		for _, q := range e.gh.Requests() {
			out = append(out, providerRequest{q.Path, q.Token, q.Login})
		}
	case tandem.GitLab:
		for _, q := range e.gl.Requests() {
			out = append(out, providerRequest{q.Path, q.Token, q.Login})
		}
	case tandem.Jira:
		for _, q := range e.jira.Requests() {
			out = append(out, providerRequest{q.Path, q.Token, q.Login})
		}
	case tandem.Google:
		for _, q := range e.google.Requests() {
			out = append(out, providerRequest{q.Path, q.Token, q.Login})
		}
	}
	return out
}
