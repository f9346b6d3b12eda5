package jira_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

const openJQL = "assignee = currentUser() AND statusCategory != Done"

func TestOpenIssues(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/search/jql", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{
			"jql":        {openJQL + " ORDER BY updated DESC"},
			"fields":     {"summary,status,issuetype,assignee,updated"},
			"maxResults": {"10"},
		})
		serveFile(t, w, http.StatusOK, "search_jql.json")
	})
	issues, total, err := p.OpenIssues(context.Background(), client, testSite, "alice@example.com", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.Issue{
		{Key: "OPS-57", Title: "Rotate the database credentials", URL: "https://acme.atlassian.net/browse/OPS-57",
			State: "In Progress", Type: "Task", Assignee: "Alice Liddell", Updated: time.Date(2025, 7, 3, 16, 40, 21, 512e6, time.UTC)},
		{Key: "WEB-12", Title: "Broken link in the footer", URL: "https://acme.atlassian.net/browse/WEB-12",
			State: "To Do", Type: "Bug", Assignee: "Alice Liddell", Updated: time.Date(2025, 7, 2, 9, 15, 9, 4e6, time.UTC)},
	}
	if diff := cmp.Diff(issues, want); diff != "" {
		t.Errorf("issues (-got +want):\n%s", diff)
	}
	if total != 2 {
		t.Errorf("total %d, want 2 (the last page needs no count)", total)
	}
}

// Past limit, the enhanced search has no total: it comes from
// approximate-count, with the JQL's ORDER BY left out, and is never below
// what the pages showed.
func TestOpenIssuesPaginatesAndCounts(t *testing.T) {
	tests := []struct {
		limit      int
		perPage    string
		wantTokens []string
		count      int
		wantTotal  int
	}{
		{30, "30", []string{""}, 42, 42},
		{150, "100", []string{"", "CAEaAggD1"}, 1234, 1234},
		{150, "100", []string{"", "CAEaAggD1"}, 7, 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit, "/", tt.count), func(t *testing.T) {
			p, client, mux, _ := setup(t)
			serveSites(t, mux)
			var tokens []string
			mux.HandleFunc(base+"/search/jql", func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				tokens = append(tokens, q.Get("nextPageToken"))
				if q.Get("maxResults") != tt.perPage {
					t.Errorf("maxResults %q, want %s", q.Get("maxResults"), tt.perPage)
				}
				n, _ := strconv.Atoi(q.Get("maxResults"))
				var items []string
				for i := range n {
					items = append(items, fmt.Sprintf(`{"id":"%d","key":"OPS-%d","fields":{"summary":"s","updated":"2025-07-03T17:40:21.512+0100"}}`, 20000+i, 500-i))
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"issues":[%s],"nextPageToken":"CAEaAggD%d","isLast":false}`, strings.Join(items, ","), len(tokens))
			})
			mux.HandleFunc(base+"/search/approximate-count", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, "POST")
				testHeader(t, r, "Authorization", "Bearer "+testToken)
				testBody(t, r, `{"jql":"`+openJQL+`"}`)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"count":%d}`, tt.count)
			})
			issues, total, err := p.OpenIssues(context.Background(), client, testSite, "alice@example.com", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(issues) != tt.limit || total != tt.wantTotal {
				t.Errorf("got %d issues of %d, want %d of %d", len(issues), total, tt.limit, tt.wantTotal)
			}
			if diff := cmp.Diff(tokens, tt.wantTokens); diff != "" {
				t.Errorf("page tokens sent (-got +want):\n%s", diff)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/issue/OPS-57", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{"fields": {"summary,status,issuetype,assignee,updated,description"}})
		serveFile(t, w, http.StatusOK, "issue.json")
	})
	got, err := p.Issue(context.Background(), client, testSite, "ops-57")
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Issue{
		Key: "OPS-57", Title: "Rotate the database credentials", URL: "https://acme.atlassian.net/browse/OPS-57",
		State: "In Progress", Type: "Task", Assignee: "Alice Liddell", Updated: time.Date(2025, 7, 3, 16, 40, 21, 512e6, time.UTC),
		Body: "The credentials were pasted into https://acme.atlassian.net/browse/SEC-4.\nRotate them, then tell @Bob Marley.\n\n- db-1\n- db-2",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Issue (-got +want):\n%s", diff)
	}
}

func TestCreateIssue(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/issue", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		testBody(t, r, `{"fields":{
			"project":{"key":"OPS"},
			"summary":"Disk full on db-2",
			"issuetype":{"name":"Bug"},
			"description":{"type":"doc","version":1,"content":[
				{"type":"paragraph","content":[{"type":"text","text":"It is full."},{"type":"hardBreak"},{"type":"text","text":"Since 09:00."}]},
				{"type":"paragraph","content":[{"type":"text","text":"Please look."}]}
			]}
		}}`)
		serveFile(t, w, http.StatusCreated, "issue_created.json")
	})
	mux.HandleFunc(base+"/issue/OPS-58", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		serveFile(t, w, http.StatusOK, "issue_created_full.json")
	})
	got, err := p.CreateIssue(context.Background(), client, testSite, tandem.NewIssue{
		Container: "ops", Title: "  Disk full on db-2 ", Type: "Bug", Body: "It is full.\r\nSince 09:00.\n\n\n\nPlease look.\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Issue{
		Key: "OPS-58", Title: "Disk full on db-2", URL: "https://acme.atlassian.net/browse/OPS-58", State: "To Do", Type: "Bug",
		Body: "It is full.\nSince 09:00.\n\nPlease look.", Updated: time.Date(2025, 7, 3, 16, 46, 10, 330e6, time.UTC),
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateIssue (-got +want):\n%s", diff)
	}
}

// Without a type the issue is a Task; without a body it has no description.
// When the new issue cannot be read back, what was sent stands in for it.
func TestCreateIssueDefaults(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/issue", func(w http.ResponseWriter, r *http.Request) {
		testBody(t, r, `{"fields":{"project":{"key":"OPS"},"summary":"Tidy up","issuetype":{"name":"Task"}}}`)
		serveFile(t, w, http.StatusCreated, "issue_created.json")
	})
	mux.HandleFunc(base+"/issue/OPS-58", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusServiceUnavailable, "error_503.html")
	})
	got, err := p.CreateIssue(context.Background(), client, testSite, tandem.NewIssue{Container: "OPS", Title: "Tidy up"})
	if err != nil {
		t.Fatalf("CreateIssue with a failed read-back: %v, want the issue anyway", err)
	}
	want := tandem.Issue{Key: "OPS-58", Title: "Tidy up", URL: "https://acme.atlassian.net/browse/OPS-58", Type: "Task"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateIssue (-got +want):\n%s", diff)
	}
}

func TestCreateIssueRejectsInput(t *testing.T) {
	p, client, _, _ := setup(t) // any request would fail the test
	tests := []struct {
		name string
		site string
		n    tandem.NewIssue
	}{
		{"no site", "", tandem.NewIssue{Container: "OPS", Title: "x"}},
		{"site with a path", "../../oauth", tandem.NewIssue{Container: "OPS", Title: "x"}},
		{"no project", testSite, tandem.NewIssue{Title: "x"}},
		{"project with a path", testSite, tandem.NewIssue{Container: "OPS/../../x", Title: "x"}},
		{"one-letter project", testSite, tandem.NewIssue{Container: "O", Title: "x"}},
		{"project starting with a digit", testSite, tandem.NewIssue{Container: "1OPS", Title: "x"}},
		{"empty summary", testSite, tandem.NewIssue{Container: "OPS", Title: "  "}},
		{"two-line summary", testSite, tandem.NewIssue{Container: "OPS", Title: "a\nb"}},
		{"long summary", testSite, tandem.NewIssue{Container: "OPS", Title: strings.Repeat("é", 256)}},
		{"odd type", testSite, tandem.NewIssue{Container: "OPS", Title: "x", Type: "Bug\x00"}},
	}
	for _, tt := range tests {
		_, err := p.CreateIssue(context.Background(), client, tt.site, tt.n)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("%s: %v, want EINVALID", tt.name, err)
		}
	}
}

// Jira answers a project one cannot see like a missing one: 400 on the
// project field. That reads as ENOTFOUND, naming the account.
func TestCreateIssueUnknownProject(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	serveMyself(t, mux)
	mux.HandleFunc(base+"/issue", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusBadRequest, "error_400_project.json")
	})
	_, err := p.CreateIssue(context.Background(), client, testSite, tandem.NewIssue{Container: "SEC", Title: "x"})
	if tandem.ErrorCode(err) != tandem.ENOTFOUND ||
		tandem.ErrorMessage(err) != "Jira account alice@example.com cannot see project SEC, or it does not exist." {
		t.Errorf("unknown project: %v (%q)", err, tandem.ErrorMessage(err))
	}
}

func TestComment(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/issue/OPS-57/comment", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		testBody(t, r, `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Rotated on db-1."}]}]}}`)
		serveFile(t, w, http.StatusCreated, "comment.json")
	})
	got, err := p.Comment(context.Background(), client, testSite, "OPS-57", "Rotated on db-1.")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://acme.atlassian.net/browse/OPS-57?focusedCommentId=10417"; got != want {
		t.Errorf("comment URL %q, want %q", got, want)
	}
}

func TestCommentRejectsInput(t *testing.T) {
	p, client, _, _ := setup(t) // any request would fail the test
	for _, tt := range []struct{ ref, body string }{
		{"OPS-57", " \n "},
		{"OPS-57", strings.Repeat("x", 32768)},
		{"OPS", "hi"},
		{"OPS-0", "hi"},
		{"OPS-1/../../issue", "hi"},
		{"owner/repo#1", "hi"},
	} {
		if _, err := p.Comment(context.Background(), client, testSite, tt.ref, tt.body); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Comment(%q, %d bytes): %v, want EINVALID", tt.ref, len(tt.body), err)
		}
	}
}

func TestTransition(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/issue/OPS-57/transitions", func(w http.ResponseWriter, r *http.Request) {
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		switch r.Method {
		case "GET":
			serveFile(t, w, http.StatusOK, "transitions.json")
		case "POST":
			testBody(t, r, `{"transition":{"id":"31"}}`)
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("method %s", r.Method)
		}
	})
	mux.HandleFunc(base+"/issue/OPS-57", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		serveFile(t, w, http.StatusOK, "issue_in_review.json")
	})
	got, err := p.Transition(context.Background(), client, testSite, "OPS-57", "in review")
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != "OPS-57" || got.State != "In Review" || got.URL != "https://acme.atlassian.net/browse/OPS-57" {
		t.Errorf("Transition = %+v", got)
	}
}

func TestTransitionUnreachable(t *testing.T) {
	tests := []struct {
		status   string
		code     string
		wantMsg  string
		offering string // transitions.json, or an empty list
	}{
		{"Done", tandem.EINVALID, `OPS-57 cannot move to "Done" from In Progress; it can move to: To Do, In Review.`, "transitions.json"},
		{"in progress", tandem.EINVALID, "OPS-57 is already In Progress.", "transitions.json"},
		{"Done", tandem.EFORBIDDEN, "Jira account alice@example.com cannot move OPS-57: Jira offers it no transition.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.offering, func(t *testing.T) {
			p, client, mux, _ := setup(t)
			serveSites(t, mux)
			serveMyself(t, mux)
			mux.HandleFunc(base+"/issue/OPS-57/transitions", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, "GET") // never POST
				if tt.offering == "" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"expand":"transitions","transitions":[]}`))
					return
				}
				serveFile(t, w, http.StatusOK, tt.offering)
			})
			mux.HandleFunc(base+"/issue/OPS-57", func(w http.ResponseWriter, r *http.Request) {
				serveFile(t, w, http.StatusOK, "issue.json")
			})
			_, err := p.Transition(context.Background(), client, testSite, "OPS-57", tt.status)
			if tandem.ErrorCode(err) != tt.code || tandem.ErrorMessage(err) != tt.wantMsg {
				t.Errorf("Transition to %q: %v\nmessage %q\nwant    %q", tt.status, err, tandem.ErrorMessage(err), tt.wantMsg)
			}
		})
	}
}

// The site's address is looked up once, then remembered.
func TestSiteURLIsCached(t *testing.T) {
	p, client, mux, _ := setup(t)
	asked := serveSites(t, mux)
	mux.HandleFunc(base+"/issue/OPS-57", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusOK, "issue.json")
	})
	for range 3 {
		if _, err := p.Issue(context.Background(), client, testSite, "OPS-57"); err != nil {
			t.Fatal(err)
		}
	}
	if *asked != 1 {
		t.Errorf("accessible-resources asked %d times, want 1", *asked)
	}
}

// A site the grant does not cover is refused before anything is sent, as
// the gateway would refuse it.
func TestSiteNotGranted(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	_, err := p.Comment(context.Background(), client, "0c4f2b1e-9d8a-4e7f-b6c5-a4d3e2f1a0b9", "OPS-1", "hi")
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED || !strings.Contains(tandem.ErrorMessage(err), "connect Jira again") {
		t.Errorf("site not granted: %v, want EUNAUTHORIZED asking to reconnect", err)
	}
}

// The ADF sent for text keeps blank-line paragraphs and line breaks, and
// never holds an empty text node, which Jira would refuse.
func TestCommentDocument(t *testing.T) {
	tests := []struct{ text, want string }{
		{"one", `[{"type":"paragraph","content":[{"type":"text","text":"one"}]}]`},
		{"a\n\nb", `[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"paragraph","content":[{"type":"text","text":"b"}]}]`},
		{"a\n\nb\n\n", `[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"paragraph","content":[{"type":"text","text":"b"}]}]`},
		{"a\n\n\nb", `[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"paragraph","content":[{"type":"text","text":"b"}]}]`},
		{"a\r\nb", `[{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b"}]}]`},
	}
	for _, tt := range tests {
		p, client, mux, _ := setup(t)
		serveSites(t, mux)
		mux.HandleFunc(base+"/issue/OPS-1/comment", func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Body struct {
					Type    string          `json:"type"`
					Version int             `json:"version"`
					Content json.RawMessage `json:"content"`
				} `json:"body"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Body.Type != "doc" || body.Body.Version != 1 || string(body.Body.Content) != tt.want {
				t.Errorf("text %q sent as %s\nwant %s", tt.text, body.Body.Content, tt.want)
			}
			serveFile(t, w, http.StatusCreated, "comment.json")
		})
		if _, err := p.Comment(context.Background(), client, testSite, "OPS-1", tt.text); err != nil {
			t.Fatal(err)
		}
	}
}
