package integrations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
)

// TokenStore is what Tokens needs of the store.
type TokenStore interface {
	Link(ctx context.Context, team, user string, provider tandem.ProviderID) (tandem.Link, error)
	SwapToken(ctx context.Context, team, user string, provider tandem.ProviderID, oldRefresh string, tok tandem.Token) error
	MarkNeedsReconnect(ctx context.Context, team, user string, provider tandem.ProviderID, refused tandem.Token) (bool, error)
	DeleteLink(ctx context.Context, team, user string, provider tandem.ProviderID) (tandem.Link, error)
	SetLinkSite(ctx context.Context, team, user string, provider tandem.ProviderID, accountID, site, siteName string) error
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// expiryDelta is how long before its expiry a token counts as expired, as in
// x/oauth2, so a request never leaves with a token about to die.
const expiryDelta = 10 * time.Second

// Tokens hands out a person's credentials for one provider, refreshing
// expired tokens transparently. Refresh is serialised per (team, user,
// provider): the stored token is re-read under the lock, refreshed only if
// still needed, and the new token saved (compare-and-swap on the old refresh
// token) before anyone uses it, so a rotating refresh token is never sent
// twice.
//
// A provider may refuse (401) a token before the expiry Tandem recorded for
// it (clock skew, early expiry, rotation on its side). When the link has a
// refresh token, the refused token is refreshed the same way, under the
// same lock and lease, and the request sent once more, with a token of the
// account the turn started with and no other; the link is marked "needs
// reconnect" only when the refresh is refused or the renewed token is
// refused too. Without a refresh token the first 401 marks it.
type Tokens struct {
	Store     TokenStore
	Providers map[tandem.ProviderID]tandem.Provider
	// HTTPClient makes token and API requests; its Timeout bounds each call.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	// OnNeedsReconnect is called once when a link is found dead: a refresh
	// refused, or a 401 to its stored token that renewing could not cure
	// (no refresh token, or a 401 again with the renewed token).
	OnNeedsReconnect func(ctx context.Context, l tandem.Link)
	// OnRefresh is called after every refresh attempt with its outcome.
	OnRefresh func(p tandem.ProviderID, err error)
	// OnCall is called after every provider API call with its status (0 when
	// no answer came) and duration.
	OnCall func(p tandem.ProviderID, status int, d time.Duration)

	mu        sync.Mutex
	locks     map[string]*sync.Mutex
	ownerOnce sync.Once
	owner     string
}

// Credentials returns user's credentials for provider p under reason. It
// fails with *tandem.NotConnectedError when the user has no link, and
// *tandem.ExpiredError when the link needs reconnecting.
func (t *Tokens) Credentials(ctx context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	prov, ok := t.Providers[p]
	if !ok {
		return tandem.Credentials{}, tandem.Errorf(tandem.EINVALID, "%s is not enabled on this Tandem.", p.Name())
	}
	link, err := t.Store.Link(ctx, team, user, p)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return tandem.Credentials{}, &tandem.NotConnectedError{Team: team, User: user, Provider: p}
	} else if err != nil {
		return tandem.Credentials{}, fmt.Errorf("integrations: credentials: %w", err)
	}
	if link.NeedsReconnect {
		return tandem.Credentials{}, &tandem.ExpiredError{Team: team, User: user, Provider: p}
	}
	src := &source{tokens: t, provider: prov, link: link, cur: link.Token}
	client := &http.Client{
		Transport: &transport{src: src, base: t.base().Transport},
		Timeout:   t.base().Timeout,
	}
	id := tandem.Identity{Team: team, SlackUser: user, Provider: p, Login: link.Login, Reason: reason}
	return tandem.Credentials{Identity: id, Client: client, Site: link.Site}, nil
}

func (t *Tokens) base() *http.Client {
	if t.HTTPClient != nil {
		return t.HTTPClient
	}
	return http.DefaultClient
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tokens) lockFor(l tandem.Link) *sync.Mutex {
	key := l.Team + "/" + l.User + "/" + string(l.Provider)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.locks == nil {
		t.locks = map[string]*sync.Mutex{}
	}
	m, ok := t.locks[key]
	if !ok {
		m = &sync.Mutex{}
		t.locks[key] = m
	}
	return m
}

func (t *Tokens) valid(tok tandem.Token) bool {
	return tok.AccessToken != "" && (tok.Expiry.IsZero() || tok.Expiry.After(t.now().Add(expiryDelta)))
}

// Refresh leases in the store serialise refreshes across replicas sharing
// one database; the in-process mutex does it within one process. A lease
// lasts refreshLeaseTTL, or longer when the HTTP client's timeout would
// let a refresh outlast it (leaseTTL).
const (
	refreshLeaseTTL  = 30 * time.Second
	refreshLeaseWait = 20 * time.Second
)

// leaseTTL is how long a refresh lease lasts: refreshLeaseTTL, and at
// least twice the HTTP client's timeout, so that a slow token endpoint
// never lets the lease lapse while its refresh is out and another replica
// spend the same rotating refresh token.
func (t *Tokens) leaseTTL() time.Duration {
	return max(refreshLeaseTTL, 2*t.base().Timeout)
}

// leaseOwner names this token source in refresh leases: each Tokens is one
// contender, as each replica is.
func (t *Tokens) leaseOwner() string {
	t.ownerOnce.Do(func() {
		b := make([]byte, 8)
		rand.Read(b)
		t.owner = "tokens-" + hex.EncodeToString(b)
	})
	return t.owner
}

// storeLock takes the link's refresh lease, waiting while another process
// holds it. It fails with EUNAVAILABLE when the lease stays taken.
func (t *Tokens) storeLock(ctx context.Context, l tandem.Link) (func(), error) {
	name := "refresh/" + l.Team + "/" + l.User + "/" + string(l.Provider)
	deadline := time.Now().Add(refreshLeaseWait)
	for {
		ok, err := t.Store.Lease(ctx, name, t.leaseOwner(), t.leaseTTL())
		if err != nil {
			return nil, fmt.Errorf("integrations: refresh lease: %w", err)
		}
		if ok {
			return func() { t.Store.ReleaseLease(context.WithoutCancel(ctx), name, t.leaseOwner()) }, nil
		}
		if time.Now().After(deadline) {
			return nil, tandem.Errorf(tandem.EUNAVAILABLE, "Another Tandem process is refreshing this %s token; try again in a moment.", l.Provider.Name())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// markDead flags the link whose token refused is, and tells its owner,
// once: the store reports whether this call flagged it, so a link already
// flagged is left alone. Only the token stored now can kill the link: when
// the link holds another token (a relink, or a refresh elsewhere, since
// refused was read), a stale token's refusal never touches it. The store
// compares and flags in one step because the connect flow's SaveLink takes
// neither the link's lock nor its refresh lease: a check here, before the
// write, would let a relink on another replica slip in between and be
// marked in the old token's place.
func (t *Tokens) markDead(ctx context.Context, l tandem.Link, refused tandem.Token, why string) {
	marked, err := t.Store.MarkNeedsReconnect(ctx, l.Team, l.User, l.Provider, refused)
	switch tandem.ErrorCode(err) {
	case "":
	case tandem.ECONFLICT:
		t.logger().Info("a replaced token was refused; the link stays", "provider", l.Provider, "user", l.User, "why", why)
		return
	case tandem.ENOTFOUND:
		// Disconnected since: nothing is left to flag.
		return
	default:
		t.logger().Error("mark link needs reconnect", "provider", l.Provider, "user", l.User, "err", err)
		return
	}
	if !marked {
		return
	}
	t.logger().Warn("link needs reconnect", "provider", l.Provider, "user", l.User, "why", why)
	if t.OnNeedsReconnect != nil {
		t.OnNeedsReconnect(ctx, l)
	}
}

func (t *Tokens) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// source is one turn's view of a link's token.
type source struct {
	tokens   *Tokens
	provider tandem.Provider
	link     tandem.Link
	mu       sync.Mutex
	cur      tandem.Token
}

// token returns a valid access token, refreshing under the link's lock.
func (s *source) token(ctx context.Context) (tandem.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens
	if t.valid(s.cur) {
		return s.cur, nil
	}
	lock := t.lockFor(s.link)
	lock.Lock()
	defer lock.Unlock()
	// Another turn (here or on another replica) may have refreshed already:
	// then no lease is needed at all.
	if cur, err := t.Store.Link(ctx, s.link.Team, s.link.User, s.link.Provider); err == nil && !cur.NeedsReconnect && s.sameAccount(cur) && t.valid(cur.Token) {
		s.cur = cur.Token
		return s.cur, nil
	}
	release, err := t.storeLock(ctx, s.link)
	if err != nil {
		return tandem.Token{}, err
	}
	defer release()
	stored, err := t.Store.Link(ctx, s.link.Team, s.link.User, s.link.Provider)
	if err != nil {
		return tandem.Token{}, s.gone(err)
	}
	if stored.NeedsReconnect {
		return tandem.Token{}, s.expired()
	}
	if !s.sameAccount(stored) {
		return tandem.Token{}, s.relinked(stored)
	}
	if t.valid(stored.Token) {
		s.cur = stored.Token
		return s.cur, nil
	}
	if stored.Token.RefreshToken == "" {
		t.markDead(ctx, stored, stored.Token, "token expired and no refresh token")
		return tandem.Token{}, s.expired()
	}
	got, err := s.refreshLocked(ctx, stored)
	if err != nil {
		return tandem.Token{}, err
	}
	// got is a re-read link when another process won the refresh, or the
	// swap lost to a relink: it must still be the turn's account.
	switch {
	case got.NeedsReconnect:
		return tandem.Token{}, s.expired()
	case !s.sameAccount(got):
		return tandem.Token{}, s.relinked(got)
	}
	s.cur = got.Token
	return s.cur, nil
}

// relinked is the error of a turn whose link now is to another account:
// the turn keeps the identity it started with, so it must not go on as
// the new one.
func (s *source) relinked(now tandem.Link) error {
	return tandem.Errorf(tandem.ECONFLICT, "Your %s link changed to another account while this ran; send the message again to run it as %s.", s.link.Provider.Name(), now.Login)
}

// refreshLocked spends stored's refresh token and saves the new token
// (compare-and-swap on the refresh token it spent) before returning it,
// for an expired token and a refused one alike. The caller holds s.mu, the
// link's lock and its refresh lease. It returns the link the token came
// from: stored with the fresh token, or the link re-read when another
// process won the refresh, which a relink may have given another account.
// A refused refresh marks the link dead (if stored's token is still the
// stored one) and fails with *tandem.ExpiredError; a refresh the provider
// did not answer fails with EUNAVAILABLE.
func (s *source) refreshLocked(ctx context.Context, stored tandem.Link) (tandem.Link, error) {
	t := s.tokens
	fresh, err := s.refresh(ctx, stored.Token.RefreshToken)
	if t.OnRefresh != nil {
		t.OnRefresh(s.link.Provider, err)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && RefreshRefused(re) {
		// Another process may have won the refresh and rotated the token.
		again, rerr := t.Store.Link(ctx, s.link.Team, s.link.User, s.link.Provider)
		if rerr == nil && !again.NeedsReconnect && again.Token.RefreshToken != stored.Token.RefreshToken && t.valid(again.Token) {
			return again, nil
		}
		t.markDead(ctx, stored, stored.Token, "refresh refused: "+re.ErrorCode)
		return tandem.Link{}, s.expired()
	} else if err != nil {
		return tandem.Link{}, tandem.Errorf(tandem.EUNAVAILABLE, "%s did not answer a token refresh; try again in a moment.", s.link.Provider.Name())
	}
	err = t.Store.SwapToken(ctx, s.link.Team, s.link.User, s.link.Provider, stored.Token.RefreshToken, fresh)
	if tandem.ErrorCode(err) == tandem.ECONFLICT {
		again, rerr := t.Store.Link(ctx, s.link.Team, s.link.User, s.link.Provider)
		if rerr != nil {
			return tandem.Link{}, s.gone(rerr)
		}
		return again, nil
	} else if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		// Disconnected while the refresh was out (a disconnect takes the
		// link's lock on its own replica only): the grant the person
		// asked to end lives on in the fresh token, which nothing here
		// keeps, so it is revoked as the disconnect did the old one.
		t.revoke(ctx, s.link.Provider, s.link.User, fresh)
		return tandem.Link{}, s.gone(err)
	} else if err != nil {
		return tandem.Link{}, fmt.Errorf("integrations: save refreshed token: %w", err)
	}
	stored.Token = fresh
	return stored, nil
}

// sameAccount reports whether l is the provider account the turn started
// with. A relink to another account keeps team, user and provider, so only
// the account tells the two apart.
func (s *source) sameAccount(l tandem.Link) bool {
	return l.AccountID == s.link.AccountID && l.Login == s.link.Login
}

// renew finds the token to retry a request with after the provider
// answered 401 to refused, a token Tandem's recorded expiry still counts as
// valid. A provider may expire a token before the expiry it announced
// (clock skew, early expiry, rotation on its side); a link with a refresh
// token must survive that without its owner reconnecting. Under the link's
// lock and refresh lease, as for an expired token, it re-reads the link: a
// token stored since (another turn refreshed, or the person relinked the
// same account) is used if valid, else the stored refresh token is spent by
// refreshLocked, so a rotating refresh token is still spent once.
//
// It reports retry false when the request must not be sent again, having
// done what a 401 always did: a link without a refresh token, or whose
// refresh was refused, is marked dead if refused is still its token. A link
// that is flagged already or is gone is left alone, and the 401 stands. A
// link that now holds another account (a relink, found before the refresh
// or after it) is left alone too, and renew fails with ECONFLICT, as token
// does: the turn keeps the identity it started with, so nobody else's
// token goes out, and its person is told to send the message again rather
// than to reconnect. It fails, retry false, also when the refresh could not
// be tried (the lease stayed taken, the store failed) or the provider did
// not answer it.
func (s *source) renew(ctx context.Context, refused tandem.Token) (tandem.Token, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens
	lock := t.lockFor(s.link)
	lock.Lock()
	defer lock.Unlock()
	// As in token: a token stored since needs no lease.
	if _, tok, retry, done, err := s.renewFromStore(ctx, refused); done {
		return tok, retry, err
	}
	release, err := t.storeLock(ctx, s.link)
	if err != nil {
		return tandem.Token{}, false, err
	}
	defer release()
	stored, tok, retry, done, err := s.renewFromStore(ctx, refused)
	if done {
		return tok, retry, err
	}
	got, err := s.refreshLocked(ctx, stored)
	var expired *tandem.ExpiredError
	if errors.As(err, &expired) {
		return tandem.Token{}, false, nil
	} else if err != nil {
		return tandem.Token{}, false, err
	}
	// got is a re-read link when another process won the refresh, or the
	// swap lost to a relink: it must still be the turn's account.
	switch {
	case !s.sameAccount(got):
		return tandem.Token{}, false, s.relinked(got)
	case got.NeedsReconnect, got.Token.AccessToken == refused.AccessToken:
		return tandem.Token{}, false, nil
	}
	s.cur = got.Token
	return s.cur, true, nil
}

// renewFromStore decides renew from the link stored now where it can
// without a refresh (err is the relinked one when it holds another
// account). done is false only when stored, the link of the turn's
// account, holds the refused token or an expired one, and a refresh token
// to spend.
func (s *source) renewFromStore(ctx context.Context, refused tandem.Token) (stored tandem.Link, tok tandem.Token, retry, done bool, err error) {
	t := s.tokens
	stored, err = t.Store.Link(ctx, s.link.Team, s.link.User, s.link.Provider)
	switch {
	case err != nil, stored.NeedsReconnect:
		return stored, tandem.Token{}, false, true, nil
	case !s.sameAccount(stored):
		return stored, tandem.Token{}, false, true, s.relinked(stored)
	case stored.Token.RefreshToken == "":
		// Nothing to renew with: the 401 is final.
		t.markDead(ctx, s.link, refused, "provider answered 401")
		return stored, tandem.Token{}, false, true, nil
	case stored.Token.AccessToken != refused.AccessToken && t.valid(stored.Token):
		s.cur = stored.Token
		return stored, s.cur, true, true, nil
	}
	return stored, tandem.Token{}, false, false, nil
}

func (s *source) refresh(ctx context.Context, refreshToken string) (tandem.Token, error) {
	cfg := s.provider.OAuth2Config()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, OnHost(s.tokens.base()))
	old := &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}
	tok, err := cfg.TokenSource(ctx, old).Token()
	if err != nil {
		return tandem.Token{}, err
	}
	return FromOAuth2(tok), nil
}

func (s *source) expired() error {
	return &tandem.ExpiredError{Team: s.link.Team, User: s.link.User, Provider: s.link.Provider}
}

func (s *source) gone(err error) error {
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return &tandem.NotConnectedError{Team: s.link.Team, User: s.link.User, Provider: s.link.Provider}
	}
	return fmt.Errorf("integrations: re-read link: %w", err)
}

// FromOAuth2 converts an x/oauth2 token.
func FromOAuth2(t *oauth2.Token) tandem.Token {
	return tandem.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
}

// transport authorises each request with the turn's token and notices a
// provider refusing it: a 401 to a token sent to the provider is renewed
// and retried once (see source.renew), or marks the link dead.
type transport struct {
	src  *source
	base http.RoundTripper
}

// sameHostChain reports whether req and every request that redirected to it
// went to one host (host and port). http.Client strips Authorization when a
// redirect leaves the first request's host; a transport that sets the header
// on every request would undo that and hand the person's token to whatever
// host a provider (or anyone who can make it redirect) names. A chain that
// left the host once stays untrusted even if it comes back: the path it
// returns to was chosen by the other host. A chain that went from https
// to plain http is not trusted either (downgrade): the token would cross
// the network in clear.
func sameHostChain(req *http.Request) bool {
	host := req.URL.Host
	for r := req; r.Response != nil && r.Response.Request != nil; {
		r = r.Response.Request
		if r.URL == nil || r.URL.Host != host || downgrade(r.URL, req.URL) {
			return false
		}
	}
	return true
}

// downgrade reports whether a redirect from from to to leaves https for
// another scheme (plain http): same host to http.Client, but what it
// repeats crosses the network in clear.
func downgrade(from, to *url.URL) bool {
	return strings.EqualFold(from.Scheme, "https") && !strings.EqualFold(to.Scheme, "https")
}

// StayOnHost is an http.Client's CheckRedirect for a client that sends
// credentials with a transport (which would set them again on a
// redirected request, where http.Client itself drops them when the host
// changes): it follows a redirect only to the first request's host, at
// most 10 times, never from https to plain http, and otherwise stops and
// returns the redirect itself.
func StayOnHost(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 || req.URL.Host != via[0].URL.Host || downgrade(via[0].URL, req.URL) {
		return http.ErrUseLastResponse
	}
	return nil
}

// OnHost is c for a request that carries credentials in its body or set
// by a transport (a token exchange, a refresh, a revoke): redirects are
// followed only on the first request's host (StayOnHost), since a 307 or
// 308 elsewhere would send the same body, client secret and token
// included, to that other host.
func OnHost(c *http.Client) *http.Client {
	return &http.Client{Transport: c.Transport, Jar: c.Jar, Timeout: c.Timeout, CheckRedirect: StayOnHost}
}

// bearerClient is a client on base that sends tok's access token on
// every request that stays on its first request's host (sameHostChain):
// what Identify asks with right after the exchange, before there is a
// link to refresh.
func bearerClient(base *http.Client, tok *oauth2.Token) *http.Client {
	return &http.Client{Transport: staticBearer{token: tok.AccessToken, base: base.Transport}, Timeout: base.Timeout}
}

// staticBearer is bearerClient's transport.
type staticBearer struct {
	token string
	base  http.RoundTripper // nil: http.DefaultTransport
}

func (s staticBearer) RoundTrip(req *http.Request) (*http.Response, error) {
	r2 := req.Clone(req.Context())
	if sameHostChain(req) {
		r2.Header.Set("Authorization", "Bearer "+s.token)
	} else {
		r2.Header.Del("Authorization")
	}
	base := s.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r2 := req.Clone(req.Context())
	authorised := sameHostChain(req)
	var sent tandem.Token
	if authorised {
		tok, err := tr.src.token(req.Context())
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		r2.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		sent = tok
	} else {
		r2.Header.Del("Authorization")
	}
	resp, err := tr.send(r2)
	// A 401 from a host the token was not sent to says nothing about the
	// token: the link stays.
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !authorised {
		return resp, err
	}
	// The provider refused a token Tandem still counts as valid. With a
	// refresh token that need not mean the grant is gone: renew it and send
	// the request once more, as the same account. A body that cannot be
	// read again cannot be resent, so that request fails as it always did.
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		tr.markDead(req.Context(), sent)
		return resp, nil
	}
	tok, retry, err := tr.src.renew(req.Context(), sent)
	if err != nil {
		drain(resp)
		return nil, err
	}
	if !retry {
		return resp, nil
	}
	r3 := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			drain(resp)
			return nil, fmt.Errorf("integrations: resend request body: %w", err)
		}
		r3.Body = body
	}
	r3.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	drain(resp)
	resp, err = tr.send(r3)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		// Refused twice, the second time a token just renewed: the grant is
		// gone (or the provider refuses it for good).
		tr.markDead(req.Context(), tok)
	}
	return resp, err
}

// send makes one provider call and reports it to OnCall.
func (tr *transport) send(r *http.Request) (*http.Response, error) {
	base := tr.base
	if base == nil {
		base = http.DefaultTransport
	}
	started := time.Now()
	resp, err := base.RoundTrip(r)
	if f := tr.src.tokens.OnCall; f != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		f(tr.src.link.Provider, status, time.Since(started))
	}
	return resp, err
}

// markDead marks the turn's link dead for a 401 to refused, under the
// link's lock.
func (tr *transport) markDead(ctx context.Context, refused tandem.Token) {
	l := tr.src.link
	lock := tr.src.tokens.lockFor(l)
	lock.Lock()
	defer lock.Unlock()
	tr.src.tokens.markDead(ctx, l, refused, "provider answered 401")
}

// drain reads a little of a response that will not be returned, so its
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// Disconnect unlinks user's account at p and revokes the grant at the
// provider where it offers revocation: the token revoked is the one the
// store removed with the link (DeleteLink returns it), so a refresh on
// another replica that swapped in a newer token before the delete has
// that one revoked, and one that swaps after it finds the link gone and
// revokes its own (refreshLocked). It waits for no refresh lease, so a
// replica busy refreshing never holds up the command. The link is removed
// even when the revocation fails (logged): a person who asks to
// disconnect must never stay linked. It fails with ENOTFOUND when there
// was no link.
func (t *Tokens) Disconnect(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	lock := t.lockFor(tandem.Link{Team: team, User: user, Provider: p})
	lock.Lock()
	defer lock.Unlock()
	link, err := t.Store.DeleteLink(ctx, team, user, p)
	if err != nil {
		return tandem.Link{}, fmt.Errorf("integrations: disconnect: %w", err)
	}
	if link.Token.AccessToken != "" || link.Token.RefreshToken != "" {
		t.revoke(ctx, p, user, link.Token)
	}
	return link, nil
}

// revoke ends the grant of tok at p where p offers revocation; a failure
// is logged (the link is gone here either way).
func (t *Tokens) revoke(ctx context.Context, p tandem.ProviderID, user string, tok tandem.Token) {
	if rv, ok := t.Providers[p].(tandem.Revoker); ok {
		rctx := context.WithValue(ctx, oauth2.HTTPClient, OnHost(t.base()))
		if err := rv.Revoke(rctx, tok); err != nil {
			t.logger().Warn("revoke at provider failed; the link is removed here", "provider", p, "user", user, "err", err)
		}
	}
}

// ChooseSite makes siteID the site user's link to p acts on (a Jira user with
// several Atlassian sites). It fails with EINVALID when the grant does not
// cover that site, ENOTFOUND without a link.
func (t *Tokens) ChooseSite(ctx context.Context, team, user string, p tandem.ProviderID, siteID string) (tandem.Link, error) {
	lock := t.lockFor(tandem.Link{Team: team, User: user, Provider: p})
	lock.Lock()
	defer lock.Unlock()
	link, err := t.Store.Link(ctx, team, user, p)
	if err != nil {
		return tandem.Link{}, fmt.Errorf("integrations: choose site: %w", err)
	}
	for _, s := range link.Sites {
		if s.ID == siteID {
			// Only the site is written, and only while the link is still
			// to the account read: a disconnect or a relink on another
			// replica meanwhile is never undone.
			if err := t.Store.SetLinkSite(ctx, team, user, p, link.AccountID, s.ID, s.Name); err != nil {
				return tandem.Link{}, fmt.Errorf("integrations: choose site: %w", err)
			}
			link.Site, link.SiteName = s.ID, s.Name
			return link, nil
		}
	}
	return tandem.Link{}, tandem.Errorf(tandem.EINVALID, "Your %s account has no site with that id.", p.Name())
}
