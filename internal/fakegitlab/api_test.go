package fakegitlab_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem/internal/fakegitlab"
	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func iids(mrs []*gitlab.BasicMergeRequest) []int64 {
	var out []int64
	for _, mr := range mrs {
		out = append(out, mr.IID)
	}
	return out
}

func TestListMergeRequests(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	a1 := s.AddMergeRequest("acme/widgets", "alice", "First", false)
	a2 := s.AddMergeRequest("acme/widgets", "alice", "Second", true)
	b1 := s.AddMergeRequest("acme/widgets", "bob", "Bob's", false)
	s.RequestReview("acme/widgets", b1, "alice")
	a3 := s.AddMergeRequest("acme/platform/tools", "alice", "Third", false)
	s.AddPrivateProject("bob/secret", "bob")
	hidden := s.AddMergeRequest("bob/secret", "bob", "Hidden", false)
	s.RequestReview("bob/secret", hidden, "alice")
	c := mint(t, s, "alice")

	tests := []struct {
		name string
		opt  gitlab.ListMergeRequestsOptions
		want []int64
	}{
		{"mine", gitlab.ListMergeRequestsOptions{State: gitlab.Ptr("opened"), Scope: gitlab.Ptr("created_by_me")}, []int64{int64(a3), int64(a2), int64(a1)}},
		{"default scope", gitlab.ListMergeRequestsOptions{}, []int64{int64(a3), int64(a2), int64(a1)}},
		{"to review", gitlab.ListMergeRequestsOptions{State: gitlab.Ptr("opened"), Scope: gitlab.Ptr("all"), ReviewerUsername: gitlab.Ptr("alice")}, []int64{int64(b1)}},
		{"reviews for me", gitlab.ListMergeRequestsOptions{Scope: gitlab.Ptr("reviews_for_me")}, []int64{int64(b1)}},
		{"bob's, as alice", gitlab.ListMergeRequestsOptions{Scope: gitlab.Ptr("all"), AuthorUsername: gitlab.Ptr("bob")}, []int64{int64(b1)}},
		{"merged", gitlab.ListMergeRequestsOptions{State: gitlab.Ptr("merged")}, nil},
		{"search", gitlab.ListMergeRequestsOptions{Search: gitlab.Ptr("second")}, []int64{int64(a2)}},
	}
	for _, tt := range tests {
		mrs, _, err := c.MergeRequests.ListMergeRequests(&tt.opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(iids(mrs), tt.want); diff != "" {
			t.Errorf("%s: iids (-got +want):\n%s", tt.name, diff)
		}
	}

	mrs, resp, err := c.MergeRequests.ListMergeRequests(&gitlab.ListMergeRequestsOptions{
		ListOptions: gitlab.ListOptions{PerPage: 2}, OrderBy: gitlab.Ptr("updated_at"), Sort: gitlab.Ptr("desc"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) != 2 || resp.TotalItems != 3 || resp.TotalPages != 2 || resp.NextPage != 2 || resp.CurrentPage != 1 || resp.ItemsPerPage != 2 || resp.NextLink == "" {
		t.Errorf("page 1 of 2: %d items, total %d, pages %d, next %d, next link %q", len(mrs), resp.TotalItems, resp.TotalPages, resp.NextPage, resp.NextLink)
	}
	mr := mrs[0]
	if mr.References == nil || mr.References.Full != "acme/platform/tools!1" || mr.WebURL != s.URL()+"/acme/platform/tools/-/merge_requests/1" ||
		mr.Author == nil || mr.Author.Username != "alice" || mr.UpdatedAt == nil || mr.State != "opened" {
		t.Errorf("merge request %+v is not shaped like GitLab's", mr)
	}
	mrs, resp, err = c.MergeRequests.ListMergeRequests(&gitlab.ListMergeRequestsOptions{ListOptions: gitlab.ListOptions{PerPage: 2, Page: 2}})
	if err != nil || len(mrs) != 1 || resp.NextPage != 0 || resp.PreviousPage != 1 {
		t.Errorf("page 2: %d items, next %d, prev %d (%v)", len(mrs), resp.NextPage, resp.PreviousPage, err)
	}
	if mrs[0].Title != "Draft: Second" && mrs[0].Title != "First" {
		t.Errorf("page 2 holds %q", mrs[0].Title)
	}

	_, resp, err = c.MergeRequests.ListMergeRequests(&gitlab.ListMergeRequestsOptions{State: gitlab.Ptr("open")})
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || status(t, resp) != http.StatusBadRequest || er.Message != "{error: state does not have a valid value}" {
		t.Errorf("state=open: %v, want 400 state does not have a valid value", err)
	}
}

func TestDraftTitle(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	s.AddMergeRequest("acme/widgets", "alice", "Metrics", true)
	s.AddMergeRequest("acme/widgets", "alice", "Draft: Logs", false)
	mrs, _, err := mint(t, s, "alice").MergeRequests.ListMergeRequests(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mr := range mrs {
		if !mr.Draft || !strings.HasPrefix(mr.Title, "Draft: ") {
			t.Errorf("%q: draft %v, want a draft titled Draft: …", mr.Title, mr.Draft)
		}
	}
}

func TestListIssues(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	i1 := s.AddIssue("acme/widgets", "bob", "Broken", "alice")
	i2 := s.AddIssue("acme/widgets", "alice", "Docs")
	i3 := s.AddIssue("acme/gadgets", "alice", "Rounding", "alice", "bob")
	s.AddPrivateProject("bob/secret", "bob")
	s.AddIssue("bob/secret", "bob", "Hidden", "alice")
	c := mint(t, s, "alice")

	list := func(scope string) []string {
		t.Helper()
		issues, _, err := c.Issues.ListIssues(&gitlab.ListIssuesOptions{State: gitlab.Ptr("opened"), Scope: gitlab.Ptr(scope)})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, is := range issues {
			out = append(out, is.References.Full)
		}
		return out
	}
	ref := func(project string, iid int) string { return project + "#" + strconv.Itoa(iid) }
	if diff := cmp.Diff(list("created_by_me"), []string{ref("acme/gadgets", i3), ref("acme/widgets", i2)}); diff != "" {
		t.Errorf("created_by_me (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(list("assigned_to_me"), []string{ref("acme/gadgets", i3), ref("acme/widgets", i1)}); diff != "" {
		t.Errorf("assigned_to_me (-got +want):\n%s", diff)
	}
	is, _, err := c.Issues.GetIssue("acme/widgets", int64(i1))
	if err != nil {
		t.Fatal(err)
	}
	if is.IID != int64(i1) || is.Author.Username != "bob" || len(is.Assignees) != 1 || is.Assignees[0].Username != "alice" ||
		is.WebURL != s.URL()+"/acme/widgets/-/issues/1" || is.State != "opened" {
		t.Errorf("issue %+v", is)
	}
}

func TestPrivateProjectIsNotFound(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	s.AddPrivateProject("alice/secret", "alice")
	s.AddIssue("alice/secret", "alice", "Hidden")
	mr := s.AddMergeRequest("alice/secret", "alice", "Hidden", false)

	if _, _, err := mint(t, s, "alice").Projects.GetProject("alice/secret", nil); err != nil {
		t.Errorf("member: %v", err)
	}
	bob := mint(t, s, "bob")
	_, resp, err := bob.Issues.CreateIssue("alice/secret", &gitlab.CreateIssueOptions{Title: gitlab.Ptr("hi")})
	if !errors.Is(err, gitlab.ErrNotFound) || status(t, resp) != http.StatusNotFound {
		t.Errorf("stranger creating an issue: %v, want 404", err)
	}
	_, resp, err = bob.Notes.CreateMergeRequestNote("alice/secret", int64(mr), &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("hi")})
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("stranger commenting: %v, want 404", err)
	}
	issues, _, err := bob.Issues.ListIssues(&gitlab.ListIssuesOptions{Scope: gitlab.Ptr("all")})
	if err != nil || len(issues) != 0 {
		t.Errorf("stranger lists %d issues (%v), want none", len(issues), err)
	}

	req, _ := http.NewRequest("GET", s.APIURL()+"projects/alice%2Fsecret", nil)
	tok, _ := s.MintToken("bob")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound || strings.TrimSpace(string(b)) != `{"message":"404 Project Not Found"}` {
		t.Errorf("GET private project: %d %s", r.StatusCode, b)
	}
}

func TestCreateIssueAndNotes(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	s.AddProject("acme/widgets")
	s.AddMember("acme/widgets", "alice")
	mr := s.AddMergeRequest("acme/widgets", "alice", "Change", false)
	tok, _ := s.MintToken("bob")
	c := client(t, s, tok)

	is, resp, err := c.Issues.CreateIssue("acme/widgets", &gitlab.CreateIssueOptions{Title: gitlab.Ptr("It broke"), Description: gitlab.Ptr("details")})
	if err != nil || status(t, resp) != http.StatusCreated {
		t.Fatalf("create issue: %v", err)
	}
	if is.Author.Username != "bob" || is.IID != 1 || is.WebURL != s.URL()+"/acme/widgets/-/issues/1" || is.Description != "details" {
		t.Errorf("issue %+v: want #1 by bob", is)
	}
	n, resp, err := c.Notes.CreateIssueNote("acme/widgets", 1, &gitlab.CreateIssueNoteOptions{Body: gitlab.Ptr("me too")})
	if err != nil || status(t, resp) != http.StatusCreated || n.Author.Username != "bob" || n.NoteableType != "Issue" || n.NoteableIID != 1 {
		t.Fatalf("issue note: %v, %+v", err, n)
	}
	if _, _, err := c.Notes.CreateMergeRequestNote("acme/widgets", int64(mr), &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("LGTM")}); err != nil {
		t.Fatalf("merge request note: %v", err)
	}
	wantNotes := []fakegitlab.Note{
		{Project: "acme/widgets", Noteable: "Issue", IID: 1, AuthorLogin: "bob", Body: "me too"},
		{Project: "acme/widgets", Noteable: "MergeRequest", IID: mr, AuthorLogin: "bob", Body: "LGTM"},
	}
	if diff := cmp.Diff(s.Notes(), wantNotes); diff != "" {
		t.Errorf("Notes (-got +want):\n%s", diff)
	}
	wantIssues := []fakegitlab.CreatedIssue{{Project: "acme/widgets", IID: 1, AuthorLogin: "bob", Title: "It broke", Description: "details"}}
	if diff := cmp.Diff(s.CreatedIssues(), wantIssues); diff != "" {
		t.Errorf("CreatedIssues (-got +want):\n%s", diff)
	}

	for name, opt := range map[string]*gitlab.CreateIssueOptions{
		"no title":    {},
		"blank title": {Title: gitlab.Ptr("  ")},
		"long title":  {Title: gitlab.Ptr(strings.Repeat("x", 256))},
	} {
		_, resp, err = c.Issues.CreateIssue("acme/widgets", opt)
		if err == nil || status(t, resp) != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	_, resp, err = c.Notes.CreateIssueNote("acme/widgets", 99, &gitlab.CreateIssueNoteOptions{Body: gitlab.Ptr("x")})
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("note on a missing issue: %v, want 404", err)
	}

	reqs := s.Requests()
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/projects/acme%2Fwidgets/issues" || r.Login != "bob" || r.Token != tok.AccessToken || !strings.Contains(r.Body, "It broke") {
		t.Errorf("recorded %+v", r)
	}
}

func TestInsufficientScope(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	s.AddProject("acme/widgets")
	c := mint(t, s, "alice", "read_user")
	if _, _, err := c.Users.CurrentUser(); err != nil {
		t.Errorf("read_user reading /user: %v", err)
	}
	_, resp, err := c.Issues.CreateIssue("acme/widgets", &gitlab.CreateIssueOptions{Title: gitlab.Ptr("x")})
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || status(t, resp) != http.StatusForbidden || !strings.Contains(er.Message, "insufficient_scope") {
		t.Errorf("read_user creating an issue: %v, want 403 insufficient_scope", err)
	}
	_, resp, err = mint(t, s, "alice", "read_api").Issues.CreateIssue("acme/widgets", &gitlab.CreateIssueOptions{Title: gitlab.Ptr("x")})
	if err == nil || status(t, resp) != http.StatusForbidden {
		t.Errorf("read_api creating an issue: %v, want 403", err)
	}
	if _, _, err := mint(t, s, "alice", "read_api").MergeRequests.ListMergeRequests(nil); err != nil {
		t.Errorf("read_api listing: %v", err)
	}
}

func TestBadCredentials(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	for _, auth := range []string{"", "Bearer gloas-unknown", "token gloas-unknown"} {
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
		if resp.StatusCode != http.StatusUnauthorized || m["message"] != "401 Unauthorized" {
			t.Errorf("%q: %d %s", auth, resp.StatusCode, raw)
		}
	}
	if r := s.Requests()[1]; r.Token != "gloas-unknown" || r.Login != "" || r.Path != "/user" {
		t.Errorf("recorded %+v, want the token and no login", r)
	}
	resp, err := http.Get(s.APIURL() + "nowhere")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.TrimSpace(string(raw)) != `{"error":"404 Not Found"}` {
		t.Errorf("unknown route: %d %s", resp.StatusCode, raw)
	}
}

func TestRateLimit(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	alice, bob := mint(t, s, "alice"), mint(t, s, "bob")
	_, resp, err := alice.Users.CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	if h := resp.Header; h.Get("RateLimit-Limit") != "2000" || h.Get("RateLimit-Observed") != "1" || h.Get("RateLimit-Remaining") != "1999" || h.Get("RateLimit-Reset") == "" {
		t.Errorf("rate headers %v", h)
	}

	reset := time.Now().Add(20 * time.Minute).Truncate(time.Second)
	s.SetRateLimited("alice", reset)
	_, resp, err = alice.Users.CurrentUser()
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || status(t, resp) != http.StatusTooManyRequests || strings.TrimSpace(string(er.Body)) != "Retry later" {
		t.Fatalf("limited user: %v, want 429 Retry later", err)
	}
	if got, want := resp.Header.Get("RateLimit-Reset"), strconv.FormatInt(reset.Unix(), 10); got != want {
		t.Errorf("RateLimit-Reset %s, want %s", got, want)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1200" && ra != "1199" {
		t.Errorf("Retry-After %q, want about 1200", ra)
	}
	if _, _, err := bob.Users.CurrentUser(); err != nil {
		t.Errorf("another user was limited too: %v", err)
	}
	s.SetRateLimited("alice", time.Time{})
	if _, _, err := alice.Users.CurrentUser(); err != nil {
		t.Errorf("after lifting: %v", err)
	}
}

func TestRateLimitRunsOut(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	tok, _ := s.MintToken("alice")
	code := 0
	for i := 0; i < 2001 && code != http.StatusTooManyRequests; i++ {
		req, _ := http.NewRequest("GET", s.APIURL()+"user", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		code = resp.StatusCode
	}
	if code != http.StatusTooManyRequests {
		t.Errorf("2001st request in a minute: %d, want 429", code)
	}
}

func TestOutageAndLatency(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	c := mint(t, s, "alice")
	s.SetOutage(http.StatusBadGateway)
	_, resp, err := c.Users.CurrentUser()
	if err == nil || status(t, resp) != http.StatusBadGateway || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("outage: %v, want a 502 page", err)
	}
	r, err := http.Post(s.TokenURL(), "application/x-www-form-urlencoded", nil)
	if err != nil || r.StatusCode != http.StatusBadGateway {
		t.Fatalf("outage on the web side: %v, %v", r, err)
	}
	r.Body.Close()
	s.SetOutage(0)

	s.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.Users.CurrentUser(gitlab.WithContext(ctx)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v, want a deadline error", err)
	}
	s.SetLatency(0)
	if _, _, err := c.Users.CurrentUser(); err != nil {
		t.Error(err)
	}
}

func TestWebPages(t *testing.T) {
	s := start(t, fakegitlab.Options{DemoData: true})
	for path, want := range map[string]int{
		"/acme/widgets/-/merge_requests/1": http.StatusOK,
		"/acme/widgets/-/issues/1":         http.StatusOK,
		"/acme/widgets/-/issues/99":        http.StatusNotFound,
		"/alice/notes/-/issues/1":          http.StatusNotFound, // private
		"/":                                http.StatusOK,
	} {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestDemoData(t *testing.T) {
	s := start(t, fakegitlab.Options{DemoData: true})
	if diff := cmp.Diff(fakegitlab.DemoUsers()[0].Login, "alice"); diff != "" {
		t.Error(diff)
	}
	c := mint(t, s, "alice")
	mrs, resp, err := c.MergeRequests.ListMergeRequests(&gitlab.ListMergeRequestsOptions{State: gitlab.Ptr("opened"), Scope: gitlab.Ptr("created_by_me")})
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) != 3 || resp.TotalItems != 3 {
		t.Errorf("alice has %d open merge requests in the demo, want 3", len(mrs))
	}
	review, _, err := c.MergeRequests.ListMergeRequests(&gitlab.ListMergeRequestsOptions{State: gitlab.Ptr("opened"), Scope: gitlab.Ptr("all"), ReviewerUsername: gitlab.Ptr("alice")})
	if err != nil || len(review) != 1 || review[0].Title != "Bump Go to 1.26" {
		t.Errorf("alice's reviews: %v (%v)", review, err)
	}
	if _, _, err := mint(t, s, "bob").Projects.GetProject("alice/notes", nil); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("bob sees alice's private notes: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := start(t, fakegitlab.Options{DemoData: true})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			login := []string{"alice", "bob", "carol"}[i%3]
			c := client(t, s, link(t, s, login))
			if _, _, err := c.Users.CurrentUser(); err != nil {
				t.Error(err)
			}
			if _, _, err := c.MergeRequests.ListMergeRequests(nil); err != nil {
				t.Error(err)
			}
			s.AddMergeRequest("acme/widgets", login, "concurrent", false)
			if _, _, err := c.Issues.CreateIssue("acme/widgets", &gitlab.CreateIssueOptions{Title: gitlab.Ptr("x")}); err != nil {
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
