package fakeslack

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sign in with Slack (OpenID Connect), as shared/docs/slack-platform-facts.md
// describes it: the browser's authorize page, openid.connect.token and
// openid.connect.userInfo, with single-use codes and RS256 ID tokens whose
// claims carry the https://slack.com/user_id and team_id.

// sessionCookie is the fake's "signed in to Slack in this browser" cookie
// (Slack's own is called d).
const sessionCookie = "d"

// openIDCodeTTL is how long an authorization code may wait to be exchanged.
const openIDCodeTTL = 10 * time.Minute

type openIDCode struct {
	user, clientID, redirectURI, nonce string
	expires                            time.Time
}

type openIDState struct {
	mu        sync.Mutex
	sessions  map[string]string // session cookie value -> user id
	codes     map[string]openIDCode
	tokens    map[string]string // access token -> user id
	authorize int               // visits to the authorize page
	signIns   int               // codes issued
	exchanged int               // codes exchanged for tokens
}

func newOpenIDState() *openIDState {
	return &openIDState{sessions: map[string]string{}, codes: map[string]openIDCode{}, tokens: map[string]string{}}
}

// OpenIDStats counts what the Sign in with Slack side saw.
type OpenIDStats struct {
	AuthorizeVisits int // browsers that reached the authorize page
	CodesIssued     int // browsers signed in and sent back with a code
	CodesExchanged  int // codes exchanged at openid.connect.token
}

// OpenIDStats returns the counts so far.
func (s *Server) OpenIDStats() OpenIDStats {
	o := s.oidc
	o.mu.Lock()
	defer o.mu.Unlock()
	return OpenIDStats{AuthorizeVisits: o.authorize, CodesIssued: o.signIns, CodesExchanged: o.exchanged}
}

// SignInCookie returns the cookie that makes a browser signed in to this
// Slack as user; put it in the browser's jar for the URL from BaseURL.
func (s *Server) SignInCookie(user string) *http.Cookie {
	v := randomToken("fakeslack-session-")
	s.oidc.mu.Lock()
	s.oidc.sessions[v] = user
	s.oidc.mu.Unlock()
	return &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true}
}

// BaseURL is the server's root URL (the authorize page lives under it).
func (s *Server) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// OpenIDAuthorizeURL is the Sign in with Slack page to configure in the app
// (TANDEM_SLACK_AUTH_URL).
func (s *Server) OpenIDAuthorizeURL() string { return s.BaseURL() + "/openid/connect/authorize" }

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to {{.Team}} · Slack (fake)</title></head>
<body><h1>Sign in to {{.Team}}</h1><p>You are not signed in to Slack in this browser.</p>
<form method="post" action="/openid/connect/signin"><input type="hidden" name="return" value="{{.Return}}">
<label>Member id <input name="user"></label> <button type="submit">Sign in</button></form></body></html>
`))

// openIDAuthorize is the browser's sign-in page. A browser signed in (the
// session cookie) goes straight back to redirect_uri with a single-use
// code; one that is not stays here.
func (s *Server) openIDAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := s.oidc
	o.mu.Lock()
	o.authorize++
	o.mu.Unlock()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("client_id") == "" || q.Get("client_id") != s.opts.OpenIDClientID:
		http.Error(w, "invalid_client_id", http.StatusBadRequest)
		return
	case !s.redirectAllowed(redirect):
		http.Error(w, "bad_redirect_uri", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "unsupported_response_type", http.StatusBadRequest)
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		http.Error(w, "invalid_scope: openid is required", http.StatusBadRequest)
		return
	case q.Get("team") != "" && q.Get("team") != s.opts.TeamID:
		http.Error(w, "team_not_found", http.StatusBadRequest)
		return
	}
	user := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		o.mu.Lock()
		user = o.sessions[c.Value]
		o.mu.Unlock()
	}
	if user == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		signInPage.Execute(w, struct{ Team, Return string }{s.opts.TeamName, r.URL.RequestURI()})
		return
	}
	code := randomToken("fake-oidc-code-")
	o.mu.Lock()
	o.codes[code] = openIDCode{user: user, clientID: q.Get("client_id"), redirectURI: redirect, nonce: q.Get("nonce"), expires: s.opts.Clock().Add(openIDCodeTTL)}
	o.signIns++
	o.mu.Unlock()
	back, _ := url.Parse(redirect)
	bq := back.Query()
	bq.Set("code", code)
	if st := q.Get("state"); st != "" {
		bq.Set("state", st)
	}
	back.RawQuery = bq.Encode()
	s.logf("openid authorize: signed in %s", user)
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// openIDSignIn signs the browser in as the member id it posts (a fake has
// no passwords) and returns it to the authorize page.
func (s *Server) openIDSignIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	user := r.PostForm.Get("user")
	s.mu.Lock()
	_, known := s.users[user]
	s.mu.Unlock()
	ret := r.PostForm.Get("return")
	if !known || !strings.HasPrefix(ret, "/openid/connect/authorize?") {
		http.Error(w, "unknown member or return page", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, s.SignInCookie(user))
	http.Redirect(w, r, ret, http.StatusFound)
}

func (s *Server) redirectAllowed(u string) bool {
	if u == "" {
		return false
	}
	if len(s.opts.OpenIDRedirectURLs) == 0 {
		p, err := url.Parse(u)
		return err == nil && (p.Scheme == "http" || p.Scheme == "https")
	}
	return slices.Contains(s.opts.OpenIDRedirectURLs, u)
}

// openIDToken is openid.connect.token: client credentials from the form
// (client_secret_post) or Basic auth, a single-use code and the same
// redirect_uri it was issued for.
func (s *Server) openIDToken(q *apiRequest) (map[string]any, *apiError) {
	id, secret := q.str("client_id"), q.str("client_secret")
	if id == "" && q.basicUser != "" {
		id, secret = q.basicUser, q.basicPass
	}
	switch {
	case id == "" || id != s.opts.OpenIDClientID:
		return nil, fail("invalid_client_id")
	case secret != s.opts.OpenIDClientSecret:
		return nil, fail("bad_client_secret")
	case q.str("grant_type") != "" && q.str("grant_type") != "authorization_code":
		return nil, fail("invalid_grant_type")
	}
	o := s.oidc
	o.mu.Lock()
	code, ok := o.codes[q.str("code")]
	delete(o.codes, q.str("code")) // single use, even when refused below
	o.mu.Unlock()
	switch {
	case !ok || code.clientID != id || !s.opts.Clock().Before(code.expires):
		return nil, fail("invalid_code")
	case q.str("redirect_uri") != code.redirectURI:
		return nil, fail("bad_redirect_uri")
	}
	access := randomToken("xoxp-oidc.")
	o.mu.Lock()
	o.tokens[access] = code.user
	o.exchanged++
	o.mu.Unlock()
	now := s.opts.Clock()
	claims := map[string]any{
		"iss": "https://slack.com", "sub": code.user, "aud": id,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
		"https://slack.com/user_id": code.user, "https://slack.com/team_id": s.opts.TeamID,
		"https://slack.com/team_name": s.opts.TeamName, "https://slack.com/team_domain": s.opts.TeamDomain,
	}
	if code.nonce != "" {
		claims["nonce"] = code.nonce
	}
	return map[string]any{"access_token": access, "token_type": "Bearer", "id_token": signJWT(claims)}, nil
}

// openIDUserInfo is openid.connect.userInfo for a token from
// openid.connect.token.
func (s *Server) openIDUserInfo(q *apiRequest) (map[string]any, *apiError) {
	o := s.oidc
	o.mu.Lock()
	user, ok := o.tokens[q.token]
	o.mu.Unlock()
	if q.token == "" {
		return nil, fail("not_authed")
	}
	if !ok {
		return nil, fail("invalid_auth")
	}
	u := s.users[user]
	return map[string]any{
		"sub": user, "https://slack.com/user_id": user, "https://slack.com/team_id": s.opts.TeamID,
		"name": u.RealName, "https://slack.com/team_name": s.opts.TeamName, "https://slack.com/team_domain": s.opts.TeamDomain,
	}, nil
}

// openIDKeys is the JWKS that verifies the ID tokens.
func (s *Server) openIDKeys(w http.ResponseWriter, _ *http.Request) {
	k := signingKey()
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "fakeslack-1",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}})
}

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// signingKey is one RSA key per process: generating one per server would
// slow every test that starts a fake.
func signingKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("fakeslack: rsa key: " + err.Error())
		}
		rsaKey = k
	})
	return rsaKey
}

func signJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	unsigned := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "fakeslack-1"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(rand.Reader, signingKey(), crypto.SHA256, sum[:])
	if err != nil {
		panic("fakeslack: sign id token: " + err.Error())
	}
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomToken(prefix string) string {
	b := make([]byte, 18)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
