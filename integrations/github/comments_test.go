package github_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
)

func TestComment(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/repos/acme/widgets/issues/490/comments", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		testBody(t, r, map[string]any{"body": "LGTM once CI is green."})
		serveFile(t, w, http.StatusCreated, "issue_comment_created.json")
	})
	got, err := p.Comment(context.Background(), client, "", "acme/widgets#490", "LGTM once CI is green.")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://github.com/acme/widgets/pull/490#issuecomment-2207735190"; got != want {
		t.Errorf("comment URL %q, want %q", got, want)
	}
}

func TestCommentRejects(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	for _, ref := range []string{"", "acme/widgets", "acme/widgets#", "acme/widgets#0", "acme/widgets#-3", "acme/widgets#+3",
		"acme/widgets#3x", "acme/widgets#3#4", "#3", "acme#3", "acme/widgets!3", "acme/widgets/issues#3", "acme/..#3", "PROJ-3"} {
		_, err := p.Comment(context.Background(), client, "", ref, "hi")
		if tandem.ErrorCode(err) != tandem.EINVALID || !strings.Contains(tandem.ErrorMessage(err), "owner/name#123") {
			t.Errorf("ref %q: %v, want EINVALID", ref, err)
		}
	}
	for _, body := range []string{"", " \n", strings.Repeat("x", 65537)} {
		if _, err := p.Comment(context.Background(), client, "", "acme/widgets#3", body); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("body of %d bytes: %v, want EINVALID", len(body), err)
		}
	}
}

func TestCommentIssuesTurnedOff(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/repos/acme/widgets/issues/3/comments", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusGone, "error_410.json")
	})
	_, err := p.Comment(context.Background(), client, "", "acme/widgets#3", "hi")
	if tandem.ErrorCode(err) != tandem.EFORBIDDEN {
		t.Errorf("410: %v, want EFORBIDDEN", err)
	}
}
