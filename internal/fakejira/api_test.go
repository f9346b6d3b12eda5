package fakejira_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem/internal/fakejira"
)

// seed adds projects OPS (site A) and LAB (site B) and some issues.
func seed(s *fakejira.Server) (ops1, ops2, ops3, lab1 string) {
	s.AddProject(siteA, "OPS", "Operations")
	s.AddProject(siteB, "LAB", "Research")
	ops1 = s.AddIssue(siteA, fakejira.Issue{Project: "OPS", Summary: "First", Assignee: "alice@example.test", Description: "Line one\nline two\n\nSecond paragraph"})
	ops2 = s.AddIssue(siteA, fakejira.Issue{Project: "OPS", Summary: "Second", Type: "Bug", Status: "In Progress", Assignee: "alice@example.test", Reporter: "bob@example.test"})
	ops3 = s.AddIssue(siteA, fakejira.Issue{Project: "OPS", Summary: "Finished", Status: "Done", Assignee: "alice@example.test"})
	s.AddIssue(siteA, fakejira.Issue{Project: "OPS", Summary: "Bob's", Assignee: "bob@example.test"})
	lab1 = s.AddIssue(siteB, fakejira.Issue{Project: "LAB", Summary: "Elsewhere", Assignee: "alice@example.test"})
	return
}

type myself struct {
	AccountID    string `json:"accountId"`
	EmailAddress string `json:"emailAddress"`
	DisplayName  string `json:"displayName"`
	AccountType  string `json:"accountType"`
	Self         string `json:"self"`
}

func TestMyselfAndSiteAccess(t *testing.T) {
	s := start(t, fakejira.Options{})
	tok, _ := s.MintToken("bob@example.test")
	a := call(t, client(t, tok, site(s, siteA)), "GET", "rest/api/3/myself", nil)
	var me myself
	a.decode(t, &me)
	if a.status != http.StatusOK || me.EmailAddress != "bob@example.test" || me.DisplayName != "Bob Marley" ||
		!strings.HasPrefix(me.AccountID, "712020:") || me.AccountType != "atlassian" ||
		me.Self != s.APIURL()+"ex/jira/"+siteA+"/rest/api/3/user?accountId="+me.AccountID {
		t.Errorf("myself: HTTP %d %+v", a.status, me)
	}

	tests := []struct {
		name    string
		cloudID string
		status  int
		want    gatewayErr
	}{
		{"site without access", siteB, http.StatusUnauthorized, gatewayErr{401, "Unauthorized; scope does not match"}},
		{"unknown site", "00000000-0000-0000-0000-000000000000", http.StatusNotFound, gatewayErr{404, "Not Found"}},
	}
	for _, tt := range tests {
		a := call(t, client(t, tok, site(s, tt.cloudID)), "GET", "rest/api/3/myself", nil)
		var got gatewayErr
		a.decode(t, &got)
		if a.status != tt.status || got != tt.want {
			t.Errorf("%s: HTTP %d %+v, want %d %+v", tt.name, a.status, got, tt.status, tt.want)
		}
	}
	// Only the sites the account can use are listed.
	if got := resources(t, s, tok); len(got) != 1 || got[0].ID != siteA {
		t.Errorf("bob's resources: %+v", got)
	}
}

func TestScopesAreChecked(t *testing.T) {
	s := start(t, fakejira.Options{})
	seed(s)
	readOnly := mint(t, s, "alice@example.test", siteA, "read:jira-work")
	if a := call(t, readOnly, "GET", "rest/api/3/issue/OPS-1", nil); a.status != http.StatusOK {
		t.Errorf("read with read:jira-work: HTTP %d", a.status)
	}
	for _, path := range []string{"rest/api/3/myself"} {
		if a := call(t, readOnly, "GET", path, nil); a.status != http.StatusUnauthorized {
			t.Errorf("GET %s without read:jira-user: HTTP %d, want 401", path, a.status)
		}
	}
	a := call(t, readOnly, "POST", "rest/api/3/issue/OPS-1/comment", map[string]any{"body": adf("hi")})
	var ge gatewayErr
	a.decode(t, &ge)
	if a.status != http.StatusUnauthorized || ge.Message != "Unauthorized; scope does not match" {
		t.Errorf("comment without write:jira-work: HTTP %d %+v", a.status, ge)
	}
	if len(s.Comments()) != 0 {
		t.Error("a comment was recorded")
	}
}

type searchResult struct {
	Issues []struct {
		ID     string         `json:"id"`
		Key    string         `json:"key"`
		Fields map[string]any `json:"fields"`
	} `json:"issues"`
	NextPageToken string `json:"nextPageToken"`
	IsLast        bool   `json:"isLast"`
}

func (r searchResult) keys() []string {
	var out []string
	for _, is := range r.Issues {
		out = append(out, is.Key)
	}
	return out
}

func TestSearchJQL(t *testing.T) {
	s := start(t, fakejira.Options{})
	ops1, ops2, ops3, _ := seed(s)
	c := mint(t, s, "alice@example.test", siteA)
	find := func(jql string, extra url.Values) (searchResult, answer) {
		t.Helper()
		q := url.Values{"jql": {jql}, "fields": {"summary,status,updated"}}
		for k, v := range extra {
			q[k] = v
		}
		a := call(t, c, "GET", "rest/api/3/search/jql?"+q.Encode(), nil)
		var r searchResult
		if a.status == http.StatusOK {
			a.decode(t, &r)
		}
		return r, a
	}

	tests := []struct {
		jql  string
		want []string
	}{
		{"assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC", []string{ops2, ops1}},
		{"assignee=currentUser() and statusCategory!=done order by updated asc", []string{ops1, ops2}},
		{`assignee = "alice@example.test" AND project = OPS ORDER BY key DESC`, []string{ops3, ops2, ops1}},
		{`project = "OPS" AND status = "In Progress"`, []string{ops2}},
		{"statusCategory = Done", []string{ops3}},
		{"assignee = currentUser() AND issuetype = Bug", []string{ops2}},
		{"assignee != currentUser() ORDER BY created", []string{"OPS-4"}},
		{"assignee IS EMPTY", nil},
	}
	for _, tt := range tests {
		r, a := find(tt.jql, nil)
		if a.status != http.StatusOK {
			t.Errorf("%s: HTTP %d %s", tt.jql, a.status, a.body)
			continue
		}
		if diff := cmp.Diff(r.keys(), tt.want); diff != "" || !r.IsLast {
			t.Errorf("%s: isLast %v, keys (-got +want):\n%s", tt.jql, r.IsLast, diff)
		}
	}

	r, _ := find("assignee = currentUser() ORDER BY updated DESC", url.Values{"maxResults": {"2"}})
	if len(r.Issues) != 2 || r.IsLast || r.NextPageToken == "" {
		t.Fatalf("page 1: %d issues, isLast %v, token %q", len(r.Issues), r.IsLast, r.NextPageToken)
	}
	if st, ok := r.Issues[0].Fields["status"].(map[string]any); !ok || st["name"] != "Done" {
		t.Errorf("fields of the first issue: %v", r.Issues[0].Fields)
	}
	if _, ok := r.Issues[0].Fields["description"]; ok {
		t.Error("a field that was not asked for came back")
	}
	r2, _ := find("assignee = currentUser() ORDER BY updated DESC", url.Values{"maxResults": {"2"}, "nextPageToken": {r.NextPageToken}})
	if len(r2.Issues) != 1 || !r2.IsLast || r2.NextPageToken != "" || r2.Issues[0].Key != ops1 {
		t.Errorf("page 2: %+v", r2)
	}
	if _, a := find("project = OPS", url.Values{"nextPageToken": {r.NextPageToken}}); a.status != http.StatusBadRequest {
		t.Errorf("a page token of another query: HTTP %d, want 400", a.status)
	}

	// Without fields, the enhanced search returns ids only.
	a := call(t, c, "GET", "rest/api/3/search/jql?jql="+url.QueryEscape("project = OPS"), nil)
	var ids searchResult
	a.decode(t, &ids)
	if len(ids.Issues) != 4 || ids.Issues[0].ID == "" || len(ids.Issues[0].Fields) != 0 {
		t.Errorf("ids only: %+v", ids)
	}

	// POST takes the same query as JSON.
	a = call(t, c, "POST", "rest/api/3/search/jql", map[string]any{"jql": "project = OPS AND statusCategory = Done", "fields": []string{"summary"}})
	var posted searchResult
	a.decode(t, &posted)
	if diff := cmp.Diff(posted.keys(), []string{ops3}); diff != "" || posted.Issues[0].Fields["summary"] != "Finished" {
		t.Errorf("POST search: %s", a.body)
	}

	a = call(t, c, "POST", "rest/api/3/search/approximate-count", map[string]string{"jql": "assignee = currentUser() AND statusCategory != Done"})
	var count struct{ Count int }
	a.decode(t, &count)
	if a.status != http.StatusOK || count.Count != 2 {
		t.Errorf("approximate-count: HTTP %d %s", a.status, a.body)
	}

	bad := []struct{ jql, msg string }{
		{"ORDER BY updated DESC", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."},
		{"", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."},
		{"colour = red", "Field 'colour' does not exist or you do not have permission to view it."},
		{"project = NOPE", "The value 'NOPE' does not exist for the field 'project'."},
		{"assignee = currentUser() OR project = OPS", "Error in the JQL Query: the fake supports AND only."},
		{"assignee = membersOf()", "Unable to find JQL function 'membersOf()'."},
		{"project = OPS ORDER BY colour", "Not able to sort using field 'colour'."},
	}
	for _, tt := range bad {
		_, a := find(tt.jql, nil)
		var e jiraErrors
		a.decode(t, &e)
		if a.status != http.StatusBadRequest || len(e.ErrorMessages) != 1 || e.ErrorMessages[0] != tt.msg {
			t.Errorf("%q: HTTP %d %s, want 400 %q", tt.jql, a.status, a.body, tt.msg)
		}
	}
}

func TestOldSearchIsGone(t *testing.T) {
	s := start(t, fakejira.Options{})
	seed(s)
	c := mint(t, s, "alice@example.test", siteA)
	for _, path := range []string{"rest/api/3/search?jql=project%3DOPS", "rest/api/2/search?jql=project%3DOPS"} {
		a := call(t, c, "GET", path, nil)
		var e jiraErrors
		a.decode(t, &e)
		if a.status != http.StatusGone || len(e.ErrorMessages) != 1 || !strings.Contains(e.ErrorMessages[0], "/rest/api/3/search/jql") {
			t.Errorf("GET %s: HTTP %d %s, want 410 pointing at search/jql", path, a.status, a.body)
		}
	}
}

type issueBean struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Self   string `json:"self"`
	Fields struct {
		Summary string `json:"summary"`
		Status  struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
		IssueType struct {
			Name string `json:"name"`
		} `json:"issuetype"`
		Assignee *struct {
			AccountID    string `json:"accountId"`
			DisplayName  string `json:"displayName"`
			EmailAddress string `json:"emailAddress"`
		} `json:"assignee"`
		Reporter *struct {
			DisplayName string `json:"displayName"`
		} `json:"reporter"`
		Description map[string]any `json:"description"`
		Updated     string         `json:"updated"`
	} `json:"fields"`
}

func TestGetIssue(t *testing.T) {
	s := start(t, fakejira.Options{})
	ops1, _, _, lab1 := seed(s)
	c := mint(t, s, "bob@example.test", siteA)
	a := call(t, c, "GET", "rest/api/3/issue/"+strings.ToLower(ops1), nil)
	var is issueBean
	a.decode(t, &is)
	if a.status != http.StatusOK || is.Key != ops1 || is.Fields.Summary != "First" || is.Fields.Status.Name != "To Do" ||
		is.Fields.Status.StatusCategory.Key != "new" || is.Fields.IssueType.Name != "Task" ||
		is.Fields.Assignee == nil || is.Fields.Assignee.DisplayName != "Alice Liddell" || is.Fields.Assignee.EmailAddress != "" ||
		is.Fields.Description["type"] != "doc" || is.Self != s.APIURL()+"ex/jira/"+siteA+"/rest/api/3/issue/"+is.ID {
		t.Errorf("GET issue: HTTP %d %s", a.status, a.body)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000-0700", is.Fields.Updated); err != nil {
		t.Errorf("updated %q is not in Jira's format: %v", is.Fields.Updated, err)
	}
	if got, ok := s.IssueByKey(siteA, ops1); !ok || got.Description != "Line one\nline two\n\nSecond paragraph" || got.Reporter != "alice@example.test" {
		t.Errorf("IssueByKey = %+v, %v", got, ok)
	}

	for _, key := range []string{"OPS-99", lab1} {
		a := call(t, c, "GET", "rest/api/3/issue/"+key, nil)
		var e jiraErrors
		a.decode(t, &e)
		if a.status != http.StatusNotFound || string(a.body) != `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`+"\n" {
			t.Errorf("GET %s: HTTP %d %s", key, a.status, a.body)
		}
	}
	s.RestrictProject(siteA, "OPS", "alice@example.test")
	if a := call(t, c, "GET", "rest/api/3/issue/"+ops1, nil); a.status != http.StatusNotFound {
		t.Errorf("issue of a project bob cannot see: HTTP %d, want 404", a.status)
	}
}

func TestCreateIssue(t *testing.T) {
	s := start(t, fakejira.Options{})
	seed(s)
	tok, _ := s.MintToken("bob@example.test")
	c := client(t, tok, site(s, siteA))
	body := map[string]any{"fields": map[string]any{
		"project": map[string]string{"key": "OPS"}, "summary": "Disk full on db-2",
		"issuetype": map[string]string{"name": "Bug"}, "description": adf("It is full."),
	}}
	a := call(t, c, "POST", "rest/api/3/issue", body)
	var created struct{ ID, Key, Self string }
	a.decode(t, &created)
	if a.status != http.StatusCreated || created.Key != "OPS-5" || created.Self != s.APIURL()+"ex/jira/"+siteA+"/rest/api/3/issue/"+created.ID {
		t.Fatalf("create: HTTP %d %s", a.status, a.body)
	}
	got, _ := s.IssueByKey(siteA, "OPS-5")
	if got.Summary != "Disk full on db-2" || got.Type != "Bug" || got.Status != "To Do" || got.Reporter != "bob@example.test" || got.Description != "It is full." {
		t.Errorf("stored issue %+v", got)
	}
	me := call(t, c, "GET", "rest/api/3/myself", nil)
	var bob myself
	me.decode(t, &bob)
	want := []fakejira.CreatedIssue{{CloudID: siteA, Key: "OPS-5", Project: "OPS", Type: "Bug", Summary: "Disk full on db-2", AccountID: bob.AccountID, Login: "bob@example.test"}}
	if diff := cmp.Diff(s.CreatedIssues(), want); diff != "" {
		t.Errorf("CreatedIssues (-got +want):\n%s", diff)
	}

	s.AddProject(siteA, "SEC", "Security")
	s.RestrictProject(siteA, "SEC", "alice@example.test")
	tests := []struct {
		name   string
		fields map[string]any
		want   map[string]string
	}{
		{"string description", map[string]any{"project": map[string]string{"key": "OPS"}, "summary": "x", "issuetype": map[string]string{"name": "Task"}, "description": "plain"},
			map[string]string{"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}},
		{"empty text node", map[string]any{"project": map[string]string{"key": "OPS"}, "summary": "x", "issuetype": map[string]string{"name": "Task"}, "description": adf("")},
			map[string]string{"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}},
		{"unknown project", map[string]any{"project": map[string]string{"key": "NOPE"}, "summary": "x", "issuetype": map[string]string{"name": "Task"}},
			map[string]string{"project": "valid project is required"}},
		{"hidden project", map[string]any{"project": map[string]string{"key": "SEC"}, "summary": "x", "issuetype": map[string]string{"name": "Task"}},
			map[string]string{"project": "valid project is required"}},
		{"nothing", map[string]any{},
			map[string]string{"project": "Specify a valid project ID or key", "issuetype": "Specify an issue type", "summary": "You must specify a summary of the issue."}},
		{"bad type and summary", map[string]any{"project": map[string]string{"key": "OPS"}, "summary": "a\nb", "issuetype": map[string]string{"name": "Saga"}},
			map[string]string{"issuetype": "The issue type selected is invalid.", "summary": "The summary is invalid because it contains newline characters."}},
		{"long summary", map[string]any{"project": map[string]string{"key": "OPS"}, "summary": strings.Repeat("x", 256), "issuetype": map[string]string{"name": "Task"}},
			map[string]string{"summary": "Summary must be less than 255 characters."}},
		{"unknown field", map[string]any{"project": map[string]string{"key": "OPS"}, "summary": "x", "issuetype": map[string]string{"name": "Task"}, "priority": map[string]string{"name": "High"}},
			map[string]string{"priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."}},
	}
	for _, tt := range tests {
		a := call(t, c, "POST", "rest/api/3/issue", map[string]any{"fields": tt.fields})
		var e jiraErrors
		a.decode(t, &e)
		if a.status != http.StatusBadRequest || len(e.ErrorMessages) != 0 {
			t.Errorf("%s: HTTP %d %s, want 400", tt.name, a.status, a.body)
		}
		if diff := cmp.Diff(e.Errors, tt.want); diff != "" {
			t.Errorf("%s: errors (-got +want):\n%s", tt.name, diff)
		}
	}
	if len(s.CreatedIssues()) != 1 {
		t.Errorf("%d issues recorded, want 1", len(s.CreatedIssues()))
	}
}

func TestCommentAndTransitions(t *testing.T) {
	s := start(t, fakejira.Options{})
	ops1, _, _, _ := seed(s)
	c := mint(t, s, "alice@example.test", siteA)
	a := call(t, c, "POST", "rest/api/3/issue/"+ops1+"/comment", map[string]any{"body": adf("On it.")})
	var cm struct {
		ID     string
		Self   string
		Author struct{ AccountID, DisplayName string }
		Body   map[string]any
	}
	a.decode(t, &cm)
	if a.status != http.StatusCreated || cm.ID == "" || cm.Author.DisplayName != "Alice Liddell" || cm.Body["type"] != "doc" ||
		!strings.HasSuffix(cm.Self, "/comment/"+cm.ID) {
		t.Fatalf("comment: HTTP %d %s", a.status, a.body)
	}
	wantComments := []fakejira.Comment{{CloudID: siteA, IssueKey: ops1, ID: cm.ID, AccountID: cm.Author.AccountID, Login: "alice@example.test", Body: "On it."}}
	if diff := cmp.Diff(s.Comments(), wantComments); diff != "" {
		t.Errorf("Comments (-got +want):\n%s", diff)
	}
	for _, body := range []any{map[string]any{}, map[string]any{"body": "plain text"}, map[string]any{"body": map[string]any{"type": "doc", "version": 1, "content": []any{}}}} {
		if a := call(t, c, "POST", "rest/api/3/issue/"+ops1+"/comment", body); a.status != http.StatusBadRequest {
			t.Errorf("comment %v: HTTP %d, want 400", body, a.status)
		}
	}

	type transitions struct {
		Transitions []struct {
			ID, Name string
			To       struct{ Name string }
		}
	}
	list := func() []string {
		a := call(t, c, "GET", "rest/api/3/issue/"+ops1+"/transitions", nil)
		var tr transitions
		a.decode(t, &tr)
		var out []string
		for _, x := range tr.Transitions {
			out = append(out, x.ID+" "+x.Name+" → "+x.To.Name)
		}
		return out
	}
	if diff := cmp.Diff(list(), []string{"11 Start progress → In Progress"}); diff != "" {
		t.Errorf("transitions from To Do (-got +want):\n%s", diff)
	}
	a = call(t, c, "POST", "rest/api/3/issue/"+ops1+"/transitions", map[string]any{"transition": map[string]string{"id": "51"}})
	var e jiraErrors
	a.decode(t, &e)
	if a.status != http.StatusBadRequest || e.ErrorMessages[0] != "Transition id '51' is not valid for this issue." {
		t.Errorf("a transition not open from To Do: HTTP %d %s", a.status, a.body)
	}
	for _, id := range []string{"11", "31", "51"} {
		if a := call(t, c, "POST", "rest/api/3/issue/"+ops1+"/transitions", map[string]any{"transition": map[string]string{"id": id}}); a.status != http.StatusNoContent {
			t.Fatalf("transition %s: HTTP %d %s", id, a.status, a.body)
		}
	}
	if diff := cmp.Diff(list(), []string{"61 Reopen → To Do"}); diff != "" {
		t.Errorf("transitions from Done (-got +want):\n%s", diff)
	}
	got := s.Transitions()
	if len(got) != 3 || got[2] != (fakejira.Transition{CloudID: siteA, IssueKey: ops1, ID: "51", From: "In Review", To: "Done", AccountID: cm.Author.AccountID, Login: "alice@example.test"}) {
		t.Errorf("Transitions = %+v", got)
	}
	if is, _ := s.IssueByKey(siteA, ops1); is.Status != "Done" {
		t.Errorf("status %q, want Done", is.Status)
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	s := start(t, fakejira.Options{})
	seed(s)
	tok, _ := s.MintToken("alice@example.test")
	call(t, client(t, tok, site(s, siteA)), "POST", "rest/api/3/issue/OPS-1/comment", map[string]any{"body": adf("Recorded")})
	call(t, client(t, tok, s.APIURL()), "GET", "oauth/token/accessible-resources", nil)
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/ex/jira/"+siteA+"/rest/api/3/issue/OPS-1/comment" || r.CloudID != siteA ||
		r.Token != tok.AccessToken || r.Login != "alice@example.test" || !strings.Contains(r.Body, "Recorded") {
		t.Errorf("recorded %+v", r)
	}
	if r := reqs[1]; r.Path != "/oauth/token/accessible-resources" || r.CloudID != "" || r.Login != "alice@example.test" {
		t.Errorf("recorded %+v", r)
	}
}

func TestFaults(t *testing.T) {
	s := start(t, fakejira.Options{})
	seed(s)
	c := mint(t, s, "alice@example.test", siteA)

	reset := time.Now().Add(10 * time.Minute)
	s.SetRateLimited("alice@example.test", reset)
	a := call(t, c, "GET", "rest/api/3/myself", nil)
	secs, _ := strconv.Atoi(a.header.Get("Retry-After"))
	if a.status != http.StatusTooManyRequests || secs < 590 || secs > 600 || a.header.Get("X-RateLimit-Reset") != reset.UTC().Format("2006-01-02T15:04Z") {
		t.Errorf("rate limited: HTTP %d, Retry-After %q, X-RateLimit-Reset %q", a.status, a.header.Get("Retry-After"), a.header.Get("X-RateLimit-Reset"))
	}
	if other := mint(t, s, "bob@example.test", siteA); call(t, other, "GET", "rest/api/3/myself", nil).status != http.StatusOK {
		t.Error("another user is rate limited too")
	}
	s.SetRateLimited("alice@example.test", time.Time{})

	s.SetOutage(http.StatusServiceUnavailable)
	if a := call(t, c, "GET", "rest/api/3/myself", nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("outage: HTTP %d", a.status)
	}
	if resp, err := http.PostForm(s.TokenURL(), url.Values{}); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("outage at the token endpoint: %v", err)
	} else {
		resp.Body.Close()
	}
	s.SetOutage(0)

	s.SetLatency(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := c.NewRequestWithContext(ctx, "GET", "rest/api/3/myself", nil)
	if _, err := c.Do(req, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency: %v, want a deadline exceeded", err)
	}
	s.SetLatency(0)
}

func TestBurstLimit(t *testing.T) {
	now := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	s := start(t, fakejira.Options{Now: func() time.Time { return now }})
	tok, _ := s.MintToken("bob@example.test")
	c := client(t, tok, s.APIURL())
	limited := 0
	for range 101 {
		if call(t, c, "GET", "oauth/token/accessible-resources", nil).status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 1 {
		t.Errorf("%d of 101 requests in one second were limited, want 1", limited)
	}

	free := start(t, fakejira.Options{Now: func() time.Time { return now }, NoRateLimit: true})
	tok, _ = free.MintToken("bob@example.test")
	c = client(t, tok, free.APIURL())
	for range 101 {
		if a := call(t, c, "GET", "oauth/token/accessible-resources", nil); a.status != http.StatusOK {
			t.Fatalf("NoRateLimit: HTTP %d", a.status)
		}
	}
}

func TestDemoData(t *testing.T) {
	s := start(t, fakejira.Options{DemoData: true})
	tok, err := s.MintToken("alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := resources(t, s, tok); len(got) != 2 || got[0].Name != "acme" || got[1].Name != "acme-labs" {
		t.Errorf("alice's demo sites: %+v", got)
	}
	a := call(t, client(t, tok, site(s, fakejira.DemoAcme)), "POST", "rest/api/3/search/approximate-count",
		map[string]string{"jql": "assignee = currentUser() AND statusCategory != Done"})
	var count struct{ Count int }
	a.decode(t, &count)
	if count.Count != 3 {
		t.Errorf("alice's open demo issues on acme: %d, want 3", count.Count)
	}
	resp, err := http.Get(s.URL() + "/site/" + fakejira.DemoAcme + "/browse/OPS-1")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("browse page: %v", err)
	} else {
		resp.Body.Close()
	}
	if len(fakejira.DemoUsers()) != 3 {
		t.Error("DemoUsers")
	}
}
