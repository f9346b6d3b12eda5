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

const headSHA = "5e9d8c7b6a5f4e3d2c1b0a99887766554433221f" // testdata/pull.json

// statusAPI serves pull request acme/widgets#490, its checks and reviews;
// editPull changes the pull request first.
func statusAPI(t *testing.T, mux *http.ServeMux, editPull func(map[string]any)) {
	mux.HandleFunc("/repos/acme/widgets/pulls/490", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		serveEdited(t, w, http.StatusOK, "pull.json", editPull)
	})
	mux.HandleFunc("/repos/acme/widgets/commits/"+headSHA+"/check-runs", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{"per_page": {"100"}})
		serveFile(t, w, http.StatusOK, "check_runs.json")
	})
	mux.HandleFunc("/repos/acme/widgets/pulls/490/reviews", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{"per_page": {"100"}})
		serveFile(t, w, http.StatusOK, "reviews.json")
	})
}

func TestPullRequestStatus(t *testing.T) {
	p, client, mux, _ := setup(t)
	statusAPI(t, mux, func(map[string]any) {})
	got, err := p.PullRequestStatus(context.Background(), client, "acme/widgets", 490)
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.PullRequestStatus{
		PullRequest: tandem.PullRequest{Repo: "acme/widgets", Number: 490, Title: "Bump Go to 1.26",
			URL: "https://github.com/acme/widgets/pull/490", UpdatedAt: time.Date(2025, 7, 3, 15, 12, 9, 0, time.UTC)},
		State:     "open",
		Mergeable: "yes",
		Checks: []tandem.Check{
			{Name: "build", Status: "completed", Conclusion: "success"},
			{Name: "test", Status: "completed", Conclusion: "failure"},
			{Name: "lint", Status: "in_progress"},
		},
		// alice-hub asked for changes, approved, then only commented;
		// carol-hub's approval was dismissed; bob-hub's review is pending.
		Reviews: []tandem.Review{
			{Reviewer: "alice-hub", State: "APPROVED"},
			{Reviewer: "carol-hub", State: "DISMISSED"},
			{Reviewer: "ghost", State: "APPROVED"},
		},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("status (-got +want):\n%s", diff)
	}
}

func TestPullRequestStatusMergeable(t *testing.T) {
	tests := []struct {
		name             string
		edit             func(map[string]any)
		state, mergeable string
	}{
		{"computing", func(o map[string]any) { o["mergeable"], o["mergeable_state"] = nil, "unknown" }, "open", "unknown"},
		{"conflicts", func(o map[string]any) { o["mergeable"], o["mergeable_state"] = false, "dirty" }, "open", "no"},
		{"dirty but stale true", func(o map[string]any) { o["mergeable_state"] = "dirty" }, "open", "no"},
		{"clean", func(o map[string]any) { o["mergeable_state"] = "clean" }, "open", "yes"},
		{"closed", func(o map[string]any) { o["state"], o["mergeable"] = "closed", nil }, "closed", "no"},
		{"merged", func(o map[string]any) { o["state"], o["merged"], o["mergeable"] = "closed", true, nil }, "merged", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client, mux, _ := setup(t)
			statusAPI(t, mux, tt.edit)
			got, err := p.PullRequestStatus(context.Background(), client, "acme/widgets", 490)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.state || got.Mergeable != tt.mergeable {
				t.Errorf("state %q, mergeable %q; want %q, %q", got.State, got.Mergeable, tt.state, tt.mergeable)
			}
		})
	}
}

func TestPullRequestStatusPaginates(t *testing.T) {
	p, client, mux, serverURL := setup(t)
	mux.HandleFunc("/repos/acme/widgets/pulls/490", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusOK, "pull.json")
	})
	page := func(w http.ResponseWriter, r *http.Request, first, second string) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page") == "2" {
			_, _ = w.Write([]byte(second))
			return
		}
		next := *r.URL
		q := next.Query()
		q.Set("page", "2")
		next.RawQuery = q.Encode()
		w.Header().Set("Link", `<`+serverURL+"/api/v3"+next.String()+`>; rel="next"`)
		_, _ = w.Write([]byte(first))
	}
	mux.HandleFunc("/repos/acme/widgets/commits/"+headSHA+"/check-runs", func(w http.ResponseWriter, r *http.Request) {
		page(w, r, `{"total_count":2,"check_runs":[{"name":"a","status":"queued"}]}`,
			`{"total_count":2,"check_runs":[{"name":"b","status":"completed","conclusion":"neutral"}]}`)
	})
	mux.HandleFunc("/repos/acme/widgets/pulls/490/reviews", func(w http.ResponseWriter, r *http.Request) {
		page(w, r, `[{"user":{"login":"x"},"state":"CHANGES_REQUESTED"}]`, `[{"user":{"login":"x"},"state":"APPROVED"}]`)
	})
	got, err := p.PullRequestStatus(context.Background(), client, "acme/widgets", 490)
	if err != nil {
		t.Fatal(err)
	}
	wantChecks := []tandem.Check{{Name: "a", Status: "queued"}, {Name: "b", Status: "completed", Conclusion: "neutral"}}
	if diff := cmp.Diff(got.Checks, wantChecks); diff != "" {
		t.Errorf("checks (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(got.Reviews, []tandem.Review{{Reviewer: "x", State: "APPROVED"}}); diff != "" {
		t.Errorf("reviews (-got +want):\n%s", diff)
	}
}

// A pull request with no checks and no reviews has empty lists, not nil.
func TestPullRequestStatusNone(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/repos/acme/widgets/pulls/490", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusOK, "pull.json")
	})
	mux.HandleFunc("/repos/acme/widgets/commits/"+headSHA+"/check-runs", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"total_count":0,"check_runs":[]}`))
	})
	mux.HandleFunc("/repos/acme/widgets/pulls/490/reviews", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[]`))
	})
	got, err := p.PullRequestStatus(context.Background(), client, "acme/widgets", 490)
	if err != nil {
		t.Fatal(err)
	}
	if got.Checks == nil || got.Reviews == nil || len(got.Checks)+len(got.Reviews) != 0 {
		t.Errorf("checks %#v, reviews %#v; want empty lists", got.Checks, got.Reviews)
	}
}

func TestPullRequestStatusRejects(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	for _, tt := range []struct {
		repo   string
		number int
	}{{"acme/widgets", 0}, {"acme/widgets", -1}, {"acme", 1}, {"acme/widgets#1", 1}, {"", 1}} {
		if _, err := p.PullRequestStatus(context.Background(), client, tt.repo, tt.number); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("%q #%d: %v, want EINVALID", tt.repo, tt.number, err)
		}
	}
}
