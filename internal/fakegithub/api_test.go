package fakegithub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem/internal/fakegithub"
)

func numbers(items []*gh.Issue) []int {
	var out []int
	for _, it := range items {
		out = append(out, it.GetNumber())
	}
	return out
}

func TestSearchIssues(t *testing.T) {
	s := start(t, fakegithub.Options{})
	s.AddRepo("acme/widgets")
	a1 := s.AddPullRequest("acme/widgets", "alice", "First", false)
	a2 := s.AddPullRequest("acme/widgets", "alice", "Second", true)
	b1 := s.AddPullRequest("acme/widgets", "bob", "Bob's", false)
	s.RequestReview("acme/widgets", b1, "alice")
	i1 := s.AddIssue("acme/widgets", "bob", "Broken", "alice")
	a3 := s.AddPullRequest("alice/tools", "alice", "Third", false)
	ctx := context.Background()
	c := mint(t, s, "alice", "repo")

	tests := []struct {
		q    string
		want []int
	}{
		{"is:pr is:open author:alice", []int{a3, a2, a1}},
		{"is:pr is:open review-requested:alice", []int{b1}},
		{"is:issue is:open assignee:alice", []int{i1}},
		{"is:issue is:open author:bob", []int{i1}},
		{"is:pr draft:true author:alice", []int{a2}},
		{"is:pr repo:acme/widgets author:alice", []int{a2, a1}},
		{"is:pr Second", []int{a2}},
		// @me is the token's account: alice here.
		{"is:pr is:open author:@me", []int{a3, a2, a1}},
		{"is:pr is:open review-requested:@me", []int{b1}},
		{"is:issue is:open assignee:@me", []int{i1}},
	}
	for _, tt := range tests {
		res, _, err := c.Search.Issues(ctx, tt.q, &gh.SearchOptions{Sort: "updated", Order: "desc"})
		if err != nil {
			t.Fatalf("%s: %v", tt.q, err)
		}
		if diff := cmp.Diff(numbers(res.Issues), tt.want); diff != "" || res.GetTotal() != len(tt.want) {
			t.Errorf("%s: total %d, numbers (-got +want):\n%s", tt.q, res.GetTotal(), diff)
		}
	}

	res, resp, err := c.Search.Issues(ctx, "is:pr is:open author:alice", &gh.SearchOptions{ListOptions: gh.ListOptions{PerPage: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetTotal() != 3 || len(res.Issues) != 2 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Errorf("page 1 of 2: total %d, %d items, next %d, last %d", res.GetTotal(), len(res.Issues), resp.NextPage, resp.LastPage)
	}
	it := res.Issues[0]
	if it.GetRepositoryURL() != s.APIURL()+"repos/alice/tools" || it.PullRequestLinks == nil ||
		it.GetHTMLURL() != s.URL()+"/alice/tools/pull/1" || it.GetUser().GetLogin() != "alice" || it.UpdatedAt == nil {
		t.Errorf("item %+v is not shaped like GitHub's", it)
	}
	if got := resp.Header.Get("X-Ratelimit-Resource"); got != "search" {
		t.Errorf("x-ratelimit-resource %q, want search", got)
	}

	for _, q := range []string{"author:alice", "is:pr author:nobody-here"} {
		_, resp, err = c.Search.Issues(ctx, q, nil)
		if err == nil || status(t, resp) != http.StatusUnprocessableEntity {
			t.Errorf("%q: %v, want 422", q, err)
		}
	}
}

func TestPrivateRepoNeedsAccessAndScope(t *testing.T) {
	s := start(t, fakegithub.Options{})
	s.AddPrivateRepo("alice/secret", "alice")
	s.AddPullRequest("alice/secret", "alice", "Hidden", false)
	ctx := context.Background()

	count := func(c *gh.Client) int {
		res, _, err := c.Search.Issues(ctx, "is:pr author:alice", nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.GetTotal()
	}
	if got := count(mint(t, s, "alice", "repo")); got != 1 {
		t.Errorf("owner with repo scope sees %d, want 1", got)
	}
	if got := count(mint(t, s, "alice", "read:user")); got != 0 {
		t.Errorf("owner without repo scope sees %d, want 0", got)
	}
	if got := count(mint(t, s, "bob", "repo")); got != 0 {
		t.Errorf("stranger sees %d, want 0", got)
	}
	_, resp, err := mint(t, s, "bob", "repo").Issues.Create(ctx, "alice", "secret", &gh.IssueRequest{Title: gh.String("hi")})
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("stranger creating an issue: %v, want 404", err)
	}
}

func TestCreateIssueAndComment(t *testing.T) {
	s := start(t, fakegithub.Options{})
	s.AddRepo("acme/widgets")
	s.AddCollaborator("acme/widgets", "alice")
	ctx := context.Background()
	tok, _ := s.MintToken("bob", "repo")
	c := client(t, s, tok)

	is, resp, err := c.Issues.Create(ctx, "acme", "widgets", &gh.IssueRequest{Title: gh.String("It broke"), Body: gh.String("details"), Assignees: &[]string{"alice"}})
	if err != nil || status(t, resp) != http.StatusCreated {
		t.Fatalf("create issue: %v", err)
	}
	if is.GetUser().GetLogin() != "bob" || is.GetNumber() != 1 || len(is.Assignees) != 0 || is.GetHTMLURL() != s.URL()+"/acme/widgets/issues/1" {
		t.Errorf("issue %+v: want #1 by bob, unassigned (bob cannot push)", is)
	}
	cm, resp, err := c.Issues.CreateComment(ctx, "acme", "widgets", 1, &gh.IssueComment{Body: gh.String("me too")})
	if err != nil || status(t, resp) != http.StatusCreated || cm.GetUser().GetLogin() != "bob" {
		t.Fatalf("comment: %v, %+v", err, cm)
	}
	want := []fakegithub.Comment{{Repo: "acme/widgets", Number: 1, AuthorLogin: "bob", Body: "me too"}}
	if diff := cmp.Diff(s.Comments(), want); diff != "" {
		t.Errorf("Comments (-got +want):\n%s", diff)
	}
	_, resp, err = c.Issues.Create(ctx, "acme", "widgets", &gh.IssueRequest{})
	if err == nil || status(t, resp) != http.StatusUnprocessableEntity {
		t.Errorf("issue without title: %v, want 422", err)
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests recorded, want 3", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/repos/acme/widgets/issues" || r.Login != "bob" || r.Token != tok.AccessToken || !strings.Contains(r.Body, "It broke") {
		t.Errorf("recorded %+v", r)
	}
}

func TestContents(t *testing.T) {
	s := start(t, fakegithub.Options{})
	s.AddRepo("acme/widgets")
	s.AddCollaborator("acme/widgets", "alice")
	s.AddBranch("acme/widgets", "docs")
	ctx := context.Background()
	c := mint(t, s, "alice", "repo")

	created, resp, err := c.Repositories.CreateFile(ctx, "acme", "widgets", "notes/today.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Add notes"), Content: []byte("hello\n"), Branch: gh.String("docs"),
	})
	if err != nil || status(t, resp) != http.StatusCreated {
		t.Fatalf("create: %v", err)
	}
	if got := created.Commit.GetAuthor().GetName(); got != "Alice Liddell" {
		t.Errorf("commit author %q", got)
	}
	if got, want := created.Content.GetSHA(), "ce013625030ba8dba906f756967f9e9ca394464a"; got != want {
		t.Errorf("blob sha %s, want git's %s", got, want)
	}
	f, _, _, err := c.Repositories.GetContents(ctx, "acme", "widgets", "notes/today.md", &gh.RepositoryContentGetOptions{Ref: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := f.GetContent(); body != "hello\n" {
		t.Errorf("content %q", body)
	}
	_, dir, _, err := c.Repositories.GetContents(ctx, "acme", "widgets", "", &gh.RepositoryContentGetOptions{Ref: "docs"})
	if err != nil || len(dir) != 1 || dir[0].GetType() != "dir" || dir[0].GetName() != "notes" {
		t.Errorf("root listing %v (%v)", dir, err)
	}

	update := &gh.RepositoryContentFileOptions{Message: gh.String("Edit"), Content: []byte("bye\n"), Branch: gh.String("docs")}
	_, resp, err = c.Repositories.UpdateFile(ctx, "acme", "widgets", "notes/today.md", update)
	if err == nil || status(t, resp) != http.StatusUnprocessableEntity {
		t.Errorf("update without sha: %v, want 422", err)
	}
	update.SHA = gh.String(strings.Repeat("0", 40))
	_, resp, err = c.Repositories.UpdateFile(ctx, "acme", "widgets", "notes/today.md", update)
	if err == nil || status(t, resp) != http.StatusConflict {
		t.Errorf("update with a stale sha: %v, want 409", err)
	}
	update.SHA = created.Content.SHA
	if _, resp, err = c.Repositories.UpdateFile(ctx, "acme", "widgets", "notes/today.md", update); err != nil || status(t, resp) != http.StatusOK {
		t.Errorf("update: %v", err)
	}
	_, resp, err = mint(t, s, "bob", "repo").Repositories.CreateFile(ctx, "acme", "widgets", "x", &gh.RepositoryContentFileOptions{Message: gh.String("x"), Content: []byte("x")})
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("commit without push access: %v, want 404", err)
	}

	commits := s.Commits()
	if len(commits) != 2 {
		t.Fatalf("%d commits, want 2", len(commits))
	}
	want := fakegithub.Commit{Repo: "acme/widgets", Path: "notes/today.md", Branch: "docs", SHA: created.Commit.GetSHA(), AuthorLogin: "alice", Message: "Add notes"}
	if diff := cmp.Diff(commits[0], want); diff != "" {
		t.Errorf("commit (-got +want):\n%s", diff)
	}
}

func TestPullRequestStatus(t *testing.T) {
	s := start(t, fakegithub.Options{DemoData: true})
	ctx := context.Background()
	c := mint(t, s, "bob", "repo")

	pr, _, err := c.PullRequests.Get(ctx, "acme", "widgets", 1)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetUser().GetLogin() != "alice" || pr.GetHead().GetSHA() == "" || len(pr.RequestedReviewers) != 1 || pr.RequestedReviewers[0].GetLogin() != "bob" {
		t.Errorf("pull %+v", pr)
	}
	runs, _, err := c.Checks.ListCheckRunsForRef(ctx, "acme", "widgets", pr.GetHead().GetRef(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs.CheckRuns {
		got = append(got, r.GetName()+"="+r.GetConclusion())
	}
	if diff := cmp.Diff(got, []string{"build=success", "test=failure"}); diff != "" || runs.GetTotal() != 2 {
		t.Errorf("check runs (-got +want):\n%s", diff)
	}
	bySHA, _, err := c.Checks.ListCheckRunsForRef(ctx, "acme", "widgets", pr.GetHead().GetSHA(), nil)
	if err != nil || bySHA.GetTotal() != 2 {
		t.Errorf("check runs by sha: %v, %v", bySHA, err)
	}
	reviews, _, err := c.PullRequests.ListReviews(ctx, "acme", "gadgets", 1, nil)
	if err != nil || len(reviews) != 1 || reviews[0].GetState() != "APPROVED" || reviews[0].GetUser().GetLogin() != "carol" {
		t.Errorf("reviews %v (%v)", reviews, err)
	}
	_, resp, err := c.PullRequests.Get(ctx, "acme", "widgets", 6) // an issue
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("pull that is an issue: %v, want 404", err)
	}
}

func TestDemoData(t *testing.T) {
	s := start(t, fakegithub.Options{DemoData: true})
	res, _, err := mint(t, s, "alice", "repo", "read:user").Search.Issues(context.Background(), "is:pr is:open author:alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetTotal() != 3 {
		t.Errorf("alice has %d open pull requests in the demo, want 3", res.GetTotal())
	}
}

func TestBadCredentials(t *testing.T) {
	s := start(t, fakegithub.Options{})
	for _, auth := range []string{"", "Bearer gho_unknown", "token gho_unknown"} {
		req, _ := http.NewRequest("GET", s.APIURL()+"user", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		want := "Bad credentials"
		if auth == "" {
			want = "Requires authentication"
		}
		if resp.StatusCode != http.StatusUnauthorized || m["message"] != want || m["documentation_url"] == nil || resp.Header.Get("X-Ratelimit-Limit") == "" {
			t.Errorf("%q: %d %s", auth, resp.StatusCode, raw)
		}
	}
	if r := s.Requests()[1]; r.Token != "gho_unknown" || r.Login != "" {
		t.Errorf("recorded %+v, want the token and no login", r)
	}
}

func TestRateLimit(t *testing.T) {
	s := start(t, fakegithub.Options{})
	ctx := context.Background()
	alice, bob := mint(t, s, "alice"), mint(t, s, "bob")

	_, resp, err := alice.Users.Get(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 || resp.Header.Get("X-Ratelimit-Used") != "1" || resp.Header.Get("X-Ratelimit-Resource") != "core" {
		t.Errorf("rate %+v, used %s", resp.Rate, resp.Header.Get("X-Ratelimit-Used"))
	}

	reset := time.Now().Add(20 * time.Minute).Truncate(time.Second)
	s.SetRateLimited("alice", reset)
	_, resp, err = mint(t, s, "alice").Users.Get(ctx, "")
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) || status(t, resp) != http.StatusForbidden || !rl.Rate.Reset.Time.Equal(reset) || rl.Rate.Remaining != 0 {
		t.Errorf("limited user: %v, want *RateLimitError resetting at %v", err, reset)
	}
	if _, _, err := bob.Users.Get(ctx, ""); err != nil {
		t.Errorf("another user was limited too: %v", err)
	}
	s.SetRateLimited("alice", time.Time{})
	if _, _, err := mint(t, s, "alice").Users.Get(ctx, ""); err != nil {
		t.Errorf("after lifting: %v", err)
	}
}

func TestSearchRateLimitRunsOut(t *testing.T) {
	s := start(t, fakegithub.Options{})
	c := mint(t, s, "alice")
	var err error
	for i := 0; i < 31 && err == nil; i++ {
		_, _, err = c.Search.Issues(context.Background(), "is:pr author:alice", nil)
	}
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) {
		t.Errorf("31st search in a minute: %v, want *RateLimitError", err)
	}
}

func TestOutageAndLatency(t *testing.T) {
	s := start(t, fakegithub.Options{})
	c := mint(t, s, "alice")
	s.SetOutage(http.StatusServiceUnavailable)
	_, resp, err := c.Users.Get(context.Background(), "")
	if err == nil || status(t, resp) != http.StatusServiceUnavailable {
		t.Errorf("outage: %v, want 503", err)
	}
	r, err := http.Get(s.TokenURL())
	if err != nil || r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("outage on the web side: %v, %v", r, err)
	}
	r.Body.Close()
	s.SetOutage(0)

	s.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.Users.Get(ctx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v, want a deadline error", err)
	}
	s.SetLatency(0)
	if _, _, err := c.Users.Get(context.Background(), ""); err != nil {
		t.Error(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := start(t, fakegithub.Options{Expiring: true, DemoData: true})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			login := []string{"alice", "bob", "carol"}[i%3]
			tok := link(t, s, login)
			c := client(t, s, tok)
			ctx := context.Background()
			if _, _, err := c.Users.Get(ctx, ""); err != nil {
				t.Error(err)
			}
			if _, _, err := c.Search.Issues(ctx, "is:pr is:open author:"+login, nil); err != nil {
				t.Error(err)
			}
			s.AddPullRequest("acme/widgets", login, "concurrent", false)
			if _, _, err := c.Issues.Create(ctx, "acme", "widgets", &gh.IssueRequest{Title: gh.String("x")}); err != nil {
				t.Error(err)
			}
			_ = s.Requests()
			_ = s.RefreshCount(login)
		}()
	}
	wg.Wait()
	if got := len(s.Requests()); got != 24 {
		t.Errorf("%d requests recorded, want 24", got)
	}
}

// GET /repos/{o}/{r}/commits/{ref} links a commit's author and committer to
// accounts by email, as GitHub does: a commit made through the contents API
// is the token owner's unless another author's email is given.
func TestGetCommit(t *testing.T) {
	s := start(t, fakegithub.Options{})
	s.AddRepo("acme/widgets")
	s.AddCollaborator("acme/widgets", "alice")
	s.AddCollaborator("acme/widgets", "bob")
	s.AddPrivateRepo("alice/secret", "alice")
	s.AddUser(fakegithub.User{Login: "carol", ID: 1003})
	ctx := context.Background()
	alice, bob := mint(t, s, "alice", "repo"), mint(t, s, "bob", "repo")

	first, _, err := alice.Repositories.CreateFile(ctx, "acme", "widgets", "notes.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Add notes"), Content: []byte("one\ntwo\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := bob.Repositories.UpdateFile(ctx, "acme", "widgets", "notes.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Edit notes"), Content: []byte("three\n"), SHA: first.Content.SHA,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		client              *gh.Client
		ref                 string
		author, committer   string
		message, status     string
		additions, deletion int
	}{
		{alice, first.Commit.GetSHA(), "alice", "alice", "Add notes", "added", 2, 0},
		{alice, second.Commit.GetSHA(), "bob", "bob", "Edit notes", "modified", 1, 2},
		{bob, second.Commit.GetSHA()[:7], "bob", "bob", "Edit notes", "modified", 1, 2},
		{bob, "main", "bob", "bob", "Edit notes", "modified", 1, 2},
	}
	for _, tt := range tests {
		rc, _, err := tt.client.Repositories.GetCommit(ctx, "acme", "widgets", tt.ref, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.ref, err)
		}
		if rc.GetAuthor().GetLogin() != tt.author || rc.GetCommitter().GetLogin() != tt.committer ||
			rc.GetCommit().GetMessage() != tt.message || len(rc.Files) != 1 || rc.Files[0].GetStatus() != tt.status ||
			rc.Files[0].GetFilename() != "notes.md" || rc.GetStats().GetAdditions() != tt.additions || rc.GetStats().GetDeletions() != tt.deletion ||
			rc.GetHTMLURL() != s.URL()+"/acme/widgets/commit/"+rc.GetSHA() || len(rc.Parents) != 1 {
			t.Errorf("%s: commit %+v", tt.ref, rc)
		}
	}
	if rc, _, _ := alice.Repositories.GetCommit(ctx, "acme", "widgets", second.Commit.GetSHA(), nil); rc.Parents[0].GetSHA() != first.Commit.GetSHA() {
		t.Errorf("parent %s, want %s", rc.Parents[0].GetSHA(), first.Commit.GetSHA())
	}

	// An author identity other than the token owner's: GitHub links by email.
	made, _, err := alice.Repositories.CreateFile(ctx, "acme", "widgets", "by-bob.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("For bob"), Content: []byte("x"), Author: &gh.CommitAuthor{Name: gh.String("Bob"), Email: gh.String("1002+bob@users.noreply.github.com")},
	})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := alice.Repositories.GetCommit(ctx, "acme", "widgets", made.Commit.GetSHA(), nil)
	if err != nil || rc.GetAuthor().GetLogin() != "bob" || rc.GetCommitter().GetLogin() != "alice" {
		t.Errorf("commit with bob's email by alice: author %q committer %q (%v)", rc.GetAuthor().GetLogin(), rc.GetCommitter().GetLogin(), err)
	}
	made, _, err = alice.Repositories.CreateFile(ctx, "acme", "widgets", "anon.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Anonymous"), Content: []byte("x"), Author: &gh.CommitAuthor{Name: gh.String("Nobody"), Email: gh.String("nobody@example.org")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rc, _, err = alice.Repositories.GetCommit(ctx, "acme", "widgets", made.Commit.GetSHA(), nil); err != nil || rc.Author != nil {
		t.Errorf("commit by an unknown email: author %+v (%v), want null", rc.GetAuthor(), err)
	}

	if rc, _, err = alice.Repositories.GetCommit(ctx, "alice", "secret", "main", nil); err != nil || rc.GetAuthor().GetLogin() != "alice" || rc.GetCommit().GetMessage() != "Initial commit" {
		t.Errorf("initial commit of alice/secret: %+v (%v)", rc, err)
	}
	_, resp, err := bob.Repositories.GetCommit(ctx, "alice", "secret", "main", nil)
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("stranger reading a private commit: %v, want 404", err)
	}
	_, resp, err = alice.Repositories.GetCommit(ctx, "acme", "widgets", strings.Repeat("d", 40), nil)
	if err == nil || status(t, resp) != http.StatusUnprocessableEntity {
		t.Errorf("unknown commit: %v, want 422", err)
	}
	runs, _, err := alice.Checks.ListCheckRunsForRef(ctx, "acme", "widgets", "main", nil)
	if err != nil || runs.GetTotal() != 0 {
		t.Errorf("check runs still served beside commits: %v (%v)", runs, err)
	}
}

func TestGetCommitOfSeededData(t *testing.T) {
	s := start(t, fakegithub.Options{DemoData: true})
	c := mint(t, s, "bob", "repo")
	ctx := context.Background()
	pr, _, err := c.PullRequests.Get(ctx, "acme", "widgets", 1)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.Repositories.GetCommit(ctx, "acme", "widgets", pr.GetHead().GetSHA(), nil)
	if err != nil || rc.GetAuthor().GetLogin() != "alice" || rc.GetCommit().GetMessage() != pr.GetTitle() {
		t.Errorf("head of #1: %+v (%v), want alice's", rc, err)
	}
	rc, _, err = c.Repositories.GetCommit(ctx, "acme", "widgets", "main", nil)
	if err != nil || rc.Author != nil || len(rc.Files) != 1 || rc.Files[0].GetFilename() != "docs/runbook.md" {
		t.Errorf("main of the acme organisation: %+v (%v), want the seeded runbook, linked to no account", rc, err)
	}
}
