package fakegithub_test

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

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem/internal/fakegithub"
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

func TestCodeFlowOAuthApp(t *testing.T) {
	s := start(t, fakegithub.Options{})
	tok := link(t, s, "alice")

	if !strings.HasPrefix(tok.AccessToken, "gho_FAKE_alice_") {
		t.Errorf("access token %q, want gho_FAKE_alice_…", tok.AccessToken)
	}
	if tok.RefreshToken != "" || !tok.Expiry.IsZero() {
		t.Errorf("OAuth App token has refresh %q, expiry %v; want none", tok.RefreshToken, tok.Expiry)
	}
	if got := tok.Extra("scope"); got != "read:user,repo" {
		t.Errorf("scope %v, want read:user,repo", got)
	}
	if !s.PKCEUsed() {
		t.Error("PKCEUsed() = false after an S256 flow")
	}
	u, resp, err := client(t, s, tok).Users.Get(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if u.GetLogin() != "alice" || u.GetID() != 1001 || u.GetName() != "Alice Liddell" || u.GetEmail() != "alice@example.com" {
		t.Errorf("GET /user = %v", u)
	}
	if got := resp.Header.Get("X-OAuth-Scopes"); got != "read:user, repo" {
		t.Errorf("X-OAuth-Scopes %q", got)
	}
	if other := link(t, s, "alice"); other.AccessToken == tok.AccessToken {
		t.Error("a second flow returned the same token")
	}
}

func TestFlowWithoutPKCEIsRecorded(t *testing.T) {
	s := start(t, fakegithub.Options{})
	q := redirectOf(t, config(s).AuthCodeURL("x", oauth2.SetAuthURLParam("login", "bob")))
	if _, err := config(s).Exchange(context.Background(), q.Get("code")); err != nil {
		t.Fatal(err)
	}
	if s.PKCEUsed() {
		t.Error("PKCEUsed() = true after a flow without a challenge")
	}
}

func TestExchangeRejects(t *testing.T) {
	s := start(t, fakegithub.Options{})
	cfg := config(s)
	ctx := context.Background()
	v := oauth2.GenerateVerifier()

	code := authorize(t, cfg, "alice", v)
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if re := retrieveError(t, err); re.ErrorCode != "bad_verification_code" || re.Response.StatusCode != http.StatusOK {
		t.Errorf("wrong verifier: %q (HTTP %d), want bad_verification_code with 200", re.ErrorCode, re.Response.StatusCode)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "bad_verification_code" {
		t.Errorf("code after a failed use: %q, want bad_verification_code", re.ErrorCode)
	}

	code = authorize(t, cfg, "alice", v)
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "bad_verification_code" {
		t.Errorf("reused code: %q, want bad_verification_code", re.ErrorCode)
	}

	other := *cfg
	other.RedirectURL = callback + "/other"
	_, err = other.Exchange(ctx, authorize(t, cfg, "alice", v), oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "redirect_uri_mismatch" {
		t.Errorf("other redirect_uri: %q, want redirect_uri_mismatch", re.ErrorCode)
	}

	bad := *cfg
	bad.ClientSecret = "wrong"
	_, err = bad.Exchange(ctx, authorize(t, cfg, "alice", v), oauth2.VerifierOption(v))
	if re := retrieveError(t, err); re.ErrorCode != "incorrect_client_credentials" {
		t.Errorf("wrong secret: %q, want incorrect_client_credentials", re.ErrorCode)
	}
	if got := s.TokenRequests(); got != 6 {
		t.Errorf("TokenRequests() = %d, want 6", got)
	}
}

func TestAuthorizeRejects(t *testing.T) {
	s := start(t, fakegithub.Options{})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{
		"client_id": {s.ClientID()}, "redirect_uri": {callback}, "response_type": {"code"},
		"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "login": {"alice"},
	}
	tests := []struct {
		name       string
		change     url.Values
		status     int
		wantTarget string // where the 302 points
		wantError  string
	}{
		{"unknown client", url.Values{"client_id": {"nope"}}, http.StatusNotFound, "", ""},
		{"other redirect", url.Values{"redirect_uri": {"https://evil.example/cb"}}, http.StatusFound, callback, "redirect_uri_mismatch"},
		{"redirect prefix", url.Values{"redirect_uri": {callback + "x"}}, http.StatusFound, callback, "redirect_uri_mismatch"},
		{"no state", url.Values{"state": {""}}, http.StatusBadRequest, "", ""},
		{"plain PKCE", url.Values{"code_challenge_method": {"plain"}}, http.StatusFound, callback, "invalid_request"},
		{"token flow", url.Values{"response_type": {"token"}}, http.StatusFound, callback, "unsupported_response_type"},
		{"unknown user", url.Values{"login": {"mallory"}}, http.StatusBadRequest, "", ""},
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
			if tt.wantTarget == "" {
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != tt.wantTarget {
				t.Errorf("redirected to %s, want %s", got, tt.wantTarget)
			}
			if got := loc.Query().Get("error"); got != tt.wantError {
				t.Errorf("error %q, want %q", got, tt.wantError)
			}
			if loc.Query().Get("code") != "" {
				t.Error("a code was issued")
			}
		})
	}
}

func TestConsentPage(t *testing.T) {
	s := start(t, fakegithub.Options{AppName: "Tandem"})
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	resp, err := http.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Authorize Tandem to act as <strong>alice</strong>", "<strong>bob</strong>", `name="code_challenge"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	// The page's form posts back every parameter plus the chosen login.
	form := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v))
	u, _ := url.Parse(form)
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
	if !strings.HasPrefix(tok.AccessToken, "gho_FAKE_bob_") {
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
	s := start(t, fakegithub.Options{AutoConsent: "bob"})
	q := redirectOf(t, config(s).AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(q.Get("code"), "bob") {
		t.Errorf("code %q, want one for bob", q.Get("code"))
	}
}

// The token endpoint answers form-encoded unless asked for JSON, as GitHub.
func TestTokenResponseEncoding(t *testing.T) {
	s := start(t, fakegithub.Options{Expiring: true})
	cfg := config(s)
	for _, accept := range []string{"", "application/json"} {
		v := oauth2.GenerateVerifier()
		form := url.Values{
			"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
			"code": {authorize(t, cfg, "alice", v)}, "redirect_uri": {callback}, "code_verifier": {v},
		}
		req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := map[string]string{}
		if accept == "" {
			q, err := url.ParseQuery(string(body))
			if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				t.Fatalf("form answer %q (%v), Content-Type %q", body, err, resp.Header.Get("Content-Type"))
			}
			for k := range q {
				got[k] = q.Get(k)
			}
		} else {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("JSON answer %q (%v)", body, err)
			}
			for k, v := range m {
				got[k] = fmt.Sprint(v)
			}
		}
		if !strings.HasPrefix(got["access_token"], "ghu_FAKE_alice_") || !strings.HasPrefix(got["refresh_token"], "ghr_FAKE_alice_") ||
			got["expires_in"] != "28800" || got["refresh_token_expires_in"] != "15811200" || got["token_type"] != "bearer" {
			t.Errorf("Accept %q: answer %v", accept, got)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Accept %q: Cache-Control %q, want no-store", accept, resp.Header.Get("Cache-Control"))
		}
	}
}

func TestRefreshRotation(t *testing.T) {
	s := start(t, fakegithub.Options{Expiring: true})
	ctx := context.Background()
	cfg := config(s)
	tok := link(t, s, "alice")
	if !strings.HasPrefix(tok.AccessToken, "ghu_FAKE_alice_") || !strings.HasPrefix(tok.RefreshToken, "ghr_FAKE_alice_") {
		t.Fatalf("tokens %q / %q, want ghu_ / ghr_", tok.AccessToken, tok.RefreshToken)
	}
	if got := fmt.Sprint(tok.Extra("refresh_token_expires_in")); got != "15811200" {
		t.Errorf("refresh_token_expires_in %v", got)
	}
	if d := time.Until(tok.Expiry); d < 7*time.Hour || d > 8*time.Hour {
		t.Errorf("expiry in %v, want 8h", d)
	}

	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not rotate both tokens")
	}
	if got := s.RefreshCount("alice"); got != 1 {
		t.Errorf("RefreshCount = %d, want 1", got)
	}
	if !s.Revoked(tok.AccessToken) || !s.Revoked(tok.RefreshToken) {
		t.Error("the old pair still works after a refresh")
	}
	_, resp, err := client(t, s, tok).Users.Get(ctx, "")
	if err == nil || status(t, resp) != http.StatusUnauthorized {
		t.Errorf("old access token: %v, want 401", err)
	}
	if _, _, err := client(t, s, fresh).Users.Get(ctx, ""); err != nil {
		t.Errorf("new access token: %v", err)
	}

	// Reusing the old refresh token: 200 with bad_refresh_token, and the
	// grant dies, so the refreshed pair dies with it.
	_, err = cfg.TokenSource(ctx, &stale).Token()
	re := retrieveError(t, err)
	if re.ErrorCode != "bad_refresh_token" || re.Response.StatusCode != http.StatusOK {
		t.Errorf("reuse: %q (HTTP %d), want bad_refresh_token with 200", re.ErrorCode, re.Response.StatusCode)
	}
	if !s.Revoked(fresh.AccessToken) {
		t.Error("reuse of a rotated refresh token left the grant alive")
	}
	if got := s.RefreshCount("alice"); got != 1 {
		t.Errorf("RefreshCount = %d after a failed refresh, want 1", got)
	}
}

func TestOAuthAppHasNoRefresh(t *testing.T) {
	s := start(t, fakegithub.Options{})
	_, err := config(s).TokenSource(context.Background(), &oauth2.Token{RefreshToken: "gho_whatever", Expiry: time.Now().Add(-time.Hour)}).Token()
	if re := retrieveError(t, err); re.ErrorCode != "bad_refresh_token" {
		t.Errorf("refresh in OAuth App mode: %q, want bad_refresh_token", re.ErrorCode)
	}
}

func TestRevokeGrant(t *testing.T) {
	s := start(t, fakegithub.Options{})
	ctx := context.Background()
	first, second := link(t, s, "alice"), link(t, s, "alice")
	bobs := link(t, s, "bob")

	app := gh.BasicAuthTransport{Username: s.ClientID(), Password: s.ClientSecret()}
	c, _ := gh.NewClient(app.Client()).WithEnterpriseURLs(s.APIURL(), s.APIURL())
	resp, err := c.Authorizations.DeleteGrant(ctx, s.ClientID(), second.AccessToken)
	if err != nil || status(t, resp) != http.StatusNoContent {
		t.Fatalf("DeleteGrant: %v", err)
	}
	if !s.Revoked(first.AccessToken) || !s.Revoked(second.AccessToken) {
		t.Error("a token of the grant survived")
	}
	if s.Revoked(bobs.AccessToken) {
		t.Error("another user's token was revoked")
	}
	_, resp, err = client(t, s, first).Users.Get(ctx, "")
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || status(t, resp) != http.StatusUnauthorized || er.Message != "Bad credentials" {
		t.Errorf("revoked token: %v, want 401 Bad credentials", err)
	}
	resp, err = c.Authorizations.DeleteGrant(ctx, s.ClientID(), second.AccessToken)
	if err == nil || status(t, resp) != http.StatusNotFound {
		t.Errorf("second revoke: %v, want 404", err)
	}

	wrong := gh.BasicAuthTransport{Username: s.ClientID(), Password: "nope"}
	c2, _ := gh.NewClient(wrong.Client()).WithEnterpriseURLs(s.APIURL(), s.APIURL())
	resp, err = c2.Authorizations.DeleteGrant(ctx, s.ClientID(), bobs.AccessToken)
	if err == nil || status(t, resp) != http.StatusUnauthorized || s.Revoked(bobs.AccessToken) {
		t.Errorf("revoke with a wrong secret: %v, want 401", err)
	}
}

func TestRevokeGrantByUserAndExpiry(t *testing.T) {
	s := start(t, fakegithub.Options{Expiring: true})
	ctx := context.Background()
	tok := link(t, s, "alice")
	s.ExpireAccessTokens("alice")
	if _, resp, err := client(t, s, tok).Users.Get(ctx, ""); err == nil || status(t, resp) != http.StatusUnauthorized {
		t.Errorf("expired token: %v, want 401", err)
	}
	if s.Revoked(tok.AccessToken) {
		t.Error("expiry counted as revocation")
	}
	s.RevokeGrant("alice")
	if !s.Revoked(tok.RefreshToken) {
		t.Error("RevokeGrant left the refresh token alive")
	}
}

func TestOAuthAppTokenCap(t *testing.T) {
	s := start(t, fakegithub.Options{})
	var toks []string
	for range 11 {
		toks = append(toks, link(t, s, "alice").AccessToken)
	}
	if !s.Revoked(toks[0]) || s.Revoked(toks[1]) || s.Revoked(toks[10]) {
		t.Error("the 11th token should revoke the oldest only")
	}
}
