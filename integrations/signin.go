package integrations

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// signedInCookie remembers, for SignedInTTL, which Slack user this browser
// proved to be, so that user's next links skip the Slack step. Its value is
// "team.user.expiry.signature"; it never accepts a link made for anyone
// else.
const signedInCookie = "tandem_slack_user"

// signedInPath is where the signed-in cookie is sent: the connect links
// (over https, everywhere: Flow.cookie).
const signedInPath = "/connect/"

// toSlack records the Slack step and sends the browser to Sign in with
// Slack.
func (f *Flow) toSlack(w http.ResponseWriter, r *http.Request, link tandem.OAuthState) {
	nonce := randomString()
	id, ok := f.startStep(w, r, kindSlack, link, nonce, "/oauth/slack/")
	if !ok {
		return
	}
	http.Redirect(w, r, f.SignIn.AuthURL(id+"."+f.sign("oauth-state", id), nonce, f.SlackRedirectURL(), link.Team), http.StatusFound)
}

// slackCallback is where Slack sends the browser back. Only when Slack says
// the browser is the link's user, in the link's workspace, does the flow go
// on to the provider; anyone else is stopped, nothing is stored, and the
// link's user is told.
func (f *Flow) slackCallback(w http.ResponseWriter, r *http.Request) {
	if f.SignIn == nil {
		f.page(w, http.StatusNotFound, "Sign in with Slack is off", "This Tandem does not use Sign in with Slack.")
		return
	}
	st, ok := f.takeStep(w, r, kindSlack, r.URL.Query().Get("state"), "/oauth/slack/", "")
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("error") != "" {
		f.page(w, http.StatusOK, "Slack sign-in was cancelled", "Nothing was connected. Type /connect "+string(st.Provider)+" in Slack to try again.")
		return
	}
	if q.Get("code") == "" {
		f.page(w, http.StatusBadRequest, "Slack sent no sign-in code", "Nothing was connected. Type /connect "+string(st.Provider)+" in Slack to try again.")
		return
	}
	team, user, err := f.SignIn.Identify(r.Context(), q.Get("code"), f.SlackRedirectURL(), st.Verifier)
	if err != nil {
		f.logger().Warn("sign in with slack failed", "provider", st.Provider, "user", st.User, "err", err)
		f.page(w, http.StatusBadGateway, "Slack did not confirm who you are", "Nothing was connected. Type /connect "+string(st.Provider)+" in Slack to try again.")
		return
	}
	if team != st.Team || user != st.User {
		f.logger().Warn("connect link opened by another slack user", "provider", st.Provider, "team", st.Team, "user", st.User, "opener", user, "opener_team", team)
		f.audit(r.Context(), user, st.User, st.Provider, tandem.OutcomeRefused, "connect link of "+st.User+" opened by "+user+"; nothing linked")
		if f.OnMisused != nil {
			f.OnMisused(context.WithoutCancel(r.Context()), st.Team, st.User, st.Provider, user)
		}
		f.page(w, http.StatusForbidden, "This link was made for another Slack user",
			"Nothing was connected. To connect your own account, use /connect in Slack.")
		return
	}
	f.setSignedIn(w, team, user)
	f.toProvider(w, r, st)
}

// setSignedIn remembers in this browser that it proved to be user.
func (f *Flow) setSignedIn(w http.ResponseWriter, team, user string) {
	exp := strconv.FormatInt(f.now().Add(SignedInTTL).Unix(), 10)
	name, path := f.cookie(signedInCookie, signedInPath)
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: team + "." + user + "." + exp + "." + f.sign("slack-signed-in", team, user, exp),
		Path: path, MaxAge: int(SignedInTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: f.secure(),
	})
}

// signedInAs reports whether this browser proved, within SignedInTTL, to be
// user of team.
func (f *Flow) signedInAs(r *http.Request, team, user string) bool {
	name, _ := f.cookie(signedInCookie, signedInPath)
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 || parts[0] != team || parts[1] != user {
		return false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !f.now().Before(time.Unix(exp, 0)) {
		return false
	}
	return f.verify(parts[3], "slack-signed-in", parts[0], parts[1], parts[2])
}

// askConfirm is the page shown instead of Sign in with Slack when it is
// off: it names the Slack user and workspace the link was made for, and
// goes on only by a POST carrying a single-use token bound to this browser.
func (f *Flow) askConfirm(w http.ResponseWriter, r *http.Request, link tandem.OAuthState) {
	id, ok := f.startStep(w, r, kindConfirm, link, "", "/connect/")
	if !ok {
		return
	}
	userName, teamName := f.names(r.Context(), link.Team, link.User)
	p := link.Provider
	// A display name is anyone's to choose, a colleague's included; the
	// member ID is not, and Slack shows each person theirs (profile, ⋮,
	// Copy member ID).
	f.form(w, formPage{
		Title: "Connect " + p.Name() + " for @" + userName + " in " + teamName + "?",
		Body: "This link was made for the Slack user @" + userName + " (member ID " + link.User + ") in the " + teamName + " workspace. The " + p.Name() + " account you sign in to next will act for that Slack user. Continue only if you are @" + userName +
			" and your member ID (in Slack: your profile, ⋮, Copy member ID) is " + link.User + "; if someone sent you this link, close this page and use /connect in Slack instead.",
		Action: "/connect/" + string(p) + "/confirm",
		Token:  id + "." + f.sign("oauth-state", id),
		Button: "I am @" + userName + ": continue to " + p.Name(),
	})
}

// confirm is the POST from the confirmation page.
func (f *Flow) confirm(w http.ResponseWriter, r *http.Request) {
	p := tandem.ProviderID(r.PathValue("provider"))
	if _, _, ok := f.config(p); !ok || f.SignIn != nil {
		f.page(w, http.StatusNotFound, "Unknown integration", "This Tandem does not offer that integration.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	st, ok := f.takeStep(w, r, kindConfirm, r.PostFormValue("token"), "/connect/", p)
	if !ok {
		return
	}
	f.toProvider(w, r, st)
}
