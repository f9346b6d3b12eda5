package fakejira_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem/internal/fakejira"
	"golang.org/x/oauth2"
)

type resource struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	AvatarURL string   `json:"avatarUrl"`
}

func resources(t *testing.T, s *fakejira.Server, tok *oauth2.Token) []resource {
	t.Helper()
	a := call(t, client(t, tok, s.APIURL()), "GET", "oauth/token/accessible-resources", nil)
	if a.status != http.StatusOK {
		t.Fatalf("accessible-resources: HTTP %d %s", a.status, a.body)
	}
	var out []resource
	a.decode(t, &out)
	return out
}

func TestThreeLOFlow(t *testing.T) {
	s := start(t, fakejira.Options{})
	tok := link(t, s, "alice@example.test")

	if !strings.HasPrefix(tok.AccessToken, "atl-FAKE-alice-") || !strings.HasPrefix(tok.RefreshToken, "atlr-FAKE-alice-") {
		t.Errorf("tokens %q / %q, want atl-FAKE-alice-… / atlr-FAKE-alice-…", tok.AccessToken, tok.RefreshToken)
	}
	if tok.TokenType != "Bearer" || tok.Extra("scope") != "offline_access read:jira-user read:jira-work write:jira-work" {
		t.Errorf("token_type %q, scope %v", tok.TokenType, tok.Extra("scope"))
	}
	if got := tok.Extra("expires_in"); got != 3600.0 {
		t.Errorf("expires_in %v, want 3600", got)
	}
	if !s.PKCEUsed() {
		t.Error("PKCEUsed() = false after an S256 flow")
	}
	got := resources(t, s, tok)
	want := []resource{
		{ID: siteA, URL: "https://acme.atlassian.net", Name: "acme", Scopes: []string{"read:jira-user", "read:jira-work", "write:jira-work"},
			AvatarURL: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"},
		{ID: siteB, URL: s.URL() + "/site/" + siteB, Name: "acme-labs", Scopes: []string{"read:jira-user", "read:jira-work", "write:jira-work"},
			AvatarURL: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("accessible-resources (-got +want):\n%s", diff)
	}
	if other := link(t, s, "alice@example.test"); other.AccessToken == tok.AccessToken || other.RefreshToken == tok.RefreshToken {
		t.Error("a second flow returned the same tokens")
	}
}

func TestNoRefreshTokenWithoutOfflineAccess(t *testing.T) {
	s := start(t, fakejira.Options{})
	cfg := config(s)
	cfg.Scopes = []string{"read:jira-work"}
	v := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(context.Background(), authorize(t, cfg, "bob@example.test", v), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" || tok.AccessToken == "" {
		t.Errorf("without offline_access: refresh %q, access %q", tok.RefreshToken, tok.AccessToken)
	}
}

func TestFlowWithoutPKCEIsRecorded(t *testing.T) {
	s := start(t, fakejira.Options{})
	cfg := config(s)
	q := redirectOf(t, cfg.AuthCodeURL("x", append(threeLO, oauth2.SetAuthURLParam("login", "bob@example.test"))...))
	if _, err := cfg.Exchange(context.Background(), q.Get("code")); err != nil {
		t.Fatal(err)
	}
	if s.PKCEUsed() {
		t.Error("PKCEUsed() = true after a flow without a challenge")
	}
}

func TestAuthorizeRejects(t *testing.T) {
	s := start(t, fakejira.Options{})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{
		"client_id": {s.ClientID()}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"read:jira-work"},
		"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		"audience": {"api.atlassian.com"}, "prompt": {"consent"}, "login": {"alice@example.test"},
	}
	tests := []struct {
		name      string
		change    url.Values
		status    int
		wantError string // the error the 302 to the callback carries
	}{
		{"accepted", nil, http.StatusFound, ""},
		{"unknown client", url.Values{"client_id": {"nope"}}, http.StatusBadRequest, ""},
		{"no redirect", url.Values{"redirect_uri": {""}}, http.StatusBadRequest, ""},
		{"other redirect", url.Values{"redirect_uri": {"https://evil.example/cb"}}, http.StatusBadRequest, ""},
		{"no audience", url.Values{"audience": {""}}, http.StatusBadRequest, ""},
		{"other audience", url.Values{"audience": {"api.example.com"}}, http.StatusBadRequest, ""},
		{"no prompt", url.Values{"prompt": {""}}, http.StatusBadRequest, ""},
		{"no state", url.Values{"state": {""}}, http.StatusBadRequest, ""},
		{"token flow", url.Values{"response_type": {"token"}}, http.StatusFound, "unsupported_response_type"},
		{"plain PKCE", url.Values{"code_challenge_method": {"plain"}}, http.StatusFound, "invalid_request"},
		{"no scope", url.Values{"scope": {""}}, http.StatusFound, "invalid_scope"},
		{"unknown user", url.Values{"login": {"mallory@example.test"}}, http.StatusBadRequest, ""},
		{"site of another", url.Values{"login": {"bob@example.test"}, "site": {siteB}}, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			for k, v := range tt.change {
				q[k] = v
			}
			resp, err := noRedirect.Get(s.AuthURL() + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.StatusCode != http.StatusFound {
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
				t.Errorf("redirected to %s, want %s", got, callback)
			}
			if got := loc.Query().Get("error"); got != tt.wantError {
				t.Errorf("error %q, want %q", got, tt.wantError)
			}
			if (loc.Query().Get("code") != "") != (tt.wantError == "") {
				t.Errorf("code %q with error %q", loc.Query().Get("code"), tt.wantError)
			}
		})
	}
}

func TestExchangeRejects(t *testing.T) {
	s := start(t, fakejira.Options{})
	cfg := config(s)
	ctx := context.Background()
	v := oauth2.GenerateVerifier()

	code := authorize(t, cfg, "alice@example.test", v)
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusForbidden {
		t.Errorf("wrong verifier: %q (HTTP %d), want invalid_grant with 403", re.ErrorCode, re.Response.StatusCode)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" || re.ErrorDescription != "Invalid authorization code" {
		t.Errorf("code after a failed use: %q %q, want invalid_grant", re.ErrorCode, re.ErrorDescription)
	}

	other := *cfg
	other.RedirectURL = callback + "/other"
	_, err = other.Exchange(ctx, authorize(t, cfg, "alice@example.test", v), oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("other redirect_uri: %q, want invalid_grant", re.ErrorCode)
	}

	bad := *cfg
	bad.ClientSecret = "wrong"
	_, err = bad.Exchange(ctx, authorize(t, cfg, "alice@example.test", v), oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "access_denied" || re.Response.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: %q (HTTP %d), want access_denied with 401", re.ErrorCode, re.Response.StatusCode)
	}

	// Atlassian takes the client's credentials in the body only.
	header := *cfg
	header.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err = header.Exchange(ctx, authorize(t, cfg, "alice@example.test", v), oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "access_denied" {
		t.Errorf("credentials as basic auth: %q, want access_denied", re.ErrorCode)
	}
	if got := s.TokenRequests(); got != 5 {
		t.Errorf("TokenRequests() = %d, want 5", got)
	}
}

// Atlassian documents a JSON body for the token endpoint; it answers JSON.
func TestTokenEndpointTakesJSON(t *testing.T) {
	s := start(t, fakejira.Options{})
	v := oauth2.GenerateVerifier()
	body, _ := json.Marshal(map[string]string{
		"grant_type": "authorization_code", "client_id": s.ClientID(), "client_secret": s.ClientSecret(),
		"code": authorize(t, config(s), "alice@example.test", v), "redirect_uri": callback, "code_verifier": v,
	})
	resp, err := http.Post(s.TokenURL(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d, %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	if got["token_type"] != "Bearer" || got["expires_in"] != 3600.0 || got["scope"] != "offline_access read:jira-user read:jira-work write:jira-work" ||
		!strings.HasPrefix(got["access_token"].(string), "atl-FAKE-alice-") || !strings.HasPrefix(got["refresh_token"].(string), "atlr-FAKE-alice-") {
		t.Errorf("answer %v", got)
	}
}

func TestRefreshRotation(t *testing.T) {
	s := start(t, fakejira.Options{})
	ctx := context.Background()
	cfg := config(s)
	tok := link(t, s, "alice@example.test")
	if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expiry in %v, want 1h", d)
	}

	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
		t.Error("refresh did not rotate both tokens")
	}
	if got := s.RefreshCount("alice@example.test"); got != 1 {
		t.Errorf("RefreshCount = %d, want 1", got)
	}
	if !s.Revoked(tok.RefreshToken) {
		t.Error("the used refresh token still works")
	}
	if s.Revoked(tok.AccessToken) {
		t.Error("the old access token died: Atlassian's live until they expire")
	}
	if len(resources(t, s, fresh)) != 2 {
		t.Error("the refreshed token lost the grant's sites")
	}

	_, err = cfg.TokenSource(ctx, &stale).Token()
	re := retrieveError(t, err)
	if re.ErrorCode != "invalid_grant" || re.ErrorDescription != "Unknown or invalid refresh token." || re.Response.StatusCode != http.StatusForbidden {
		t.Errorf("reuse: %q %q (HTTP %d), want 403 invalid_grant", re.ErrorCode, re.ErrorDescription, re.Response.StatusCode)
	}
	if got := s.RefreshCount("alice@example.test"); got != 1 {
		t.Errorf("RefreshCount = %d after a refused refresh, want 1", got)
	}
	next := *fresh
	next.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(ctx, &next).Token(); err != nil {
		t.Errorf("the newest refresh token after a refused reuse: %v", err)
	}
}

func TestRefreshTokenLifetimes(t *testing.T) {
	now := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	s := start(t, fakejira.Options{Now: func() time.Time { return now }})
	cfg := config(s)
	ctx := context.Background()
	tok := link(t, s, "alice@example.test")
	refresh := func(rt string) (*oauth2.Token, error) {
		return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: now.Add(-time.Hour)}).Token()
	}
	// Used every 80 days, the chain lives until 365 days after the grant.
	rt := tok.RefreshToken
	for range 4 {
		now = now.Add(80 * 24 * time.Hour)
		next, err := refresh(rt)
		if err != nil {
			t.Fatalf("refresh on %s: %v", now.Format(time.DateOnly), err)
		}
		rt = next.RefreshToken
	}
	now = now.Add(80 * 24 * time.Hour) // 400 days after the grant
	if _, err := refresh(rt); retrieveError(t, err).ErrorCode != "invalid_grant" {
		t.Errorf("refresh after 365 days: %v, want invalid_grant", err)
	}
	// Unused for 91 days, a refresh token dies.
	now = now.Add(24 * time.Hour)
	idle := link(t, s, "bob@example.test")
	now = now.Add(91 * 24 * time.Hour)
	if _, err := refresh(idle.RefreshToken); retrieveError(t, err).ErrorCode != "invalid_grant" {
		t.Errorf("refresh after 91 idle days: %v, want invalid_grant", err)
	}
}

func TestConsentPage(t *testing.T) {
	s := start(t, fakejira.Options{AppName: "Tandem"})
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st", append(threeLO, oauth2.S256ChallengeOption(v))...)
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Allow Tandem to act as <strong>alice@example.test</strong>", "<strong>bob@example.test</strong>",
		`<option value="` + siteB + `">acme-labs</option>`, `name="code_challenge"`, `name="audience" value="api.atlassian.com"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	// Alice grants one of her sites only.
	u, _ := url.Parse(authURL)
	post := u.Query()
	post.Set("login", "alice@example.test")
	post.Set("site", siteB)
	post.Set("decision", "allow")
	resp, err = noRedirect.PostForm(s.AuthURL(), post)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if got := resources(t, s, tok); len(got) != 1 || got[0].ID != siteB {
		t.Errorf("resources after granting site B: %+v", got)
	}
	// Granting the other site later adds it, as on Atlassian.
	link(t, s, "alice@example.test", oauth2.SetAuthURLParam("site", siteA))
	if got := resources(t, s, tok); len(got) != 2 || got[0].ID != siteB || got[1].ID != siteA {
		t.Errorf("resources after granting A too: %+v", got)
	}

	post.Set("decision", "deny")
	resp, err = noRedirect.PostForm(s.AuthURL(), post)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Get("code") != "" {
		t.Errorf("denial redirected with %v", q)
	}
}

func TestAutoConsent(t *testing.T) {
	s := start(t, fakejira.Options{AutoConsent: "bob@example.test"})
	q := redirectOf(t, config(s).AuthCodeURL("st", append(threeLO, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))...))
	if !strings.Contains(q.Get("code"), "bob") {
		t.Errorf("code %q, want one for bob", q.Get("code"))
	}
	s.SetAutoConsent("")
	resp, err := noRedirect.Get(config(s).AuthCodeURL("st", threeLO...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("without auto-consent: HTTP %d, want the consent page", resp.StatusCode)
	}
}

func TestRevokeGrantAndExpiry(t *testing.T) {
	s := start(t, fakejira.Options{})
	ctx := context.Background()
	cfg := config(s)
	tok := link(t, s, "alice@example.test")
	c := client(t, tok, site(s, siteA))

	s.ExpireAccessTokens("alice@example.test")
	a := call(t, c, "GET", "rest/api/3/myself", nil)
	var ge gatewayErr
	a.decode(t, &ge)
	if a.status != http.StatusUnauthorized || ge != (gatewayErr{401, "Unauthorized"}) {
		t.Errorf("expired token: HTTP %d %+v, want 401 Unauthorized", a.status, ge)
	}
	if s.Revoked(tok.AccessToken) {
		t.Error("expiry counted as revocation")
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh after expiry: %v", err)
	}

	bobs := link(t, s, "bob@example.test")
	s.RevokeGrant("alice@example.test")
	if !s.Revoked(fresh.AccessToken) || !s.Revoked(fresh.RefreshToken) || s.Revoked(bobs.AccessToken) {
		t.Error("RevokeGrant must end alice's tokens and only hers")
	}
	if a := call(t, client(t, fresh, s.APIURL()), "GET", "oauth/token/accessible-resources", nil); a.status != http.StatusUnauthorized {
		t.Errorf("revoked token: HTTP %d, want 401", a.status)
	}
	fresh.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(ctx, fresh).Token(); retrieveError(t, err).ErrorCode != "invalid_grant" {
		t.Errorf("refresh after revocation: %v, want invalid_grant", err)
	}
	// Like Atlassian, the fake offers apps no way to revoke a grant.
	for _, path := range []string{"/oauth/revoke", "/oauth/token/revoke"} {
		resp, err := http.PostForm(s.URL()+path, url.Values{"token": {fresh.AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: HTTP %d, want 404", path, resp.StatusCode)
		}
	}
	// A new consent starts a new grant, with no site left over.
	again := link(t, s, "alice@example.test", oauth2.SetAuthURLParam("site", siteB))
	if got := resources(t, s, again); len(got) != 1 || got[0].ID != siteB {
		t.Errorf("resources of the new grant: %+v", got)
	}
}
