package integrations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// Signer computes and checks MACs for a purpose with keys only Tandem holds.
// VerifyMAC accepts a MAC made under a previous key too, so links and states
// made just before a key rotation keep working.
type Signer interface {
	MAC(purpose string, data []byte) []byte
	VerifyMAC(purpose string, data, mac []byte) bool
}

// SlackSignIn proves which Slack user is at a browser (Sign in with Slack,
// Slack's OpenID Connect).
type SlackSignIn interface {
	// AuthURL is Slack's sign-in page for this flow; Slack sends the
	// browser back to redirectURI with a code and state. team preselects
	// the workspace.
	AuthURL(state, nonce, redirectURI, team string) string
	// Identify exchanges code and says who signed in. It fails when Slack
	// refuses the code, or the ID token was not issued for this client and
	// nonce.
	Identify(ctx context.Context, code, redirectURI, nonce string) (team, user string, err error)
}

// Directory names Slack users and workspaces for pages. It never fails: an
// unknown name comes back as the id.
type Directory interface {
	Names(ctx context.Context, team, user string) (userName, teamName string)
}

// Lifetimes of the proofs a flow carries.
const (
	// LinkTTL is how long a connect link shown in Slack stays usable.
	LinkTTL = 30 * time.Minute
	// StateTTL is how long the browser may spend at Slack or the provider.
	StateTTL = 10 * time.Minute
	// SignedInTTL is how long a browser that proved its Slack user may open
	// that same user's next links without signing in to Slack again.
	SignedInTTL = 15 * time.Minute
)

// The steps of a flow are single-use records in the store (tandem.OAuthState);
// the kind is the first letters of the record's secret id, which is signed,
// so a record made for one step is refused at every other.
const (
	kindLink     = "L-" // a connect link shown in Slack: who, which provider, which turn to re-run
	kindSlack    = "S-" // the browser is at Slack, proving who it is
	kindConfirm  = "C-" // without Sign in with Slack: the browser must confirm by a POST
	kindProvider = "P-" // the browser is at the provider
)

// Flow links a provider account to exactly the Slack user a connect link was
// made for. A link is a single-use record that expires; opening it consumes
// it. The browser then proves which Slack user it is (Sign in with Slack, or
// a signed cookie from a sign-in minutes ago) and only if that is the link's
// user goes on to the provider: the authorization-code flow with PKCE, a
// single-use state bound to the browser by an HttpOnly cookie, and one
// callback URL per provider (RFC 9700). A provider account already linked to
// another Slack user of the workspace is refused.
type Flow struct {
	Store     FlowStore
	Signer    Signer
	PublicURL string // base URL browsers reach, without trailing slash
	Providers map[tandem.ProviderID]tandem.Provider
	// SignIn is Sign in with Slack. Nil runs without it
	// (TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN): the browser confirms on a page
	// that names the Slack user the link was made for.
	SignIn SlackSignIn
	// Directory names people and workspaces on pages; nil shows ids.
	Directory Directory
	// HTTPClient makes the token exchange and identity requests.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	// OnLinked runs after a link is stored; rerunTurn is the inbox id of a
	// turn that failed for want of it ("" if none).
	OnLinked func(ctx context.Context, l tandem.Link, rerunTurn string)
	// OnMisused runs when someone other than user opened the link made for
	// user (opener is the Slack user the browser proved to be).
	OnMisused func(ctx context.Context, team, user string, p tandem.ProviderID, opener string)
}

// Handler serves the connect links, the confirmation form, Slack's sign-in
// callback and the providers' callbacks.
func (f *Flow) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect/{provider}", f.landing)
	mux.HandleFunc("POST /connect/{provider}/confirm", f.confirm)
	mux.HandleFunc("GET /oauth/slack/callback", f.slackCallback)
	mux.HandleFunc("GET /oauth/{provider}/callback", f.callback)
	return mux
}

// ConnectURL makes a link that starts linking p for one Slack user, and
// only for them: it works once, within LinkTTL. rerunTurn names a turn to
// run again once linked ("" for none). It fails when the store cannot
// record the link.
func (f *Flow) ConnectURL(ctx context.Context, team, user string, p tandem.ProviderID, rerunTurn string) (string, error) {
	if _, ok := f.Providers[p]; !ok {
		return "", fmt.Errorf("integrations: connect link: %w", tandem.Errorf(tandem.EINVALID, "%s is not enabled here", p.Name()))
	}
	id := kindLink + randomString()
	exp := f.now().Add(LinkTTL).Truncate(time.Second)
	rec := tandem.OAuthState{ID: id, Provider: p, Team: team, User: user, Expires: exp, RerunTurn: rerunTurn}
	if err := f.Store.SaveOAuthState(ctx, rec); err != nil {
		return "", fmt.Errorf("integrations: connect link: %w", err)
	}
	e := strconv.FormatInt(exp.Unix(), 10)
	return f.PublicURL + "/connect/" + string(p) + "?link=" + id + "&exp=" + e + "&sig=" + f.sign("connect-link", string(p), id, e), nil
}

// RedirectURL is the provider's registered callback URL, distinct per
// provider as the mix-up defence asks.
func (f *Flow) RedirectURL(p tandem.ProviderID) string {
	return f.PublicURL + "/oauth/" + string(p) + "/callback"
}

// SlackRedirectURL is Sign in with Slack's callback URL, which the app's
// manifest must list.
func (f *Flow) SlackRedirectURL() string { return f.PublicURL + "/oauth/slack/callback" }

func (f *Flow) sign(purpose string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString(f.Signer.MAC(purpose, []byte(strings.Join(parts, "\x00"))))
}

func (f *Flow) verify(sig, purpose string, parts ...string) bool {
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	return err == nil && f.Signer.VerifyMAC(purpose, []byte(strings.Join(parts, "\x00")), mac)
}

func (f *Flow) config(p tandem.ProviderID) (oauth2.Config, tandem.Provider, bool) {
	prov, ok := f.Providers[p]
	if !ok {
		return oauth2.Config{}, nil, false
	}
	cfg := prov.OAuth2Config()
	cfg.RedirectURL = f.RedirectURL(p)
	return cfg, prov, true
}

// landing is where a connect link leads. It consumes the link, then sends
// the browser to prove its Slack user (or, already proven, to the provider).
func (f *Flow) landing(w http.ResponseWriter, r *http.Request) {
	p := tandem.ProviderID(r.PathValue("provider"))
	if _, _, ok := f.config(p); !ok {
		f.page(w, http.StatusNotFound, "Unknown integration", "This Tandem does not offer that integration.")
		return
	}
	if r.Method == http.MethodHead {
		// A link checker's HEAD must not spend a link meant for a person.
		pageHeaders(w)
		return
	}
	// A refused link is logged, as a refused callback is (takeStep), and
	// never with its id or signature, which are its secrets.
	refuse := func(status int, title, body, why string, attrs ...any) {
		f.logger().Warn("connect link refused", append([]any{"provider", p, "why", why}, attrs...)...)
		f.page(w, status, title, body)
	}
	q := r.URL.Query()
	id, exp := q.Get("link"), q.Get("exp")
	if !strings.HasPrefix(id, kindLink) || !f.verify(q.Get("sig"), "connect-link", string(p), id, exp) {
		refuse(http.StatusBadRequest, "This link is not valid", "Use the Connect button Tandem sent you in Slack, or type /connect "+string(p)+" there.", "bad link signature")
		return
	}
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !f.now().Before(time.Unix(expUnix, 0)) {
		refuse(http.StatusGone, "This link has expired", "Nothing was connected. Type /connect "+string(p)+" in Slack for a new link.", "link expired")
		return
	}
	link, err := f.Store.TakeOAuthState(r.Context(), id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		refuse(http.StatusGone, "This link was already used", "A connect link works once. Nothing was connected. Type /connect "+string(p)+" in Slack for a new link.", "link unknown or already used")
		return
	} else if err != nil {
		f.logger().Error("take connect link", "provider", p, "err", err)
		f.page(w, http.StatusInternalServerError, "Tandem could not start linking", "Please try again in a moment.")
		return
	}
	if link.Provider != p || link.Expired(f.now()) {
		why := "link record expired"
		if link.Provider != p {
			why = "link record for provider " + string(link.Provider)
		}
		refuse(http.StatusBadRequest, "This link is not valid", "Nothing was connected. Type /connect "+string(p)+" in Slack for a new link.", why, "user", link.User)
		return
	}
	switch {
	case f.SignIn == nil:
		f.askConfirm(w, r, link)
	case f.signedInAs(r, link.Team, link.User):
		f.toProvider(w, r, link)
	default:
		f.toSlack(w, r, link)
	}
}

// toProvider records the provider step and sends the browser to the
// provider's consent page.
func (f *Flow) toProvider(w http.ResponseWriter, r *http.Request, from tandem.OAuthState) {
	p := from.Provider
	cfg, prov, _ := f.config(p)
	verifier := oauth2.GenerateVerifier()
	id, ok := f.startStep(w, r, kindProvider, from, verifier, "/oauth/"+string(p)+"/")
	if !ok {
		return
	}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, prov.AuthCodeOptions()...)
	http.Redirect(w, r, cfg.AuthCodeURL(id+"."+f.sign("oauth-state", id), opts...), http.StatusFound)
}

// startStep records a single-use step of kind carrying from's user,
// provider and re-run, with secret (a PKCE verifier or an OpenID nonce)
// sealed in it, and binds it to this browser by a nonce in an HttpOnly
// cookie scoped to cookiePath. On failure it writes the page.
func (f *Flow) startStep(w http.ResponseWriter, r *http.Request, kind string, from tandem.OAuthState, secret, cookiePath string) (string, bool) {
	nonce, id := randomString(), kind+randomString()
	st := tandem.OAuthState{
		ID: id, Provider: from.Provider, Team: from.Team, User: from.User,
		NonceHash: hashHex(nonce), Verifier: secret,
		Expires: f.now().Add(StateTTL), RerunTurn: from.RerunTurn,
	}
	if err := f.Store.SaveOAuthState(r.Context(), st); err != nil {
		f.logger().Error("save oauth state", "provider", from.Provider, "err", err)
		f.page(w, http.StatusInternalServerError, "Tandem could not start linking", "Please try again in a moment.")
		return "", false
	}
	name, path := f.cookie(stepCookie(kind), cookiePath)
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: nonce, Path: path,
		MaxAge: int(StateTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: f.secure(),
	})
	return id, true
}

// callback is where the provider sends the browser back with a code.
func (f *Flow) callback(w http.ResponseWriter, r *http.Request) {
	p := tandem.ProviderID(r.PathValue("provider"))
	cfg, prov, ok := f.config(p)
	if !ok {
		f.page(w, http.StatusNotFound, "Unknown integration", "This Tandem does not offer that integration.")
		return
	}
	st, ok := f.takeStep(w, r, kindProvider, r.URL.Query().Get("state"), "/oauth/"+string(p)+"/", p)
	if !ok {
		return
	}
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
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, OnHost(f.httpClient()))
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		f.logger().Warn("oauth code exchange failed", "provider", p, "user", st.User, "err", redactRetrieve(err))
		f.page(w, http.StatusBadGateway, p.Name()+" did not accept the sign-in", "Nothing was linked; try again from Slack.")
		return
	}
	// The fresh token goes to the provider's own host only, not to where
	// a redirect of its points.
	acct, err := prov.Identify(ctx, bearerClient(f.httpClient(), tok))
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
	if err := f.Store.SaveLink(r.Context(), link); errors.Is(err, tandem.ErrAccountLinkedElsewhere) {
		// The token is dropped here, unrevoked: revoking would end the
		// grant of the person who holds this account rightfully.
		f.logger().Warn("link refused: the account is linked to another user", "provider", p, "team", st.Team, "user", st.User, "login", acct.Login)
		f.audit(r.Context(), st.User, st.User, p, tandem.OutcomeRefused, "refused "+acct.Login+": linked to another Slack user")
		f.page(w, http.StatusConflict, "This "+p.Name()+" account is already linked to someone else",
			"The "+p.Name()+" account "+acct.Login+" is already linked to another Slack user in this workspace, and one account acts for one person only. Nothing was connected and Tandem kept no token. Sign in to "+p.Name()+" as your own account and try again from Slack, or ask whoever linked it to disconnect it.")
		return
	} else if err != nil {
		f.logger().Error("save link", "provider", p, "user", st.User, "err", err)
		f.page(w, http.StatusInternalServerError, "Tandem could not save the link", "Please try again in a moment.")
		return
	}
	f.audit(r.Context(), link.User, link.User, p, tandem.OutcomeOK, "linked "+link.Login)
	f.logger().Info("account linked", "provider", p, "team", st.Team, "user", st.User, "login", acct.Login)
	if f.OnLinked != nil {
		f.OnLinked(context.WithoutCancel(r.Context()), link, st.RerunTurn)
	}
	userName, teamName := f.names(r.Context(), st.Team, st.User)
	f.page(w, http.StatusOK, p.Name()+" account "+acct.Login+" is now linked to @"+userName+" in "+teamName,
		"Tandem will act as "+acct.Login+" on "+p.Name()+" when @"+userName+" asks it to. You can close this tab and go back to Slack.")
}

// takeStep verifies and consumes the single-use step of kind named by raw
// ("id.signature"), which must be bound to this browser's cookie and, when
// p is not "", be for provider p. On failure it writes the page and reports
// false; nothing is stored on any failure.
func (f *Flow) takeStep(w http.ResponseWriter, r *http.Request, kind, raw, cookiePath string, p tandem.ProviderID) (tandem.OAuthState, bool) {
	id, sig, found := strings.Cut(raw, ".")
	again := "Start again from Slack with /connect."
	if p != "" {
		again = "Start again from Slack with /connect " + string(p) + "."
	}
	bad := func(status int, title, why string) (tandem.OAuthState, bool) {
		f.logger().Warn("oauth callback refused", "provider", p, "step", kind, "why", why)
		f.page(w, status, title, "Nothing was linked. "+again)
		return tandem.OAuthState{}, false
	}
	if !found || !strings.HasPrefix(id, kind) || !f.verify(sig, "oauth-state", id) {
		return bad(http.StatusBadRequest, "This sign-in is not valid", "bad state signature or step")
	}
	st, err := f.Store.TakeOAuthState(r.Context(), id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return bad(http.StatusBadRequest, "This sign-in was already used", "state unknown or reused")
	} else if err != nil {
		f.logger().Error("take oauth state", "provider", p, "err", err)
		return bad(http.StatusInternalServerError, "Tandem could not finish linking", "store error")
	}
	name, path := f.cookie(stepCookie(kind), cookiePath)
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: f.secure()})
	if st.Expired(f.now()) {
		return bad(http.StatusBadRequest, "This sign-in has expired", "state expired")
	}
	if p != "" && st.Provider != p {
		return bad(http.StatusBadRequest, "This sign-in was for another service", "state for provider "+string(st.Provider))
	}
	c, err := r.Cookie(name)
	if err != nil || subtle.ConstantTimeCompare([]byte(hashHex(c.Value)), []byte(st.NonceHash)) != 1 {
		return bad(http.StatusBadRequest, "This sign-in was started in another browser", "cookie nonce missing or mismatched")
	}
	return st, true
}

// audit records a link, or a refused one: actor is who was at the browser,
// user whose link it was to be.
func (f *Flow) audit(ctx context.Context, actor, user string, p tandem.ProviderID, outcome tandem.Outcome, detail string) {
	rec := tandem.AuditRecord{
		Time: f.now(), Actor: actor, Effective: user, Provider: p,
		Action: "link", Reason: tandem.ReasonSender, Outcome: outcome, Detail: detail,
	}
	if err := f.Store.AppendAudit(ctx, rec); err != nil {
		f.logger().Error("append audit", "err", err)
	}
}

func (f *Flow) names(ctx context.Context, team, user string) (userName, teamName string) {
	if f.Directory == nil {
		return user, team
	}
	return f.Directory.Names(ctx, team, user)
}

func stepCookie(kind string) string {
	switch kind {
	case kindSlack:
		return "tandem_slack_step"
	case kindConfirm:
		return "tandem_confirm_step"
	}
	return "tandem_oauth_step"
}

// secure reports whether browsers reach the flow over https (PublicURL's
// scheme, in any case: HTTPS:// is as good a URL, and its cookies must be
// as safe).
func (f *Flow) secure() bool {
	return len(f.PublicURL) >= len("https://") && strings.EqualFold(f.PublicURL[:len("https://")], "https://")
}

// cookie names the flow's cookie base, scoped to path, and gives the path
// to set it with. Over https (PublicURL) the name has the __Host- prefix
// and the path is "/": browsers let only this origin, over https, set such
// a cookie, so neither a page of a sibling subdomain nor a plain-http
// response can plant one, such as someone's own signed-in cookie, to have
// the next account a victim authorizes linked to them. path then goes into
// the name, which keeps the cookies of different steps apart. Over http (a
// local trial) the name is base and the cookie is scoped to path.
func (f *Flow) cookie(base, path string) (name, cookiePath string) {
	if !f.secure() {
		return base, path
	}
	return "__Host-" + base + strings.ReplaceAll(strings.TrimSuffix(path, "/"), "/", "-"), "/"
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
