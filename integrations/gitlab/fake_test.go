package gitlab_test

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
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"golang.org/x/oauth2"
)

const fakeCallback = "http://127.0.0.1:9/oauth/gitlab/callback"

// startFake runs a fake GitLab with alice and bob, and returns a provider
// configured for it as Tandem does with TANDEM_GITLAB_URL.
func startFake(t *testing.T) (*fakegitlab.Server, *gitlab.Provider) {
	t.Helper()
	fake := fakegitlab.New(fakegitlab.Options{
		ClientID: "e2e-app-id", ClientSecret: "gloas-e2e-secret", RedirectURL: fakeCallback,
		Users: []fakegitlab.User{{Login: "alice", ID: 2001, Name: "Alice Liddell"}, {Login: "bob", ID: 2002, Name: "Bob Marley"}},
	})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := gitlab.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	return fake, gitlab.New(cfg)
}

// linkFake runs the OAuth code flow with PKCE as login.
func linkFake(t *testing.T, p *gitlab.Provider, login string) (oauth2.Config, *oauth2.Token) {
	t.Helper()
	oc := p.OAuth2Config()
	oc.RedirectURL = fakeCallback
	verifier := oauth2.GenerateVerifier()
	opts := append(p.AuthCodeOptions(), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login", login)) // the fake's consent shortcut
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(oc.AuthCodeURL("state-1", opts...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") != "state-1" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirected to %q (%v)", resp.Header.Get("Location"), err)
	}
	tok, err := oc.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return oc, tok
}

// TestAgainstFakeGitLab links an account through the OAuth code flow with
// PKCE, identifies it, lists its merge requests, review requests and
// issues, opens an issue, comments on an issue and a merge request, and
// revokes the token, against the fake GitLab.
func TestAgainstFakeGitLab(t *testing.T) {
	fake, p := startFake(t)
	first := fake.AddMergeRequest("acme/widgets", "alice", "First", false)
	second := fake.AddMergeRequest("acme/platform/gadgets", "alice", "Second", true)
	fake.AddMergeRequest("acme/widgets", "bob", "Not alice's", false)
	review := fake.AddMergeRequest("acme/widgets", "bob", "Please review", false)
	fake.RequestReview("acme/widgets", review, "alice")
	assigned := fake.AddIssue("acme/widgets", "bob", "Assigned to alice", "alice")
	fake.AddIssue("acme/widgets", "alice", "Alice's, unassigned")
	ctx := context.Background()

	oc, tok := linkFake(t, p, "alice")
	if !fake.PKCEUsed() {
		t.Error("the flow did not use PKCE")
	}
	if tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Errorf("token without refresh token or expiry: %v", tok.Expiry)
	}
	client := oc.Client(ctx, tok)

	acct, err := p.Identify(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(acct, tandem.Account{ID: "2001", Login: "alice", Name: "Alice Liddell"}); diff != "" {
		t.Errorf("Identify (-got +want):\n%s", diff)
	}

	prs, total, err := p.OpenPullRequests(ctx, client, acct.Login, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(prs) != 2 || prs[0].Number != second || prs[1].Number != first ||
		prs[0].Repo != "acme/platform/gadgets" || !prs[0].Draft || prs[0].Title != "Draft: Second" ||
		prs[0].URL != fake.URL()+"/acme/platform/gadgets/-/merge_requests/1" || prs[0].UpdatedAt.IsZero() {
		t.Errorf("OpenPullRequests = %+v (total %d)", prs, total)
	}
	reviews, total, err := p.ReviewRequests(ctx, client, acct.Login, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(reviews) != 1 || reviews[0].Number != review || reviews[0].Repo != "acme/widgets" {
		t.Errorf("ReviewRequests = %+v (total %d)", reviews, total)
	}
	issues, total, err := p.OpenIssues(ctx, client, "", acct.Login, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(issues) != 1 || issues[0].Key != "acme/widgets#1" || issues[0].Assignee != "alice" || issues[0].State != "open" {
		t.Errorf("OpenIssues = %+v (total %d)", issues, total)
	}

	created, err := p.CreateIssue(ctx, client, "", tandem.NewIssue{Container: "acme/widgets", Title: "Opened by Tandem", Body: "details"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Key != "acme/widgets#3" || created.URL != fake.URL()+"/acme/widgets/-/issues/3" {
		t.Errorf("CreateIssue = %+v", created)
	}
	noteURL, err := p.Comment(ctx, client, "", "acme/widgets#1", "On it.")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(noteURL, fake.URL()+"/acme/widgets/-/issues/1#note_") {
		t.Errorf("issue note URL %q", noteURL)
	}
	mrNoteURL, err := p.Comment(ctx, client, "", "acme/widgets!"+itoa(review), "LGTM")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mrNoteURL, fake.URL()+"/acme/widgets/-/merge_requests/"+itoa(review)+"#note_") {
		t.Errorf("merge request note URL %q", mrNoteURL)
	}
	if resp, err := http.Get(strings.Split(mrNoteURL, "#")[0]); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the note's page does not open: %v", err)
	} else {
		resp.Body.Close()
	}

	wantNotes := []fakegitlab.Note{
		{Project: "acme/widgets", Noteable: "Issue", IID: assigned, AuthorLogin: "alice", Body: "On it."},
		{Project: "acme/widgets", Noteable: "MergeRequest", IID: review, AuthorLogin: "alice", Body: "LGTM"},
	}
	if diff := cmp.Diff(fake.Notes(), wantNotes); diff != "" {
		t.Errorf("notes (-got +want):\n%s", diff)
	}
	wantIssues := []fakegitlab.CreatedIssue{{Project: "acme/widgets", IID: 3, AuthorLogin: "alice", Title: "Opened by Tandem", Description: "details"}}
	if diff := cmp.Diff(fake.CreatedIssues(), wantIssues); diff != "" {
		t.Errorf("created issues (-got +want):\n%s", diff)
	}
	for _, r := range fake.Requests() {
		if r.Login != "alice" || r.Token != tok.AccessToken {
			t.Errorf("request %s %s ran as %q, want alice", r.Method, r.Path, r.Login)
		}
	}

	if err := p.Revoke(ctx, tandem.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	if !fake.Revoked(tok.AccessToken) || !fake.Revoked(tok.RefreshToken) {
		t.Error("the tokens survived Revoke")
	}
	_, err = p.Identify(ctx, client)
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("Identify after revoke: %v, want EUNAUTHORIZED", err)
	}
	if strings.Contains(err.Error(), tok.AccessToken) {
		t.Error("the error shows the token")
	}
}

// A token source refreshes an expired token: GitLab rotates both tokens,
// the old pair dies, and reusing the old refresh token is refused with
// invalid_grant, which Tandem reports as EUNAUTHORIZED.
func TestFakeGitLabRefresh(t *testing.T) {
	fake, p := startFake(t)
	ctx := context.Background()
	oc, tok := linkFake(t, p, "bob")

	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute) // as after two hours
	src := oc.TokenSource(ctx, &stale)
	acct, err := p.Identify(ctx, oauth2.NewClient(ctx, src))
	if err != nil || acct.Login != "bob" {
		t.Fatalf("Identify with a refreshed token: %+v, %v", acct, err)
	}
	fresh, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fake.RefreshCount("bob") != 1 {
		t.Errorf("refresh did not rotate both tokens (refreshes %d)", fake.RefreshCount("bob"))
	}
	if !fake.Revoked(tok.AccessToken) || !fake.Revoked(tok.RefreshToken) {
		t.Error("the old pair survived the refresh")
	}

	// Another process still holding the old pair loses the refresh race.
	_, err = p.Identify(ctx, oc.Client(ctx, &stale))
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Fatalf("refresh with a rotated refresh token: %v, want EUNAUTHORIZED", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusBadRequest {
		t.Errorf("errors.As(*oauth2.RetrieveError) = %v, want invalid_grant with 400", err)
	}
	if strings.Contains(err.Error(), tok.RefreshToken) {
		t.Error("the error shows the refresh token")
	}

	// An access token the server expired early answers 401.
	fake.ExpireAccessTokens("bob")
	if _, err := p.Identify(ctx, oauth2.NewClient(ctx, oauth2.StaticTokenSource(fresh))); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("expired access token: %v, want EUNAUTHORIZED", err)
	}
}

// The fake's fault injection and access rules map to the codes people see.
func TestFakeGitLabFaults(t *testing.T) {
	fake, p := startFake(t)
	fake.AddPrivateProject("alice/secret", "alice")
	fake.AddIssue("alice/secret", "alice", "Hidden")
	ctx := context.Background()
	tok, err := fake.MintToken("bob")
	if err != nil {
		t.Fatal(err)
	}
	client := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))

	_, err = p.CreateIssue(ctx, client, "", tandem.NewIssue{Container: "alice/secret", Title: "hi"})
	if tandem.ErrorCode(err) != tandem.ENOTFOUND || !strings.Contains(tandem.ErrorMessage(err), "alice/secret") {
		t.Errorf("private project: %v, want ENOTFOUND naming it", err)
	}
	if _, err := p.Comment(ctx, client, "", "alice/secret#1", "hi"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("comment in a private project: %v, want ENOTFOUND", err)
	}

	readOnly, _ := fake.MintToken("bob", "read_user")
	fake.AddProject("acme/widgets")
	_, err = p.CreateIssue(ctx, oauth2.NewClient(ctx, oauth2.StaticTokenSource(readOnly)), "", tandem.NewIssue{Container: "acme/widgets", Title: "hi"})
	if tandem.ErrorCode(err) != tandem.EFORBIDDEN || !strings.Contains(tandem.ErrorMessage(err), "api scope") {
		t.Errorf("read_user token: %v, want EFORBIDDEN naming the api scope", err)
	}

	reset := time.Now().Add(30 * time.Minute)
	fake.SetRateLimited("bob", reset)
	_, _, err = p.OpenPullRequests(ctx, client, "bob", 5)
	if tandem.ErrorCode(err) != tandem.ERATELIMITED || !strings.Contains(tandem.ErrorMessage(err), reset.UTC().Format("15:04")) {
		t.Errorf("rate limited: %v, want ERATELIMITED naming %s", err, reset.UTC().Format("15:04"))
	}
	fake.SetRateLimited("bob", time.Time{})

	fake.SetOutage(http.StatusBadGateway)
	if _, err := p.Identify(ctx, client); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("outage: %v, want EUNAVAILABLE", err)
	}
	if err := p.Revoke(ctx, tandem.Token{AccessToken: tok.AccessToken}); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("revoke during an outage: %v, want EUNAVAILABLE", err)
	}
	fake.SetOutage(0)
	if _, err := p.Identify(ctx, client); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	fake.SetLatency(time.Minute)
	slow, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.Identify(slow, client); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("slow GitLab: %v, want EUNAVAILABLE", err)
	}
	fake.SetLatency(0)
}

func itoa(n int) string { return strconv.Itoa(n) }
