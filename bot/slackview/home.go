package slackview

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
)

// App Home action ids: the Integrations page's buttons and site pickers
// (each followed by the provider id) and the API keys section's buttons.
const (
	ActionDisconnect = "home_disconnect_"
	ActionConnect    = "home_connect_"
	ActionSite       = "home_site_"
	ActionKeyCreate  = "home_key_create"
	ActionKeyRevoke  = "home_key_revoke"
	// ActionKeyAllow and ActionKeyDecline answer, for the person a key
	// acts as, a key an operator made (KeyApproval); the value is the
	// key's prefix.
	ActionKeyAllow   = "apikey_allow"
	ActionKeyDecline = "apikey_decline"
)

// Provider is one provider of the Integrations page as it stands for a
// user.
type Provider struct {
	Status tandem.IdentityStatus
	// Link is the link Status reads, nil when Status says it is missing.
	Link *tandem.Link
	// ConnectURL is a fresh single-use connect link, "" when none could be
	// made: the button then still reaches Tandem, which publishes the page
	// again with fresh links.
	ConnectURL string
}

// Home returns the Integrations page of a user's App Home tab: for each
// provider its state, the linked identity and site, when it was linked,
// and Connect / Reconnect / Disconnect; then keys, the API keys section
// (nil for none).
func Home(ps []Provider, keys []slack.Block) slack.HomeTabViewRequest {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("Integrations")),
		Section("Tandem acts on these accounts only for *your own* messages. In a shared thread, everyone's messages use their own accounts."),
		slack.NewDividerBlock(),
	}
	for _, p := range ps {
		blocks = append(blocks, homeProvider(p)...)
	}
	blocks = append(blocks, keys...)
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
}

// homeProvider renders one provider of the Integrations page.
func homeProvider(hp Provider) []slack.Block {
	st, l := hp.Status, hp.Link
	p := st.Provider
	connect := func(label string, style slack.Style) *slack.ButtonBlockElement {
		btn := slack.NewButtonBlockElement(ActionConnect+string(p), string(p), plain(label))
		btn.URL = hp.ConnectURL
		btn.Style = style
		return btn
	}
	if st.State == tandem.LinkMissing || l == nil {
		return []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("*%s*\nNot connected", p.Name()), false, false), nil,
				slack.NewAccessory(connect("Connect "+p.Name(), slack.StylePrimary))),
		}
	}
	state := ":large_green_circle: Connected"
	if st.State == tandem.LinkNeedsReconnect {
		state = ":warning: Needs reconnect: " + p.Name() + " refused this account's token"
	}
	text := fmt.Sprintf("*%s*\n%s as *%s*", p.Name(), state, escape(st.Login))
	if l.SiteName != "" {
		text += fmt.Sprintf(" on site *%s*", escape(l.SiteName))
	}
	text += fmt.Sprintf("\nLinked <!date^%d^{date_short_pretty} at {time}|%s>", l.LinkedAt.Unix(), l.LinkedAt.UTC().Format("2006-01-02 15:04 UTC"))
	reconnectStyle := slack.StyleDefault
	if st.State == tandem.LinkNeedsReconnect {
		reconnectStyle = slack.StylePrimary
	}
	disconnect := slack.NewButtonBlockElement(ActionDisconnect+string(p), string(p), plain("Disconnect"))
	disconnect.Style = slack.StyleDanger
	disconnect.Confirm = slack.NewConfirmationBlockObject(
		plain("Disconnect "+p.Name()+"?"),
		slack.NewTextBlockObject(slack.MarkdownType, "Tandem will stop acting as "+escape(l.Login)+" and revoke its access where "+p.Name()+" allows it.", false, false),
		plain("Disconnect"),
		plain("Cancel"))
	elements := []slack.BlockElement{connect("Reconnect", reconnectStyle), disconnect}
	if len(l.Sites) > 1 {
		var opts []*slack.OptionBlockObject
		var chosen *slack.OptionBlockObject
		for _, s := range l.Sites {
			o := slack.NewOptionBlockObject(s.ID, plain(Clip(s.Name, 75)), nil)
			opts = append(opts, o)
			if s.ID == l.Site {
				chosen = o
			}
		}
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose site"), ActionSite+string(p), opts...)
		sel.InitialOption = chosen
		elements = append(elements, sel)
	}
	return []slack.Block{
		Section(text),
		slack.NewActionBlock("home_actions_"+string(p), elements...),
	}
}

// HomeKeys returns the API keys section of the App Home: a Create button
// and the first 20 of keys, each live one with a Revoke button.
func HomeKeys(keys []tandem.APIKey, now time.Time) []slack.Block {
	create := slack.NewButtonBlockElement(ActionKeyCreate, "create", plain("Create API key"))
	blocks := []slack.Block{
		slack.NewDividerBlock(),
		slack.NewHeaderBlock(plain("API keys")),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Keys let automation act as *you*. Each is shown once.", false, false), nil, slack.NewAccessory(create)),
	}
	for i, k := range keys {
		if i == 20 {
			blocks = append(blocks, Section(fmt.Sprintf("…and %d more; `/tandem apikey list` shows all.", len(keys)-20)))
			break
		}
		var acc *slack.Accessory
		if k.Pending && k.Revoked.IsZero() && !k.Expired(now) {
			allow := slack.NewButtonBlockElement(ActionKeyAllow, k.Prefix, plain("Allow"))
			allow.Style = slack.StylePrimary
			acc = slack.NewAccessory(allow)
		} else if k.Revoked.IsZero() {
			revoke := slack.NewButtonBlockElement(ActionKeyRevoke, k.Prefix, plain("Revoke"))
			revoke.Style = slack.StyleDanger
			acc = slack.NewAccessory(revoke)
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, KeyLine(k, now), false, false), nil, acc))
	}
	return blocks
}

// KeyLine describes a key without its secret.
func KeyLine(k tandem.APIKey, now time.Time) string {
	state := KeyExpiry(k)
	switch {
	case !k.Revoked.IsZero():
		state = "revoked " + k.Revoked.UTC().Format("2006-01-02")
	case k.Expired(now):
		state = "expired " + k.Expires.UTC().Format("2006-01-02")
	case k.Pending:
		state = "*waiting for your Allow* (an operator made it, or Tandem has no record that you did; it runs nothing until then)"
	}
	used := "never used"
	if !k.LastUsed.IsZero() {
		used = "last used " + k.LastUsed.UTC().Format("2006-01-02 15:04 UTC")
	}
	return fmt.Sprintf("`%s` *%s* · %s scope · created %s · %s · %s", k.Prefix, escape(k.Name), k.EffectiveScope(), k.CreatedAt.UTC().Format("2006-01-02"), state, used)
}

// KeyApproval is the direct message that asks the person pending key k
// acts as to allow it: what it is, that an operator made it, and Allow and
// Decline buttons (only that person's press counts).
func KeyApproval(k tandem.APIKey) (string, []slack.Block) {
	text := fmt.Sprintf("An operator made an API key that acts as you: `%s` *%s*, %s scope, %s. It runs nothing until you allow it; Decline revokes it.", k.Prefix, escape(k.Name), k.EffectiveScope(), KeyExpiry(k))
	allow := slack.NewButtonBlockElement(ActionKeyAllow, k.Prefix, plain("Allow"))
	allow.Style = slack.StylePrimary
	decline := slack.NewButtonBlockElement(ActionKeyDecline, k.Prefix, plain("Decline"))
	decline.Style = slack.StyleDanger
	return "An operator made an API key that acts as you", []slack.Block{
		Section(text + " " + KeyScopeWords(k)),
		slack.NewActionBlock("apikey_approval_"+k.Prefix, allow, decline),
	}
}

// KeyScopeWords says what a key's scope lets it do, for the message that
// shows a new key.
func KeyScopeWords(k tandem.APIKey) string {
	if k.EffectiveScope() == tandem.ScopeWrite {
		return "It has the *write* scope: it can make changes."
	}
	return "It has the *read* scope: it runs reads, and free-form requests come back with their changes proposed, not made; a key that makes changes needs `--scope write`."
}

// KeyExpiry words when a key expires: "and never expires" or "until <date>".
func KeyExpiry(k tandem.APIKey) string {
	if k.Expires.IsZero() {
		return "and never expires"
	}
	return "until " + k.Expires.UTC().Format("2006-01-02")
}

// KeyCalls is the App Home's list of the newest calls made with a person's
// API keys (newest first), from their audit records: when, what (which
// key, MCP or the API) and how it went.
func KeyCalls(recs []tandem.AuditRecord) []slack.Block {
	if len(recs) == 0 {
		return nil
	}
	var lines []string
	for _, r := range recs {
		what := r.Detail
		if what == "" {
			what = string(r.Provider)
		}
		lines = append(lines, fmt.Sprintf("• <!date^%d^{date_short_pretty} {time}|%s> · %s · %s", r.Time.Unix(), r.Time.UTC().Format(time.RFC3339), escape(what), r.Outcome))
	}
	return []slack.Block{Section("*Recent calls of your API keys*\n" + strings.Join(lines, "\n"))}
}
