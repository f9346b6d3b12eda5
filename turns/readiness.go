package turns

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

// LinkReader reads a user's links, all that Readiness needs of the store.
type LinkReader interface {
	Links(ctx context.Context, team, user string) ([]tandem.Link, error)
}

// Readiness gathers sess's readiness: the providers its turns used, from
// recs (its audit trail), and the links, read with lr, of every user whose
// credentials its turns run with. That is each editor's own, or the owner's
// alone in a persistent session (tandem.EffectiveUser). Both the bot and
// the operator's report read it here. It fails only when reading links
// fails.
func Readiness(ctx context.Context, sess tandem.Session, recs []tandem.AuditRecord, lr LinkReader) (tandem.SessionReadiness, error) {
	links := map[string][]tandem.Link{}
	for _, u := range append([]string{sess.Owner}, sess.Editors...) {
		as, _ := tandem.EffectiveUser(sess, u)
		if _, ok := links[as]; ok || as == "" {
			continue
		}
		ls, err := lr.Links(ctx, sess.Key.Team, as)
		if err != nil {
			return tandem.SessionReadiness{}, fmt.Errorf("turns: readiness: %w", err)
		}
		links[as] = ls
	}
	return tandem.Readiness(sess, UsedProviders(recs), links), nil
}

// readiness gathers sess's readiness from the store.
func (e *Engine) readiness(ctx context.Context, sess tandem.Session) (tandem.SessionReadiness, error) {
	key := sess.Key
	recs, err := e.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &key})
	if err != nil {
		return tandem.SessionReadiness{}, fmt.Errorf("turns: readiness: %w", err)
	}
	return Readiness(ctx, sess, recs, e.cfg.Store)
}

// sessionReply shows the session's owner, mode and editors with what the
// identities their turns run as have connected, for asker. Per-message (or
// pending) each editor acts as themselves, and each who misses something
// privately gets Connect buttons for their own accounts. Persistent, every
// turn runs as the owner: only the owner's links are shown, and only the
// owner is offered Connect buttons, when the owner or an editor asks.
func (e *Engine) sessionReply(ctx context.Context, sess tandem.Session, asker string) (tandem.Reply, error) {
	r, err := e.readiness(ctx, sess)
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
	for _, ed := range r.Editors {
		line := "<@" + ed.User + ">"
		if ed.Owner {
			line += " (owner)"
		}
		if ed.ActsAs != "" {
			// Their own links play no part here: nothing to show or offer.
			reply.Items = append(reply.Items, tandem.Item{Text: fmt.Sprintf(":bust_in_silhouette: %s — acts as <@%s>", line, ed.ActsAs)})
			continue
		}
		var parts []string
		if len(ed.Connected) > 0 {
			parts = append(parts, "connected: "+names(ed.Connected))
		}
		if len(ed.NeedsReconnect) > 0 {
			parts = append(parts, "needs reconnect: "+names(ed.NeedsReconnect))
		}
		if len(ed.Missing) > 0 {
			parts = append(parts, "missing: "+names(ed.Missing))
		}
		if ed.Ready() {
			ready++
			line = ":white_check_mark: " + line
		} else {
			line = ":warning: " + line
			switch {
			case !r.Persistent:
				e.offerReadinessConnect(ctx, sess.Key, ed, "This session needs your own accounts", "Each message here runs as its sender. Connect these so yours work:")
			case ed.Owner && sess.HasEditor(asker):
				// Only the owner's accounts matter, and only the owner can
				// connect them; an outsider's question prompts nobody.
				e.offerReadinessConnect(ctx, sess.Key, ed, "This session needs your accounts", "Every turn in this session runs as you (persistent mode). Connect these so it works:")
			}
		}
		if len(parts) > 0 {
			line += " — " + strings.Join(parts, " · ")
		}
		reply.Items = append(reply.Items, tandem.Item{Text: line})
	}
	held := "none: each turn's credentials are dropped when it ends"
	if ids := e.HeldIdentities(sess.Key); len(ids) > 0 {
		var parts []string
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%s as %s of <@%s>", id.Provider.Name(), tandem.Escape(id.Login), id.SlackUser))
		}
		held = strings.Join(parts, ", ")
	}
	reply.Text += "\nCredentials held between turns: " + held
	var tries []string
	for _, p := range r.Used {
		tries = append(tries, fmt.Sprintf("`@tandem %s` (%s)", p.TryMessage(), p.Name()))
	}
	if len(tries) > 0 {
		state := fmt.Sprintf("%d of %d editors ready.", ready, len(r.Editors))
		if r.Persistent {
			state = fmt.Sprintf("Every turn runs as <@%s>, who is ready.", r.Owner)
			if o := r.OwnerReadiness(); !o.Ready() {
				state = fmt.Sprintf("Every turn runs as <@%s>, who is not ready: %s.", r.Owner, ownerGaps(o))
			}
		}
		reply.Text += fmt.Sprintf("\n%s To check an identity, try %s, or `@tandem whoami`.", state, strings.Join(tries, ", "))
	}
	return reply, nil
}

// ownerGaps says what the owner must connect or reconnect.
func ownerGaps(e tandem.EditorReadiness) string {
	var gaps []string
	if len(e.Missing) > 0 {
		gaps = append(gaps, "connect "+names(e.Missing))
	}
	if len(e.NeedsReconnect) > 0 {
		gaps = append(gaps, "reconnect "+names(e.NeedsReconnect))
	}
	return strings.Join(gaps, "; ")
}

func names(ps []tandem.ProviderID) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return strings.Join(out, ", ")
}

// offerReadinessConnect privately offers ed's user a button per enabled
// provider they must connect or reconnect.
func (e *Engine) offerReadinessConnect(ctx context.Context, key tandem.SessionKey, ed tandem.EditorReadiness, title, text string) {
	var ps []tandem.ProviderID
	for _, p := range append(append([]tandem.ProviderID{}, ed.Missing...), ed.NeedsReconnect...) {
		if _, ok := e.cfg.Providers[p]; ok {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return
	}
	e.cfg.Notifier.OfferConnect(ctx, key, ed.User, tandem.Reply{Title: title, Text: text}, ps, ed.NeedsReconnect)
}
