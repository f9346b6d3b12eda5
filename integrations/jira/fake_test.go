package jira_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/internal/fakejira"
	"golang.org/x/oauth2"
)

const (
	acmeID = "3f2a9c1e-7b4d-4e8a-9f10-2c6d8e0b4a17"
	labsID = "b81d4e6f-2a3c-4d5e-8f90-1a2b3c4d5e6f"
)

// startFake runs a fake Atlassian with two sites (acme at its real-looking
// address, acme-labs served by the fake), alice on both and bob on acme.
func startFake(t *testing.T, callback string) *fakejira.Server {
	t.Helper()
	fake := fakejira.New(fakejira.Options{
		ClientID: "e2e-client", ClientSecret: "e2e-secret", RedirectURL: callback,
		Sites: []fakejira.Site{{CloudID: acmeID, Name: "acme", URL: "https://acme.atlassian.net"}, {CloudID: labsID, Name: "acme-labs"}},
		Users: []fakejira.User{
			{Email: "alice@example.test", Name: "Alice Liddell", Sites: []string{acmeID, labsID}},
			{Email: "bob@example.test", Name: "Bob Marley", Sites: []string{acmeID}},
		},
	})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	return fake
}

func providerFor(t *testing.T, fake *fakejira.Server) *jira.Provider {
	t.Helper()
	cfg, err := jira.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	return jira.New(cfg)
}

// TestAgainstFakeJira links an account through Atlassian's 3LO flow
// (audience, prompt=consent, PKCE), identifies it with its two sites, works
// on its issues, and refreshes its token, rotation and refused reuse
// included, against the fake Atlassian, as Tandem does with TANDEM_JIRA_URL
// pointing at it.
func TestAgainstFakeJira(t *testing.T) {
	const callback = "http://127.0.0.1:9/oauth/jira/callback"
	fake := startFake(t, callback)
	fake.AddProject(acmeID, "OPS", "Operations")
	fake.AddProject(labsID, "LAB", "Research")
	first := fake.AddIssue(acmeID, fakejira.Issue{Project: "OPS", Summary: "Rotate the credentials", Assignee: "alice@example.test"})
	second := fake.AddIssue(acmeID, fakejira.Issue{Project: "OPS", Summary: "Fix the widget", Type: "Bug", Status: "In Progress", Assignee: "alice@example.test"})
	fake.AddIssue(acmeID, fakejira.Issue{Project: "OPS", Summary: "Done already", Status: "Done", Assignee: "alice@example.test"})
	fake.AddIssue(acmeID, fakejira.Issue{Project: "OPS", Summary: "Bob's", Assignee: "bob@example.test"})
	fake.AddIssue(labsID, fakejira.Issue{Project: "LAB", Summary: "On the other site", Assignee: "alice@example.test"})

	p := providerFor(t, fake)
	oc := p.OAuth2Config()
	oc.RedirectURL = callback
	ctx := context.Background()

	// The fake refuses an authorize request without audience and prompt.
	verifier := oauth2.GenerateVerifier()
	opts := append(p.AuthCodeOptions(), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login", "alice@example.test")) // the fake's consent shortcut
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(oc.AuthCodeURL("state-1", opts...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "state-1" {
		t.Fatalf("authorize answered %d, redirecting to %q (%v)", resp.StatusCode, resp.Header.Get("Location"), err)
	}
	tok, err := oc.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !fake.PKCEUsed() {
		t.Error("the flow did not use PKCE")
	}
	if fake.TokenRequests() != 1 {
		t.Errorf("%d token requests, want 1: the client credentials belong in the body", fake.TokenRequests())
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token: offline_access was not asked for")
	}
	client := oc.Client(ctx, tok)

	acct, err := p.Identify(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	wantSites := []tandem.Site{
		{ID: acmeID, Name: "acme", URL: "https://acme.atlassian.net"},
		{ID: labsID, Name: "acme-labs", URL: fake.URL() + "/site/" + labsID},
	}
	if acct.Login != "alice@example.test" || acct.Name != "Alice Liddell" || !strings.HasPrefix(acct.ID, "712020:") {
		t.Errorf("Identify = %+v", acct)
	}
	if diff := cmp.Diff(acct.Sites, wantSites); diff != "" {
		t.Errorf("sites (-got +want):\n%s", diff)
	}
	site := acct.Sites[0].ID

	issues, total, err := p.OpenIssues(ctx, client, site, acct.Login, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(issues) != 2 || issues[0].Key != second || issues[1].Key != first ||
		issues[0].State != "In Progress" || issues[0].Type != "Bug" || issues[0].Assignee != "Alice Liddell" ||
		issues[0].URL != "https://acme.atlassian.net/browse/"+second || issues[0].Updated.IsZero() {
		t.Errorf("OpenIssues = %+v (total %d)", issues, total)
	}
	if one, total, err := p.OpenIssues(ctx, client, site, acct.Login, 1); err != nil || len(one) != 1 || total != 2 {
		t.Errorf("OpenIssues with limit 1: %d issues of %d (%v), want 1 of 2", len(one), total, err)
	}

	created, err := p.CreateIssue(ctx, client, site, tandem.NewIssue{Container: "OPS", Title: "Disk full on db-2", Body: "It is full.\nSince 09:00.\n\nPlease look."})
	if err != nil {
		t.Fatal(err)
	}
	if created.Key != "OPS-5" || created.Type != "Task" || created.State != "To Do" || created.Body != "It is full.\nSince 09:00.\n\nPlease look." {
		t.Errorf("CreateIssue = %+v", created)
	}
	if got := fake.CreatedIssues(); len(got) != 1 || got[0].AccountID != acct.ID || got[0].Login != "alice@example.test" {
		t.Errorf("created as %+v, want as alice", got)
	}

	link, err := p.Comment(ctx, client, site, strings.ToLower(created.Key), "On it.")
	if err != nil {
		t.Fatal(err)
	}
	comments := fake.Comments()
	if len(comments) != 1 || comments[0].Body != "On it." || comments[0].AccountID != acct.ID ||
		link != "https://acme.atlassian.net/browse/OPS-5?focusedCommentId="+comments[0].ID {
		t.Errorf("comment %s recorded as %+v", link, comments)
	}

	moved, err := p.Transition(ctx, client, site, created.Key, "in progress")
	if err != nil || moved.State != "In Progress" {
		t.Fatalf("Transition to In Progress: %+v, %v", moved, err)
	}
	_, err = p.Transition(ctx, client, site, created.Key, "Done")
	if tandem.ErrorCode(err) != tandem.EINVALID || tandem.ErrorMessage(err) != `OPS-5 cannot move to "Done" from In Progress; it can move to: To Do, In Review.` {
		t.Errorf("Transition to Done: %v (%q)", err, tandem.ErrorMessage(err))
	}
	if got := fake.Transitions(); len(got) != 1 || got[0].To != "In Progress" || got[0].Login != "alice@example.test" {
		t.Errorf("transitions recorded %+v", got)
	}

	fake.RestrictProject(acmeID, "OPS", "bob@example.test")
	_, err = p.Issue(ctx, client, site, first)
	if tandem.ErrorCode(err) != tandem.ENOTFOUND || !strings.Contains(tandem.ErrorMessage(err), "Jira account alice@example.test cannot see "+first) {
		t.Errorf("Issue of a hidden project: %v (%q)", err, tandem.ErrorMessage(err))
	}
	for _, r := range fake.Requests() {
		if r.Login != "alice@example.test" {
			t.Errorf("request %s %s ran as %q, want alice", r.Method, r.Path, r.Login)
		}
	}

	// Refresh: the access token expired, the client refreshes on its own
	// and the refresh token rotates.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh := oc.TokenSource(ctx, &stale)
	if _, err := p.Identify(ctx, oauth2.NewClient(ctx, fresh)); err != nil {
		t.Fatalf("Identify after expiry: %v", err)
	}
	next, _ := fresh.Token()
	if fake.RefreshCount("alice@example.test") != 1 || next.RefreshToken == tok.RefreshToken || !fake.Revoked(tok.RefreshToken) {
		t.Errorf("refresh did not rotate: count %d", fake.RefreshCount("alice@example.test"))
	}
	// Reusing the rotated-away refresh token is refused, as a lost race
	// would be: the link needs reconnecting.
	reused := stale
	_, err = p.Identify(ctx, oc.Client(ctx, &reused))
	var re *oauth2.RetrieveError
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED || !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusForbidden {
		t.Errorf("reused refresh token: %v, want EUNAUTHORIZED from a 403 invalid_grant", err)
	}
	if strings.Contains(err.Error(), tok.RefreshToken) || strings.Contains(err.Error(), tok.AccessToken) {
		t.Error("the error shows a token")
	}
	// The newest pair still works.
	if _, _, err := p.OpenIssues(ctx, oauth2.NewClient(ctx, fresh), labsID, acct.Login, 5); err != nil {
		t.Errorf("OpenIssues on the other site with the refreshed token: %v", err)
	}
}

// A site outside the user's grant, and the fake's faults, map to the codes
// people see.
func TestFakeJiraRefusalsAndFaults(t *testing.T) {
	fake := startFake(t, "")
	fake.AddProject(acmeID, "OPS", "Operations")
	fake.AddIssue(acmeID, fakejira.Issue{Project: "OPS", Summary: "x", Assignee: "bob@example.test"})
	p := providerFor(t, fake)
	ctx := context.Background()
	mint := func(login string) *http.Client {
		tok, err := fake.MintToken(login)
		if err != nil {
			t.Fatal(err)
		}
		return oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))
	}
	alice, bob := mint("alice@example.test"), mint("bob@example.test")

	// Bob cannot use acme-labs, whether the provider knows its address yet
	// (the gateway's 401) or not (absent from his resources).
	if _, err := p.Issue(ctx, bob, labsID, "LAB-1"); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("bob on a site he cannot use: %v, want EUNAUTHORIZED", err)
	}
	if _, err := p.Identify(ctx, alice); err != nil { // learns labs' address
		t.Fatal(err)
	}
	if _, err := p.Issue(ctx, bob, labsID, "LAB-1"); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("bob on a site he cannot use, address known: %v, want EUNAUTHORIZED", err)
	}

	// A token without offline_access or writing rights: the gateway refuses
	// the write.
	readOnly, _ := fake.MintToken("bob@example.test", "read:jira-work", "read:jira-user")
	_, err := p.Comment(ctx, oauth2.NewClient(ctx, oauth2.StaticTokenSource(readOnly)), acmeID, "OPS-1", "hi")
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("comment without write:jira-work: %v, want EUNAUTHORIZED", err)
	}

	reset := time.Now().Add(30 * time.Minute).Truncate(time.Minute).Add(30 * time.Second)
	fake.SetRateLimited("bob@example.test", reset)
	_, _, err = p.OpenIssues(ctx, bob, acmeID, "bob@example.test", 5)
	if tandem.ErrorCode(err) != tandem.ERATELIMITED || !strings.Contains(tandem.ErrorMessage(err), reset.UTC().Format("15:04")) {
		t.Errorf("rate limited: %v, want ERATELIMITED naming %s", err, reset.UTC().Format("15:04"))
	}
	fake.SetRateLimited("bob@example.test", time.Time{})

	fake.SetOutage(http.StatusServiceUnavailable)
	if _, err := p.Identify(ctx, bob); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("outage: %v, want EUNAVAILABLE", err)
	}
	fake.SetOutage(0)

	fake.RevokeGrant("bob@example.test")
	if _, err := p.Identify(ctx, bob); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("after the user removed the app: %v, want EUNAUTHORIZED", err)
	}
}
