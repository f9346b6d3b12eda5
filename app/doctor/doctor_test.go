package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"github.com/tandembot/tandem/internal/fakejira"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
	bolt "go.etcd.io/bbolt"
)

const (
	testSecret      = "doctor-test-client-secret"
	testSlackID     = "1111.2222"
	testSlackSecret = "doctor-test-slack-secret"
	// testPublicHost is a public-looking name for the public URL
	// server; the test transport dials it on loopback.
	testPublicHost = "tandem.example.test"
)

// testEnv is a whole installation on loopback: the fake Slack and
// providers, a public URL server that answers as tandem serve does, and a
// bbolt database with its key in a folder of its own.
type testEnv struct {
	t      *testing.T
	slack  *fakeslack.Server
	public *httptest.Server
	dir    string
	db     string
	key    []byte
	vars   map[string]string
	// missing404 makes the public URL server answer 404 at every callback.
	missing404 bool
	// skew is added to the Date header of the fake Slack's answers.
	skew time.Duration
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir()}

	e.slack = fakeslack.New(fakeslack.Options{
		OpenIDClientID: testSlackID, OpenIDClientSecret: testSlackSecret,
		TokenErrors: map[string]string{"xoxb-deactivated": "account_inactive", "xapp-uninstalled": "account_inactive"},
	})
	if err := e.slack.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.slack.Close)
	gh := fakegithub.New(fakegithub.Options{ClientID: "gh-client", ClientSecret: testSecret})
	gl := fakegitlab.New(fakegitlab.Options{ClientID: "gl-client", ClientSecret: testSecret})
	jr := fakejira.New(fakejira.Options{ClientID: "jira-client", ClientSecret: testSecret})
	gg := fakegoogle.New(fakegoogle.Options{ClientID: "google-client", ClientSecret: testSecret})
	for _, f := range []interface {
		Start() error
		Close()
	}{gh, gl, jr, gg} {
		if err := f.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /oauth/{provider}/callback", func(w http.ResponseWriter, _ *http.Request) {
		if e.missing404 {
			http.NotFound(w, nil)
			return
		}
		// What tandem's flow answers a callback without a state.
		http.Error(w, "This sign-in is not valid", http.StatusBadRequest)
	})
	e.public = httptest.NewServer(mux)
	t.Cleanup(e.public.Close)

	e.db = filepath.Join(e.dir, "tandem.db")
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e.key = key
	e.createDB(e.db, key)

	e.vars = map[string]string{
		"SLACK_BOT_TOKEN":             e.slack.BotToken(),
		"SLACK_APP_TOKEN":             e.slack.AppToken(),
		"TANDEM_SLACK_API_URL":        e.slack.APIURL(),
		"TANDEM_SLACK_CLIENT_ID":      testSlackID,
		"TANDEM_SLACK_CLIENT_SECRET":  testSlackSecret,
		"TANDEM_SLACK_AUTH_URL":       e.slack.OpenIDAuthorizeURL(),
		"TANDEM_DB":                   e.db,
		"TANDEM_ENCRYPTION_KEY":       secrets.EncodeKey(key),
		"TANDEM_PUBLIC_URL":           e.public.URL,
		"TANDEM_GITHUB_CLIENT_ID":     "gh-client",
		"TANDEM_GITHUB_CLIENT_SECRET": testSecret,
		"TANDEM_GITHUB_URL":           gh.URL(),
		"TANDEM_GITLAB_CLIENT_ID":     "gl-client",
		"TANDEM_GITLAB_CLIENT_SECRET": testSecret,
		"TANDEM_GITLAB_URL":           gl.URL(),
		"TANDEM_JIRA_CLIENT_ID":       "jira-client",
		"TANDEM_JIRA_CLIENT_SECRET":   testSecret,
		"TANDEM_JIRA_URL":             jr.URL(),
		"TANDEM_GOOGLE_CLIENT_ID":     "google-client",
		"TANDEM_GOOGLE_CLIENT_SECRET": testSecret,
		"TANDEM_GOOGLE_URL":           gg.URL(),
	}
	return e
}

// createDB makes a bbolt database the way tandem serve does, with key.
func (e *testEnv) createDB(path string, key []byte) {
	e.t.Helper()
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := store.Open(path, store.Options{Keyring: keys})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		e.t.Fatal(err)
	}
}

// transport is what the test gives the doctor: testPublicHost dials
// the public URL server, and the fake Slack's Date header moves by e.skew.
func (e *testEnv) transport() http.RoundTripper {
	publicAddr := strings.TrimPrefix(e.public.URL, "http://")
	slackHost := strings.TrimPrefix(strings.TrimSuffix(e.slack.APIURL(), "/api/"), "http://")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(addr); host == testPublicHost {
			addr = publicAddr
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(req)
		if err == nil && req.URL.Host == slackHost && e.skew != 0 {
			resp.Header.Set("Date", time.Now().Add(e.skew).UTC().Format(http.TimeFormat))
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// doctor runs the checks with e's variables and transport, and fails the
// test when they created, removed or changed any file in e's folder.
func (e *testEnv) doctor() []Check {
	e.t.Helper()
	before := listing(e.t, e.dir)
	vars := maps.Clone(e.vars)
	d := &checker{getenv: func(k string) string { return vars[k] }, transport: e.transport()}
	checks := d.run(context.Background())
	if after := listing(e.t, e.dir); after != before {
		e.t.Errorf("doctor changed the database's folder:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	return checks
}

// listing describes every file under dir: name, size, mode and time.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s %s\n", path, fi.Size(), fi.Mode(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func report(checks []Check) string {
	var b bytes.Buffer
	Write(&b, checks, false)
	return b.String()
}

// wantOK fails t unless every check passed.
func wantOK(t *testing.T, checks []Check) {
	t.Helper()
	for _, c := range checks {
		if !c.OK {
			t.Errorf("check %q failed:\n%s", c.Name, report(checks))
			return
		}
	}
}

// wantOneFailure fails t unless exactly the check named name failed, and
// its line holds every one of words; it returns that line.
func wantOneFailure(t *testing.T, checks []Check, name string, words ...string) string {
	t.Helper()
	var failures []Check
	for _, c := range checks {
		if !c.OK {
			failures = append(failures, c)
		}
	}
	if len(failures) != 1 || failures[0].Name != name {
		t.Fatalf("want only %q to fail, got:\n%s", name, report(checks))
	}
	line := report(failures)
	for _, w := range words {
		if !strings.Contains(line, w) {
			t.Errorf("the failing line does not say %q:\n%s", w, line)
		}
	}
	return line
}

func find(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in:\n%s", name, report(checks))
	return Check{}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDoctorAllGreen(t *testing.T) {
	e := newTestEnv(t)
	checks := e.doctor()
	wantOK(t, checks)
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
		if strings.HasPrefix(c.Detail, "warning:") {
			t.Errorf("check %q warns: %s", c.Name, c.Detail)
		}
	}
	want := "configuration, slack bot token, clock, slack app token, sign in with slack, provider github, provider gitlab, provider jira, provider google, public url, database, encryption key"
	if got := strings.Join(names, ", "); got != want {
		t.Errorf("checks are\n%s\nwant\n%s", got, want)
	}
	if c := find(t, checks, "database"); !strings.Contains(c.Detail, fmt.Sprintf("schema %d (current)", store.SchemaVersion)) || !strings.Contains(c.Detail, "free on its file system") {
		t.Errorf("database: %s", c.Detail)
	}
	if c := find(t, checks, "encryption key"); !strings.Contains(c.Detail, "opens the database") {
		t.Errorf("encryption key: %s", c.Detail)
	}
	if c := find(t, checks, "public url"); !strings.Contains(c.Detail, "/oauth/github/callback") || !strings.Contains(c.Detail, "/oauth/slack/callback") {
		t.Errorf("public url: %s", c.Detail)
	}
	t.Logf("\n%s", report(checks))
}

// TestDoctorPublicFunction runs Run itself, over the default transport,
// with a key file beside the database of a local public URL.
func TestDoctorPublicFunction(t *testing.T) {
	e := newTestEnv(t)
	delete(e.vars, "TANDEM_ENCRYPTION_KEY")
	if err := os.WriteFile(e.db+".key", []byte(secrets.EncodeKey(e.key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := listing(t, e.dir)
	checks := Run(context.Background(), func(k string) string { return e.vars[k] })
	wantOK(t, checks)
	if c := find(t, checks, "encryption key"); !strings.Contains(c.Detail, "the key file") {
		t.Errorf("encryption key: %s", c.Detail)
	}
	if after := listing(t, e.dir); after != before {
		t.Errorf("Run changed the folder:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestDoctorFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *testEnv)
		check string
		words []string
	}{
		{"bad bot token", func(e *testEnv) { e.vars["SLACK_BOT_TOKEN"] = "xoxb-not-the-one" },
			"slack bot token", []string{"SLACK_BOT_TOKEN", "invalid_auth", "OAuth & Permissions", "xoxb-"}},
		{"bot token of an uninstalled app", func(e *testEnv) { e.vars["SLACK_BOT_TOKEN"] = "xoxb-deactivated" },
			"slack bot token", []string{"SLACK_BOT_TOKEN", "account_inactive", "OAuth & Permissions"}},
		{"app token of an uninstalled app", func(e *testEnv) { e.vars["SLACK_APP_TOKEN"] = "xapp-uninstalled" },
			"slack app token", []string{"SLACK_APP_TOKEN", "account_inactive", "App-Level Tokens"}},
		{"bot token missing", func(e *testEnv) { delete(e.vars, "SLACK_BOT_TOKEN") },
			// Slack is not asked, so neither is its clock.
			"", []string{"SLACK_BOT_TOKEN is not set"}},
		{"user token as bot token", func(e *testEnv) { e.vars["SLACK_BOT_TOKEN"] = "xoxp-user" },
			"", []string{"SLACK_BOT_TOKEN does not start with xoxb-"}},
		{"bad app token", func(e *testEnv) { e.vars["SLACK_APP_TOKEN"] = "xapp-not-the-one" },
			"slack app token", []string{"SLACK_APP_TOKEN", "invalid_auth", "App-Level Tokens", "connections:write"}},
		{"sign-in secret missing", func(e *testEnv) { delete(e.vars, "TANDEM_SLACK_CLIENT_SECRET") },
			"sign in with slack", []string{"TANDEM_SLACK_CLIENT_SECRET", "App Credentials", "TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true"}},
		{"sign-in settings missing", func(e *testEnv) {
			delete(e.vars, "TANDEM_SLACK_CLIENT_ID")
			delete(e.vars, "TANDEM_SLACK_CLIENT_SECRET")
		}, "sign in with slack", []string{"TANDEM_SLACK_CLIENT_ID and TANDEM_SLACK_CLIENT_SECRET"}},
		{"sign-in secret wrong", func(e *testEnv) { e.vars["TANDEM_SLACK_CLIENT_SECRET"] = "wrong" },
			"sign in with slack", []string{"TANDEM_SLACK_CLIENT_SECRET", "bad_client_secret"}},
		{"sign-in flag not a bool", func(e *testEnv) { e.vars["TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN"] = "yes" },
			"sign in with slack", []string{"TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN"}},
		{"provider at a closed port", func(e *testEnv) { e.vars["TANDEM_GITHUB_URL"] = "http://" + closedPort(t) },
			"provider github", []string{"TANDEM_GITHUB_URL", "does not answer", "connection refused"}},
		{"provider API at a closed port", func(e *testEnv) { e.vars["TANDEM_GITLAB_API_URL"] = "http://" + closedPort(t) + "/api/v4/" },
			"provider gitlab", []string{"TANDEM_GITLAB_API_URL", "API", "does not answer"}},
		{"provider secret wrong", func(e *testEnv) { e.vars["TANDEM_GOOGLE_CLIENT_SECRET"] = "wrong" },
			"provider google", []string{"TANDEM_GOOGLE_CLIENT_SECRET", "invalid_client"}},
		{"provider half set", func(e *testEnv) { delete(e.vars, "TANDEM_JIRA_CLIENT_SECRET") },
			"provider jira", []string{"TANDEM_JIRA_CLIENT_SECRET is not set"}},
		{"public URL answers 404", func(e *testEnv) { e.missing404 = true },
			"public url", []string{"TANDEM_PUBLIC_URL", "404", "start tandem serve, or check the reverse proxy"}},
		{"public URL not served", func(e *testEnv) { e.vars["TANDEM_PUBLIC_URL"] = "http://" + closedPort(t) },
			"public url", []string{"TANDEM_PUBLIC_URL", "/healthz", "start tandem serve, or check the reverse proxy"}},
		{"database missing", func(e *testEnv) { e.vars["TANDEM_DB"] = filepath.Join(e.dir, "missing.db") },
			"database", []string{"TANDEM_DB", "no database"}},
		{"database of an older schema", func(e *testEnv) { setSchema(t, e.db, "2") },
			"database", []string{"TANDEM_DB", "schema 2", "tandem migrate"}},
		{"wrong key", func(e *testEnv) {
			other, _ := secrets.GenerateKey()
			e.vars["TANDEM_ENCRYPTION_KEY"] = secrets.EncodeKey(other)
		}, "encryption key", []string{"TANDEM_ENCRYPTION_KEY", "does not open the database"}},
		{"key not base64", func(e *testEnv) { e.vars["TANDEM_ENCRYPTION_KEY"] = "not a key" },
			"encryption key", []string{"TANDEM_ENCRYPTION_KEY"}},
		{"no key at all", func(e *testEnv) { delete(e.vars, "TANDEM_ENCRYPTION_KEY") },
			"encryption key", []string{"TANDEM_ENCRYPTION_KEY is not set", "tandem.db.key"}},
		{"key file beside the database of a public host", func(e *testEnv) {
			delete(e.vars, "TANDEM_ENCRYPTION_KEY")
			if err := os.WriteFile(e.db+".key", []byte(secrets.EncodeKey(e.key)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.public.URL, "http://"))
			e.vars["TANDEM_PUBLIC_URL"] = "http://" + testPublicHost + ":" + port
		}, "encryption key", []string{"TANDEM_ENCRYPTION_KEY", "secret store", testPublicHost}},
		{"clock ahead of Slack's", func(e *testEnv) { e.skew = -5 * time.Minute },
			"clock", []string{"ahead of Slack's", "NTP"}},
		{"clock behind Slack's", func(e *testEnv) { e.skew = 2 * time.Minute },
			"clock", []string{"behind Slack's"}},
		{"another variable wrong", func(e *testEnv) { e.vars["TANDEM_LOG_FORMAT"] = "xml" },
			"configuration", []string{"TANDEM_LOG_FORMAT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			tt.setup(e)
			checks := e.doctor()
			if tt.check == "" {
				// The bot token is not sent, so the clock is not compared
				// either: two lines, both naming the token's check.
				var failing []string
				for _, c := range checks {
					if !c.OK {
						failing = append(failing, c.Name)
					}
				}
				if got := strings.Join(failing, ", "); got != "slack bot token, clock" {
					t.Fatalf("failing: %s\n%s", got, report(checks))
				}
				line := report([]Check{find(t, checks, "slack bot token")})
				for _, w := range tt.words {
					if !strings.Contains(line, w) {
						t.Errorf("the failing line does not say %q:\n%s", w, line)
					}
				}
				return
			}
			line := wantOneFailure(t, checks, tt.check, tt.words...)
			t.Log(line)
			if e.skew != 0 {
				wantSkew(t, line, -e.skew)
			}
		})
	}
}

// wantSkew fails t unless the clock line reports a skew within 2s
// of want (positive: the local clock is ahead): the Date header has whole
// seconds and the request takes a moment.
func wantSkew(t *testing.T, line string, want time.Duration) {
	t.Helper()
	m := regexp.MustCompile(`the local clock is (\S+) (ahead of|behind) Slack's`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no skew in: %s", line)
	}
	got, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("skew %q: %v", m[1], err)
	}
	if m[2] == "behind" {
		got = -got
	}
	if diff := got - want; diff < -2*time.Second || diff > 2*time.Second {
		t.Errorf("skew %s, want %s: %s", got, want, line)
	}
}

// setSchema writes a schema version into the database at path, as an older
// Tandem would have left it.
func setSchema(t *testing.T, path, version string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte(version))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDoctorWarnings(t *testing.T) {
	t.Run("without sign in with slack", func(t *testing.T) {
		e := newTestEnv(t)
		delete(e.vars, "TANDEM_SLACK_CLIENT_ID")
		delete(e.vars, "TANDEM_SLACK_CLIENT_SECRET")
		e.vars["TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN"] = "true"
		checks := e.doctor()
		wantOK(t, checks)
		if c := find(t, checks, "sign in with slack"); !strings.HasPrefix(c.Detail, "warning: TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true") {
			t.Errorf("sign in with slack: %s", c.Detail)
		}
	})
	t.Run("no provider", func(t *testing.T) {
		e := newTestEnv(t)
		for k := range e.vars {
			if strings.HasSuffix(k, "_CLIENT_ID") || strings.HasSuffix(k, "_CLIENT_SECRET") {
				if !strings.HasPrefix(k, "TANDEM_SLACK_") {
					delete(e.vars, k)
				}
			}
		}
		checks := e.doctor()
		wantOK(t, checks)
		if c := find(t, checks, "providers"); !strings.Contains(c.Detail, "warning: no provider is enabled") {
			t.Errorf("providers: %s", c.Detail)
		}
	})
	t.Run("database held by tandem serve", func(t *testing.T) {
		e := newTestEnv(t)
		keys, _ := secrets.NewKeyring(e.key)
		db, err := store.Open(e.db, store.Options{Keyring: keys})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		checks := e.doctor()
		wantOK(t, checks)
		if c := find(t, checks, "database"); !strings.Contains(c.Detail, "warning:") || !strings.Contains(c.Detail, "held by another process") {
			t.Errorf("database: %s", c.Detail)
		}
		if c := find(t, checks, "encryption key"); !strings.Contains(c.Detail, "not compared with the database: the database is in use") {
			t.Errorf("encryption key: %s", c.Detail)
		}
	})
}

func TestDoctorPostgres(t *testing.T) {
	url := pgtest.URL(t)
	e := newTestEnv(t)
	e.vars["TANDEM_DATABASE_URL"] = url

	checks := e.doctor()
	wantOneFailure(t, checks, "database", "TANDEM_DATABASE_URL", "no Tandem schema", "tandem migrate")

	keys, _ := secrets.NewKeyring(e.key)
	db, err := postgres.Open(context.Background(), url, postgres.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	checks = e.doctor()
	wantOK(t, checks)
	if c := find(t, checks, "database"); !strings.Contains(c.Detail, fmt.Sprintf("schema %d (current)", postgres.SchemaVersion)) {
		t.Errorf("database: %s", c.Detail)
	}
	if c := find(t, checks, "encryption key"); !strings.Contains(c.Detail, "opens the database") {
		t.Errorf("encryption key: %s", c.Detail)
	}

	other, _ := secrets.GenerateKey()
	e.vars["TANDEM_ENCRYPTION_KEY"] = secrets.EncodeKey(other)
	wantOneFailure(t, e.doctor(), "encryption key", "TANDEM_ENCRYPTION_KEY", "does not open the database")

	e.vars["TANDEM_DATABASE_URL"] = "postgres://nobody:hunter2@" + closedPort(t) + "/x?sslmode=disable"
	line := wantOneFailure(t, e.doctor(), "database", "TANDEM_DATABASE_URL", "cannot connect")
	if strings.Contains(line, "hunter2") {
		t.Errorf("the line shows the password: %s", line)
	}
}

func TestWrite(t *testing.T) {
	checks := []Check{
		{Name: "slack bot token", OK: true, Detail: "SLACK_BOT_TOKEN is the bot @tandem"},
		{Name: "database", OK: true, Detail: "warning: 512.0 MiB free", Fix: "free space"},
		{Name: "public url", Detail: "TANDEM_PUBLIC_URL answered 404", Fix: "start tandem serve, or check the reverse proxy"},
	}
	var b bytes.Buffer
	if n := Write(&b, checks, false); n != 1 {
		t.Errorf("failed = %d, want 1", n)
	}
	want := "✓ slack bot token: SLACK_BOT_TOKEN is the bot @tandem\n" +
		"✓ database: warning: 512.0 MiB free — free space\n" +
		"✗ public url: TANDEM_PUBLIC_URL answered 404 — start tandem serve, or check the reverse proxy\n"
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	b.Reset()
	if n := Write(&b, checks, true); n != 1 {
		t.Errorf("failed = %d, want 1", n)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if len(got) != 3 || got[2]["name"] != "public url" || got[2]["ok"] != false || got[2]["fix"] == nil || got[0]["ok"] != true {
		t.Errorf("JSON: %s", b.String())
	}
	if _, ok := got[0]["fix"]; ok {
		t.Errorf("a passed check without a fix has a fix field: %s", b.String())
	}

	b.Reset()
	if n := Write(&b, nil, true); n != 0 || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("no checks: %d %q", n, b.String())
	}
}

// TestDoctorSlackRefusals covers the refusals the fake Slack does not give
// for a token it was not configured with.
func TestDoctorSlackRefusals(t *testing.T) {
	d := &checker{cfg: app.Config{SlackAPIURL: "https://slack.com/api/"}, getenv: func(string) string { return "" }}
	for _, code := range []string{"invalid_auth", "not_authed", "account_inactive", "token_revoked"} {
		c := d.slackFailure("slack bot token", "SLACK_BOT_TOKEN", "auth.test", slack.SlackErrorResponse{Err: code}, app.SlackTokenFix("SLACK_BOT_TOKEN"))
		line := report([]Check{c})
		for _, w := range []string{"✗ slack bot token", "Slack refused SLACK_BOT_TOKEN", code, "OAuth & Permissions", "xoxb-"} {
			if !strings.Contains(line, w) {
				t.Errorf("%s: the line does not say %q: %s", code, w, line)
			}
		}
	}
	c := d.slackFailure("slack app token", "SLACK_APP_TOKEN", "apps.connections.open", slack.StatusCodeError{Code: 502, Status: "502 Bad Gateway"}, app.SlackTokenFix("SLACK_APP_TOKEN"))
	if c.OK || !strings.Contains(c.Detail, "HTTP 502") || !strings.Contains(c.Detail, "the default; TANDEM_SLACK_API_URL is not set") {
		t.Errorf("HTTP 502: %+v", c)
	}
	c = d.slackFailure("slack app token", "SLACK_APP_TOKEN", "apps.connections.open", &slack.RateLimitedError{RetryAfter: 30 * time.Second}, app.SlackTokenFix("SLACK_APP_TOKEN"))
	if c.OK || !strings.Contains(c.Fix, "30s") {
		t.Errorf("rate limited: %+v", c)
	}
}
