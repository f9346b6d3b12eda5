package github_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/internal/fakegithub"
	"golang.org/x/oauth2"
)

// startFake runs a fake GitHub with alice (who has a public email) and bob
// (who has none, so his commits carry his noreply address) and returns a
// provider pointed at it and a client for each user.
func startFake(t *testing.T) (fake *fakegithub.Server, p *github.Provider, as map[string]*http.Client) {
	t.Helper()
	fake = fakegithub.New(fakegithub.Options{Users: []fakegithub.User{
		{Login: "alice", ID: 1001, Name: "Alice Liddell", Email: "alice@example.com"},
		{Login: "bob", ID: 1002},
	}})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := github.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	as = map[string]*http.Client{}
	for _, login := range []string{"alice", "bob"} {
		tok, err := fake.MintToken(login, "repo", "read:user")
		if err != nil {
			t.Fatal(err)
		}
		as[login] = oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))
	}
	return fake, github.New(cfg), as
}

// Two people commit to the same repository, each with their own token: each
// commit's author login is the committer's own, as GitHub reports it.
func TestCommitFileAgainstFakeGitHub(t *testing.T) {
	fake, p, as := startFake(t)
	fake.AddRepo("acme/widgets")
	fake.AddCollaborator("acme/widgets", "alice")
	fake.AddCollaborator("acme/widgets", "bob")
	fake.AddBranch("acme/widgets", "docs")
	ctx := context.Background()

	first, err := p.CommitFile(ctx, as["alice"], tandem.FileCommit{Repo: "acme/widgets", Path: "notes/standup.md", Message: "Standup notes", Content: []byte("- alice: retries\n")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.CommitFile(ctx, as["bob"], tandem.FileCommit{Repo: "acme/widgets", Path: "notes/standup.md", Message: "Add bob", Content: []byte("- alice: retries\n- bob: go 1.26\n")})
	if err != nil {
		t.Fatal(err)
	}
	third, err := p.CommitFile(ctx, as["bob"], tandem.FileCommit{Repo: "acme/widgets", Branch: "docs", Path: "docs/Q3 plan.md", Message: "Plan", Content: []byte("ship\n")})
	if err != nil {
		t.Fatal(err)
	}
	if first.AuthorLogin != "alice" || !first.Created || second.AuthorLogin != "bob" || second.Created || third.AuthorLogin != "bob" || !third.Created {
		t.Errorf("results %+v, %+v, %+v: want alice's creation, bob's update, bob's creation", first, second, third)
	}
	if first.SHA == second.SHA || first.URL != fake.URL()+"/acme/widgets/commit/"+first.SHA {
		t.Errorf("SHA %s then %s, URL %s", first.SHA, second.SHA, first.URL)
	}
	want := []fakegithub.Commit{
		{Repo: "acme/widgets", Path: "notes/standup.md", Branch: "main", SHA: first.SHA, AuthorLogin: "alice", Message: "Standup notes"},
		{Repo: "acme/widgets", Path: "notes/standup.md", Branch: "main", SHA: second.SHA, AuthorLogin: "bob", Message: "Add bob"},
		{Repo: "acme/widgets", Path: "docs/Q3 plan.md", Branch: "docs", SHA: third.SHA, AuthorLogin: "bob", Message: "Plan"},
	}
	if diff := cmp.Diff(fake.Commits(), want); diff != "" {
		t.Errorf("commits (-got +want):\n%s", diff)
	}
	for _, r := range fake.Requests() {
		if r.Token == "" || (r.Login != "alice" && r.Login != "bob") {
			t.Errorf("request %s %s ran as %q", r.Method, r.Path, r.Login)
		}
	}

	// Each identity sees only what it may.
	fake.AddPrivateRepo("alice/notes", "alice")
	_, err = p.CommitFile(ctx, as["bob"], tandem.FileCommit{Repo: "alice/notes", Path: "todo.md", Message: "m", Content: []byte("x")})
	if tandem.ErrorCode(err) != tandem.ENOTFOUND || tandem.ErrorMessage(err) != "GitHub account bob cannot see alice/notes, or it does not exist." {
		t.Errorf("bob on alice's private repository: %v (%q)", err, tandem.ErrorMessage(err))
	}
	fake.AddRepo("alice/public")
	_, err = p.CommitFile(ctx, as["bob"], tandem.FileCommit{Repo: "alice/public", Path: "x.md", Message: "m", Content: []byte("x")})
	if tandem.ErrorCode(err) != tandem.EFORBIDDEN || tandem.ErrorMessage(err) != "GitHub account bob can see alice/public but cannot push to it." {
		t.Errorf("bob on alice's public repository: %v (%q)", err, tandem.ErrorMessage(err))
	}
	if _, err = p.CommitFile(ctx, as["alice"], tandem.FileCommit{Repo: "alice/notes", Path: "todo.md", Message: "m", Content: []byte("x")}); err != nil {
		t.Errorf("alice on her private repository: %v", err)
	}
	_, err = p.CommitFile(ctx, as["alice"], tandem.FileCommit{Repo: "acme/widgets", Branch: "nosuch", Path: "x.md", Message: "m", Content: []byte("x")})
	if tandem.ErrorCode(err) != tandem.ENOTFOUND || !strings.Contains(tandem.ErrorMessage(err), `no branch "nosuch"`) {
		t.Errorf("missing branch: %v", err)
	}
	if n := len(fake.Commits()); n != 4 {
		t.Errorf("%d commits, want 4", n)
	}
}

// The other abilities, each as its own user, against the fake.
func TestOpsAgainstFakeGitHub(t *testing.T) {
	fake, p, as := startFake(t)
	fake.AddRepo("acme/widgets")
	fake.AddCollaborator("acme/widgets", "alice")
	fake.AddCollaborator("acme/widgets", "bob")
	ctx := context.Background()

	pr := fake.AddPullRequest("acme/widgets", "bob", "Bump Go to 1.26", false)
	fake.RequestReview("acme/widgets", pr, "alice")
	fake.AddCheckRun("acme/widgets", pr, "build", "completed", "success")
	fake.AddCheckRun("acme/widgets", pr, "lint", "in_progress", "")
	mine := fake.AddIssue("acme/widgets", "bob", "Leaks connections", "alice")
	fake.AddIssue("acme/widgets", "alice", "Reported by alice, assigned to bob", "bob")

	prs, total, err := p.ReviewRequests(ctx, as["alice"], "alice", 10)
	if err != nil || total != 1 || len(prs) != 1 || prs[0].Number != pr || prs[0].Repo != "acme/widgets" {
		t.Errorf("ReviewRequests = %+v (total %d, %v)", prs, total, err)
	}
	issues, total, err := p.OpenIssues(ctx, as["alice"], "", "alice", 10)
	if err != nil || total != 1 || len(issues) != 1 || issues[0].Key != "acme/widgets#"+strconv.Itoa(mine) || issues[0].Assignee != "alice" ||
		issues[0].URL != fake.URL()+"/acme/widgets/issues/"+strconv.Itoa(mine) {
		t.Errorf("OpenIssues = %+v (total %d, %v)", issues, total, err)
	}

	created, err := p.CreateIssue(ctx, as["bob"], "", tandem.NewIssue{Container: "acme/widgets", Title: "Flaky test", Body: "See CI."})
	if err != nil || created.Title != "Flaky test" || created.State != "open" || !strings.HasPrefix(created.Key, "acme/widgets#") {
		t.Fatalf("CreateIssue = %+v, %v", created, err)
	}
	url, err := p.Comment(ctx, as["alice"], "", created.Key, "On it.")
	if err != nil || !strings.HasPrefix(url, created.URL+"#issuecomment-") {
		t.Errorf("Comment = %q, %v", url, err)
	}
	if _, err := p.Comment(ctx, as["alice"], "", "acme/widgets#"+strconv.Itoa(pr), "LGTM"); err != nil {
		t.Errorf("comment on the pull request: %v", err)
	}
	wantComments := []fakegithub.Comment{
		{Repo: "acme/widgets", Number: parseKey(t, created.Key), AuthorLogin: "alice", Body: "On it."},
		{Repo: "acme/widgets", Number: pr, AuthorLogin: "alice", Body: "LGTM"},
	}
	if diff := cmp.Diff(fake.Comments(), wantComments); diff != "" {
		t.Errorf("comments (-got +want):\n%s", diff)
	}

	fake.AddReview("acme/widgets", pr, "alice", "CHANGES_REQUESTED", "Pin the toolchain.")
	fake.AddReview("acme/widgets", pr, "alice", "APPROVED", "")
	fake.AddReview("acme/widgets", pr, "alice", "COMMENTED", "nit")
	st, err := p.PullRequestStatus(ctx, as["bob"], "acme/widgets", pr)
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.PullRequestStatus{
		PullRequest: tandem.PullRequest{Repo: "acme/widgets", Number: pr, Title: "Bump Go to 1.26", URL: fake.URL() + "/acme/widgets/pull/" + strconv.Itoa(pr), UpdatedAt: st.PullRequest.UpdatedAt},
		State:       "open", Mergeable: "yes",
		Checks:  []tandem.Check{{Name: "build", Status: "completed", Conclusion: "success"}, {Name: "lint", Status: "in_progress"}},
		Reviews: []tandem.Review{{Reviewer: "alice", State: "APPROVED"}},
	}
	if diff := cmp.Diff(st, want); diff != "" || st.PullRequest.UpdatedAt.IsZero() {
		t.Errorf("PullRequestStatus (-got +want):\n%s", diff)
	}

	fake.AddPrivateRepo("alice/notes", "alice")
	secret := fake.AddPullRequest("alice/notes", "alice", "Private", false)
	_, err = p.PullRequestStatus(ctx, as["bob"], "alice/notes", secret)
	if tandem.ErrorCode(err) != tandem.ENOTFOUND || tandem.ErrorMessage(err) != "GitHub account bob cannot see alice/notes#"+strconv.Itoa(secret)+", or it does not exist." {
		t.Errorf("bob on alice's private pull request: %v (%q)", err, tandem.ErrorMessage(err))
	}
	_, err = p.CreateIssue(ctx, as["bob"], "", tandem.NewIssue{Container: "alice/notes", Title: "Peek"})
	if tandem.ErrorCode(err) != tandem.ENOTFOUND || !strings.HasPrefix(tandem.ErrorMessage(err), "GitHub account bob cannot see alice/notes") {
		t.Errorf("bob's issue on alice's private repository: %v", err)
	}
	if _, err := p.PullRequestStatus(ctx, as["alice"], "alice/notes", secret); err != nil {
		t.Errorf("alice on her private pull request: %v", err)
	}
}

// parseKey returns the number of an issue key owner/name#N.
func parseKey(t *testing.T, key string) int {
	t.Helper()
	_, n, _ := strings.Cut(key, "#")
	i, err := strconv.Atoi(n)
	if err != nil {
		t.Fatalf("issue key %q: %v", key, err)
	}
	return i
}
