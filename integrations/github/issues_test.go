package github_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

func TestOpenIssues(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/search/issues", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{
			"q": {"is:issue is:open assignee:@me"}, "sort": {"updated"}, "order": {"desc"}, "per_page": {"2"},
		})
		serveFile(t, w, http.StatusOK, "search_assigned_issues.json")
	})
	issues, total, err := p.OpenIssues(context.Background(), client, "", "alice-hub", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.Issue{
		{Key: "acme/widgets#488", Title: "Widget client leaks connections", URL: "https://github.com/acme/widgets/issues/488",
			State: "open", Assignee: "alice-hub", Updated: time.Date(2025, 7, 3, 10, 5, 44, 0, time.UTC)},
		{Key: "alice-hub/notes#3", Title: "Write the retry design note", URL: "https://github.com/alice-hub/notes/issues/3",
			State: "open", Assignee: "alice-hub", Updated: time.Date(2025, 6, 28, 17, 41, 2, 0, time.UTC)},
	}
	if diff := cmp.Diff(issues, want); diff != "" {
		t.Errorf("issues (-got +want):\n%s", diff)
	}
	if total != 5 {
		t.Errorf("total %d, want 5", total)
	}
}

func TestOpenIssuesRejectsLogin(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	for _, login := range []string{"", "alice repo:acme/secret", "alice\t"} {
		if _, _, err := p.OpenIssues(context.Background(), client, "", login, 5); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("login %q: %v, want EINVALID", login, err)
		}
	}
}

func TestCreateIssue(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/repos/acme/widgets/issues", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		testBody(t, r, map[string]any{"title": "Retry budget is too small", "body": "Three retries are not enough behind the EU proxy."})
		serveFile(t, w, http.StatusCreated, "issue_created.json")
	})
	got, err := p.CreateIssue(context.Background(), client, "", tandem.NewIssue{
		Container: "acme/widgets", Title: "  Retry budget is too small\n", Body: "Three retries are not enough behind the EU proxy.",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Issue{
		Key: "acme/widgets#512", Title: "Retry budget is too small", URL: "https://github.com/acme/widgets/issues/512",
		State: "open", Body: "Three retries are not enough behind the EU proxy.", Updated: time.Date(2025, 7, 4, 9, 15, 27, 0, time.UTC),
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("issue (-got +want):\n%s", diff)
	}
}

// No body sends no body field; a title of 256 characters, multi-byte ones
// included, is GitHub's limit and passes.
func TestCreateIssueLongTitleNoBody(t *testing.T) {
	p, client, mux, _ := setup(t)
	title := strings.Repeat("é", 256)
	mux.HandleFunc("/repos/acme/widgets/issues", func(w http.ResponseWriter, r *http.Request) {
		testBody(t, r, map[string]any{"title": title})
		serveFile(t, w, http.StatusCreated, "issue_created.json")
	})
	if _, err := p.CreateIssue(context.Background(), client, "", tandem.NewIssue{Container: "acme/widgets", Title: title}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateIssueRejects(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	ok := tandem.NewIssue{Container: "acme/widgets", Title: "t"}
	tests := []struct {
		name  string
		edit  func(*tandem.NewIssue)
		inMsg string
	}{
		{"no repo", func(n *tandem.NewIssue) { n.Container = "" }, "owner/name"},
		{"owner only", func(n *tandem.NewIssue) { n.Container = "acme" }, "owner/name"},
		{"three parts", func(n *tandem.NewIssue) { n.Container = "acme/widgets/issues" }, "owner/name"},
		{"dot dot", func(n *tandem.NewIssue) { n.Container = "acme/.." }, "owner/name"},
		{"space", func(n *tandem.NewIssue) { n.Container = "acme/wid gets" }, "owner/name"},
		{"query", func(n *tandem.NewIssue) { n.Container = "acme/widgets?x=1" }, "owner/name"},
		{"empty title", func(n *tandem.NewIssue) { n.Title = "" }, "needs a title"},
		{"blank title", func(n *tandem.NewIssue) { n.Title = " \n\t" }, "needs a title"},
		{"long title", func(n *tandem.NewIssue) { n.Title = strings.Repeat("x", 257) }, "257 characters"},
		{"long body", func(n *tandem.NewIssue) { n.Body = strings.Repeat("x", 65537) }, "at most 65536"},
	}
	for _, tt := range tests {
		n := ok
		tt.edit(&n)
		_, err := p.CreateIssue(context.Background(), client, "", n)
		if tandem.ErrorCode(err) != tandem.EINVALID || !strings.Contains(tandem.ErrorMessage(err), tt.inMsg) {
			t.Errorf("%s: %v, want EINVALID saying %q", tt.name, err, tt.inMsg)
		}
	}
}

func TestCreateIssueIssuesTurnedOff(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/repos/acme/widgets/issues", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusGone, "error_410.json")
	})
	_, err := p.CreateIssue(context.Background(), client, "", tandem.NewIssue{Container: "acme/widgets", Title: "t"})
	if tandem.ErrorCode(err) != tandem.EFORBIDDEN || tandem.ErrorMessage(err) != "acme/widgets has issues turned off on GitHub." {
		t.Errorf("410: %v, want EFORBIDDEN saying issues are off", err)
	}
}
