package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store"
)

// op runs an operator command against the running env and returns stdout.
func (e *env) op(args ...string) string {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(e.t), args, e.getenv, &stdout, &stderr); err != nil {
		e.t.Fatalf("tandem %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// TestSessionReadiness: a shared session whose editors are all connected,
// one missing Jira, one with an expired GitLab link: the Slack view, the
// operator report (text and JSON), notify (dry run, then once per gap) and
// keep-owner-credentials.
func TestSessionReadiness(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connectAll("UALICE")
	e.connectTo("UBOB", tandem.GitHub, "bob-gh")
	e.connectTo("UBOB", tandem.GitLab, "bob-gl")
	e.connectTo("UCAROL", tandem.GitHub, "carol-gh")
	e.connectTo("UCAROL", tandem.GitLab, "carol-gl")
	e.connectTo("UCAROL", tandem.Jira, "carol@example.test")

	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE>")
	e.ask("UALICE", "list my open MRs", root, "GitLab: alice-gl")
	e.ask("UALICE", "my jira issues", root, "Jira: alice@example.test")
	e.ask("UBOB", "whoami", root, "Identities")
	e.gl.RevokeGrant("carol-gl")
	e.ask("UCAROL", "list my open MRs", root, "GitLab credentials expired or revoked")

	// A second shared session that only used GitHub is ready.
	other, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(other, "ran as <@UALICE>")
	e.ask("UBOB", "list my open PRs", other, "ran as <@UBOB>")

	view := e.ask("UALICE", "session", root, "Mode: per-message")
	for _, want := range []string{":warning: <@UBOB> — connected: GitHub, GitLab · missing: Jira", ":warning: <@UCAROL> — connected: GitHub, Jira · needs reconnect: GitLab", ":white_check_mark: <@UALICE> (owner)", "1 of 3 editors ready"} {
		if !strings.Contains(plain(view), want) {
			t.Errorf("session view lacks %q:\n%s", want, plain(view))
		}
	}
	for _, w := range []struct{ user, button string }{{"UBOB", "Connect Jira"}, {"UCAROL", "Reconnect GitLab"}} {
		if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
			return m.Method == "chat.postEphemeral" && m.User == w.user && strings.Contains(plain(m), w.button)
		}); err != nil {
			t.Errorf("%s got no private %q button: %v", w.user, w.button, err)
		}
	}
	if n := e.count(func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == "UALICE" && strings.Contains(plain(m), "needs your own accounts")
	}); n != 0 {
		t.Errorf("the ready owner got %d connect prompts", n)
	}

	report := e.op("sessions", "report")
	for _, want := range []string{"NOT READY", "UBOB: missing jira", "UCAROL: needs reconnect gitlab", "1 sessions ready, 1 not ready"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	var js struct {
		Sessions []struct {
			Session tandem.SessionKey `json:"session"`
			Ready   bool              `json:"ready"`
			Editors []struct {
				User    string   `json:"user"`
				Missing []string `json:"missing"`
			} `json:"editors"`
		} `json:"sessions"`
		Ready    int `json:"ready"`
		NotReady int `json:"not_ready"`
	}
	if err := json.Unmarshal([]byte(e.op("sessions", "report", "--json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Ready != 1 || js.NotReady != 1 || len(js.Sessions) != 2 {
		t.Errorf("JSON report: %+v", js)
	}

	dms := func() int {
		return e.count(func(m fakeslack.Message) bool {
			return strings.HasPrefix(m.Channel, "D") && strings.Contains(m.Text, "need your own accounts")
		})
	}
	dry := e.op("sessions", "notify")
	if !strings.Contains(dry, "would DM UBOB: connect jira") || !strings.Contains(dry, "would DM UCAROL: connect nothing yet; reconnect gitlab") || dms() != 0 {
		t.Errorf("dry run: %s (%d DMs sent)", dry, dms())
	}
	sent := e.op("sessions", "notify", "--send")
	if !strings.Contains(sent, "2 editors notified") {
		t.Errorf("notify --send: %s", sent)
	}
	waitFor(t, "two notify DMs", func() bool { return dms() == 2 })
	again := e.op("sessions", "notify", "--send")
	if !strings.Contains(again, "0 editors notified") || dms() != 2 {
		t.Errorf("second notify: %s (%d DMs)", again, dms())
	}

	kept := e.op("sessions", "keep-owner-credentials", "--all-not-ready", "--operator", "ops-oncall")
	if !strings.Contains(kept, "pending the owner's approval (owner UALICE)") || !strings.Contains(kept, "1 sessions asked") {
		t.Errorf("keep-owner-credentials: %s", kept)
	}
	e.reply(root, "Waiting for the owner's approval")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB>")
	if !strings.Contains(e.op("audit", "--session", "T0TANDEM/"+channel+"/"+root), "operator ops-oncall") {
		t.Error("the audit trail does not name the operator")
	}
}

// TestMigrateCommand: serve refuses an old database and says what to do;
// tandem migrate upgrades it (with a backup) and is idempotent.
func TestMigrateCommand(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "store", "testdata", "schema1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	os.WriteFile(path, raw, 0o600)
	// serve asks Slack about both tokens before it opens the database.
	slack := fakeslack.New(fakeslack.Options{BotToken: testBotToken, AppToken: testAppToken})
	if err := slack.Start(); err != nil {
		t.Fatal(err)
	}
	defer slack.Close()
	vars := map[string]string{
		"TANDEM_SLACK_API_URL": slack.APIURL(),
		"TANDEM_DB":            path, "TANDEM_ENCRYPTION_KEY": "Zml4dHVyZS1rZXktZm9yLXNjaGVtYS0xLXRlc3RzISE=",
		"SLACK_APP_TOKEN": testAppToken, "SLACK_BOT_TOKEN": testBotToken, "TANDEM_HTTP_ADDR": "127.0.0.1:0",
		"TANDEM_SLACK_CLIENT_ID": testSlackClientID, "TANDEM_SLACK_CLIENT_SECRET": testSlackSecret,
	}
	getenv := func(k string) string { return vars[k] }
	var out bytes.Buffer
	if err := run(ctxFor(t), []string{"serve"}, getenv, &out, &out); err == nil || !strings.Contains(err.Error(), "run tandem migrate") {
		t.Errorf("serve on schema 1: %v", err)
	}
	out.Reset()
	if err := run(ctxFor(t), []string{"migrate"}, getenv, &out, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("from schema 1 to %d", store.SchemaVersion)) || !strings.Contains(out.String(), "2 sessions, 2 links") || !strings.Contains(out.String(), ".bak") {
		t.Errorf("migrate said:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctxFor(t), []string{"migrate"}, getenv, &out, &out); err != nil || !strings.Contains(out.String(), "nothing to do") {
		t.Errorf("second migrate: %v %s", err, out.String())
	}
}
