package gitlab_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/gitlab"
	"golang.org/x/oauth2"
)

// noOtherRequests fails the test on any API request that mux does not
// otherwise answer.
func noOtherRequests(t *testing.T, mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
}

func TestIdentify(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testAuth(t, r)
		testQuery(t, r, url.Values{})
		serveFile(t, w, http.StatusOK, "user.json")
	})
	got, err := p.Identify(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Account{ID: "4173208", Login: "alice-lab", Name: "Alice Liddell"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Identify (-got +want):\n%s", diff)
	}
}

// paginated sets GitLab's offset pagination headers.
func paginated(w http.ResponseWriter, page, perPage, total int) {
	pages := (total + perPage - 1) / perPage
	w.Header().Set("X-Page", fmt.Sprint(page))
	w.Header().Set("X-Per-Page", fmt.Sprint(perPage))
	w.Header().Set("X-Total", fmt.Sprint(total))
	w.Header().Set("X-Total-Pages", fmt.Sprint(pages))
	w.Header().Set("X-Prev-Page", "")
	w.Header().Set("X-Next-Page", "")
	if page < pages {
		w.Header().Set("X-Next-Page", fmt.Sprint(page+1))
	}
}

var wantMRs = []tandem.PullRequest{
	{Repo: "acme/widgets", Number: 482, Title: "Add retry to the widget client", URL: "https://gitlab.com/acme/widgets/-/merge_requests/482",
		UpdatedAt: time.Date(2025, 7, 3, 16, 40, 21, 517e6, time.UTC)},
	{Repo: "acme/platform/gadgets", Number: 77, Title: "Draft: gadget metrics", URL: "https://gitlab.com/acme/platform/gadgets/-/merge_requests/77",
		Draft: true, UpdatedAt: time.Date(2025, 7, 2, 8, 15, 9, 120e6, time.UTC)},
}

func TestOpenPullRequests(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/merge_requests", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testAuth(t, r)
		testQuery(t, r, url.Values{
			"state": {"opened"}, "scope": {"created_by_me"}, "order_by": {"updated_at"}, "sort": {"desc"}, "per_page": {"10"},
		})
		paginated(w, 1, 10, 2)
		serveFile(t, w, http.StatusOK, "merge_requests.json")
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-lab", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prs, wantMRs); diff != "" {
		t.Errorf("merge requests (-got +want):\n%s", diff)
	}
	if total != 2 {
		t.Errorf("total %d, want 2", total)
	}
}

func TestReviewRequests(t *testing.T) {
	p, client, mux, _ := setup(t)
	// The token's own account, whatever username it was linked with.
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testAuth(t, r)
		fmt.Fprint(w, `{"id": 4242, "username": "bob-lab-renamed", "name": "Bob"}`)
	})
	mux.HandleFunc("/merge_requests", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testAuth(t, r)
		testQuery(t, r, url.Values{
			"state": {"opened"}, "scope": {"all"}, "reviewer_id": {"4242"},
			"order_by": {"updated_at"}, "sort": {"desc"}, "per_page": {"30"},
		})
		paginated(w, 1, 30, 2)
		serveFile(t, w, http.StatusOK, "merge_requests.json")
	})
	prs, total, err := p.ReviewRequests(context.Background(), client, "bob-lab", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prs, wantMRs); diff != "" || total != 2 {
		t.Errorf("total %d, review requests (-got +want):\n%s", total, diff)
	}
}

func TestOpenPullRequestsLimit(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/merge_requests", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("per_page"); got != "1" {
			t.Errorf("per_page %q, want 1", got)
		}
		paginated(w, 1, 20, 2) // a server that ignores per_page
		serveFile(t, w, http.StatusOK, "merge_requests.json")
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-lab", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 || prs[0].Number != 482 || total != 2 {
		t.Errorf("got %d merge requests (total %d), want !482 of 2", len(prs), total)
	}
}

func TestOpenPullRequestsPaginates(t *testing.T) {
	p, client, mux, _ := setup(t)
	var pages []string
	mux.HandleFunc("/merge_requests", func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		pages = append(pages, page)
		if r.URL.Query().Get("per_page") != "100" {
			t.Errorf("per_page %q, want 100", r.URL.Query().Get("per_page"))
		}
		n := 100
		if page == "2" {
			n = 30
			paginated(w, 2, 100, 130)
		} else {
			paginated(w, 1, 100, 130)
		}
		w.Header().Set("Content-Type", "application/json")
		items := make([]string, n)
		for i := range items {
			items[i] = `{"iid":1,"title":"t","state":"opened","references":{"full":"g/p!1"},"web_url":"https://gitlab.com/g/p/-/merge_requests/1"}`
		}
		_, _ = w.Write([]byte("[" + strings.Join(items, ",") + "]"))
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-lab", 120)
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 120 || total != 130 {
		t.Errorf("got %d merge requests of %d, want 120 of 130", len(prs), total)
	}
	if diff := cmp.Diff(pages, []string{"", "2"}); diff != "" {
		t.Errorf("pages requested (-got +want):\n%s", diff)
	}
}

// GitLab leaves X-Total out past 10,000 results; the count is then what
// was read.
func TestOpenPullRequestsWithoutTotal(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/merge_requests", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusOK, "merge_requests.json")
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-lab", 5)
	if err != nil || len(prs) != 2 || total != 2 {
		t.Errorf("got %d merge requests of %d (%v), want 2 of 2", len(prs), total, err)
	}
}

func TestListsRejectLogin(t *testing.T) {
	p, client, mux, _ := setup(t)
	noOtherRequests(t, mux)
	ctx := context.Background()
	for _, login := range []string{"", "alice lab", "-alice", "alice.", "alice\n", "a/b", "alice&scope=all"} {
		if _, _, err := p.OpenPullRequests(ctx, client, login, 5); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("OpenPullRequests(%q): %v, want EINVALID", login, err)
		}
		if _, _, err := p.ReviewRequests(ctx, client, login, 5); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("ReviewRequests(%q): %v, want EINVALID", login, err)
		}
		if _, _, err := p.OpenIssues(ctx, client, "", login, 5); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("OpenIssues(%q): %v, want EINVALID", login, err)
		}
	}
}

func TestOpenIssues(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/issues", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testAuth(t, r)
		testQuery(t, r, url.Values{
			"state": {"opened"}, "scope": {"assigned_to_me"}, "order_by": {"updated_at"}, "sort": {"desc"}, "per_page": {"5"},
		})
		paginated(w, 1, 5, 2)
		serveFile(t, w, http.StatusOK, "issues.json")
	})
	issues, total, err := p.OpenIssues(context.Background(), client, "ignored-site", "alice-lab", 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.Issue{
		{Key: "acme/widgets#12", Title: "Widget client leaks connections", URL: "https://gitlab.com/acme/widgets/-/issues/12",
			State: "open", Assignee: "alice-lab", Body: "After a timeout the connection is never returned to the pool.",
			Updated: time.Date(2025, 7, 3, 11, 22, 33, 444e6, time.UTC)},
		{Key: "acme/platform/gadgets#3", Title: "Gadgets round half away from zero", URL: "https://gitlab.com/acme/platform/gadgets/-/issues/3",
			State: "open", Assignee: "alice-lab", Updated: time.Date(2025, 6, 30, 17, 45, 12, 901e6, time.UTC)},
	}
	if diff := cmp.Diff(issues, want); diff != "" || total != 2 {
		t.Errorf("total %d, issues (-got +want):\n%s", total, diff)
	}
}

func TestCreateIssue(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/projects/", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testAuth(t, r)
		testPath(t, r, "/projects/acme%2Fwidgets/issues")
		testQuery(t, r, url.Values{})
		testBody(t, r, map[string]any{
			"title":       "Retry budget is not documented",
			"description": "The README should say how many retries the client makes.",
		})
		serveFile(t, w, http.StatusCreated, "issue_created.json")
	})
	got, err := p.CreateIssue(context.Background(), client, "", tandem.NewIssue{
		Container: "acme/widgets", Title: "  Retry budget is not documented ",
		Body: "The README should say how many retries the client makes.", Type: "Task",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Issue{Key: "acme/widgets#13", Title: "Retry budget is not documented", URL: "https://gitlab.com/acme/widgets/-/issues/13",
		State: "open", Body: "The README should say how many retries the client makes.", Updated: time.Date(2025, 7, 3, 17, 2, 11, 208e6, time.UTC)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateIssue (-got +want):\n%s", diff)
	}
}

// A nested project whose name holds a dot is one escaped path segment, as
// GitLab wants it; an empty body sends no description.
func TestCreateIssueNestedProject(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/projects/", func(w http.ResponseWriter, r *http.Request) {
		testPath(t, r, "/projects/acme%2Fplatform%2Fgadgets%2Ev2/issues")
		testBody(t, r, map[string]any{"title": "Hi"})
		serveFile(t, w, http.StatusCreated, "issue_created.json")
	})
	if _, err := p.CreateIssue(context.Background(), client, "", tandem.NewIssue{Container: "acme/platform/gadgets.v2", Title: "Hi"}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateIssueRejects(t *testing.T) {
	p, client, mux, _ := setup(t)
	noOtherRequests(t, mux)
	tests := []tandem.NewIssue{
		{Container: "widgets", Title: "x"},
		{Container: "acme/", Title: "x"},
		{Container: "/widgets", Title: "x"},
		{Container: "acme//widgets", Title: "x"},
		{Container: "acme/wid gets", Title: "x"},
		{Container: "acme/widgets.git", Title: "x"},
		{Container: "acme/../widgets", Title: "x"},
		{Container: "acme/-widgets", Title: "x"},
		{Container: "acme/widgets#1", Title: "x"},
		{Container: "acme/widgets", Title: ""},
		{Container: "acme/widgets", Title: " \n\t"},
		{Container: "acme/widgets", Title: strings.Repeat("é", 256)},
	}
	for _, n := range tests {
		if _, err := p.CreateIssue(context.Background(), client, "", n); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("CreateIssue(%q, %q): %v, want EINVALID", n.Container, n.Title, err)
		}
	}
	if _, err := p.CreateIssue(context.Background(), client, "", tandem.NewIssue{Container: "acme/widgets", Title: strings.Repeat("é", 256)}); !strings.Contains(tandem.ErrorMessage(err), "255") {
		t.Errorf("long title message %q does not name the limit", tandem.ErrorMessage(err))
	}
}

func TestComment(t *testing.T) {
	tests := []struct {
		ref, path, file, want string
	}{
		{"acme/widgets#12", "/projects/acme%2Fwidgets/issues/12/notes", "note_issue.json", "/acme/widgets/-/issues/12#note_2608112345"},
		{"acme/platform/gadgets!77", "/projects/acme%2Fplatform%2Fgadgets/merge_requests/77/notes", "note_merge_request.json", "/acme/platform/gadgets/-/merge_requests/77#note_2608119876"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			p, client, mux, serverURL := setup(t)
			mux.HandleFunc("/projects/", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, "POST")
				testAuth(t, r)
				testPath(t, r, tt.path)
				testQuery(t, r, url.Values{})
				testBody(t, r, map[string]any{"body": "Reproduced on 1.4.2."})
				serveFile(t, w, http.StatusCreated, tt.file)
			})
			got, err := p.Comment(context.Background(), client, "", tt.ref, "Reproduced on 1.4.2.")
			if err != nil {
				t.Fatal(err)
			}
			if got != serverURL+tt.want {
				t.Errorf("Comment = %q, want %q", got, serverURL+tt.want)
			}
		})
	}
}

func TestCommentRejects(t *testing.T) {
	p, client, mux, _ := setup(t)
	noOtherRequests(t, mux)
	for _, tt := range []struct{ ref, body string }{
		{"acme#1", "x"}, {"acme/widgets", "x"}, {"acme/widgets#0", "x"}, {"acme/widgets#x", "x"},
		{"acme/widgets#-1", "x"}, {"/widgets#1", "x"}, {"acme//widgets!1", "x"}, {"acme/widgets.git#1", "x"},
		{"acme/wid gets#1", "x"}, {"acme/widgets#1234567890", "x"}, {"OPS-12", "x"},
		{"acme/widgets#1", ""}, {"acme/widgets!1", " \n "},
	} {
		if _, err := p.Comment(context.Background(), client, "", tt.ref, tt.body); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Comment(%q, %q): %v, want EINVALID", tt.ref, tt.body, err)
		}
	}
}

func TestConfigFromBase(t *testing.T) {
	tests := []struct {
		base string
		want gitlab.Config
	}{
		{"", gitlab.Defaults()},
		{"https://gitlab.com", gitlab.Defaults()},
		{"https://gitlab.com/", gitlab.Defaults()},
		{"https://gitlab.example.com", gitlab.Config{
			AuthURL:  "https://gitlab.example.com/oauth/authorize",
			TokenURL: "https://gitlab.example.com/oauth/token",
			APIURL:   "https://gitlab.example.com/api/v4/",
		}},
		{"https://example.com/gitlab/", gitlab.Config{
			AuthURL:  "https://example.com/gitlab/oauth/authorize",
			TokenURL: "https://example.com/gitlab/oauth/token",
			APIURL:   "https://example.com/gitlab/api/v4/",
		}},
		{"http://127.0.0.1:8124", gitlab.Config{
			AuthURL:  "http://127.0.0.1:8124/oauth/authorize",
			TokenURL: "http://127.0.0.1:8124/oauth/token",
			APIURL:   "http://127.0.0.1:8124/api/v4/",
		}},
	}
	for _, tt := range tests {
		got, err := gitlab.ConfigFromBase(tt.base)
		if err != nil {
			t.Errorf("ConfigFromBase(%q): %v", tt.base, err)
			continue
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("ConfigFromBase(%q) (-got +want):\n%s", tt.base, diff)
		}
	}
	for _, bad := range []string{"gitlab.example.com", "ftp://gitlab.example.com", "https://", "https://gitlab.example.com?x=1", "https://user:pw@gitlab.example.com"} {
		if _, err := gitlab.ConfigFromBase(bad); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("ConfigFromBase(%q): %v, want EINVALID", bad, err)
		}
	}
}

func TestOAuth2Config(t *testing.T) {
	p := gitlab.New(gitlab.Config{ClientID: "id", ClientSecret: "secret"})
	got := p.OAuth2Config()
	want := oauth2.Config{
		ClientID:     "id",
		ClientSecret: "secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   "https://gitlab.com/oauth/authorize",
			TokenURL:  "https://gitlab.com/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{"api", "read_user"},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(oauth2.Config{})); diff != "" {
		t.Errorf("OAuth2Config (-got +want):\n%s", diff)
	}
	if p.ID() != tandem.GitLab || p.AuthCodeOptions() != nil {
		t.Errorf("ID %q, AuthCodeOptions %v", p.ID(), p.AuthCodeOptions())
	}
}

// An API URL without /api/v4 gets it, as client-go would add it anyway,
// and links are built on the web base before it.
func TestAPIURLWithoutVersion(t *testing.T) {
	_, client, mux, serverURL := setup(t)
	p := gitlab.New(gitlab.Config{APIURL: serverURL})
	mux.HandleFunc("/projects/", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusCreated, "note_issue.json")
	})
	got, err := p.Comment(context.Background(), client, "", "acme/widgets#12", "hi")
	if err != nil || got != serverURL+"/acme/widgets/-/issues/12#note_2608112345" {
		t.Errorf("Comment = %q (%v)", got, err)
	}
}
