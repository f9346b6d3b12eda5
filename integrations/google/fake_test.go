package google_test

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
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"golang.org/x/oauth2"
)

const alice = "alice@example.test"

// startFake runs a fake Google with alice and bob, and returns a provider
// pointed at it as Tandem configures it from TANDEM_GOOGLE_URL.
func startFake(t *testing.T, opts fakegoogle.Options) (*fakegoogle.Server, *google.Provider) {
	t.Helper()
	if opts.Users == nil {
		opts.Users = []fakegoogle.User{
			{Email: alice, Sub: "110000000000000000001", Name: "Alice Liddell", TimeZone: "Europe/London"},
			{Email: "bob@example.test", Name: "Bob Marley"},
		}
	}
	fake := fakegoogle.New(opts)
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := google.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	return fake, google.New(cfg)
}

// TestAgainstFakeGoogle links an account through the OAuth code flow with
// PKCE and the provider's own authorize options, identifies it, lists its
// meetings, finds its documents, refreshes its token (which Google does not
// rotate), and revokes it, against the fake Google, as Tandem does with
// TANDEM_GOOGLE_URL pointing at it.
func TestAgainstFakeGoogle(t *testing.T) {
	const callback = "http://127.0.0.1:9/oauth/google/callback"
	fake, p := startFake(t, fakegoogle.Options{RedirectURL: callback})
	london, _ := time.LoadLocation("Europe/London")
	day := time.Date(2025, 7, 4, 0, 0, 0, 0, london)
	standup := fake.AddEvent(alice, "Widgets standup", day.Add(9*time.Hour+30*time.Minute), day.Add(9*time.Hour+45*time.Minute))
	fake.SetEventPlace(standup, "", "https://meet.google.com/abc-defg-hij")
	fake.AddAllDayEvent(alice, "Offsite", day, 1)
	fake.AddEvent(alice, "Tomorrow", day.Add(30*time.Hour), day.Add(31*time.Hour))
	fake.AddEvent("bob@example.test", "Not alice's", day.Add(10*time.Hour), day.Add(11*time.Hour))
	fake.AddFile(alice, "Q3 roadmap", fakegoogle.MimeDocument, "Alice's widgets get retries.")
	fake.AddFile(alice, "Budget", fakegoogle.MimeSpreadsheet, "hardware and travel")
	old := fake.AddFile(alice, "Old roadmap", fakegoogle.MimeDocument, "Alice's widgets, superseded.")
	fake.TrashFile(old)
	fake.AddFile("bob@example.test", "Bob's widgets", fakegoogle.MimeDocument, "Alice's widgets too")

	oc := p.OAuth2Config()
	oc.RedirectURL = callback
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	opts := append(p.AuthCodeOptions(), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login", alice)) // the fake's consent shortcut
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authURL := oc.AuthCodeURL("state-1", opts...)
	if q := mustParse(t, authURL).Query(); q.Get("access_type") != "offline" || q.Get("prompt") != "consent" || q.Get("code_challenge_method") != "S256" {
		t.Errorf("authorize URL %s", authURL)
	}
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := mustParse(t, resp.Header.Get("Location"))
	if loc.Query().Get("state") != "state-1" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirected to %q", loc)
	}
	tok, err := oc.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !fake.PKCEUsed() {
		t.Error("the flow did not use PKCE")
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token: access_type=offline and prompt=consent should give one")
	}
	client := oc.Client(ctx, tok)

	acct, err := p.Identify(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(acct, tandem.Account{ID: "110000000000000000001", Login: alice, Name: "Alice Liddell"}); diff != "" {
		t.Errorf("Identify (-got +want):\n%s", diff)
	}

	meetings, total, err := p.Meetings(ctx, client, day, day.AddDate(0, 0, 1), 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(meetings) != 2 || meetings[0].Title != "Offsite" || !meetings[0].AllDay ||
		!meetings[0].Start.Equal(day) || meetings[1].Title != "Widgets standup" ||
		!meetings[1].Start.Equal(day.Add(9*time.Hour+30*time.Minute)) || meetings[1].Location != "https://meet.google.com/abc-defg-hij" ||
		!strings.HasPrefix(meetings[1].URL, fake.URL()+"/calendar/event?eid=") {
		t.Errorf("Meetings = %+v (total %d)", meetings, total)
	}

	docs, total, err := p.SearchDocuments(ctx, client, "Alice's widgets", 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(docs) != 1 || docs[0].Title != "Q3 roadmap" || docs[0].Kind != "Google Doc" ||
		!strings.HasPrefix(docs[0].URL, fake.URL()+"/document/d/") || docs[0].Modified.IsZero() {
		t.Errorf("SearchDocuments = %+v (total %d)", docs, total)
	}
	if _, _, err := p.SearchDocuments(ctx, client, `C:\ and 'quotes'`, 10); err != nil {
		t.Errorf("search with a backslash and quotes: %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Login != alice {
			t.Errorf("request %s %s ran as %q, want alice", r.Method, r.Path, r.Login)
		}
	}

	// Refresh: a new access token, the same refresh token.
	fake.ExpireAccessTokens(alice)
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	src := oc.TokenSource(ctx, &stale)
	if _, err := p.Identify(ctx, oauth2.NewClient(ctx, src)); err != nil {
		t.Fatalf("Identify with a refreshed token: %v", err)
	}
	fresh, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken || fake.RefreshCount(alice) != 1 {
		t.Errorf("refresh gave %q / %q (%d refreshes); want a new access token and the same refresh token",
			fresh.AccessToken, fresh.RefreshToken, fake.RefreshCount(alice))
	}

	if err := p.Revoke(ctx, tandem.Token{AccessToken: fresh.AccessToken, RefreshToken: fresh.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	if !fake.Revoked(fresh.AccessToken) || !fake.Revoked(tok.RefreshToken) {
		t.Error("the grant survived Revoke")
	}
	if err := p.Revoke(ctx, tandem.Token{RefreshToken: fresh.RefreshToken}); err != nil {
		t.Errorf("a second Revoke: %v, want nil (already revoked)", err)
	}
	_, err = p.Identify(ctx, oauth2.NewClient(ctx, oauth2.StaticTokenSource(fresh)))
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Errorf("Identify after revoke: %v, want EUNAUTHORIZED", err)
	}
	// The refresh Tandem's token source would try next is refused.
	stale = *fresh
	stale.Expiry = time.Now().Add(-time.Minute)
	_, _, err = p.Meetings(ctx, oc.Client(ctx, &stale), day, day.AddDate(0, 0, 1), 10)
	var re *oauth2.RetrieveError
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED || !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("Meetings refreshing a revoked grant: %v, want EUNAUTHORIZED with invalid_grant", err)
	}
	for _, v := range []string{tok.AccessToken, tok.RefreshToken, fresh.AccessToken} {
		if strings.Contains(err.Error(), v) {
			t.Error("the error shows a token")
		}
	}
}

// Reconnecting gives a refresh token again only because the provider
// forces the consent screen; without prompt=consent Google would give none.
func TestFakeGoogleReconnect(t *testing.T) {
	fake, p := startFake(t, fakegoogle.Options{})
	oc := p.OAuth2Config()
	oc.RedirectURL = "http://127.0.0.1:9/cb"
	link := func(opts ...oauth2.AuthCodeOption) *oauth2.Token {
		t.Helper()
		v := oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("login", alice))
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(oc.AuthCodeURL("s", opts...))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tok, err := oc.Exchange(context.Background(), mustParse(t, resp.Header.Get("Location")).Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	link(p.AuthCodeOptions()...)
	if tok := link(oauth2.AccessTypeOffline); tok.RefreshToken != "" {
		t.Error("the fake gave a refresh token on a second consent without prompt=consent")
	}
	if tok := link(p.AuthCodeOptions()...); tok.RefreshToken == "" {
		t.Error("reconnecting with the provider's options gave no refresh token")
	}
	if got := fake.TokenRequests(); got != 3 {
		t.Errorf("TokenRequests() = %d, want 3", got)
	}
}

// The fake's fault injection maps to the codes people see.
func TestFakeGoogleFaults(t *testing.T) {
	fake, p := startFake(t, fakegoogle.Options{})
	tok, err := fake.MintToken(alice, "openid", "email", "profile",
		"https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/drive.readonly")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))
	now := time.Now()

	fake.SetRateLimited(alice, now.Add(30*time.Minute))
	if _, _, err := p.Meetings(ctx, client, now, now.Add(time.Hour), 5); tandem.ErrorCode(err) != tandem.ERATELIMITED {
		t.Errorf("rate limited Meetings: %v, want ERATELIMITED", err)
	}
	if _, _, err := p.SearchDocuments(ctx, client, "x", 5); tandem.ErrorCode(err) != tandem.ERATELIMITED {
		t.Errorf("rate limited SearchDocuments: %v, want ERATELIMITED", err)
	}
	if _, err := p.Identify(ctx, client); tandem.ErrorCode(err) != tandem.ERATELIMITED {
		t.Errorf("rate limited Identify: %v, want ERATELIMITED", err)
	}
	fake.SetRateLimited(alice, time.Time{})

	for _, status := range []int{http.StatusServiceUnavailable, http.StatusBadGateway} {
		fake.SetOutage(status)
		if _, _, err := p.Meetings(ctx, client, now, now.Add(time.Hour), 5); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
			t.Errorf("outage %d: %v, want EUNAVAILABLE", status, err)
		}
	}
	fake.SetOutage(0)

	fake.SetLatency(time.Second)
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = p.Identify(short, client)
	cancel()
	if tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("slow Google: %v, want EUNAVAILABLE", err)
	}
	fake.SetLatency(0)

	narrow, err := fake.MintToken(alice, "openid", "email")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.SearchDocuments(ctx, oauth2.NewClient(ctx, oauth2.StaticTokenSource(narrow)), "x", 5)
	if tandem.ErrorCode(err) != tandem.EFORBIDDEN || !strings.Contains(tandem.ErrorMessage(err), "connect it again") {
		t.Errorf("a token without the Drive scope: %v, want EFORBIDDEN asking to reconnect", err)
	}
	if _, err := p.Identify(ctx, client); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
