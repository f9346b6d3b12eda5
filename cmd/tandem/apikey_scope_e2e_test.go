package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestAPIKeyScopes: a key made with /tandem apikey create is a read key
// unless --scope write says otherwise, and says so when made, when listed
// and in whoami. A read key's command that changes something is refused
// with 403 forbidden, naming the scope it needs, before anything is
// recorded, posted or sent to GitHub; a write key makes the change as its
// creator.
func TestAPIKeyScopes(t *testing.T) {
	e := newEnv(t)
	e.gh.AddRepo("acme/tools")
	e.gh.AddIssue("acme/tools", "bob-gh", "Flaky deploy", "alice-gh")
	e.start()
	e.connect("UALICE", "alice-gh")

	ack, err := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey create laptop", UserID: "UALICE", ChannelID: channel})
	if err != nil {
		t.Fatal(err)
	}
	read := keyRe.FindString(string(ack))
	e.remember(read)
	if read == "" || !strings.Contains(string(ack), "*read* scope") {
		t.Fatalf("apikey create laptop: %s; want a key with the read scope", ack)
	}
	write := e.createKey("UALICE", "deploy --scope write --expires 30d")
	ack, _ = e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey create bad --scope admin", UserID: "UALICE", ChannelID: channel})
	if !strings.Contains(string(ack), "No key created") || !strings.Contains(string(ack), "use read or write") || keyRe.MatchString(string(ack)) {
		t.Errorf("apikey create bad --scope admin: %s; want no key, naming read and write", ack)
	}
	ack, _ = e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey list", UserID: "UALICE", ChannelID: channel})
	if !strings.Contains(string(ack), "*laptop* · read scope") || !strings.Contains(string(ack), "*deploy* · write scope") || strings.Contains(string(ack), "*bad*") {
		t.Errorf("apikey list does not show each key's scope:\n%s", ack)
	}
	for key, want := range map[string]string{read: "read", write: "write"} {
		status, out := e.call("GET", "/api/v1/whoami", key, "", "")
		if status != 200 || out["scope"] != want || out["key"].(map[string]any)["scope"] != want {
			t.Errorf("whoami of the %s key: %d %v", want, status, out)
		}
	}

	// The read key: refused, nothing posted, recorded or sent to GitHub.
	messages, requests := len(e.slack.Messages()), len(e.gh.Requests())
	status, out := e.post(read, `{"channel":"`+channel+`","text":"comment on acme/tools#1 On it"}`)
	want := "API key laptop has the read scope; this command changes something and needs a key with --scope write."
	if status != 403 || errCode(out) != "forbidden" || errMessage(out) != want {
		t.Errorf("a change with the read key: %d %v; want 403 forbidden %q", status, out, want)
	}
	status, out = e.post(read, `{"channel":"`+channel+`","text":"list my open PRs","allow_changes":true}`)
	if status != 403 || errCode(out) != "forbidden" || !strings.Contains(errMessage(out), "--scope write") {
		t.Errorf("allow_changes with the read key: %d %v; want 403 forbidden", status, out)
	}
	if n := len(e.slack.Messages()) - messages; n != 0 {
		t.Errorf("refused requests posted %d messages", n)
	}
	if n := len(e.gh.Requests()) - requests; n != 0 || len(e.gh.Comments()) != 0 {
		t.Errorf("refused requests reached GitHub %d times, %d comments", n, len(e.gh.Comments()))
	}
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(t), []string{"audit", "--json"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("tandem audit: %v\n%s", err, stderr.String())
	}
	// The two refusals are in the trail, by the read key and as nobody;
	// nothing else of them is.
	refusals := 0
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var rec tandem.AuditRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("tandem audit --json line %q: %v", line, err)
		}
		if rec.Action == "apikey_refused" {
			if rec.Outcome != tandem.OutcomeRefused || rec.Effective != "" || !strings.HasPrefix(rec.Actor, "apikey:") {
				t.Errorf("a refusal audited as %+v", rec)
			}
			refusals++
		} else if strings.Contains(rec.Detail, "comment") {
			t.Errorf("the audit has a refused change: %+v", rec)
		}
	}
	if refusals != 2 {
		t.Errorf("%d refusals audited, want 2:\n%s", refusals, stdout.String())
	}

	// The read key still reads; the write key makes the change as Alice.
	if status, out := e.post(read, `{"channel":"`+channel+`","text":"list my open PRs"}`); status != 200 || out["ok"] != true {
		t.Errorf("a read with the read key: %d %v", status, out)
	}
	status, out = e.post(write, `{"channel":"`+channel+`","text":"comment on acme/tools#1 On it"}`)
	if status != 200 || out["ok"] != true || out["identity"].(map[string]any)["login"] != "alice-gh" {
		t.Errorf("a change with the write key: %d %v", status, out)
	}
	if c := e.gh.Comments(); len(c) != 1 || c[0].AuthorLogin != "alice-gh" {
		t.Errorf("comments at GitHub: %+v; want one, by alice-gh", c)
	}
}

// TestAPIKeyCreateScopeCLI: tandem apikey create makes read keys unless
// --scope write; a scope that is neither exits 2 with one line that says
// what to use, and makes no key; tandem apikey list shows each scope.
func TestAPIKeyCreateScopeCLI(t *testing.T) {
	e := newEnv(t)
	e.start()
	create := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(ctxFor(t), append([]string{"apikey", "create", "--user", "UBOB"}, args...), e.getenv, &stdout, &stderr)
		if key := strings.TrimSpace(stdout.String()); key != "" {
			e.remember(key)
		}
		return stdout.String(), stderr.String(), err
	}
	if _, stderr, err := create("ci"); err != nil {
		t.Fatalf("apikey create ci: %v\n%s", err, stderr)
	}
	if _, stderr, err := create("--scope", "write", "deploy"); err != nil {
		t.Fatalf("apikey create --scope write deploy: %v\n%s", err, stderr)
	}
	if _, stderr, err := create("--scope=read", "laptop"); err != nil {
		t.Fatalf("apikey create --scope=read laptop: %v\n%s", err, stderr)
	}
	stdout, stderr, err := create("--scope", "admin", "root")
	if got := exitStatus(err); got != 2 || stdout != "" {
		t.Errorf("--scope admin: exit %d (%v), stdout %q; want 2 and no key", got, err, stdout)
	}
	if first, _, _ := strings.Cut(stderr, "\n"); !strings.Contains(first, `--scope "admin"`) || !strings.Contains(first, "read or write") || strings.Contains(stderr, "Flags:") {
		t.Errorf("--scope admin: stderr\n%s\nwant one line naming --scope, read and write, and no usage", stderr)
	}

	var out, errOut bytes.Buffer
	if err := run(ctxFor(t), []string{"apikey", "list", "--user", "UBOB", "--json"}, e.getenv, &out, &errOut); err != nil {
		t.Fatalf("apikey list: %v\n%s", err, errOut.String())
	}
	var keys []tandem.APIKey
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil {
		t.Fatal(err)
	}
	got := map[string]tandem.Scope{}
	for _, k := range keys {
		got[k.Name] = k.Scope
	}
	if len(got) != 3 || got["ci"] != tandem.ScopeRead || got["deploy"] != tandem.ScopeWrite || got["laptop"] != tandem.ScopeRead {
		t.Errorf("apikey list --json: scopes %v; want ci read, deploy write, laptop read (and no root)", got)
	}
	out.Reset()
	if err := run(ctxFor(t), []string{"apikey", "list", "--user", "UBOB"}, e.getenv, &out, &errOut); err != nil {
		t.Fatalf("apikey list: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[0], "SCOPE") {
		t.Errorf("apikey list has no SCOPE column:\n%s", out.String())
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 3 || got[f[1]] != tandem.Scope(f[2]) {
			t.Errorf("apikey list line %q does not show %s's scope %s", l, f[1], got[f[1]])
		}
	}
}
