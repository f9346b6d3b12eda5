package fakeslack

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

func startOpenID(t *testing.T) *Server {
	t.Helper()
	s := New(Options{
		TeamID: "T0ACME", TeamName: "Acme", Users: []User{{ID: "UBOB", Name: "bob", RealName: "Bob"}},
		OpenIDClientID: "cid.1", OpenIDClientSecret: "slack-FAKE-secret", OpenIDRedirectURLs: []string{"http://127.0.0.1:9/cb"},
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// code signs a browser in as UBOB and returns the code Slack sent back.
func code(t *testing.T, s *Server, nonce string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(s.BaseURL())
	jar.SetCookies(base, []*http.Cookie{s.SignInCookie("UBOB")})
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "scope": {"openid"}, "client_id": {"cid.1"}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"st"}, "nonce": {nonce}}
	resp, err := c.Get(s.OpenIDAuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st" {
		t.Fatalf("authorize: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

func post(t *testing.T, s *Server, method string, form url.Values, basic bool) map[string]json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("cid.1", "slack-FAKE-secret")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenIDShapes checks the documented shapes: the ok envelope, an RS256
// ID token that the JWKS verifies, Slack's claims, single-use codes and
// userInfo.
func TestOpenIDShapes(t *testing.T) {
	s := startOpenID(t)
	for _, basic := range []bool{false, true} {
		form := url.Values{"code": {code(t, s, "n-1")}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "grant_type": {"authorization_code"}}
		if !basic {
			form.Set("client_id", "cid.1")
			form.Set("client_secret", "slack-FAKE-secret")
		}
		got := post(t, s, "openid.connect.token", form, basic)
		if string(got["ok"]) != "true" || string(got["token_type"]) != `"Bearer"` {
			t.Fatalf("token answer %v", got)
		}
		var idToken, access string
		json.Unmarshal(got["id_token"], &idToken)
		json.Unmarshal(got["access_token"], &access)
		claims := verifyJWT(t, s, idToken)
		for k, want := range map[string]any{"iss": "https://slack.com", "sub": "UBOB", "aud": "cid.1", "nonce": "n-1",
			"https://slack.com/user_id": "UBOB", "https://slack.com/team_id": "T0ACME"} {
			if claims[k] != want {
				t.Errorf("claim %s = %v, want %v", k, claims[k], want)
			}
		}
		info := post(t, s, "openid.connect.userInfo", url.Values{"token": {access}}, false)
		if string(info["ok"]) != "true" || string(info["https://slack.com/user_id"]) != `"UBOB"` || string(info["https://slack.com/team_id"]) != `"T0ACME"` {
			t.Errorf("userInfo %v", info)
		}
		again := post(t, s, "openid.connect.token", form, basic)
		if string(again["error"]) != `"invalid_code"` {
			t.Errorf("a code reused: %v", again)
		}
	}
	if bad := post(t, s, "openid.connect.userInfo", url.Values{"token": {"xoxp-FAKE-unknown"}}, false); string(bad["error"]) != `"invalid_auth"` {
		t.Errorf("userInfo with an unknown token: %v", bad)
	}
	form := url.Values{"code": {code(t, s, "")}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "client_id": {"cid.1"}, "client_secret": {"wrong"}}
	if bad := post(t, s, "openid.connect.token", form, false); string(bad["error"]) != `"bad_client_secret"` {
		t.Errorf("a wrong secret: %v", bad)
	}
}

func verifyJWT(t *testing.T, s *Server, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token is not a JWT: %q", raw)
	}
	resp, err := http.Get(s.BaseURL() + "/openid/connect/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ N, E, Alg string }
	}
	json.NewDecoder(resp.Body).Decode(&jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Alg != "RS256" {
		t.Fatalf("jwks %+v", jwks)
	}
	n, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("the ID token does not verify with the JWKS: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	return claims
}
