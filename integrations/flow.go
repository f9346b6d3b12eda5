package integrations

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
)

// FlowStore is what the OAuth flow needs of the store.
type FlowStore interface {
	SaveOAuthState(ctx context.Context, s tandem.OAuthState) error
	TakeOAuthState(ctx context.Context, id string) (tandem.OAuthState, error)
	SaveLink(ctx context.Context, l tandem.Link) error
	AppendAudit(ctx context.Context, r tandem.AuditRecord) error
}

// Signer computes a MAC for a purpose with a key only Tandem holds.
type Signer interface {
	MAC(purpose string, data []byte) []byte
}

// Lifetimes of the two proofs a flow carries.
const (
	// LinkTTL is how long a connect link shown in Slack stays usable.
	LinkTTL = 30 * time.Minute
	// StateTTL is how long the browser may spend at the provider.
	StateTTL = 10 * time.Minute
)

// Flow runs the OAuth authorization-code flow with PKCE for every provider
// (RFC 9700): Slack shows a short-lived link signed for one Slack user; the
// landing page binds the browser with a random nonce in an HttpOnly cookie,
// records a single-use state server-side and sends the browser to the
// provider; the callback checks the state's signature, expiry, single use,
// provider and cookie, exchanges the code, asks the provider whose token it
// is, and stores the link encrypted.
type Flow struct {
	Store     FlowStore
	Signer    Signer
	PublicURL string // base URL browsers reach, without trailing slash
	Providers map[tandem.ProviderID]tandem.Provider
	// HTTPClient makes the token exchange and identity requests.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	// OnLinked runs after a link is stored; rerunTurn is the inbox id of a
	// turn that failed for want of it ("" if none).
	OnLinked func(ctx context.Context, l tandem.Link, rerunTurn string)
}

// Handler serves GET /connect/{provider} and GET /oauth/{provider}/callback.
func (f *Flow) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect/{provider}", f.landing)
	mux.HandleFunc("GET /oauth/{provider}/callback", f.callback)
	return mux
}

// ConnectURL returns the signed link that starts linking p for one Slack
// user. rerunTurn names a turn to run again once linked ("" for none).
func (f *Flow) ConnectURL(team, user string, p tandem.ProviderID, rerunTurn string) string {
	exp := strconv.FormatInt(f.now().Add(LinkTTL).Unix(), 10)
	q := url.Values{"team": {team}, "user": {user}, "exp": {exp}}
	if rerunTurn != "" {
		q.Set("turn", rerunTurn)
	}
	q.Set("sig", f.linkSig(p, team, user, rerunTurn, exp))
	return f.PublicURL + "/connect/" + string(p) + "?" + q.Encode()
}

// RedirectURL is the provider's registered callback URL, distinct per
// provider as the mix-up defence asks.
func (f *Flow) RedirectURL(p tandem.ProviderID) string {
	return f.PublicURL + "/oauth/" + string(p) + "/callback"
}

func (f *Flow) linkSig(p tandem.ProviderID, team, user, turn, exp string) string {
	data := strings.Join([]string{string(p), team, user, turn, exp}, "\x00")
	return base64.RawURLEncoding.EncodeToString(f.Signer.MAC("connect-link", []byte(data)))
}

func (f *Flow) stateSig(id string) string {
	return base64.RawURLEncoding.EncodeToString(f.Signer.MAC("oauth-state", []byte(id)))
}

func cookieName(p tandem.ProviderID) string { return "tandem_oauth_" + string(p) }

func (f *Flow) config(p tandem.ProviderID) (oauth2.Config, tandem.Provider, bool) {
	prov, ok := f.Providers[p]
	if !ok {
		return oauth2.Config{}, nil, false
	}
	cfg := prov.OAuth2Config()
	cfg.RedirectURL = f.RedirectURL(p)
	return cfg, prov, true
}

func (f *Flow) landing(w http.ResponseWriter, r *http.Request) {
	p := tandem.ProviderID(r.PathValue("provider"))
	cfg, prov, ok := f.config(p)
	if !ok {
		f.page(w, http.StatusNotFound, "Unknown integration", "This Tandem does not offer that integration.")
		return
	}
	q := r.URL.Query()
	team, user, turn, exp := q.Get("team"), q.Get("user"), q.Get("turn"), q.Get("exp")
	want := f.linkSig(p, team, user, turn, exp)
	if team == "" || user == "" || !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		f.page(w, http.StatusBadRequest, "This link is not valid", "Use the Connect button Tandem sent you in Slack, or type /connect "+string(p)+" there.")
		return
	}
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !f.now().Before(time.Unix(expUnix, 0)) {
		f.page(w, http.StatusBadRequest, "This link has expired", "Type /connect "+string(p)+" in Slack for a new one.")
		return
	}
	nonce, id := randomString(), randomString()
	verifier := oauth2.GenerateVerifier()
	st := tandem.OAuthState{
		ID: id, Provider: p, Team: team, User: user,
		NonceHash: hashHex(nonce), Verifier: verifier,
		Expires: f.now().Add(StateTTL), RerunTurn: turn,
	}
	if err := f.Store.SaveOAuthState(r.Context(), st); err != nil {
		f.logger().Error("save oauth state", "provider", p, "err", err)
		f.page(w, http.StatusInternalServerError, "Tandem could not start linking", "Please try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(p), Value: nonce, Path: "/oauth/" + string(p) + "/",
		MaxAge: int(StateTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(f.PublicURL, "https://"),
	})
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, prov.AuthCodeOptions()...)
	http.Redirect(w, r, cfg.AuthCodeURL(id+"."+f.stateSig(id), opts...), http.StatusFound)
}

func (f *Flow) callback(w http.ResponseWriter, r *http.Request) {
	p := tandem.ProviderID(r.PathValue("provider"))
	cfg, prov, ok := f.config(p)
	if !ok {
		f.page(w, http.StatusNotFound, "Unknown integration", "This Tandem does not offer that integration.")
		return
	}
	st, ok := f.checkState(w, r, p)
	if !ok {
		return
	}
	clearCookie(w, p)
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		f.page(w, http.StatusOK, p.Name()+" was not connected", "You declined, or "+p.Name()+" refused the request. Nothing was linked; you can try again from Slack.")
		return
	}
	code := q.Get("code")
	if code == "" {
		f.page(w, http.StatusBadRequest, p.Name()+" sent no authorization code", "Nothing was linked; try again from Slack.")
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, f.httpClient())
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		f.logger().Warn("oauth code exchange failed", "provider", p, "user", st.User, "err", redactRetrieve(err))
		f.page(w, http.StatusBadGateway, p.Name()+" did not accept the sign-in", "Nothing was linked; try again from Slack.")
		return
	}
	acct, err := prov.Identify(ctx, oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)))
	if err != nil {
		f.logger().Warn("identify after exchange failed", "provider", p, "user", st.User, "err", err)
		f.page(w, http.StatusBadGateway, p.Name()+" did not say who you are", "Nothing was linked; try again from Slack.")
		return
	}
	link := tandem.Link{
		Team: st.Team, User: st.User, Provider: p,
		AccountID: acct.ID, Login: acct.Login, LinkedAt: f.now(),
		Token: FromOAuth2(tok), Sites: acct.Sites,
	}
	if len(acct.Sites) > 0 {
		link.Site, link.SiteName = acct.Sites[0].ID, acct.Sites[0].Name
	}
	if err := f.Store.SaveLink(r.Context(), link); err != nil {
		f.logger().Error("save link", "provider", p, "user", st.User, "err", err)
		f.page(w, http.StatusInternalServerError, "Tandem could not save the link", "Please try again in a moment.")
		return
	}
	f.audit(r.Context(), link)
	f.logger().Info("account linked", "provider", p, "team", st.Team, "user", st.User, "login", acct.Login)
	if f.OnLinked != nil {
		f.OnLinked(context.WithoutCancel(r.Context()), link, st.RerunTurn)
	}
	f.page(w, http.StatusOK, p.Name()+" connected as "+acct.Login, "Tandem will now act as "+acct.Login+" on "+p.Name()+" when you ask it to. You can close this tab and go back to Slack.")
}

// checkState verifies the state of a callback, consuming it; on failure it
// writes the page and reports false. Nothing is stored on any failure.
func (f *Flow) checkState(w http.ResponseWriter, r *http.Request, p tandem.ProviderID) (tandem.OAuthState, bool) {
	raw := r.URL.Query().Get("state")
	id, sig, found := strings.Cut(raw, ".")
	bad := func(status int, title, why string) (tandem.OAuthState, bool) {
		f.logger().Warn("oauth callback refused", "provider", p, "why", why)
		f.page(w, status, title, "Nothing was linked. Start again from Slack with /connect "+string(p)+".")
		return tandem.OAuthState{}, false
	}
	if !found || id == "" || !hmac.Equal([]byte(sig), []byte(f.stateSig(id))) {
		return bad(http.StatusBadRequest, "This sign-in is not valid", "bad state signature")
	}
	st, err := f.Store.TakeOAuthState(r.Context(), id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return bad(http.StatusBadRequest, "This sign-in was already used", "state unknown or reused")
	} else if err != nil {
		f.logger().Error("take oauth state", "provider", p, "err", err)
		return bad(http.StatusInternalServerError, "Tandem could not finish linking", "store error")
	}
	if st.Expired(f.now()) {
		return bad(http.StatusBadRequest, "This sign-in has expired", "state expired")
	}
	if st.Provider != p {
		return bad(http.StatusBadRequest, "This sign-in was for another service", "state for provider "+string(st.Provider))
	}
	c, err := r.Cookie(cookieName(p))
	if err != nil || subtle.ConstantTimeCompare([]byte(hashHex(c.Value)), []byte(st.NonceHash)) != 1 {
		return bad(http.StatusBadRequest, "This sign-in was started in another browser", "cookie nonce missing or mismatched")
	}
	return st, true
}

func (f *Flow) audit(ctx context.Context, l tandem.Link) {
	rec := tandem.AuditRecord{
		Time: f.now(), Actor: l.User, Effective: l.User, Provider: l.Provider,
		Action: "link", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK, Detail: "linked " + l.Login,
	}
	if err := f.Store.AppendAudit(ctx, rec); err != nil {
		f.logger().Error("append audit", "err", err)
	}
}

func clearCookie(w http.ResponseWriter, p tandem.ProviderID) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(p), Value: "", Path: "/oauth/" + string(p) + "/", MaxAge: -1, HttpOnly: true})
}

func (f *Flow) httpClient() *http.Client {
	if f.HTTPClient != nil {
		return f.HTTPClient
	}
	return http.DefaultClient
}

func (f *Flow) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Flow) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// redactRetrieve keeps a token endpoint's raw body (which may hold a token)
// out of logs, keeping only its error code.
func redactRetrieve(err error) string {
	var re *oauth2.RetrieveError
	if asRetrieve(err, &re) {
		return fmt.Sprintf("token endpoint answered %d %s", re.Response.StatusCode, re.ErrorCode)
	}
	return "token exchange failed"
}
