package slackview

import (
	"fmt"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// The words of Tandem's replies that are not an operation's own: whose
// identity a turn used, what an error means, and what a person must link.

// Attribution is the line every reply carries: whose Slack identity the
// turn ran as and which provider account it used. viaKey is the API key's
// name for a turn that came through one ("" otherwise); id is the identity
// the turn used (nil when it used none), sess its session and sender who
// sent it.
func Attribution(viaKey string, id *tandem.Identity, sess tandem.Session, sender string) string {
	if viaKey != "" {
		who := fmt.Sprintf("via API key %s of <@%s>", escape(viaKey), sender)
		if id != nil && id.Provider != "" {
			who += fmt.Sprintf(" · %s: %s", id.Provider.Name(), escape(id.Login))
		}
		return who
	}
	if id == nil {
		if sess.Persistent() && sess.Owner != "" {
			return fmt.Sprintf("ran as <@%s> (persistent session)", sess.Owner)
		}
		return fmt.Sprintf("ran as <@%s>", sender)
	}
	who := fmt.Sprintf("ran as <@%s>", id.SlackUser)
	if id.Reason == tandem.ReasonPersistentOwner {
		who += " (persistent session)"
	}
	if id.Provider == "" {
		return who
	}
	return fmt.Sprintf("%s · %s: %s", who, id.Provider.Name(), escape(id.Login))
}

// AgentAttribution is the line of an agent turn's reply: who it ran as
// (Attribution's words), then each account its reads used and how many
// tool calls it made: "ran as <@U1> · GitHub: bob-gh, Jira: bob@acme · 3
// calls".
func AgentAttribution(who string, used []tandem.Identity, calls int) string {
	var accounts []string
	for _, id := range used {
		accounts = append(accounts, id.Provider.Name()+": "+escape(id.Login))
	}
	if len(accounts) > 0 {
		who += " · " + strings.Join(accounts, ", ")
	}
	switch calls {
	case 0:
		return who + " · no calls"
	case 1:
		return who + " · 1 call"
	}
	return fmt.Sprintf("%s · %d calls", who, calls)
}

// NotRun is the line of a reply to a turn that ran as nobody: refused, or
// not a command.
func NotRun(sender string) string { return fmt.Sprintf("not run · sent by <@%s>", sender) }

// ControlBy is the line of a reply to a session control: it used nobody's
// account.
func ControlBy(sender string) string { return fmt.Sprintf("session control · by <@%s>", sender) }

// ErrorTitle heads the reply to a failed turn, by the error's code.
func ErrorTitle(err error) string {
	switch tandem.ErrorCode(err) {
	case tandem.EINVALID:
		return "That request needs fixing"
	case tandem.EFORBIDDEN, tandem.ENOTFOUND:
		return "Not allowed"
	case tandem.ERATELIMITED:
		return "Rate limited"
	case tandem.EUNAVAILABLE:
		return "The provider is not answering"
	case tandem.EINTERNAL:
		return "Something went wrong"
	}
	return "Could not do that"
}

// DidYouMean answers a message that is no command with the closest ones.
func DidYouMean(suggestions []string) tandem.Reply {
	if len(suggestions) == 0 || (len(suggestions) == 1 && suggestions[0] == "help") {
		return tandem.Reply{Title: "I didn't understand that.", Text: "Say `@tandem help` for everything I can do."}
	}
	var items []tandem.Item
	for _, s := range suggestions {
		items = append(items, tandem.Item{Text: "`@tandem " + s + "`"})
	}
	return tandem.Reply{Title: "I didn't understand that. Did you mean:", Items: items, Text: "Say `help` for everything I can do."}
}

// ModelUnavailable heads the reply to an agent turn its language model
// could not finish (down, too slow, rate limited).
const ModelUnavailable = "The language model is not answering"

// AgentOff is the line a free-form message gets when no language model is
// configured: how an operator turns agent turns on.
const AgentOff = "Free-form requests are off on this Tandem: whoever runs it can turn them on with `TANDEM_LLM_URL` and `TANDEM_LLM_MODEL` (see the README)."

// LinkNeeded is what a turn that found user's link to p missing (or dead,
// when expired) says: private to user, with the button's label (the caller
// adds the link), and a visible note for the thread, with the attribution
// both carry. A window above zero promises that the message runs again
// once user connects p, by any path, within window of sending it.
func LinkNeeded(user string, p tandem.ProviderID, expired bool, window time.Duration) (private tandem.Reply, label string, note tandem.Reply, attr string) {
	title := p.Name() + " credentials not configured"
	body := fmt.Sprintf("<@%s> has not connected %s, so Tandem did not run this request; it never uses anyone else's account instead.", user, p.Name())
	label = "Connect " + p.Name()
	verb := "connect"
	attr = fmt.Sprintf("ran as <@%s> · %s: not connected", user, p.Name())
	if expired {
		title = p.Name() + " credentials expired or revoked"
		body = fmt.Sprintf("%s refused the account linked by <@%s>. Reconnect it to continue.", p.Name(), user)
		label = "Reconnect " + p.Name()
		verb = "reconnect"
		attr = fmt.Sprintf("ran as <@%s> · %s: needs reconnect", user, p.Name())
	}
	if window > 0 {
		body += fmt.Sprintf(" If you %s %s within %s of sending your message (with this button, `/connect %s` or the App Home), it runs again here.", verb, p.Name(), duration(window), p)
	}
	private = tandem.Reply{Title: title, Text: body}
	note = tandem.Reply{Title: title, Text: fmt.Sprintf("I've sent <@%s> a private link to connect %s.", user, p.Name())}
	return private, label, note, attr
}

// duration says d in words: "30 minutes", "1 hour", "90 seconds".
func duration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d.Round(time.Second)/time.Second), "second")
}

// ConnectTheRest offers user, the identity a combined command ran as,
// buttons for the providers it could not use; sender sent the command.
func ConnectTheRest(user, sender string) tandem.Reply {
	reply := tandem.Reply{Title: "Connect the rest to include them", Text: "These buttons link *your own* accounts."}
	if user != sender {
		reply.Text = fmt.Sprintf("<@%s>'s request here runs as you (persistent session). These buttons link *your own* accounts.", sender)
	}
	return reply
}

// Linked confirms a new link to its owner.
func Linked(l tandem.Link) string {
	login := escape(l.Login)
	return fmt.Sprintf("%s account %s is now linked to <@%s>. Tandem acts as %s on %s for your own messages only.", l.Provider.Name(), login, l.User, login, l.Provider.Name())
}

// LinkDied tells a link's owner that the provider refused it.
func LinkDied(l tandem.Link) tandem.Reply {
	text := fmt.Sprintf("%s credentials expired or revoked: %s refused the account %s. Reconnect it so Tandem can act as you again.", l.Provider.Name(), l.Provider.Name(), l.Login)
	return tandem.Reply{Title: l.Provider.Name() + " credentials expired or revoked", Text: escape(text)}
}

// StatusLine shows one provider's link state for /connect.
func StatusLine(st tandem.IdentityStatus) string {
	switch st.State {
	case tandem.LinkConnected:
		return fmt.Sprintf("*%s*: connected as %s", st.Provider.Name(), escape(st.Login))
	case tandem.LinkNeedsReconnect:
		return fmt.Sprintf("*%s*: needs reconnect (%s)", st.Provider.Name(), escape(st.Login))
	}
	return fmt.Sprintf("*%s*: not connected", st.Provider.Name())
}

// Disconnected confirms that l was unlinked.
func Disconnected(l tandem.Link) tandem.Reply {
	return tandem.Reply{Title: l.Provider.Name() + " disconnected", Text: fmt.Sprintf("Tandem no longer acts as %s on %s for you.", escape(l.Login), l.Provider.Name())}
}

// KeyStopped tells an API key's creator that a turn through the key named
// name (prefix prefix) found their link to p missing, or dead when
// expired; it returns the reply and its button's label.
func KeyStopped(name, prefix string, p tandem.ProviderID, expired bool) (tandem.Reply, string) {
	state, label := "credentials not configured", "Connect "
	if expired {
		state, label = "credentials expired or revoked", "Reconnect "
	}
	return tandem.Reply{
		Title: fmt.Sprintf("API key %s stopped working: %s %s", name, p.Name(), state),
		Text:  fmt.Sprintf("Your API key *%s* (%s) acts as you, and your %s account is not usable. Connect it again, or ask someone else to create a new key.", escape(name), prefix, p.Name()),
	}, label + p.Name()
}

// Queued is the notice for a turn that waits behind others while Tandem is
// busy.
func Queued(user string, ahead int) tandem.Reply {
	return tandem.Reply{
		Title: fmt.Sprintf("Busy: your request is queued (%d ahead)", ahead),
		Text:  fmt.Sprintf("<@%s>, Tandem has more requests than it can run at once right now. Yours is kept and runs in order; the reply will appear here.", user),
	}
}
