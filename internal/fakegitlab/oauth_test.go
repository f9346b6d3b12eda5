package fakegitlab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakegitlab"
	gitlab "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/oauth2"
)

func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want *oauth2.RetrieveError", err)
	}
	return re
}

func TestCodeFlow(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	tok := link(t, s, "alice")

	if !strings.HasPrefix(tok.AccessToken, "gloas-FAKE-alice-") || !strings.HasPrefix(tok.RefreshToken, "glrt-FAKE-alice-") {
		t.Errorf("tokens %q / %q, want gloas-FAKE-alice-… / glrt-FAKE-alice-…", tok.AccessToken, tok.RefreshToken)
	}
	if tok.TokenType != "Bearer" || tok.Extra("scope") != "api read_user" {
		t.Errorf("token_type %q, scope %v", tok.TokenType, tok.Extra("scope"))
	}
	if d := time.Until(tok.Expiry); d < 119*time.Minute || d > 2*time.Hour {
		t.Errorf("expiry in %v, want 2h", d)
	}
	if !s.PKCEUsed() {
		t.Error("PKCEUsed() = false after an S256 flow")
	}
	u, _, err := client(t, s, tok).Users.CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "alice" || u.ID != 2001 || u.Name != "Alice Liddell" || u.Email != "alice@example.com" || u.WebURL != s.URL()+"/alice" {
		t.Errorf("GET /user = %+v", u)
	}
	if other := link(t, s, "alice"); other.AccessToken == tok.AccessToken || other.RefreshToken == tok.RefreshToken {
		t.Error("a second flow returned the same tokens")
	}
}

// The token endpoint answers JSON shaped like GitLab's (Doorkeeper's).
func TestTokenResponseShape(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	v := oauth2.GenerateVerifier()
	form := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"code": {authorize(t, config(s), "bob", v)}, "redirect_uri": {callback}, "code_verifier": {v},
	}
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range m {
		got[k] = fmt.Sprint(v)
	}
	if len(got) != 6 || !strings.HasPrefix(got["access_token"], "gloas-FAKE-bob-") || got["token_type"] != "Bearer" ||
		got["expires_in"] != "7200" || !strings.HasPrefix(got["refresh_token"], "glrt-FAKE-bob-") ||
		got["scope"] != "api read_user" || len(got["created_at"]) != 10 {
		t.Errorf("answer %v", got)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v", resp.Header)
	}
}

func TestFlowWithoutPKCEIsRecorded(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	q := redirectOf(t, config(s).AuthCodeURL("x", oauth2.SetAuthURLParam("login", "bob")))
	if _, err := config(s).Exchange(context.Background(), q.Get("code")); err != nil {
		t.Fatal(err)
	}
	if s.PKCEUsed() {
		t.Error("PKCEUsed() = true after a flow without a challenge")
	}
}

func TestExchangeRejects(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	cfg := config(s)
	ctx := context.Background()
	v := oauth2.GenerateVerifier()
	check := func(name string, err error, status int, code string) {
		t.Helper()
		re := retrieveError(t, err)
		if re.Response.StatusCode != status || re.ErrorCode != code {
			t.Errorf("%s: HTTP %d %q, want %d %q", name, re.Response.StatusCode, re.ErrorCode, status, code)
		}
	}

	code := authorize(t, cfg, "alice", v)
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	check("wrong verifier", err, http.StatusBadRequest, "invalid_grant")
	_, err = cfg.Exchange(ctx, code)
	check("no verifier", err, http.StatusBadRequest, "invalid_request")
	// Doorkeeper consumes a code only when the exchange succeeds.
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("code after failed attempts: %v", err)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	check("reused code", err, http.StatusBadRequest, "invalid_grant")

	other := *cfg
	other.RedirectURL = callback + "/other"
	_, err = other.Exchange(ctx, authorize(t, cfg, "alice", v), oauth2.VerifierOption(v))
	check("other redirect_uri", err, http.StatusBadRequest, "invalid_grant")

	bad := *cfg
	bad.ClientSecret = "wrong"
	_, err = bad.Exchange(ctx, authorize(t, cfg, "alice", v), oauth2.VerifierOption(v))
	check("wrong secret", err, http.StatusUnauthorized, "invalid_client")

	_, err = cfg.Exchange(ctx, "FAKECODE-nobody-1", oauth2.VerifierOption(v))
	check("unknown code", err, http.StatusBadRequest, "invalid_grant")
	if got := s.TokenRequests(); got != 7 {
		t.Errorf("TokenRequests() = %d, want 7", got)
	}
}

func TestAuthorizeRejects(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{
		"client_id": {s.ClientID()}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"api read_user"},
		"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "login": {"alice"},
	}
	tests := []struct {
		name      string
		change    url.Values
		status    int
		wantError string // the error of the redirect to the callback
	}{
		{"unknown client", url.Values{"client_id": {"nope"}}, http.StatusUnauthorized, ""},
		{"other redirect", url.Values{"redirect_uri": {"https://evil.example/cb"}}, http.StatusBadRequest, ""},
		{"redirect prefix", url.Values{"redirect_uri": {callback + "x"}}, http.StatusBadRequest, ""},
		{"no redirect", url.Values{"redirect_uri": {""}}, http.StatusBadRequest, ""},
		{"no state", url.Values{"state": {""}}, http.StatusBadRequest, ""},
		{"unknown scope", url.Values{"scope": {"api sudo"}}, http.StatusFound, "invalid_scope"},
		{"bad PKCE method", url.Values{"code_challenge_method": {"S512"}}, http.StatusFound, "invalid_request"},
		{"token flow", url.Values{"response_type": {"token"}}, http.StatusFound, "unsupported_response_type"},
		{"unknown user", url.Values{"login": {"mallory"}}, http.StatusBadRequest, ""},
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
			if tt.wantError == "" {
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
				t.Errorf("redirected to %s, want %s", got, callback)
			}
			if got := loc.Query(); got.Get("error") != tt.wantError || got.Get("state") != "st" || got.Get("code") != "" {
				t.Errorf("redirect query %v, want error %q with the state and no code", got, tt.wantError)
			}
		})
	}
}

func TestConsentPage(t *testing.T) {
	s := start(t, fakegitlab.Options{AppName: "Tandem"})
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	resp, err := http.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"<strong>Tandem</strong>", "use the account <strong>alice</strong>", "<strong>bob</strong>",
		`name="code_challenge"`, "<code>api</code>, <code>read_user</code>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	// The page's form posts back every parameter plus the chosen login.
	u, _ := url.Parse(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	post := u.Query()
	post.Set("login", "bob")
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
	if !strings.HasPrefix(tok.AccessToken, "gloas-FAKE-bob-") {
		t.Errorf("token %q, want bob's", tok.AccessToken)
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
	s := start(t, fakegitlab.Options{AutoConsent: "bob"})
	q := redirectOf(t, config(s).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(q.Get("code"), "bob") {
		t.Errorf("code %q, want one for bob", q.Get("code"))
	}
	s.SetAutoConsent("")
	resp, err := noRedirect.Get(config(s).AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("without auto consent: status %d, want the consent page", resp.StatusCode)
	}
}

func TestRefreshRotation(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	ctx := context.Background()
	cfg := config(s)
	tok := link(t, s, "alice")

	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
		t.Error("refresh did not rotate both tokens")
	}
	if got := s.RefreshCount("alice"); got != 1 {
		t.Errorf("RefreshCount = %d, want 1", got)
	}
	if !s.Revoked(tok.AccessToken) || !s.Revoked(tok.RefreshToken) {
		t.Error("the old pair still works after a refresh")
	}
	_, resp, err := client(t, s, tok).Users.CurrentUser()
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || status(t, resp) != http.StatusUnauthorized || !strings.Contains(er.Message, "revoked") {
		t.Errorf("old access token: %v, want 401 invalid_token (revoked)", err)
	}
	if _, _, err := client(t, s, fresh).Users.CurrentUser(); err != nil {
		t.Errorf("new access token: %v", err)
	}

	// Reusing the old refresh token: 400 invalid_grant. Doorkeeper does not
	// revoke the newer pair for it.
	_, err = cfg.TokenSource(ctx, &stale).Token()
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusBadRequest {
		t.Errorf("reuse: %q (HTTP %d), want invalid_grant with 400", re.ErrorCode, re.Response.StatusCode)
	}
	if s.Revoked(fresh.AccessToken) {
		t.Error("reusing an old refresh token revoked the new pair")
	}
	if got := s.RefreshCount("alice"); got != 1 {
		t.Errorf("RefreshCount = %d after a failed refresh, want 1", got)
	}
}

func TestExpireAccessTokens(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	tok := link(t, s, "alice")
	s.ExpireAccessTokens("alice")
	_, resp, err := client(t, s, tok).Users.CurrentUser()
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || status(t, resp) != http.StatusUnauthorized || !strings.Contains(er.Message, "expired") ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: %v, want 401 invalid_token (expired)", err)
	}
	if s.Revoked(tok.AccessToken) {
		t.Error("expiry counted as revocation")
	}
	fresh, err := config(s).TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh after expiry: %v", err)
	}
	if _, _, err := client(t, s, fresh).Users.CurrentUser(); err != nil {
		t.Error(err)
	}
}

func revoke(t *testing.T, s *fakegitlab.Server, secret, token string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(s.RevokeURL(), url.Values{"client_id": {s.ClientID()}, "client_secret": {secret}, "token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestRevokeEndpoint(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	first, second := link(t, s, "alice"), link(t, s, "alice")

	if st, body := revoke(t, s, "wrong", first.AccessToken); st != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") || s.Revoked(first.AccessToken) {
		t.Errorf("wrong secret: %d %s", st, body)
	}
	if st, body := revoke(t, s, s.ClientSecret(), first.AccessToken); st != http.StatusOK || body != "{}" {
		t.Errorf("revoke: %d %s, want 200 {}", st, body)
	}
	if !s.Revoked(first.AccessToken) || !s.Revoked(first.RefreshToken) {
		t.Error("revoking the access token left its refresh token alive")
	}
	if s.Revoked(second.AccessToken) {
		t.Error("revoking one token revoked another grant's")
	}
	if st, _ := revoke(t, s, s.ClientSecret(), second.RefreshToken); st != http.StatusOK || !s.Revoked(second.AccessToken) {
		t.Error("revoking by refresh token left the access token alive")
	}
	if st, body := revoke(t, s, s.ClientSecret(), "gloas-unknown"); st != http.StatusOK || body != "{}" {
		t.Errorf("unknown token: %d %s, want 200 {} (RFC 7009)", st, body)
	}
}

func TestRevokeGrant(t *testing.T) {
	s := start(t, fakegitlab.Options{})
	first, second, bobs := link(t, s, "alice"), link(t, s, "alice"), link(t, s, "bob")
	s.RevokeGrant("alice")
	if !s.Revoked(first.AccessToken) || !s.Revoked(second.RefreshToken) || s.Revoked(bobs.AccessToken) {
		t.Error("RevokeGrant should revoke every token of alice and none of bob's")
	}
	_, err := config(s).TokenSource(context.Background(), &oauth2.Token{RefreshToken: second.RefreshToken}).Token()
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after RevokeGrant: %q, want invalid_grant", re.ErrorCode)
	}
}
