// Package doctor is tandem doctor: the configuration checked against the
// world (Slack, the providers, the public URL, the database and its key)
// without starting the bot and without writing anything. Each check is one
// small method that returns one Check; checks that need nothing from each
// other run at once, each bounded by timeout. It reads the configuration
// as package app does, and app does not import it.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
	"golang.org/x/oauth2"
)

// Check is one line of tandem doctor's report. OK is false when the check
// failed; an OK check whose Detail starts with "warning:" works but deserves
// a look. Fix says what to do, for failures and warnings.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

const (
	// timeout bounds each check.
	timeout = 5 * time.Second
	// maxSkew is how far the local clock may be from Slack's: links,
	// OAuth states, tokens and leases expire by it.
	maxSkew = 60 * time.Second
	// lowSpaceLimit is the free space under which the database check warns.
	lowSpaceLimit = 1 << 30
	// probeCode is the made-up authorization code sent to token
	// endpoints: the answer tells whether they take the client id and
	// secret, and no code is spent.
	probeCode = "tandem-doctor-probe"
)

// Run checks the configuration tandem serve would read through getenv,
// without starting the bot and without creating or changing anything: no
// database, no key file. It returns one Check per line, in a fixed order:
// the other settings, the Slack bot token and the clock, the Slack app
// token, Sign in with Slack, each provider, the public URL, the database and
// the encryption key. It does not fail; a check that cannot be made is a
// failed Check saying why.
func Run(ctx context.Context, getenv func(string) string) []Check {
	return (&checker{getenv: getenv, transport: http.DefaultTransport}).run(ctx)
}

// Write writes checks to w, one line each ("✓ name: detail", or
// "✗ name: detail — fix"), or as one JSON array when asJSON. It returns how
// many checks failed; write errors are ignored, as for any report on a
// terminal.
func Write(w io.Writer, checks []Check, asJSON bool) (failed int) {
	for _, c := range checks {
		if !c.OK {
			failed++
		}
	}
	if asJSON {
		if checks == nil {
			checks = []Check{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(checks)
		return failed
	}
	for _, c := range checks {
		mark := "✓"
		if !c.OK {
			mark = "✗"
		}
		line := mark + " " + c.Name + ": " + c.Detail
		if c.Fix != "" {
			line += " — " + c.Fix
		}
		fmt.Fprintln(w, line)
	}
	return failed
}

// checker holds one run's configuration. transport carries every HTTP
// request, so that tests can route names and rewrite answers.
type checker struct {
	getenv    func(string) string
	transport http.RoundTripper
	cfg       app.Config
}

func pass(name, detail string) Check { return Check{Name: name, OK: true, Detail: detail} }

func warn(name, detail, fix string) Check {
	return Check{Name: name, OK: true, Detail: "warning: " + detail, Fix: fix}
}

func fail(name, detail, fix string) Check {
	return Check{Name: name, Detail: detail, Fix: fix}
}

func (d *checker) run(ctx context.Context) []Check {
	// LoadConfig's problems are reported by the configuration check; the
	// other checks look at the values it read all the same.
	d.cfg, _ = app.LoadConfig(d.getenv)
	one := func(f func(context.Context) Check) func(context.Context) []Check {
		return func(ctx context.Context) []Check { return []Check{f(ctx)} }
	}
	groups := []func(context.Context) []Check{
		one(func(context.Context) Check { return d.configuration() }),
		d.slackBotAndClock,
		one(d.slackApp),
		one(d.signIn),
	}
	groups = append(groups, d.providerChecks()...)
	groups = append(groups, one(d.publicURL), d.storeAndKey)

	results := make([][]Check, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g(ctx)
		}()
	}
	wg.Wait()
	var checks []Check
	for _, r := range results {
		checks = append(checks, r...)
	}
	return checks
}

// configuration reports what LoadConfig finds wrong outside the variables
// the other checks look at themselves, so that one mistake fails one line.
func (d *checker) configuration() Check {
	const name = "configuration"
	_, err := app.LoadConfig(d.othersGetenv)
	if err == nil {
		return pass(name, "the other variables tandem serve reads are valid")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 1 {
		lines = lines[1:] // "tandem: configuration problems:"
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return fail(name, strings.Join(lines, "; "), "tandem serve refuses to start until these are fixed (README, Configuration)")
}

// standIn fills variables whose own checks come later, so that the
// configuration line judges only the others.
const standIn = "checked-by-doctor"

// othersGetenv is getenv with valid stand-ins for the variables that the
// Slack, Sign in with Slack, provider and public URL checks judge.
func (d *checker) othersGetenv(name string) string {
	switch name {
	case "SLACK_BOT_TOKEN":
		return "xoxb-" + standIn // the shape LoadConfig checks; no token
	case "SLACK_APP_TOKEN":
		return "xapp-" + standIn
	case "TANDEM_SLACK_CLIENT_ID", "TANDEM_SLACK_CLIENT_SECRET":
		return "checked-by-doctor"
	case "TANDEM_SLACK_API_URL", "TANDEM_PUBLIC_URL", "TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN":
		return ""
	}
	for _, spec := range app.Providers() {
		if name == spec.EnvPrefix()+"CLIENT_ID" || name == spec.EnvPrefix()+"CLIENT_SECRET" {
			return ""
		}
	}
	return d.getenv(name)
}

// httpClient returns a client over d's transport; it follows redirects,
// as a browser would: for requests that carry no secret.
func (d *checker) httpClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = d.transport
	}
	return &http.Client{Transport: rt, Timeout: timeout}
}

// secretClient is httpClient for a request that carries a secret (a
// Slack token, a client secret in a token exchange's form): it follows a
// redirect only on the first request's host (integrations.OnHost), as
// tandem serve does, since a 307 or 308 elsewhere would repeat the
// secret there.
func (d *checker) secretClient(rt http.RoundTripper) *http.Client {
	return integrations.OnHost(d.httpClient(rt))
}

// ---- Slack ----------------------------------------------------------------

// slackAnswer is when a request to Slack went out and its answer came
// back, with the answer's Date header ("" when nothing came back).
type slackAnswer struct {
	date           string
	sent, received time.Time
}

// dateRecorder is a transport that remembers the last answer's Date.
type dateRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	last slackAnswer
}

func (r *dateRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.last = slackAnswer{date: resp.Header.Get("Date"), sent: sent, received: time.Now()}
		r.mu.Unlock()
	}
	return resp, err
}

func (r *dateRecorder) answer() slackAnswer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// slackAPI returns a slack-go client as the app builds it, with botToken
// and appToken (either may be ""), over rt (d's transport when nil).
func (d *checker) slackAPI(botToken, appToken string, rt http.RoundTripper) *slack.Client {
	return slack.New(botToken, slack.OptionAppLevelToken(appToken), slack.OptionAPIURL(d.cfg.SlackAPIURL),
		slack.OptionHTTPClient(d.secretClient(rt)))
}

// slackPrecheck fails when variable v (token) cannot be sent to Slack at
// all.
func (d *checker) slackPrecheck(name, v, token, prefix, fix string) (Check, bool) {
	switch {
	case token == "":
		return fail(name, v+" is not set", fix), false
	case !strings.HasPrefix(token, prefix):
		return fail(name, v+" does not start with "+prefix+", so it is not the token Tandem needs there", fix), false
	case !app.IsHTTPURL(d.cfg.SlackAPIURL):
		return fail(name, "TANDEM_SLACK_API_URL is not an http(s) URL, so Slack cannot be asked",
			"unset TANDEM_SLACK_API_URL to use "+app.DefaultSlackAPIURL+", or set it to an http(s) URL ending in /api/"), false
	}
	return Check{}, true
}

func (d *checker) slackAPIName() string {
	if d.cfg.SlackAPIURL == app.DefaultSlackAPIURL {
		return d.cfg.SlackAPIURL + " (the default; TANDEM_SLACK_API_URL is not set)"
	}
	return d.cfg.SlackAPIURL + " (TANDEM_SLACK_API_URL)"
}

// slackFailure words a failed call of method with the token in v.
func (d *checker) slackFailure(name, v, method string, err error, fix string) Check {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if why, ok := app.SlackRefusal(se.Err); ok {
			return fail(name, fmt.Sprintf("Slack refused %s: %s answered %s, %s", v, method, se.Err, why), fix)
		}
		return fail(name, fmt.Sprintf("Slack answered %s to %s with %s", se.Err, method, v), "check "+v+" and the Slack app's settings at api.slack.com/apps")
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return fail(name, fmt.Sprintf("Slack rate-limited %s with %s", method, v), fmt.Sprintf("run tandem doctor again in %s", rl.RetryAfter))
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return fail(name, fmt.Sprintf("Slack at %s answered HTTP %d to %s", d.slackAPIName(), sc.Code, method),
			"check TANDEM_SLACK_API_URL (Slack's is "+app.DefaultSlackAPIURL+"), or try again later")
	}
	return fail(name, fmt.Sprintf("cannot reach Slack at %s for %s: %s", d.slackAPIName(), method, causeOf(err)),
		"check TANDEM_SLACK_API_URL and this host's DNS, proxy and firewall")
}

// slackBotAndClock runs auth.test with the bot token, and compares the
// local clock with the Date of Slack's answer.
func (d *checker) slackBotAndClock(ctx context.Context) []Check {
	bot, answer := d.slackBot(ctx)
	return []Check{bot, d.clock(answer)}
}

func (d *checker) slackBot(ctx context.Context) (Check, slackAnswer) {
	const name = "slack bot token"
	if c, ok := d.slackPrecheck(name, "SLACK_BOT_TOKEN", d.cfg.BotToken, "xoxb-", app.SlackTokenFix("SLACK_BOT_TOKEN")); !ok {
		return c, slackAnswer{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec := &dateRecorder{next: d.transport}
	res, err := d.slackAPI(d.cfg.BotToken, "", rec).AuthTestContext(ctx)
	if err != nil {
		return d.slackFailure(name, "SLACK_BOT_TOKEN", "auth.test", err, app.SlackTokenFix("SLACK_BOT_TOKEN")), rec.answer()
	}
	return pass(name, fmt.Sprintf("SLACK_BOT_TOKEN is the bot @%s (%s) of workspace %s (%s)", res.User, res.UserID, res.Team, res.TeamID)), rec.answer()
}

// clock compares the local clock, halfway through the auth.test request,
// with the Date Slack answered it with.
func (d *checker) clock(a slackAnswer) Check {
	const name = "clock"
	if a.date == "" {
		return fail(name, "not compared with Slack's: auth.test got no answer with a Date header", "fix the slack bot token check, then run tandem doctor again")
	}
	theirs, err := http.ParseTime(a.date)
	if err != nil {
		return fail(name, fmt.Sprintf("not compared with Slack's: the Date header %q does not parse", a.date), "check TANDEM_SLACK_API_URL points at Slack")
	}
	ours := a.sent.Add(a.received.Sub(a.sent) / 2)
	// Date is in whole seconds, cut down: Slack's time is in [theirs, theirs+1s).
	skew := ours.Sub(theirs.Add(500 * time.Millisecond)).Round(time.Second)
	how := "ahead of"
	if skew < 0 {
		skew, how = -skew, "behind"
	}
	if skew > maxSkew {
		return fail(name, fmt.Sprintf("the local clock is %s %s Slack's (the Date of auth.test's answer); connect links, OAuth states, tokens and leases expire by it", skew, how),
			"synchronise this host's clock (NTP: timedatectl set-ntp true, or chrony)")
	}
	return pass(name, fmt.Sprintf("the local clock is within %s of Slack's (the Date of auth.test's answer)", max(skew, time.Second)))
}

// slackApp asks apps.connections.open for a Socket Mode URL with the app
// token, and does not dial it: a connection would be handed events that
// nobody acknowledges.
func (d *checker) slackApp(ctx context.Context) Check {
	const name = "slack app token"
	if c, ok := d.slackPrecheck(name, "SLACK_APP_TOKEN", d.cfg.AppToken, "xapp-", app.SlackTokenFix("SLACK_APP_TOKEN")); !ok {
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, wsURL, err := d.slackAPI("", d.cfg.AppToken, nil).StartSocketModeContext(ctx)
	if err != nil {
		return d.slackFailure(name, "SLACK_APP_TOKEN", "apps.connections.open", err, app.SlackTokenFix("SLACK_APP_TOKEN"))
	}
	if u, err := url.Parse(wsURL); err != nil || (u.Scheme != "wss" && u.Scheme != "ws") {
		return fail(name, "apps.connections.open answered without a WebSocket URL", "check that Socket Mode is on at api.slack.com/apps → your app → Socket Mode")
	}
	return pass(name, "SLACK_APP_TOKEN opens Socket Mode: apps.connections.open offered a WebSocket URL (not dialled, so no event is delivered to doctor)")
}

// signIn checks Sign in with Slack's settings, and asks
// openid.connect.token whether Slack takes the client id and secret, with a
// made-up code it refuses in any case.
func (d *checker) signIn(ctx context.Context) Check {
	const name = "sign in with slack"
	const fix = "copy the Client ID and Client Secret from api.slack.com/apps → your app → Basic Information → App Credentials into TANDEM_SLACK_CLIENT_ID and TANDEM_SLACK_CLIENT_SECRET"
	switch v := strings.TrimSpace(d.getenv("TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN")); v {
	case "", "true", "false":
	default:
		return fail(name, fmt.Sprintf("TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN is %q: it expects true or false", v), "set it to true or false, or unset it")
	}
	if d.cfg.NoSlackSignIn {
		return warn(name, "TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true: a connect link does not check which Slack user opens it, only a confirmation page names whom it was made for",
			fix+", and unset TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN")
	}
	var missing []string
	if d.cfg.SlackClientID == "" {
		missing = append(missing, "TANDEM_SLACK_CLIENT_ID")
	}
	if d.cfg.SlackClientSecret == "" {
		missing = append(missing, "TANDEM_SLACK_CLIENT_SECRET")
	}
	if len(missing) > 0 {
		verb := " is not set"
		if len(missing) > 1 {
			verb = " are not set"
		}
		return fail(name, strings.Join(missing, " and ")+verb+": tandem serve needs the Slack app's own OAuth client for Sign in with Slack, so that a connect link links only the person it was made for",
			fix+" (or set TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true to go without it)")
	}
	set := "TANDEM_SLACK_CLIENT_ID and TANDEM_SLACK_CLIENT_SECRET are set"
	redirect := d.cfg.PublicURL + "/oauth/slack/callback"
	if !app.IsHTTPURL(d.cfg.SlackAPIURL) {
		return warn(name, set+"; not checked with Slack, TANDEM_SLACK_API_URL is not a URL", "")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := slack.GetOpenIDConnectTokenContext(ctx, d.secretClient(nil), d.cfg.SlackClientID, d.cfg.SlackClientSecret,
		probeCode, redirect, slack.OAuthOptionAPIURL(d.cfg.SlackAPIURL))
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &se) && se.Err == "invalid_client_id":
		return fail(name, "Slack does not know TANDEM_SLACK_CLIENT_ID (openid.connect.token answered invalid_client_id)", fix)
	case errors.As(err, &se) && se.Err == "bad_client_secret":
		return fail(name, "Slack refused TANDEM_SLACK_CLIENT_SECRET for that client id (openid.connect.token answered bad_client_secret)", fix)
	case errors.As(err, &se):
		return pass(name, fmt.Sprintf("%s and Slack took them (openid.connect.token refused only doctor's made-up code: %s); the app's manifest must list the redirect URL %s", set, se.Err, redirect))
	case err != nil:
		return warn(name, fmt.Sprintf("%s; not checked with Slack: %s", set, causeOf(err)), "see the slack bot token check")
	}
	return warn(name, set+", but Slack accepted a made-up code", "check TANDEM_SLACK_API_URL points at Slack")
}

// ---- providers --------------------------------------------------------------

// providerChecks returns a check for each provider whose client id or
// secret is set, or one that warns when none is.
func (d *checker) providerChecks() []func(context.Context) []Check {
	var checks []func(context.Context) []Check
	for _, spec := range app.Providers() {
		pe, _, _ := app.LoadProvider(d.getenv, spec)
		if pe.ClientID == "" && pe.ClientSecret == "" {
			continue
		}
		checks = append(checks, func(ctx context.Context) []Check { return []Check{d.provider(ctx, spec, pe)} })
	}
	if len(checks) == 0 {
		var names []string
		for _, spec := range app.Providers() {
			names = append(names, spec.Name)
		}
		checks = append(checks, func(context.Context) []Check {
			return []Check{warn("providers", "no provider is enabled ("+strings.Join(names, ", ")+"), so nobody can link an account",
				"set TANDEM_GITHUB_CLIENT_ID and TANDEM_GITHUB_CLIENT_SECRET (or another provider's)")}
		})
	}
	return checks
}

// endpointVar names the variable an endpoint comes from: its own override,
// else the provider's base URL, else none (the provider's default).
func endpointVar(prefix, override, ownVar, base string) string {
	switch {
	case override != "":
		return prefix + ownVar
	case base != "":
		return prefix + "URL"
	}
	return "the default; " + prefix + "URL and " + prefix + ownVar + " are not set"
}

// recorder is a transport that remembers the first request and what
// became of it.
type recorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	url    string
	status int
	err    error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.url == "" {
		u := *req.URL
		u.RawQuery = ""
		r.url, r.err = u.String(), err
		if err == nil {
			r.status = resp.StatusCode
		}
	}
	return resp, err
}

// provider checks that the provider has both halves of its client, that
// its token endpoint answers and takes them (asked to exchange a made-up
// code), and that its API answers (asked, without a token, whose token it
// is: any HTTP status will do).
func (d *checker) provider(ctx context.Context, spec integrations.Spec, pe app.ProviderEnv) Check {
	name := "provider " + string(spec.ID)
	prefix := spec.EnvPrefix()
	fix := "copy the client id and secret of " + spec.Name + "'s OAuth app into " + prefix + "CLIENT_ID and " + prefix + "CLIENT_SECRET (README, Install the Slack app, step 4)"
	switch {
	case pe.ClientID == "":
		return fail(name, prefix+"CLIENT_ID is not set but "+prefix+"CLIENT_SECRET is: "+spec.Name+" needs both", fix+", or unset "+prefix+"CLIENT_SECRET to leave "+spec.Name+" off")
	case pe.ClientSecret == "":
		return fail(name, prefix+"CLIENT_SECRET is not set but "+prefix+"CLIENT_ID is: "+spec.Name+" needs both", fix+", or unset "+prefix+"CLIENT_ID to leave "+spec.Name+" off")
	}
	p, err := spec.Build(pe)
	if err != nil {
		return fail(name, prefix+"URL: "+tandem.ErrorMessage(err), "set "+prefix+"URL to the server's base URL, or unset it")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	oc := p.OAuth2Config()
	tokenVar := endpointVar(prefix, pe.TokenURL, "TOKEN_URL", pe.BaseURL)
	oc.RedirectURL = d.cfg.PublicURL + "/oauth/" + string(spec.ID) + "/callback"
	tokenRec := &recorder{next: d.transport}
	_, err = oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, d.secretClient(tokenRec)), probeCode)
	var re *oauth2.RetrieveError
	switch {
	case tokenRec.url == "" || tokenRec.err != nil:
		cause := err
		if tokenRec.err != nil {
			cause = tokenRec.err
		}
		return fail(name, fmt.Sprintf("the token endpoint %s (%s) does not answer: %s", oc.Endpoint.TokenURL, tokenVar, causeOf(cause)),
			"check "+tokenVar+" and this host's DNS, proxy and firewall")
	case err == nil:
		return fail(name, fmt.Sprintf("the token endpoint %s (%s) gave a token for a made-up code", oc.Endpoint.TokenURL, tokenVar), "check "+tokenVar+" points at "+spec.Name)
	case errors.As(err, &re) && (re.ErrorCode == "invalid_client" || re.ErrorCode == "incorrect_client_credentials"):
		return fail(name, fmt.Sprintf("%s refused %sCLIENT_ID or %sCLIENT_SECRET: the token endpoint %s answered %s", spec.Name, prefix, prefix, oc.Endpoint.TokenURL, re.ErrorCode), fix)
	}
	tokenAnswer := fmt.Sprintf("HTTP %d", tokenRec.status)
	if re != nil && re.ErrorCode != "" {
		tokenAnswer += " " + re.ErrorCode
	}

	apiVar := endpointVar(prefix, pe.APIURL, "API_URL", pe.BaseURL)
	rec := &recorder{next: d.transport}
	_, idErr := p.Identify(ctx, d.httpClient(rec))
	switch {
	case rec.url == "":
		return fail(name, fmt.Sprintf("%s's API was not asked: %v", spec.Name, idErr), "check "+apiVar)
	case rec.err != nil:
		return fail(name, fmt.Sprintf("%s's API at %s (%s) does not answer: %s", spec.Name, rec.url, apiVar, causeOf(rec.err)),
			"check "+apiVar+" and this host's DNS, proxy and firewall")
	}
	return pass(name, fmt.Sprintf("%sCLIENT_ID and %sCLIENT_SECRET are set and not refused by the token endpoint %s (it answered doctor's made-up code with %s); the API %s answered HTTP %d without a token",
		prefix, prefix, oc.Endpoint.TokenURL, tokenAnswer, rec.url, rec.status))
}

// ---- public URL ---------------------------------------------------------------

// publicURL checks that TANDEM_PUBLIC_URL reaches a running tandem serve:
// /healthz answers "ok", and the callbacks of the enabled providers (and of
// Sign in with Slack) are served there, not 404.
func (d *checker) publicURL(ctx context.Context) Check {
	const name = "public url"
	const fix = "start tandem serve, or check the reverse proxy (it must pass /healthz, /connect/ and /oauth/ to tandem's TANDEM_HTTP_ADDR)"
	base := d.cfg.PublicURL
	if !app.IsHTTPURL(base) {
		return fail(name, fmt.Sprintf("TANDEM_PUBLIC_URL is %q, not an http(s) URL", base), "set TANDEM_PUBLIC_URL to the base URL people's browsers reach, such as https://tandem.example.com")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := d.httpClient(nil)
	get := func(path string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
		return resp.StatusCode, strings.TrimSpace(string(body)), nil
	}
	status, body, err := get("/healthz")
	switch {
	case err != nil:
		return fail(name, fmt.Sprintf("TANDEM_PUBLIC_URL %s does not answer at /healthz: %s", base, causeOf(err)), fix)
	case status != http.StatusOK || body != "ok":
		return fail(name, fmt.Sprintf("TANDEM_PUBLIC_URL %s answered HTTP %d %q at /healthz, not tandem's 200 \"ok\"", base, status, body), fix)
	}
	var paths []string
	if !d.cfg.NoSlackSignIn && d.cfg.SlackClientID != "" {
		paths = append(paths, "/oauth/slack/callback")
	}
	for _, spec := range app.Providers() {
		if _, ok, _ := app.LoadProvider(d.getenv, spec); ok {
			paths = append(paths, "/oauth/"+string(spec.ID)+"/callback")
		}
	}
	for _, path := range paths {
		status, _, err := get(path)
		switch {
		case err != nil:
			return fail(name, fmt.Sprintf("TANDEM_PUBLIC_URL %s does not answer at %s: %s", base, path, causeOf(err)), fix)
		case status == http.StatusNotFound:
			return fail(name, fmt.Sprintf("TANDEM_PUBLIC_URL %s answered 404 at %s: the server there does not serve that callback (another server, or a tandem serve with other settings)", base, path),
				fix+"; a provider's callback is served only while its client id and secret are set")
		}
	}
	detail := fmt.Sprintf("TANDEM_PUBLIC_URL %s answers /healthz", base)
	if len(paths) > 0 {
		detail += " and serves " + strings.Join(paths, ", ")
	}
	return pass(name, detail)
}

// ---- database and key -------------------------------------------------------

// storeAndKey checks the database and then the key against it.
func (d *checker) storeAndKey(ctx context.Context) []Check {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var db Check
	var st dbFacts
	if d.cfg.DatabaseURL != "" {
		db, st = d.postgres(ctx)
	} else {
		db, st = d.bolt()
	}
	return []Check{db, d.key(st)}
}

// dbFacts is what the database check learnt for the key check.
type dbFacts struct {
	// keyCheck is the value sealed under the database's key; nil when the
	// database could not be read or has none.
	keyCheck []byte
	// openedBy is the store's own check of a key against keyCheck.
	openedBy func(*secrets.Keyring) error
	// why says why keyCheck is nil.
	why string
}

// bolt opens TANDEM_DB read-only (a shared lock; bbolt writes nothing) and
// reads its schema version and key check, and looks at the free space of
// its file system.
func (d *checker) bolt() (Check, dbFacts) {
	const name = "database"
	path := d.cfg.DBPath
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		where := path
		if abs := absPath(path); abs != path {
			where += " (" + abs + ")"
		}
		return fail(name, fmt.Sprintf("TANDEM_DB is %s: there is no database there", where),
				"set TANDEM_DB to the file tandem serve uses (relative paths start in the working directory); serve creates it only on its first start"),
			dbFacts{why: "there is no database"}
	case err != nil:
		return fail(name, fmt.Sprintf("TANDEM_DB is %s: %s", path, causeOf(err)), "set TANDEM_DB to a file tandem can read and write"), dbFacts{why: "the database cannot be read"}
	case fi.IsDir():
		return fail(name, fmt.Sprintf("TANDEM_DB is %s, a folder", path), "set TANDEM_DB to the database file in it (tandem.db)"), dbFacts{why: "TANDEM_DB is a folder"}
	}
	facts, err := store.Inspect(path, time.Second)
	if tandem.ErrorCode(err) == tandem.EUNAVAILABLE {
		_, space := d.lowSpace(path)
		return warn(name, fmt.Sprintf("TANDEM_DB %s is held by another process (is tandem serve running?), so its schema and key were not checked; serve checked them when it started", path)+space, "run tandem doctor with tandem serve stopped to check them"),
			dbFacts{why: "the database is in use"}
	} else if err != nil {
		return fail(name, fmt.Sprintf("TANDEM_DB %s cannot be opened: %s", path, causeOf(err)), "restore it from a backup, or set TANDEM_DB to tandem's database"),
			dbFacts{why: "the database cannot be opened"}
	}
	st := dbFacts{keyCheck: facts.KeyCheck, openedBy: facts.OpenedBy}
	if len(facts.KeyCheck) == 0 {
		st = dbFacts{why: "the database holds no key check"}
	}
	if c, ok := checkSchema(name, "TANDEM_DB "+path, facts.Version, store.SchemaVersion); !ok {
		return c, st
	}
	detail := fmt.Sprintf("TANDEM_DB %s opens read-only, schema %d (current)", path, facts.Version)
	low, space := d.lowSpace(path)
	if low {
		return warn(name, detail+space, "free space on that file system: bbolt grows the file and fails writes when it is full"), st
	}
	return pass(name, detail+space), st
}

// checkSchema compares a database's schema version with this binary's.
func checkSchema(name, what string, v, want int) (Check, bool) {
	if v < 1 {
		return fail(name, what+" is not a Tandem database (it has no schema version)", "set it to tandem's database"), false
	}
	switch {
	case v < want:
		return fail(name, fmt.Sprintf("%s has schema %d, older than this binary's %d", what, v, want), "back it up and run tandem migrate, with tandem serve stopped"), false
	case v > want:
		return fail(name, fmt.Sprintf("%s has schema %d, written by a newer Tandem (this binary knows %d)", what, v, want), "run the newer Tandem"), false
	}
	return Check{}, true
}

func byteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// postgres connects to TANDEM_DATABASE_URL in read-only transactions, and
// reads the schema version and key check.
func (d *checker) postgres(ctx context.Context) (Check, dbFacts) {
	const name = "database"
	where := app.RedactURL(d.cfg.DatabaseURL)
	cc, err := pgx.ParseConfig(d.cfg.DatabaseURL)
	if err != nil {
		return fail(name, "TANDEM_DATABASE_URL is not a valid PostgreSQL URL", "set it to postgres://user:password@host:5432/dbname"),
			dbFacts{why: "TANDEM_DATABASE_URL is not valid"}
	}
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > timeout {
		cc.ConnectTimeout = timeout
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fail(name, fmt.Sprintf("cannot connect to PostgreSQL at %s (TANDEM_DATABASE_URL): %s", where, app.RedactPassword(d.cfg.DatabaseURL, causeOf(err))),
				"start the server, or fix the host, port, user, password and database in TANDEM_DATABASE_URL"),
			dbFacts{why: "the database cannot be reached"}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	facts, err := postgres.Inspect(ctx, conn)
	if err != nil {
		return fail(name, fmt.Sprintf("PostgreSQL at %s (TANDEM_DATABASE_URL) could not be read: %s", where, app.RedactPassword(d.cfg.DatabaseURL, causeOf(err))), "check the user's rights on the database"),
			dbFacts{why: "the database cannot be read"}
	}
	if facts.Version == 0 {
		return fail(name, fmt.Sprintf("PostgreSQL at %s (TANDEM_DATABASE_URL) has no Tandem schema", where),
				"run tandem migrate (or start tandem serve) to create it, or fix the database or search_path in TANDEM_DATABASE_URL"),
			dbFacts{why: "the database has no Tandem schema"}
	}
	st := dbFacts{keyCheck: facts.KeyCheck, openedBy: facts.OpenedBy}
	if len(facts.KeyCheck) == 0 {
		st = dbFacts{why: "the database holds no key check"}
	}
	if c, ok := checkSchema(name, "PostgreSQL at "+where+" (TANDEM_DATABASE_URL)", facts.Version, postgres.SchemaVersion); !ok {
		return c, st
	}
	return pass(name, fmt.Sprintf("PostgreSQL at %s (TANDEM_DATABASE_URL) answers, schema %d (current); its free space is the server's to watch", where, facts.Version)), st
}

// key checks that the encryption key parses and opens the database's key
// check, and that no key file lies beside a bbolt database served beyond
// this host: a copy of the folder would carry both the tokens and their key.
func (d *checker) key(st dbFacts) Check {
	const name = "encryption key"
	keyFile := app.KeyFilePath(d.cfg.DBPath)
	_, statErr := os.Stat(keyFile)
	fileThere := statErr == nil
	from := "TANDEM_ENCRYPTION_KEY"
	if d.cfg.EncryptionKey == "" {
		from = "the key file " + keyFile + " (TANDEM_ENCRYPTION_KEY is not set)"
		switch {
		case errors.Is(statErr, fs.ErrNotExist) && d.cfg.DatabaseURL != "":
			return fail(name, "TANDEM_ENCRYPTION_KEY is not set: replicas on PostgreSQL (TANDEM_DATABASE_URL) must share one key",
				"set TANDEM_ENCRYPTION_KEY, on every replica, to the key the database was written with")
		case errors.Is(statErr, fs.ErrNotExist):
			return fail(name, fmt.Sprintf("TANDEM_ENCRYPTION_KEY is not set and there is no key file %s beside TANDEM_DB", keyFile),
				"set TANDEM_ENCRYPTION_KEY to the key the database was written with (tandem serve generates a key file only for a new database)")
		}
	}
	// The key file exists, or is not used: OpenKeyring only reads.
	keys, err := app.OpenKeyring(d.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return fail(name, strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "tandem: ")), " "),
			"set TANDEM_ENCRYPTION_KEY (and TANDEM_ENCRYPTION_KEY_PREVIOUS) to base64 of 32 bytes, or fix the key file")
	}
	if host, public := d.publicHost(); public && d.cfg.DatabaseURL == "" && fileThere {
		what := "holds the key"
		if d.cfg.EncryptionKey != "" {
			what = "is not used (TANDEM_ENCRYPTION_KEY is set) but holds a key"
		}
		return fail(name, fmt.Sprintf("the key file %s lies beside TANDEM_DB and %s, while TANDEM_PUBLIC_URL's host %s is not localhost: a copy or backup of the folder carries the tokens and their key", keyFile, what, host),
			"set TANDEM_ENCRYPTION_KEY from a secret store (to the file's content when it is the key in use), then move the key file out of the database's folder")
	}
	detail := fmt.Sprintf("the key from %s (key id %s)", from, keys.KeyID())
	if st.keyCheck == nil {
		return pass(name, detail+" parses; not compared with the database: "+st.why)
	}
	if err := st.openedBy(keys); err != nil {
		return fail(name, fmt.Sprintf("%s does not open the database, whose secrets are sealed under key id %s", detail, secrets.SealedKeyID(st.keyCheck)),
			"set TANDEM_ENCRYPTION_KEY to the key the database was written with (or the current one, with the old in TANDEM_ENCRYPTION_KEY_PREVIOUS)")
	}
	if d.cfg.DatabaseURL != "" && d.cfg.EncryptionKey == "" {
		return warn(name, detail+" opens the database, but replicas on PostgreSQL (TANDEM_DATABASE_URL) must share one key and a key file is this host's alone",
			"set TANDEM_ENCRYPTION_KEY, on every replica, to the key file's content")
	}
	return pass(name, detail+" opens the database")
}

// publicHost returns TANDEM_PUBLIC_URL's host and whether it is reached
// from beyond this machine (not localhost or a loopback address).
func (d *checker) publicHost() (string, bool) {
	u, err := url.Parse(d.cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return h, false
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return h, false
	}
	return h, true
}

// ---- words ------------------------------------------------------------------

// causeOf returns the innermost useful words of a network or file
// error ("dial tcp 127.0.0.1:1: connect: connection refused").
func causeOf(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return app.NetworkCause(err)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
