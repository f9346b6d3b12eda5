package turns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// control carries out a session control. Reading (env, editors, session)
// is open to anyone in the thread; changing needs the owner or a channel
// admin; sharing the owner's identity needs the owner's consent.
func (e *Engine) control(ctx context.Context, t tandem.Turn, sess tandem.Session, cmd Command) (tandem.Reply, error) {
	switch cmd.Name() {
	case "session.env":
		return envReply(sess), nil
	case "session.editors":
		return editorsReply(sess), nil
	case "session.show":
		return e.sessionReply(ctx, sess, t.User)
	}
	allowed, err := e.MayChange(ctx, sess, t.User)
	if err != nil {
		return tandem.Reply{}, err
	}
	if !allowed {
		return tandem.Reply{}, tandem.Errorf(tandem.EFORBIDDEN, "Only %s can do that here.", e.whoMayChange(ctx, sess))
	}
	switch cmd.Name() {
	case "session.set":
		name, value, _ := strings.Cut(cmd.Arg("assign"), "=")
		return e.SetVar(ctx, t, sess, name, value)
	case "session.unset":
		return e.SetVar(ctx, t, sess, cmd.Arg("var"), "false")
	case "session.editors_add", "session.editors_remove":
		return e.changeEditors(ctx, t, sess, userID(cmd.Arg("user")), cmd.Name() == "session.editors_add")
	case "session.audit":
		return e.auditReply(ctx, sess)
	}
	return tandem.Reply{}, fmt.Errorf("turns: unknown control %s", cmd.Name())
}

var userIDRe = regexp.MustCompile(`^<@([UW][A-Z0-9]+)`)

func userID(mention string) string {
	if m := userIDRe.FindStringSubmatch(mention); m != nil {
		return m[1]
	}
	return ""
}

// MayChange reports whether user may change sess: its owner or a channel
// admin of its channel. It fails when the directory cannot say who
// administers the channel.
func (e *Engine) MayChange(ctx context.Context, sess tandem.Session, user string) (bool, error) {
	if user == sess.Owner {
		return true, nil
	}
	return e.isChannelAdmin(ctx, sess.Key.Channel, user)
}

// isChannelAdmin reports whether user administers channel: a Tandem admin
// (TANDEM_ADMINS), a workspace admin or owner, or the channel's creator
// (a direct message has none). It fails when the directory cannot say.
func (e *Engine) isChannelAdmin(ctx context.Context, channel, user string) (bool, error) {
	if slices.Contains(e.cfg.Admins, user) {
		return true, nil
	}
	admin, err := e.cfg.Directory.IsWorkspaceAdmin(ctx, user)
	if err != nil {
		return false, fmt.Errorf("turns: channel admin: %w", err)
	}
	if admin {
		return true, nil
	}
	creator, err := e.cfg.Directory.ChannelCreator(ctx, channel)
	if err != nil {
		return false, fmt.Errorf("turns: channel admin: %w", err)
	}
	return creator != "" && creator == user, nil
}

// whoMayChange names the people who may change sess, for refusals.
func (e *Engine) whoMayChange(ctx context.Context, sess tandem.Session) string {
	who := fmt.Sprintf("<@%s> (who owns this session) or a channel admin: workspace admins and owners", sess.Owner)
	if creator, err := e.cfg.Directory.ChannelCreator(ctx, sess.Key.Channel); err == nil && creator != "" {
		who += fmt.Sprintf(", <@%s> who created this channel", creator)
	}
	if len(e.cfg.Admins) > 0 {
		who += ", and Tandem's admins"
	}
	return who
}

// SetVar sets a session variable for t's sender, who may change sess
// (MayChange). Only KEEP_CREDENTIALS_PERSISTENT exists:
// an unknown name is refused rather than stored, so nobody parks secrets in
// session variables.
func (e *Engine) SetVar(ctx context.Context, t tandem.Turn, sess tandem.Session, name, value string) (tandem.Reply, error) {
	if name != tandem.EnvKeepCredentialsPersistent {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "Tandem knows one session variable, %s (true or false).", tandem.EnvKeepCredentialsPersistent)
	}
	on, ok := map[string]bool{"true": true, "1": true, "on": true, "yes": true, "false": false, "0": false, "off": false, "no": false, "": false}[strings.ToLower(value)]
	if !ok {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "%s takes true or false, not “%s”.", name, tandem.Escape(value))
	}
	if !on {
		return e.disablePersistent(ctx, sess.Key, t.ID, t.User)
	}
	if sess.Persistent() {
		return tandem.Reply{Title: "This session is already persistent", Text: fmt.Sprintf("Every turn runs as <@%s>.", sess.Owner)}, nil
	}
	if t.User == sess.Owner {
		// The owner's approval covers exactly the editors they were
		// shown, and a typed set shows none: with nobody else on the list
		// it takes effect, else the owner confirms the list by a press
		// (anyone who wrote here while the session ran each message as
		// its sender is on it). The list is read again in the change's
		// transaction.
		reply, err := e.enablePersistent(ctx, sess.Key, t.ID, t.User, "set by the owner", func(s *tandem.Session) error {
			if len(s.Editors) > 0 {
				return errEditorsToConfirm
			}
			return nil
		})
		if !errors.Is(err, errEditorsToConfirm) {
			return reply, err
		}
	}
	return e.requestConsent(ctx, sess.Key, t.ID, t.User)
}

// errEditorsToConfirm is what the owner's typed set finds when the session
// has editors the owner has not been shown.
var errEditorsToConfirm = tandem.Errorf(tandem.ECONFLICT, "the session has editors its owner has not confirmed")

// enablePersistent turns persistent mode on; only the owner's own action or
// approval leads here. check, when not nil, runs first in the same
// transaction as the change, on the stored session: its error leaves the
// session as it was and is returned as is. turn names the turn whose
// control this is ("" for a press or a modal): see updateSession.
func (e *Engine) enablePersistent(ctx context.Context, key tandem.SessionKey, turn, by, how string, check func(*tandem.Session) error) (tandem.Reply, error) {
	sess, err := e.updateSession(ctx, key, turn, func(s *tandem.Session) error {
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		s.Env[tandem.EnvKeepCredentialsPersistent] = "true"
		s.Pending = nil
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: enable persistent: %w", err)
	}
	e.auditChange(ctx, key, by, sess.Owner, "set_env", tandem.EnvKeepCredentialsPersistent+"=true ("+how+")")
	reply := tandem.Reply{
		Title: "Persistent session: every turn now runs as the owner",
		Text: fmt.Sprintf("%s turned on %s (%s) at %s. From now on every turn in this thread runs with <@%s>'s accounts, for <@%s> and the editors: %s. Anyone else is refused. Turn it off with `@tandem unset %s`.",
			Mention(by), tandem.EnvKeepCredentialsPersistent, how, slackTime(e.cfg.Now()), sess.Owner, sess.Owner, EditorList(sess), tandem.EnvKeepCredentialsPersistent),
	}
	return reply, nil
}

// disablePersistent turns persistent mode off at once, dropping the owner's
// held credentials, and cancels a pending request (turn: see
// updateSession).
func (e *Engine) disablePersistent(ctx context.Context, key tandem.SessionKey, turn, by string) (tandem.Reply, error) {
	var was, pending bool
	sess, err := e.updateSession(ctx, key, turn, func(s *tandem.Session) error {
		was, pending = s.Persistent(), s.Pending != nil
		delete(s.Env, tandem.EnvKeepCredentialsPersistent)
		s.Pending = nil
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: disable persistent: %w", err)
	}
	e.DropSession(key)
	if !was && !pending {
		return tandem.Reply{Title: "This session already runs every message as its sender"}, nil
	}
	e.auditChange(ctx, key, by, sess.Owner, "unset_env", tandem.EnvKeepCredentialsPersistent)
	return tandem.Reply{
		Title: "Per-message credentials: every turn runs as its sender",
		Text:  fmt.Sprintf("%s turned off %s at %s. Each message in this thread now runs with its own sender's accounts.", Mention(by), tandem.EnvKeepCredentialsPersistent, slackTime(e.cfg.Now())),
	}, nil
}

// requestConsent records a request to share the owner's identity and asks
// the owner by DM. Nothing changes until the owner approves (turn: see
// updateSession).
func (e *Engine) requestConsent(ctx context.Context, key tandem.SessionKey, turn, by string) (tandem.Reply, error) {
	sess, err := e.updateSession(ctx, key, turn, func(s *tandem.Session) error {
		s.Pending = &tandem.PendingChange{ID: randomID(8), Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: by,
			RequestedAt: e.cfg.Now(), Editors: slices.Clone(s.Editors)}
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: request consent: %w", err)
	}
	e.auditChange(ctx, key, by, sess.Owner, "request_env", tandem.EnvKeepCredentialsPersistent+"=true (pending the owner's approval)")
	shown := sess.Editors
	if sess.Pending != nil {
		shown = sess.Pending.Editors
	}
	if err := e.cfg.Notifier.AskConsent(ctx, sess, by, shown); err != nil {
		e.log.Warn("ask owner for consent", "session", key.String(), "err", err)
	}
	if by == sess.Owner {
		return tandem.Reply{
			Title: "Confirm who may act as you",
			Text: fmt.Sprintf("With %s every turn here runs with <@%s>'s accounts, for <@%s> and these editors, who wrote here: %s. Nothing changes until <@%s> approves exactly that list; I've sent it by direct message. To share with fewer people, remove them first (`@tandem editors remove @name`) and set it again.",
				tandem.EnvKeepCredentialsPersistent, sess.Owner, sess.Owner, EditorList(tandem.Session{Editors: shown}), sess.Owner),
		}, nil
	}
	return tandem.Reply{
		Title: "Waiting for the owner's approval",
		Text:  fmt.Sprintf("%s asked to run every turn here as <@%s>. That shares <@%s>'s accounts, so nothing changes until <@%s> approves; I've asked them by direct message.", Mention(by), sess.Owner, sess.Owner, sess.Owner),
	}, nil
}

// errStaleRequest is what Consent finds when the press does not answer the
// request now pending: it was answered, cancelled or replaced since.
var errStaleRequest = tandem.Errorf(tandem.ECONFLICT, "that request is no longer the one waiting")

// staleAnswer tells the owner that their press answered nothing.
const staleAnswer = "Nothing changed: that request was answered, cancelled or replaced by a newer one. If a newer one waits, its message has its own buttons."

// Consent applies the answer of presser, who must be the owner of the
// session key, to its pending request to share the owner's identity
// (approve or decline), and announces the change in the session's thread.
// request is the ID of the request the pressed message showed
// (PendingChange.ID): a press answers that request only, so an older
// message cannot approve a later request, whose editors list may differ.
// The check and the change are one transaction. It returns what to tell
// the presser: also when the press answers nothing (the request was
// answered, cancelled or replaced; or it was made before requests had IDs,
// and is then sent again with its own buttons). It returns false, with
// nothing to tell, only when the presser is not the owner, the session is
// unknown or the store failed (each logged).
func (e *Engine) Consent(ctx context.Context, key tandem.SessionKey, request, presser string, approve bool) (string, bool) {
	sess, err := e.cfg.Store.Session(ctx, key)
	if err != nil || presser != sess.Owner {
		e.log.Warn("consent press refused", "session", key.String(), "user", presser)
		if err == nil {
			e.auditPress(ctx, key, presser, sess.Owner, "consent", tandem.OutcomeRefused, "pressed a request to share <@"+sess.Owner+">'s identity: only they may answer it")
		}
		return "", false
	}
	if sess.Pending != nil && sess.Pending.ID == "" {
		return e.askAgain(ctx, key, presser)
	}
	// same is checked again in each change's transaction: the request
	// read here may be replaced before it.
	same := func(s *tandem.Session) error {
		if s.Owner != presser || s.Pending == nil || request == "" || s.Pending.ID != request {
			return errStaleRequest
		}
		return nil
	}
	var outcome string
	var reply tandem.Reply
	err = same(&sess)
	switch {
	case err != nil:
	case approve:
		// The approval shares the owner's identity with the editors the
		// owner was shown, and nobody added since.
		reply, err = e.enablePersistent(ctx, key, "", presser, "requested by "+Mention(sess.Pending.RequestedBy)+", approved by the owner", func(s *tandem.Session) error {
			if err := same(s); err != nil {
				return err
			}
			shown := s.Pending.Editors
			s.Editors = slices.DeleteFunc(s.Editors, func(e string) bool { return !slices.Contains(shown, e) })
			return nil
		})
		outcome = "Approved: that session now runs every turn as you."
	default:
		_, err = e.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
			if err := same(s); err != nil {
				return err
			}
			s.Pending = nil
			return nil
		})
		if err == nil {
			e.auditChange(ctx, key, presser, sess.Owner, "decline_env", tandem.EnvKeepCredentialsPersistent+"=true declined by the owner")
			reply = tandem.Reply{Title: "The owner declined", Text: fmt.Sprintf("<@%s> declined to share their identity; every message keeps running as its sender.", sess.Owner)}
			outcome = "Declined: that session keeps running each message as its sender."
		}
	}
	if errors.Is(err, errStaleRequest) {
		e.log.Info("consent press for a request no longer waiting", "session", key.String(), "user", presser)
		return staleAnswer, true
	}
	if err != nil {
		e.log.Error("apply consent", "session", key.String(), "err", err)
		return "", false
	}
	e.cfg.Notifier.Announce(ctx, key, reply)
	return outcome, true
}

// consentWhilePending records, in a session waiting for its owner's
// approval of persistent mode, that the owner consented to editor: the
// approval keeps the editors of the list the owner was shown and those
// the owner added or approved since, so an editor the owner was told is
// approved is not dropped by the owner's later approval of the mode.
func consentWhilePending(s *tandem.Session, editor string) {
	if s.Pending != nil && !slices.Contains(s.Pending.Editors, editor) {
		s.Pending.Editors = append(s.Pending.Editors, editor)
	}
}

// errNeedsOwner stops an editor's addition that only the owner may approve.
var errNeedsOwner = tandem.Errorf(tandem.EFORBIDDEN, "only the owner may add an editor to a persistent or pending session")

// askAgain gives the request waiting in session key, made before requests
// had IDs, an ID, and asks its owner again with a message whose buttons
// carry it: the older message cannot say which request it answers.
func (e *Engine) askAgain(ctx context.Context, key tandem.SessionKey, presser string) (string, bool) {
	sess, err := e.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
		if s.Owner != presser || s.Pending == nil || s.Pending.ID != "" {
			return errStaleRequest
		}
		s.Pending.ID = randomID(8)
		return nil
	})
	switch {
	case errors.Is(err, errStaleRequest):
		return staleAnswer, true
	case err != nil:
		e.log.Error("name a waiting request", "session", key.String(), "err", err)
		return "", false
	}
	if err := e.cfg.Notifier.AskConsent(ctx, sess, sess.Pending.RequestedBy, sess.Pending.Editors); err != nil {
		e.log.Warn("ask owner for consent", "session", key.String(), "err", err)
	}
	return "Nothing changed yet: this message came before Tandem's requests had their own buttons, so I've sent the request again in a new message. Answer that one.", true
}

// updateSession changes the stored session for the turn named turn (a
// session control run from the inbox), and only while that turn is
// unfinished (Store.UpdateSessionForTurn): a runner that lost the session's
// lease in the middle of a control, while another replica ran it and the
// session's later turns, must not apply it again after them (an owner's
// set, replayed after their unset, would share their identity against
// their last word). turn is "" for a change no turn carries (a press, a
// modal, an operator), which applies at once.
func (e *Engine) updateSession(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error) {
	if turn == "" {
		return e.cfg.Store.UpdateSession(ctx, key, fn)
	}
	return e.cfg.Store.UpdateSessionForTurn(ctx, key, turn, fn)
}

func (e *Engine) changeEditors(ctx context.Context, t tandem.Turn, sess tandem.Session, user string, add bool) (tandem.Reply, error) {
	if user == "" {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "Mention the person, as in `editors add @someone`.")
	}
	if user == sess.Owner && !add {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "The owner is always an editor of their session.")
	}
	if add && t.User != sess.Owner && (sess.Persistent() || sess.Pending != nil) && !sess.HasEditor(user) {
		// An editor here acts as the owner: only the owner can share that.
		return e.requestEditor(ctx, t, sess, user)
	}
	// The session read when the turn started may have become persistent or
	// pending since (the owner's approval and the settings modal act
	// outside the session's turns): the rule above is applied again to the
	// stored session, in the transaction that changes it.
	var current tandem.Session
	updated, err := e.updateSession(ctx, sess.Key, t.ID, func(s *tandem.Session) error {
		if add && t.User != s.Owner && (s.Persistent() || s.Pending != nil) && !s.HasEditor(user) {
			current = *s
			return errNeedsOwner
		}
		s.Editors = slices.DeleteFunc(s.Editors, func(e string) bool { return e == user })
		if add && user != s.Owner {
			s.Editors = append(s.Editors, user)
			if t.User == s.Owner {
				consentWhilePending(s, user)
			}
		}
		return nil
	})
	if errors.Is(err, errNeedsOwner) {
		return e.requestEditor(ctx, t, current, user)
	}
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: editors: %w", err)
	}
	action, verb := "editors_remove", "removed"
	if add {
		action, verb = "editors_add", "added"
	}
	e.auditChange(ctx, sess.Key, t.User, sess.Owner, action, user)
	r := editorsReply(updated)
	// A title is plain text, where a mention would show as its code.
	r.Title = "Editor " + verb
	r.Text = fmt.Sprintf("%s %s <@%s>. %s", Mention(t.User), verb, user, r.Text)
	return r, nil
}

func (e *Engine) auditChange(ctx context.Context, key tandem.SessionKey, actor, owner, action, detail string) {
	e.auditPress(ctx, key, actor, owner, action, tandem.OutcomeOK, detail)
}

// auditPress appends what a press did, or was refused: a press by anyone
// but the person whose identity it would use (owner) changes nothing, and
// the trail shows who tried.
func (e *Engine) auditPress(ctx context.Context, key tandem.SessionKey, actor, owner, action string, out tandem.Outcome, detail string) {
	rec := tandem.AuditRecord{Time: e.cfg.Now(), Session: key, Actor: actor, Effective: owner, Action: action, Outcome: out, Detail: detail}
	if err := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
		e.log.Error("append audit", "err", err)
	}
	e.log.Info("audit", "action", action, "session", key.String(), "actor", actor, "outcome", out, "detail", detail)
}

func envReply(sess tandem.Session) tandem.Reply {
	r := tandem.Reply{Title: "Session variables"}
	if len(sess.Env) == 0 {
		r.Text = "None set: every message runs as its sender."
	}
	for _, k := range sortedKeys(sess.Env) {
		r.Items = append(r.Items, tandem.Item{Text: "`" + k + "=" + sess.Env[k] + "`"})
	}
	if p := sess.Pending; p != nil {
		r.Items = append(r.Items, tandem.Item{Text: fmt.Sprintf("`%s=%s` waiting for <@%s>'s approval (asked by %s)", p.Name, p.Value, sess.Owner, Mention(p.RequestedBy))})
	}
	return r
}

func editorsReply(sess tandem.Session) tandem.Reply {
	r := tandem.Reply{Title: "Editors of this session", Items: []tandem.Item{{Text: fmt.Sprintf("<@%s> (owner)", sess.Owner)}}}
	for _, e := range sess.Editors {
		r.Items = append(r.Items, tandem.Item{Text: "<@" + e + ">"})
	}
	if sess.Persistent() {
		r.Text = "This session is persistent: only these people may run turns, and they run as the owner."
	} else {
		r.Text = "Every message runs as its sender; the list matters once the session is persistent."
	}
	return r
}

// EditorList names sess's editors for a reply.
func EditorList(sess tandem.Session) string {
	if len(sess.Editors) == 0 {
		return "nobody else yet"
	}
	var out []string
	for _, e := range sess.Editors {
		out = append(out, "<@"+e+">")
	}
	return strings.Join(out, ", ")
}

// EditorsDigest names sess's editors list as a view shows it, so that an
// answer to the view can tell whether the list changed since.
func EditorsDigest(sess tandem.Session) string {
	editors := slices.Sorted(slices.Values(sess.Editors))
	sum := sha256.Sum256([]byte(strings.Join(editors, "\n")))
	return hex.EncodeToString(sum[:8])
}

// errEditorsChanged is what EnablePersistentAsShown finds when the
// session's editors are not the ones its view showed.
var errEditorsChanged = tandem.Errorf(tandem.ECONFLICT, "The editors changed since this was opened: open Session settings again to see who would act as you.")

// EnablePersistentAsShown turns persistent mode on for owner from a view
// that showed the session's editors list as shown (EditorsDigest): in the
// transaction that turns it on, it fails (ECONFLICT) when the stored list
// is another, or when owner does not own the session (EFORBIDDEN), and
// changes nothing. Whoever joined since the view opened is not shared the
// owner's identity without the owner seeing them.
func (e *Engine) EnablePersistentAsShown(ctx context.Context, key tandem.SessionKey, owner, shown string) (tandem.Reply, error) {
	return e.enablePersistent(ctx, key, "", owner, "set by the owner", func(s *tandem.Session) error {
		switch {
		case s.Owner != owner:
			return tandem.Errorf(tandem.EFORBIDDEN, "only the owner turns persistent mode on without asking")
		case EditorsDigest(*s) != shown:
			return errEditorsChanged
		}
		return nil
	})
}

// Mention renders a user for a reply, or an operator's name as it is.
func Mention(actor string) string {
	if strings.HasPrefix(actor, "U") || strings.HasPrefix(actor, "W") {
		return "<@" + actor + ">"
	}
	return tandem.Escape(actor)
}

func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// auditReply shows the session's last records.
func (e *Engine) auditReply(ctx context.Context, sess tandem.Session) (tandem.Reply, error) {
	key := sess.Key
	recs, err := e.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &key, Limit: 15})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: audit: %w", err)
	}
	r := tandem.Reply{Title: fmt.Sprintf("Last %d audit records of this session", len(recs))}
	for _, rec := range recs {
		line := fmt.Sprintf("%s %s by %s", slackTime(rec.Time), rec.Action, Mention(rec.Actor))
		switch {
		case rec.Provider != "" && rec.Effective == "":
			// Refused before any identity was chosen: nobody's account.
			line += fmt.Sprintf(" · %s as nobody (%s)", rec.Provider.Name(), rec.Reason)
		case rec.Provider != "":
			line += fmt.Sprintf(" · %s as %s (%s)", rec.Provider.Name(), Mention(rec.Effective), rec.Reason)
		}
		line += " → " + string(rec.Outcome)
		if rec.Detail != "" {
			line += " · " + tandem.Escape(rec.Detail)
		}
		r.Items = append(r.Items, tandem.Item{Text: line})
	}
	return r, nil
}

// applyChannelDefault asks the owner of the session t starts to consent
// when its channel defaults to persistent sessions (channelDefault, the
// channel's setting, is "on"); the session is then stored at once (and
// taken out of step), since the request changes it.
func (e *Engine) applyChannelDefault(ctx context.Context, t tandem.Turn, step *tandem.TurnStep, channelDefault string) tandem.Session {
	sess := *step.Session
	if channelDefault != "on" {
		return sess
	}
	if err := e.write(ctx, t, step); err != nil {
		e.log.Warn("channel default consent", "session", sess.Key.String(), "err", err)
		return sess
	}
	if _, err := e.requestConsent(ctx, sess.Key, "", "channel default"); err != nil {
		e.log.Warn("channel default consent", "session", sess.Key.String(), "err", err)
		return sess
	}
	if s, err := e.cfg.Store.Session(ctx, sess.Key); err == nil {
		return s
	}
	return sess
}

// SetChannelDefault sets, for user, whether new sessions in a channel start
// by asking their owner to turn on persistent mode: only a channel admin
// may. It returns the reply for user, failures included.
func (e *Engine) SetChannelDefault(ctx context.Context, team, channel, user string, on bool) tandem.Reply {
	admin, err := e.isChannelAdmin(ctx, channel, user)
	if err != nil {
		return tandem.Reply{Title: "Could not check who administers this channel", Text: "Try again in a moment."}
	}
	if !admin {
		return tandem.Reply{Title: "Only a channel admin can change this", Text: "Workspace admins and owners, the channel's creator and Tandem's admins are channel admins."}
	}
	value, words := "", "off: new sessions run every message as its sender"
	if on {
		value, words = "on", "on: each new session asks its owner to approve running every turn as them"
	}
	if err := e.cfg.Store.SetSetting(ctx, channelDefaultKey(team, channel), value); err != nil {
		return tandem.Reply{Title: "Could not save the setting", Text: tandem.ErrorMessage(err)}
	}
	e.auditChange(ctx, tandem.SessionKey{Team: team, Channel: channel, ThreadTS: "-"}, user, "", "channel_default", "persistent "+map[bool]string{true: "on", false: "off"}[on])
	return tandem.Reply{Title: "Channel default is " + map[bool]string{true: "persistent", false: "per-message"}[on], Text: "This channel's default is now " + words + "."}
}

// RequestPersistent asks a session's owner, on an operator's behalf, to turn
// on KEEP_CREDENTIALS_PERSISTENT, and announces it in the thread. The owner's
// consent rule holds: nothing changes until they approve. It fails with
// ENOTFOUND for an unknown session.
func (e *Engine) RequestPersistent(ctx context.Context, key tandem.SessionKey, operator string) (tandem.Session, error) {
	sess, err := e.cfg.Store.Session(ctx, key)
	if err != nil {
		return tandem.Session{}, err
	}
	if sess.Persistent() || sess.Pending != nil {
		return sess, nil
	}
	reply, err := e.requestConsent(ctx, key, "", "operator "+operator)
	if err != nil {
		return tandem.Session{}, err
	}
	e.cfg.Notifier.Announce(ctx, key, reply)
	return e.cfg.Store.Session(ctx, key)
}

func channelDefaultKey(team, channel string) string {
	return "channel-persistent/" + team + "/" + channel
}

// editorRequestKey names the setting that records a request, by a channel
// admin, to add user as an editor of a persistent (or pending) session.
func editorRequestKey(key tandem.SessionKey, user string) string {
	return "editor-request/" + key.String() + "/" + user
}

// requestEditor asks the owner, by DM, to let user act as them in sess;
// nothing changes until the owner approves.
func (e *Engine) requestEditor(ctx context.Context, t tandem.Turn, sess tandem.Session, user string) (tandem.Reply, error) {
	if err := e.cfg.Store.SetSetting(ctx, editorRequestKey(sess.Key, user), t.User); err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: request editor: %w", err)
	}
	e.auditChange(ctx, sess.Key, t.User, sess.Owner, "request_editor", user+" (pending the owner's approval)")
	if err := e.cfg.Notifier.AskEditor(ctx, sess, t.User, user); err != nil {
		e.log.Warn("ask owner for an editor", "session", sess.Key.String(), "err", err)
	}
	return tandem.Reply{
		Title: "Editor waiting for the owner's approval",
		Text:  fmt.Sprintf("%s asked to add <@%s>. Editors here act as <@%s>, so <@%s> waits for <@%s>'s approval; I've asked them by direct message.", Mention(t.User), user, sess.Owner, user, sess.Owner),
	}, nil
}

// answerTTL bounds how long a press answering a request holds it
// (answering): a replica that dies meanwhile leaves it open again after
// that.
const answerTTL = time.Minute

// answering takes the lease of the request stored under name for
// presser's press (an editor request, a proposal), so that presses of one
// request, on one replica or several, are answered one at a time. It
// reports false when another press holds it; release gives it back.
func (e *Engine) answering(ctx context.Context, name, presser string) (release func(), took bool, err error) {
	lease, holder := "answer/"+name, presser+"/"+randomID(8)
	took, err = e.cfg.Store.Lease(ctx, lease, holder, answerTTL)
	if err != nil || !took {
		return func() {}, false, err
	}
	return func() { e.cfg.Store.ReleaseLease(context.WithoutCancel(ctx), lease, holder) }, true, nil
}

// EditorConsent applies the answer of presser, who must be the owner of
// the session key, to the open request to add user as its editor (approve
// or decline), and announces it in the session's thread. It returns what
// to tell the presser, and false when nothing was applied (not the owner,
// no open request, another press answering it, a store failure; failures
// logged).
func (e *Engine) EditorConsent(ctx context.Context, key tandem.SessionKey, user, presser string, approve bool) (string, bool) {
	sess, err := e.cfg.Store.Session(ctx, key)
	if err != nil || presser != sess.Owner {
		e.log.Warn("editor consent press refused", "session", key.String(), "user", presser)
		if err == nil {
			e.auditPress(ctx, key, presser, sess.Owner, "editor_consent", tandem.OutcomeRefused, "pressed a request to let <@"+user+"> act as <@"+sess.Owner+">: only they may answer it")
		}
		return "", false
	}
	name := editorRequestKey(key, user)
	// One press answers the request: the owner's Approve and Decline
	// (handled side by side, on one replica or two) take its lease in
	// turn, and the second finds it answered. Otherwise a Decline that
	// read the request open before an Approve closed it told the owner,
	// and the thread, "declined" while the editor acted as the owner.
	release, took, err := e.answering(ctx, name, presser)
	if err != nil {
		e.log.Error("take an editor request to answer it", "session", key.String(), "err", err)
		return "", false
	}
	if !took {
		e.log.Info("editor consent press while another press answers the request", "session", key.String(), "user", presser)
		return "", false
	}
	defer release()
	if _, err := e.cfg.Store.Setting(ctx, name); err != nil {
		return "", false // answered already, or never asked
	}
	if err := e.cfg.Store.SetSetting(ctx, name, ""); err != nil {
		e.log.Error("close editor request", "err", err)
		return "", false
	}
	var reply tandem.Reply
	outcome := "Declined: <@" + user + "> is not an editor of that session."
	if approve {
		if _, err := e.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
			if s.Owner != presser {
				return errNeedsOwner
			}
			if !s.HasEditor(user) {
				s.Editors = append(s.Editors, user)
			}
			consentWhilePending(s, user)
			return nil
		}); err != nil {
			e.log.Error("approve editor", "err", err)
			return "", false
		}
		e.auditChange(ctx, key, presser, sess.Owner, "editors_add", user+" (approved by the owner)")
		reply = tandem.Reply{Title: "Editor approved", Text: fmt.Sprintf("<@%s> approved <@%s> as an editor.", sess.Owner, user)}
		outcome = "Approved: <@" + user + "> is an editor of that session."
	} else {
		e.auditChange(ctx, key, presser, sess.Owner, "decline_editor", user)
		reply = tandem.Reply{Title: "Editor declined", Text: fmt.Sprintf("<@%s> declined <@%s> as an editor.", sess.Owner, user)}
	}
	e.cfg.Notifier.Announce(ctx, key, reply)
	return outcome, true
}
