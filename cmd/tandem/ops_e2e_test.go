package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

var update = flag.Bool("update", false, "rewrite the golden Block Kit files in testdata/golden")

// golden compares a reply's blocks, with loopback ports, timestamps and
// SHAs made stable, to testdata/golden/name.json.
func golden(t *testing.T, name string, m fakeslack.Message) {
	t.Helper()
	var v any
	if err := json.Unmarshal(m.Blocks, &v); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(v, "", "  ")
	got = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).ReplaceAll(got, []byte("HOST"))
	got = regexp.MustCompile(`[0-9a-f]{40}`).ReplaceAll(got, []byte("SHA"))
	got = regexp.MustCompile(`\b[0-9a-f]{7}\b`).ReplaceAll(got, []byte("SHORT"))
	got = regexp.MustCompile(`\\u003c!date\^[0-9]+\^([^|]*)\|[^\\]*\\u003e`).ReplaceAll(got, []byte(`<!date^TIME^$1|TIME>`))
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/tandem -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: blocks differ from %s:\n%s", name, path, got)
	}
}

// TestCommitAuthorIsTheSender: in one session two people commit to the same
// repository; each commit's author, as GitHub records it and as the reply
// shows it, is that message's sender.
func TestCommitAuthorIsTheSender(t *testing.T) {
	e := newEnv(t)
	e.gh.AddRepo("acme/notes")
	e.gh.AddCollaborator("acme/notes", "alice-gh")
	e.gh.AddCollaborator("acme/notes", "bob-gh")
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")

	root, _ := e.mention("UALICE", "commit notes/standup.md to acme/notes Shipped the fix | Add standup note", "")
	r := e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
	if !strings.Contains(plain(r), "by *alice-gh*") {
		t.Errorf("alice's commit reply does not name her as author: %s", plain(r))
	}
	golden(t, "github_commit", r)
	e.mention("UBOB", "commit notes/standup.md to acme/notes Reviewed it | Update standup note", root)
	r = e.reply(root, "ran as <@UBOB> · GitHub: bob-gh")
	if !strings.Contains(plain(r), "by *bob-gh*") || !strings.Contains(plain(r), "Updated notes/standup.md") {
		t.Errorf("bob's commit reply: %s", plain(r))
	}
	var authors []string
	for _, c := range e.gh.Commits() {
		if c.Repo == "acme/notes" && c.Path == "notes/standup.md" {
			authors = append(authors, c.AuthorLogin)
		}
	}
	if strings.Join(authors, ",") != "alice-gh,bob-gh" {
		t.Errorf("GitHub recorded commit authors %v, want alice-gh then bob-gh", authors)
	}
}

// TestGitHubOperationsRenderAndUseTheSender runs each GitHub operation once
// as Alice and checks the request GitHub saw and the reply's blocks.
func TestGitHubOperationsRenderAndUseTheSender(t *testing.T) {
	e := newEnv(t)
	e.gh.AddRepo("acme/tools")
	e.gh.AddCollaborator("acme/tools", "alice-gh")
	n := e.gh.AddPullRequest("acme/tools", "bob-gh", "Speed up the build", false)
	e.gh.RequestReview("acme/tools", n, "alice-gh")
	e.gh.AddCheckRun("acme/tools", n, "ci/test", "completed", "success")
	e.gh.AddReview("acme/tools", n, "carol-gh", "APPROVED", "LGTM")
	e.gh.AddIssue("acme/tools", "bob-gh", "Flaky deploy", "alice-gh")
	e.start()
	e.connect("UALICE", "alice-gh")

	root, _ := e.mention("UALICE", "help", "")
	e.reply(root, "Tandem runs every message")
	steps := []struct {
		name, text, want string
		method, path     string
	}{
		{"github_my_prs", "list my open PRs", "2 open pull requests", "GET", "/search/issues"},
		{"github_review_requests", "PRs waiting for my review", "1 pull request waiting for your review", "GET", "/search/issues"},
		{"github_my_issues", "my github issues", "1 open GitHub issue", "GET", "/search/issues"},
		{"github_create_issue", "create issue in acme/tools Broken link | The docs link 404s", "Created acme/tools#", "POST", "/repos/acme/tools/issues"},
		{"github_comment", "comment on acme/tools#1 On it", "Commented on acme/tools#1", "POST", "/repos/acme/tools/issues/1/comments"},
		{"github_pr_status", "status of acme/tools#1", "Mergeable", "GET", "/repos/acme/tools/pulls/1/reviews"},
	}
	for _, s := range steps {
		before := len(e.gh.Requests())
		e.mention("UALICE", s.text, root)
		r := e.reply(root, s.want)
		golden(t, s.name, r)
		found := false
		for _, req := range e.gh.Requests()[before:] {
			if req.Login != "alice-gh" {
				t.Errorf("%s: GitHub saw %s %s with %q's token", s.name, req.Method, req.Path, req.Login)
			}
			if req.Method == s.method && req.Path == s.path {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: GitHub never saw %s %s", s.name, s.method, s.path)
		}
	}
}

// TestErrorsPeopleUnderstand: refusals name the identity, rate limits say
// whose and when, outages are retried once then explained, bad input never
// reaches GitHub.
func TestErrorsPeopleUnderstand(t *testing.T) {
	e := newEnv(t)
	e.gh.AddPrivateRepo("bob-gh/secret", "bob-gh")
	e.start()
	e.connect("UALICE", "alice-gh")
	root, _ := e.mention("UALICE", "help", "")
	e.reply(root, "Tandem runs every message")

	e.mention("UALICE", "comment on bob-gh/secret#1 hello", root)
	e.reply(root, "GitHub account alice-gh cannot see bob-gh/secret")

	before := len(e.gh.Requests())
	e.mention("UALICE", "create issue in not-a-repo Title", root)
	e.reply(root, "a repository as owner/repo")
	e.mention("UALICE", "comment on acme/tools#1 "+strings.Repeat("long ", 20000), root)
	e.reply(root, "Tandem reads commands of at most")
	if n := len(e.gh.Requests()) - before; n != 0 {
		t.Errorf("invalid input sent %d requests to GitHub", n)
	}

	e.gh.SetOutage(502)
	before = len(e.gh.Requests())
	e.mention("UALICE", "list my open PRs", root)
	e.reply(root, "The provider is not answering")
	e.gh.SetOutage(0)
	searches := 0
	for _, r := range e.gh.Requests()[before:] {
		if r.Path == "/search/issues" {
			searches++
		}
	}
	if searches != 2 {
		t.Errorf("GitHub saw %d searches during an outage, want 2 (one retry)", searches)
	}
	e.mention("UALICE", "list my open PRs", root)
	e.reply(root, "2 open pull requests")

	e.gh.SetRateLimited("alice-gh", time.Now().Add(20*time.Minute))
	e.mention("UALICE", "list my open PRs", root)
	r := e.reply(root, "Rate limited")
	if !strings.Contains(plain(r), "resets") {
		t.Errorf("rate limit reply does not say when it resets: %s", plain(r))
	}
}

// TestSlowTurnShowsItIsWorking: a turn longer than a second gets a reaction
// on its message, removed when the reply is posted.
func TestSlowTurnShowsItIsWorking(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.gh.SetLatency(1500 * time.Millisecond)
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "2 open pull requests")
	if a, r := e.slack.Calls("reactions.add"), e.slack.Calls("reactions.remove"); a != 1 || r != 1 {
		t.Errorf("reactions added %d, removed %d; want 1 and 1", a, r)
	}
	if got := e.slack.Reactions(channel, root); len(got) != 0 {
		t.Errorf("reactions left on the message: %v", got)
	}
	e.gh.SetLatency(0)
	e.mention("UALICE", "list my open PRs", root)
	waitFor(t, "second reply", func() bool {
		return e.count(func(m fakeslack.Message) bool { return m.ThreadTS == root && m.Method == "chat.postMessage" }) == 2
	})
	if a := e.slack.Calls("reactions.add"); a != 1 {
		t.Errorf("a fast turn added a reaction (%d in all)", a)
	}
}

// TestOtherProvidersOperations runs each GitLab, Jira and Google operation
// once as Alice: the request reached the provider with her token, and the
// reply's blocks match the golden files.
func TestOtherProvidersOperations(t *testing.T) {
	e := newEnv(t)
	e.gl.AddMember("acme/alice", "alice-gl")
	n := e.gl.AddMergeRequest("acme/alice", "bob-gl", "Review me", false)
	e.gl.RequestReview("acme/alice", n, "alice-gl")
	e.gl.AddIssue("acme/alice", "bob-gl", "GitLab task", "alice-gl")
	e.google.AddFile("alice@example.test", "Quarterly plan", "application/vnd.google-apps.document", "the quarterly plan")
	e.start()
	e.connectAll("UALICE")
	root, _ := e.mention("UALICE", "help", "")
	e.reply(root, "Tandem runs every message")
	type request struct{ method, path string }
	steps := []struct {
		name, text, want string
		seen             func() []string // "METHOD path login" of the provider's requests
		expect           string
	}{
		{"gitlab_my_mrs", "list my open MRs", "open merge request", e.glSeen, "GET /merge_requests alice-gl"},
		{"gitlab_review_mrs", "MRs waiting for my review", "waiting for your review", e.glSeen, "GET /merge_requests alice-gl"},
		{"gitlab_my_issues", "my gitlab issues", "open GitLab issue", e.glSeen, "GET /issues alice-gl"},
		{"gitlab_create_issue", "create gitlab issue in acme/alice Flaky pipeline | it fails", "Created acme/alice#", e.glSeen, "POST /projects/acme%2Falice/issues alice-gl"},
		{"gitlab_comment_mr", "comment on acme/alice!1 Looks good", "Commented on acme/alice!1", e.glSeen, "POST /projects/acme%2Falice/merge_requests/1/notes alice-gl"},
		{"jira_my_issues", "my jira issues", "open Jira issue", e.jiraSeen, "alice@example.test"},
		{"jira_create", "create jira issue in OPS Login fails | steps", "Created OPS-", e.jiraSeen, "POST"},
		{"jira_comment", "comment on OPS-1 Deployed", "Commented on OPS-1", e.jiraSeen, "POST"},
		{"jira_move", "move OPS-1 to In Progress", "Moved OPS-1 to In Progress", e.jiraSeen, "POST"},
		{"jira_show", "show OPS-1", "OPS-1 Task for alice", e.jiraSeen, "GET"},
		{"google_meetings_today", "my meetings today", "meeting", e.googleSeen, "GET /calendar/v3/calendars/primary/events alice@example.test"},
		{"google_find_docs", "find docs about quarterly plan", "Quarterly plan", e.googleSeen, "GET /drive/v3/files alice@example.test"},
	}
	for _, s := range steps {
		before := len(s.seen())
		r := e.ask("UALICE", s.text, root, s.want)
		if !strings.Contains(plain(r), "ran as <@UALICE>") {
			t.Errorf("%s: reply not attributed to Alice: %s", s.name, plain(r))
		}
		golden(t, s.name, r)
		seen := s.seen()[before:]
		found := false
		for _, line := range seen {
			if strings.Contains(line, s.expect) {
				found = true
			}
			if !strings.Contains(line, "alice") {
				t.Errorf("%s: the provider saw %q, not Alice's token", s.name, line)
			}
		}
		if !found {
			t.Errorf("%s: no request matching %q in %v (all: %v)", s.name, s.expect, seen, s.seen())
		}
	}
}

func (e *env) glSeen() []string {
	var out []string
	for _, r := range e.gl.Requests() {
		out = append(out, r.Method+" "+r.Path+" "+r.Login)
	}
	return out
}

func (e *env) jiraSeen() []string {
	var out []string
	for _, r := range e.jira.Requests() {
		if r.Token != "" {
			out = append(out, r.Method+" "+r.Path+" "+r.Login)
		}
	}
	return out
}

func (e *env) googleSeen() []string {
	var out []string
	for _, r := range e.google.Requests() {
		out = append(out, r.Method+" "+r.Path+" "+r.Login)
	}
	return out
}
