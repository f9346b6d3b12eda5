package github_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/internal/fakegithub"
	"golang.org/x/oauth2"
)

// TestAgainstFakeGitHub links an account through the OAuth code flow with
// PKCE, identifies it, lists its pull requests and revokes it, against the
// fake GitHub, as Tandem does with TANDEM_GITHUB_URL pointing at it.
func TestAgainstFakeGitHub(t *testing.T) {
	const callback = "http://127.0.0.1:9/oauth/github/callback"
	fake := fakegithub.New(fakegithub.Options{
		ClientID: "Iv1.e2e", ClientSecret: "e2e-secret", RedirectURL: callback,
		Users: []fakegithub.User{{Login: "alice", ID: 1001, Name: "Alice Liddell"}, {Login: "bob", ID: 1002}},
	})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	first := fake.AddPullRequest("acme/widgets", "alice", "First", false)
	second := fake.AddPullRequest("acme/widgets", "alice", "Second", true)
	fake.AddPullRequest("acme/widgets", "bob", "Not alice's", false)
	fake.AddIssue("acme/widgets", "alice", "An issue, not a pull request")

	cfg, err := github.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	p := github.New(cfg)
	oc := p.OAuth2Config()
	oc.RedirectURL = callback
	ctx := context.Background()

	verifier := oauth2.GenerateVerifier()
	opts := append(p.AuthCodeOptions(), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login", "alice")) // the fake's consent shortcut
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(oc.AuthCodeURL("state-1", opts...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") != "state-1" {
		t.Fatalf("authorize redirected to %q (%v)", resp.Header.Get("Location"), err)
	}
	tok, err := oc.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !fake.PKCEUsed() {
		t.Error("the flow did not use PKCE")
	}
	client := oc.Client(ctx, tok)

	acct, err := p.Identify(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != "1001" || acct.Login != "alice" || acct.Name != "Alice Liddell" || len(acct.Sites) != 0 {
		t.Errorf("Identify = %+v", acct)
	}
	prs, total, err := p.OpenPullRequests(ctx, client, acct.Login, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(prs) != 2 || prs[0].Number != second || prs[1].Number != first ||
		prs[0].Repo != "acme/widgets" || !prs[0].Draft || prs[0].URL != fake.URL()+"/acme/widgets/pull/2" || prs[0].UpdatedAt.IsZero() {
		t.Errorf("OpenPullRequests = %+v (total %d)", prs, total)
	}
	for _, r := range fake.Requests() {
		if r.Login != "alice" {
			t.Errorf("request %s %s ran as %q, want alice", r.Method, r.Path, r.Login)
		}
	}

	if err := p.Revoke(ctx, tandem.Token{AccessToken: tok.AccessToken}); err != nil {
		t.Fatal(err)
	}
	if !fake.Revoked(tok.AccessToken) {
		t.Error("the token survived Revoke")
	}
	_, err = p.Identify(ctx, client)
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("Identify after revoke: %v, want EUNAUTHORIZED", err)
	}
	if strings.Contains(err.Error(), tok.AccessToken) {
		t.Error("the error shows the token")
	}
}

// The fake's fault injection maps to the codes people see.
func TestFakeGitHubFaults(t *testing.T) {
	fake := fakegithub.New(fakegithub.Options{Users: []fakegithub.User{{Login: "bob"}}})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, _ := github.ConfigFromBase(fake.URL())
	p := github.New(cfg)
	tok, err := fake.MintToken("bob", "repo", "read:user")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))

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
	fake.SetOutage(0)
	if _, err := p.Identify(ctx, client); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}
