package fakegoogle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakegoogle"
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
	s := start(t, fakegoogle.Options{})
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("login", alice)}, offlineConsent...)
	q := redirectOf(t, cfg.AuthCodeURL("st4te", opts...))
	wantScope := "https://www.googleapis.com/auth/calendar.readonly https://www.googleapis.com/auth/drive.readonly " +
		"https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid"
	if q.Get("scope") != wantScope || q.Get("authuser") != "0" || q.Get("prompt") != "consent" {
		t.Errorf("callback query %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "ya29.FAKE-alice-") || !strings.HasPrefix(tok.RefreshToken, "1//FAKE-alice-") {
		t.Errorf("tokens %q / %q, want ya29.FAKE-alice-… / 1//FAKE-alice-…", tok.AccessToken, tok.RefreshToken)
	}
	if tok.TokenType != "Bearer" || fmt.Sprint(tok.Extra("expires_in")) != "3599" || tok.Extra("scope") != wantScope {
		t.Errorf("token type %q, expires_in %v, scope %v", tok.TokenType, tok.Extra("expires_in"), tok.Extra("scope"))
	}
	if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expiry in %v, want an hour", d)
	}
	if !s.PKCEUsed() {
		t.Error("PKCEUsed() = false after an S256 flow")
	}
	if other := link(t, s, alice, offlineConsent...); other.AccessToken == tok.AccessToken || other.RefreshToken == tok.RefreshToken {
		t.Error("a second flow returned the same tokens")
	}
}

// Google gives a refresh token on the first offline consent, and later
// only when the app forces the consent screen again.
func TestRefreshTokenIssuance(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	offline := []oauth2.AuthCodeOption{oauth2.AccessTypeOffline}
	steps := []struct {
		name        string
		opts        []oauth2.AuthCodeOption
		revokeFirst bool
		want        bool
	}{
		{"online first", nil, false, false},
		{"offline, first consent", offline, false, false}, // the online flow above was the first consent
		{"offline with prompt=consent", offlineConsent, false, true},
		{"offline again", offline, false, false},
		{"offline after the grant was revoked", offline, true, true},
	}
	for _, st := range steps {
		if st.revokeFirst {
			s.RevokeGrant(bob)
		}
		tok := link(t, s, bob, st.opts...)
		if got := tok.RefreshToken != ""; got != st.want {
			t.Errorf("%s: refresh token %v, want %v", st.name, got, st.want)
		}
	}
	if tok := link(t, s, alice, offline...); tok.RefreshToken == "" {
		t.Error("a first offline consent gave no refresh token")
	}
}

func TestRefreshDoesNotRotate(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	ctx := context.Background()
	cfg := config(s)
	tok := link(t, s, alice, offlineConsent...)
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
		t.Errorf("refresh gave %q / %q, want a new access token and the same refresh token", fresh.AccessToken, fresh.RefreshToken)
	}
	if s.Revoked(tok.AccessToken) || s.Revoked(tok.RefreshToken) {
		t.Error("a refresh revoked the old tokens")
	}
	again, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil || again.AccessToken == fresh.AccessToken {
		t.Errorf("second refresh with the same refresh token: %v", err)
	}
	if got := s.RefreshCount(alice); got != 2 {
		t.Errorf("RefreshCount = %d, want 2", got)
	}
	for _, a := range []*oauth2.Token{tok, fresh} {
		if code, _, _ := getJSON(t, a, s.APIURL()+"oauth2/v3/userinfo"); code != http.StatusOK {
			t.Errorf("access token %s: status %d, want 200 until it expires", a.AccessToken, code)
		}
	}
}

func TestRevokeEndsTheGrant(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	ctx := context.Background()
	cfg := config(s)
	first := link(t, s, alice, offlineConsent...)
	second := link(t, s, alice, offlineConsent...)
	bobs := link(t, s, bob, offlineConsent...)

	// The token in a form body; Google also takes ?token=.
	code, body := postForm(t, s.RevokeURL(), url.Values{"token": {second.RefreshToken}})
	if code != http.StatusOK {
		t.Fatalf("revoke: %d %v", code, body)
	}
	for _, tok := range []string{first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken} {
		if !s.Revoked(tok) {
			t.Errorf("%s survived the revocation of its grant", tok)
		}
	}
	if s.Revoked(bobs.AccessToken) {
		t.Error("another user's token was revoked")
	}
	stale := *first
	stale.Expiry = time.Now().Add(-time.Minute)
	_, err := cfg.TokenSource(ctx, &stale).Token()
	re := retrieveError(t, err)
	if re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" || re.ErrorDescription != "Token has been expired or revoked." {
		t.Errorf("refresh after revoke: %d %q %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
	}
	if code, hdr, body := getJSON(t, first, s.APIURL()+"oauth2/v3/userinfo"); code != http.StatusUnauthorized ||
		body["error"] != "invalid_request" || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo after revoke: %d %v", code, body)
	}

	code, body = postForm(t, s.RevokeURL()+"?token="+url.QueryEscape(bobs.AccessToken), nil)
	if code != http.StatusOK || !s.Revoked(bobs.RefreshToken) {
		t.Errorf("revoke with ?token=: %d %v", code, body)
	}
	code, body = postForm(t, s.RevokeURL(), url.Values{"token": {second.RefreshToken}})
	if code != http.StatusBadRequest || body["error"] != "invalid_token" {
		t.Errorf("second revoke: %d %v, want 400 invalid_token", code, body)
	}
	resp, err := http.Get(s.RevokeURL() + "?token=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /revoke: %d, want 405", resp.StatusCode)
	}
}

// An expired access token cannot revoke the grant: revoke the refresh
// token instead.
func TestRevokeExpiredAccessToken(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	tok := link(t, s, alice, offlineConsent...)
	s.ExpireAccessTokens(alice)
	if code, _, _ := getJSON(t, tok, s.APIURL()+"oauth2/v3/userinfo"); code != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401", code)
	}
	if s.Revoked(tok.AccessToken) {
		t.Error("expiry counted as revocation")
	}
	code, body := postForm(t, s.RevokeURL(), url.Values{"token": {tok.AccessToken}})
	if code != http.StatusBadRequest || body["error"] != "invalid_token" || s.Revoked(tok.RefreshToken) {
		t.Errorf("revoke of an expired access token: %d %v, grant revoked %v", code, body, s.Revoked(tok.RefreshToken))
	}
}

func TestExchangeRejects(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	cfg := config(s)
	ctx := context.Background()
	v := oauth2.GenerateVerifier()
	check := func(name string, err error, status int, code, desc string) {
		t.Helper()
		re := retrieveError(t, err)
		if re.Response.StatusCode != status || re.ErrorCode != code || (desc != "" && re.ErrorDescription != desc) {
			t.Errorf("%s: %d %q %q, want %d %q %q", name, re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code, desc)
		}
	}

	code := authorize(t, cfg, alice, v)
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	check("wrong verifier", err, 400, "invalid_grant", "Invalid code verifier.")
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	check("code after a failed use", err, 400, "invalid_grant", "Bad Request")

	_, err = cfg.Exchange(ctx, authorize(t, cfg, alice, v))
	check("no verifier", err, 400, "invalid_grant", "Missing code verifier.")

	code = authorize(t, cfg, alice, v)
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	check("reused code", err, 400, "invalid_grant", "")

	other := *cfg
	other.RedirectURL = callback + "/other"
	_, err = other.Exchange(ctx, authorize(t, cfg, alice, v), oauth2.VerifierOption(v))
	check("other redirect_uri", err, 400, "redirect_uri_mismatch", "")

	bad := *cfg
	bad.ClientSecret = "wrong"
	_, err = bad.Exchange(ctx, authorize(t, cfg, alice, v), oauth2.VerifierOption(v))
	check("wrong secret", err, 401, "invalid_client", "Unauthorized")

	bad = *cfg
	bad.ClientID = "nope.apps.googleusercontent.com"
	_, err = bad.Exchange(ctx, "4/whatever", oauth2.VerifierOption(v))
	check("unknown client", err, 401, "invalid_client", "The OAuth client was not found.")

	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: "1//FAKE-nobody-1", Expiry: time.Now().Add(-time.Hour)}).Token()
	check("unknown refresh token", err, 400, "invalid_grant", "Token has been expired or revoked.")
	if got := s.TokenRequests(); got != 9 {
		t.Errorf("TokenRequests() = %d, want 9", got)
	}
}

func TestAuthorizeRejects(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{
		"client_id": {s.ClientID()}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "login": {alice},
		"access_type": {"offline"}, "prompt": {"consent"},
	}
	tests := []struct {
		name   string
		change url.Values
		status int
		inPage string
	}{
		{"unknown client", url.Values{"client_id": {"nope"}}, 401, "invalid_client"},
		{"other redirect", url.Values{"redirect_uri": {"https://evil.example/cb"}}, 400, "redirect_uri_mismatch"},
		{"redirect prefix", url.Values{"redirect_uri": {callback + "x"}}, 400, "redirect_uri_mismatch"},
		{"no redirect", url.Values{"redirect_uri": {""}}, 400, "Missing required parameter: redirect_uri"},
		{"no response_type", url.Values{"response_type": {""}}, 400, "Missing required parameter: response_type"},
		{"token flow", url.Values{"response_type": {"token"}}, 400, "unsupported_response_type"},
		{"no scope", url.Values{"scope": {""}}, 400, "Missing required parameter: scope"},
		{"unknown scope", url.Values{"scope": {"openid repo"}}, 400, "invalid_scope"},
		{"bad access_type", url.Values{"access_type": {"forever"}}, 400, "Invalid access_type"},
		{"bad prompt", url.Values{"prompt": {"none consent"}}, 400, "Invalid prompt"},
		{"bad challenge method", url.Values{"code_challenge_method": {"S512"}}, 400, "code_challenge"},
		{"short challenge", url.Values{"code_challenge": {"abc"}}, 400, "code_challenge"},
		{"no state", url.Values{"state": {""}}, 400, "state"},
		{"unknown user", url.Values{"login": {"mallory@example.test"}}, 400, "No such account"},
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
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(page), tt.inPage) {
				t.Errorf("status %d, want %d with %q in:\n%s", resp.StatusCode, tt.status, tt.inPage, page)
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("redirected to %s; Google shows an error page", resp.Header.Get("Location"))
			}
		})
	}
}

// Google accepts the plain PKCE method, which PKCEUsed does not count.
func TestPlainPKCE(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	q := redirectOf(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", v),
		oauth2.SetAuthURLParam("code_challenge_method", "plain"), oauth2.SetAuthURLParam("login", bob)))
	if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	if s.PKCEUsed() {
		t.Error("PKCEUsed() = true after a plain flow")
	}
}

func TestPromptNone(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	cfg := config(s)
	none := oauth2.SetAuthURLParam("prompt", "none")
	if q := redirectOf(t, cfg.AuthCodeURL("st", none)); q.Get("error") != "login_required" {
		t.Errorf("no account: %v, want login_required", q)
	}
	if q := redirectOf(t, cfg.AuthCodeURL("st", none, oauth2.SetAuthURLParam("login", alice))); q.Get("error") != "consent_required" {
		t.Errorf("no grant: %v, want consent_required", q)
	}
	link(t, s, alice)
	q := redirectOf(t, cfg.AuthCodeURL("st", none, oauth2.SetAuthURLParam("login", alice)))
	if q.Get("code") == "" || q.Get("prompt") != "none" {
		t.Errorf("granted: %v, want a code", q)
	}
}

func TestConsentPage(t *testing.T) {
	s := start(t, fakegoogle.Options{AppName: "Tandem"})
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}, offlineConsent...)...)
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"continue to Tandem", "<strong>alice@example.test</strong>", "<strong>bob@example.test</strong>",
		"https://www.googleapis.com/auth/calendar.readonly", `name="code_challenge"`, `name="access_type" value="offline"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	// The page's form posts back every parameter plus the chosen account.
	u, _ := url.Parse(authURL)
	post := u.Query()
	post.Set("login", bob)
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
	if !strings.HasPrefix(tok.AccessToken, "ya29.FAKE-bob-") || tok.RefreshToken == "" {
		t.Errorf("tokens %q / %q, want bob's pair", tok.AccessToken, tok.RefreshToken)
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
	s := start(t, fakegoogle.Options{AutoConsent: bob})
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
		t.Errorf("without auto-consent: %d, want the consent page", resp.StatusCode)
	}
}

// Past 100 live refresh tokens for one account, the oldest dies silently.
func TestRefreshTokenCap(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	var toks []string
	for range 101 {
		toks = append(toks, mint(t, s, alice, "email").RefreshToken)
	}
	if !s.Revoked(toks[0]) || s.Revoked(toks[1]) || s.Revoked(toks[100]) {
		t.Error("the 101st refresh token should revoke the oldest only")
	}
}

func TestMintToken(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	tok := mint(t, s, alice, allScopes...)
	if !strings.HasPrefix(tok.AccessToken, "ya29.FAKE-alice-") || !strings.HasPrefix(tok.RefreshToken, "1//FAKE-alice-") || tok.Expiry.IsZero() {
		t.Errorf("MintToken = %+v", tok)
	}
	if _, err := s.MintToken("nobody@example.test", "email"); err == nil {
		t.Error("MintToken for an unknown user succeeded")
	}
	if _, err := s.MintToken(alice, "repo"); err == nil {
		t.Error("MintToken with an unknown scope succeeded")
	}
}
