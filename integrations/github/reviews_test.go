package github_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

func TestReviewRequests(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/search/issues", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{
			"q": {"is:pr is:open review-requested:@me"}, "sort": {"updated"}, "order": {"desc"}, "per_page": {"10"},
		})
		serveFile(t, w, http.StatusOK, "search_review_requests.json")
	})
	prs, total, err := p.ReviewRequests(context.Background(), client, "alice-hub", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.PullRequest{
		{Repo: "acme/widgets", Number: 490, Title: "Bump Go to 1.26", URL: "https://github.com/acme/widgets/pull/490",
			UpdatedAt: time.Date(2025, 7, 3, 15, 12, 9, 0, time.UTC)},
		{Repo: "acme/gadgets", Number: 81, Title: "Gadget docs", URL: "https://github.com/acme/gadgets/pull/81", Draft: true,
			UpdatedAt: time.Date(2025, 7, 1, 9, 30, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(prs, want); diff != "" {
		t.Errorf("review requests (-got +want):\n%s", diff)
	}
	if total != 2 {
		t.Errorf("total %d, want 2", total)
	}
}

func TestReviewRequestsDefaultLimit(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/search/issues", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("per_page"); got != "30" {
			t.Errorf("per_page %q, want 30", got)
		}
		serveFile(t, w, http.StatusOK, "search_review_requests.json")
	})
	if _, _, err := p.ReviewRequests(context.Background(), client, "alice-hub", 0); err != nil {
		t.Fatal(err)
	}
}

func TestReviewRequestsRejectsLogin(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	for _, login := range []string{"", "alice is:closed", "-alice", "alice\n", "a/b"} {
		_, _, err := p.ReviewRequests(context.Background(), client, login, 5)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("login %q: %v, want EINVALID", login, err)
		}
	}
}
