package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

// UsedProviders lists the providers a session's turns have needed, from its
// audit trail, in the usual provider order.
func UsedProviders(recs []tandem.AuditRecord) []tandem.ProviderID {
	seen := map[tandem.ProviderID]bool{}
	for _, r := range recs {
		if r.Action == "resolve" && r.Provider != "" {
			seen[r.Provider] = true
		}
	}
	var out []tandem.ProviderID
	for _, p := range tandem.Providers {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out
}

// readiness computes sess's readiness from the store.
func (b *Bot) readiness(ctx context.Context, sess tandem.Session) (tandem.SessionReadiness, error) {
	key := sess.Key
	recs, err := b.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &key})
	if err != nil {
		return tandem.SessionReadiness{}, fmt.Errorf("bot: readiness: %w", err)
	}
	links := map[string][]tandem.Link{}
	for _, u := range append([]string{sess.Owner}, sess.Editors...) {
		if links[u], err = b.cfg.Store.Links(ctx, key.Team, u); err != nil {
			return tandem.SessionReadiness{}, fmt.Errorf("bot: readiness: %w", err)
		}
	}
	return tandem.Readiness(sess, UsedProviders(recs), links), nil
}

// sessionReply shows the session's owner, mode and editors with what each
// has connected, and privately gives editors who miss something a Connect
// button.
func (b *Bot) sessionReply(ctx context.Context, sess tandem.Session) (tandem.Reply, error) {
	r, err := b.readiness(ctx, sess)
	if err != nil {
		return tandem.Reply{}, err
	}
	mode := "per-message: every message runs as its sender"
	if r.Persistent {
		mode = fmt.Sprintf("persistent: every turn runs as <@%s>", r.Owner)
	} else if r.Pending {
		mode += fmt.Sprintf(" (persistent mode waits for <@%s>'s approval)", r.Owner)
	}
	reply := tandem.Reply{Title: "This session", Text: fmt.Sprintf("Owner: <@%s> · Mode: %s", r.Owner, mode)}
	if len(r.Used) == 0 {
		reply.Text += "\nNo provider used yet."
	} else {
		var names []string
		for _, p := range r.Used {
			names = append(names, p.Name())
		}
		reply.Text += "\nUsed so far: " + strings.Join(names, ", ")
	}
	ready := 0
	for _, e := range r.Editors {
		line := "<@" + e.User + ">"
		if e.Owner {
			line += " (owner)"
		}
		var parts []string
		if len(e.Connected) > 0 {
			parts = append(parts, "connected: "+names(e.Connected))
		}
		if len(e.NeedsReconnect) > 0 {
			parts = append(parts, "needs reconnect: "+names(e.NeedsReconnect))
		}
		if len(e.Missing) > 0 {
			parts = append(parts, "missing: "+names(e.Missing))
		}
		if e.Ready() {
			ready++
			line = ":white_check_mark: " + line
		} else {
			line = ":warning: " + line
			b.offerEditorConnect(ctx, sess.Key, e)
		}
		if len(parts) > 0 {
			line += " — " + strings.Join(parts, " · ")
		}
		reply.Items = append(reply.Items, tandem.Item{Text: line})
	}
	held := "none: each turn's credentials are dropped when it ends"
	if ids := b.HeldIdentities(sess.Key); len(ids) > 0 {
		var parts []string
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%s as %s of <@%s>", id.Provider.Name(), escape(id.Login), id.SlackUser))
		}
		held = strings.Join(parts, ", ")
	}
	reply.Text += "\nCredentials held between turns: " + held
	var tries []string
	for _, p := range r.Used {
		tries = append(tries, fmt.Sprintf("`@tandem %s` (%s)", tandem.TryMessage[p], p.Name()))
	}
	if len(tries) > 0 {
		reply.Text += fmt.Sprintf("\n%d of %d editors ready. To check an identity, try %s, or `@tandem whoami`.", ready, len(r.Editors), strings.Join(tries, ", "))
	}
	return reply, nil
}

func names(ps []tandem.ProviderID) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return strings.Join(out, ", ")
}

// offerEditorConnect privately gives an editor a button per provider they
// must connect or reconnect.
func (b *Bot) offerEditorConnect(ctx context.Context, key tandem.SessionKey, e tandem.EditorReadiness) {
	reply := tandem.Reply{Title: "This session needs your own accounts", Text: "Each message here runs as its sender. Connect these so yours work:"}
	for _, p := range append(append([]tandem.ProviderID{}, e.Missing...), e.NeedsReconnect...) {
		if _, ok := b.cfg.Providers[p]; !ok {
			continue
		}
		label := "Connect " + p.Name()
		if contains(e.NeedsReconnect, p) {
			label = "Reconnect " + p.Name()
		}
		reply.Buttons = append(reply.Buttons, b.connectButton(ctx, key.Team, e.User, p, "", tandem.Button{Text: label, ActionID: "connect_" + string(p)})...)
	}
	if len(reply.Buttons) == 0 {
		return
	}
	if err := b.postEphemeral(ctx, key, e.User, reply.Title, render(reply, fmt.Sprintf("only visible to <@%s>", e.User))); err != nil {
		b.log.Warn("offer connect to editor", "user", e.User, "err", err)
	}
}

func contains(ps []tandem.ProviderID, p tandem.ProviderID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
