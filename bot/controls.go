package bot

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// Consent action ids on the DMs that ask an owner to share their identity:
// with a persistent session, or with one more editor of one.
const (
	actionApprove       = "consent_approve"
	actionDecline       = "consent_decline"
	actionEditorApprove = "editor_approve"
	actionEditorDecline = "editor_decline"
)

// controls lets the engine carry out session controls through the bot.
type controls struct{ b *Bot }

func (c controls) Control(ctx context.Context, t tandem.Turn, sess tandem.Session, cmd turns.Command) (tandem.Reply, error) {
	return c.b.control(ctx, t, sess, cmd)
}

func (c controls) ChannelDefault(ctx context.Context, sess tandem.Session) tandem.Session {
	return c.b.applyChannelDefault(ctx, sess)
}

// control carries out a session control. Reading (env, editors, session)
// is open to anyone in the thread; changing needs the owner or a channel
// admin; sharing the owner's identity needs the owner's consent.
func (b *Bot) control(ctx context.Context, t tandem.Turn, sess tandem.Session, cmd turns.Command) (tandem.Reply, error) {
	switch cmd.Name() {
	case "session.env":
		return envReply(sess), nil
	case "session.editors":
		return editorsReply(sess), nil
	case "session.show":
		return b.sessionReply(ctx, sess, t.User)
	}
	allowed, err := b.mayChange(ctx, sess, t.User)
	if err != nil {
		return tandem.Reply{}, err
	}
	if !allowed {
		return tandem.Reply{}, tandem.Errorf(tandem.EFORBIDDEN, "Only %s can do that here.", b.whoMayChange(ctx, sess))
	}
	switch cmd.Name() {
	case "session.set":
		name, value, _ := strings.Cut(cmd.Arg("assign"), "=")
		return b.setVar(ctx, t, sess, name, value)
	case "session.unset":
		return b.setVar(ctx, t, sess, cmd.Arg("var"), "false")
	case "session.editors_add", "session.editors_remove":
		return b.changeEditors(ctx, t, sess, userID(cmd.Arg("user")), cmd.Name() == "session.editors_add")
	case "session.audit":
		return b.auditReply(ctx, sess)
	}
	return tandem.Reply{}, fmt.Errorf("bot: unknown control %s", cmd.Name())
}

var userIDRe = regexp.MustCompile(`^<@([UW][A-Z0-9]+)`)

func userID(mention string) string {
	if m := userIDRe.FindStringSubmatch(mention); m != nil {
		return m[1]
	}
	return ""
}

// mayChange reports whether user may change sess: its owner or a channel
// admin of its channel.
func (b *Bot) mayChange(ctx context.Context, sess tandem.Session, user string) (bool, error) {
	if user == sess.Owner {
		return true, nil
	}
	return b.isChannelAdmin(ctx, sess.Key.Channel, user)
}

// isChannelAdmin reports whether user administers channel: a Tandem admin
// (TANDEM_ADMINS), a workspace admin or owner (users.info), or the
// channel's creator (conversations.info).
func (b *Bot) isChannelAdmin(ctx context.Context, channel, user string) (bool, error) {
	if slices.Contains(b.cfg.Admins, user) {
		return true, nil
	}
	u, err := b.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return false, fmt.Errorf("bot: users.info: %w", err)
	}
	if u.IsAdmin || u.IsOwner || u.IsPrimaryOwner {
		return true, nil
	}
	if isDM(channel) {
		return false, nil
	}
	ch, err := b.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
	if err != nil {
		return false, fmt.Errorf("bot: conversations.info: %w", err)
	}
	return ch.Creator == user, nil
}

// whoMayChange names the people who may change sess, for refusals.
func (b *Bot) whoMayChange(ctx context.Context, sess tandem.Session) string {
	who := fmt.Sprintf("<@%s> (who owns this session) or a channel admin: workspace admins and owners", sess.Owner)
	if !isDM(sess.Key.Channel) {
		if ch, err := b.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: sess.Key.Channel}); err == nil && ch.Creator != "" {
			who += fmt.Sprintf(", <@%s> who created this channel", ch.Creator)
		}
	}
	if len(b.cfg.Admins) > 0 {
		who += ", and Tandem's admins"
	}
	return who
}

// setVar sets a session variable. Only KEEP_CREDENTIALS_PERSISTENT exists:
// an unknown name is refused rather than stored, so nobody parks secrets in
// session variables.
func (b *Bot) setVar(ctx context.Context, t tandem.Turn, sess tandem.Session, name, value string) (tandem.Reply, error) {
	if name != tandem.EnvKeepCredentialsPersistent {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "Tandem knows one session variable, %s (true or false).", tandem.EnvKeepCredentialsPersistent)
	}
	on, ok := map[string]bool{"true": true, "1": true, "on": true, "yes": true, "false": false, "0": false, "off": false, "no": false, "": false}[strings.ToLower(value)]
	if !ok {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "%s takes true or false, not “%s”.", name, escape(value))
	}
	if !on {
		return b.disablePersistent(ctx, sess.Key, t.User)
	}
	if sess.Persistent() {
		return tandem.Reply{Title: "This session is already persistent", Text: fmt.Sprintf("Every turn runs as <@%s>.", sess.Owner)}, nil
	}
	if t.User == sess.Owner {
		return b.enablePersistent(ctx, sess.Key, t.User, "set by the owner")
	}
	return b.requestConsent(ctx, sess.Key, t.User)
}

// enablePersistent turns persistent mode on; only the owner's own action or
// approval leads here.
func (b *Bot) enablePersistent(ctx context.Context, key tandem.SessionKey, by, how string) (tandem.Reply, error) {
	sess, err := b.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		s.Env[tandem.EnvKeepCredentialsPersistent] = "true"
		s.Pending = nil
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("bot: enable persistent: %w", err)
	}
	b.auditChange(ctx, key, by, sess.Owner, "set_env", tandem.EnvKeepCredentialsPersistent+"=true ("+how+")")
	reply := tandem.Reply{
		Title: "Persistent session: every turn now runs as the owner",
		Text: fmt.Sprintf("%s turned on %s (%s) at %s. From now on every turn in this thread runs with <@%s>'s accounts, for <@%s> and the editors: %s. Anyone else is refused. Turn it off with `@tandem unset %s`.",
			mention(by), tandem.EnvKeepCredentialsPersistent, how, slackTime(b.cfg.Now()), sess.Owner, sess.Owner, editorList(sess), tandem.EnvKeepCredentialsPersistent),
	}
	return reply, nil
}

// disablePersistent turns persistent mode off at once, dropping the owner's
// held credentials, and cancels a pending request.
func (b *Bot) disablePersistent(ctx context.Context, key tandem.SessionKey, by string) (tandem.Reply, error) {
	var was, pending bool
	sess, err := b.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
		was, pending = s.Persistent(), s.Pending != nil
		delete(s.Env, tandem.EnvKeepCredentialsPersistent)
		s.Pending = nil
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("bot: disable persistent: %w", err)
	}
	b.engine.DropSession(key)
	if !was && !pending {
		return tandem.Reply{Title: "This session already runs every message as its sender"}, nil
	}
	b.auditChange(ctx, key, by, sess.Owner, "unset_env", tandem.EnvKeepCredentialsPersistent)
	return tandem.Reply{
		Title: "Per-message credentials: every turn runs as its sender",
		Text:  fmt.Sprintf("%s turned off %s at %s. Each message in this thread now runs with its own sender's accounts.", mention(by), tandem.EnvKeepCredentialsPersistent, slackTime(b.cfg.Now())),
	}, nil
}

// requestConsent records a request to share the owner's identity and asks
// the owner by DM. Nothing changes until the owner approves.
func (b *Bot) requestConsent(ctx context.Context, key tandem.SessionKey, by string) (tandem.Reply, error) {
	sess, err := b.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
		s.Pending = &tandem.PendingChange{Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: by, RequestedAt: b.cfg.Now(),
			Editors: slices.Clone(s.Editors)}
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("bot: request consent: %w", err)
	}
	b.auditChange(ctx, key, by, sess.Owner, "request_env", tandem.EnvKeepCredentialsPersistent+"=true (pending the owner's approval)")
	if err := b.askOwner(ctx, sess, by); err != nil {
		b.log.Warn("ask owner for consent", "session", key.String(), "err", err)
	}
	return tandem.Reply{
		Title: "Waiting for the owner's approval",
		Text:  fmt.Sprintf("%s asked to run every turn here as <@%s>. That shares <@%s>'s accounts, so nothing changes until <@%s> approves; I've asked them by direct message.", mention(by), sess.Owner, sess.Owner, sess.Owner),
	}, nil
}

// askOwner DMs the owner Approve / Decline buttons for the pending change.
func (b *Bot) askOwner(ctx context.Context, sess tandem.Session, by string) error {
	link, _ := b.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: sess.Key.Channel, Ts: sess.Key.ThreadTS})
	where := "a thread you started"
	if link != "" {
		where = "<" + link + "|a thread you started>"
	}
	shown := sess
	if sess.Pending != nil {
		shown.Editors = sess.Pending.Editors
	}
	text := fmt.Sprintf("%s asks to turn on %s in %s. If you approve, every turn there runs with *your* accounts, for you and exactly these editors: %s.", mention(by), tandem.EnvKeepCredentialsPersistent, where, editorList(shown))
	approve := slack.NewButtonBlockElement(actionApprove, sess.Key.String(), slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
	approve.Style = slack.StylePrimary
	decline := slack.NewButtonBlockElement(actionDecline, sess.Key.String(), slack.NewTextBlockObject(slack.PlainTextType, "Decline", false, false))
	decline.Style = slack.StyleDanger
	blocks := []slack.Block{section(text), slack.NewActionBlock("consent", approve, decline)}
	return b.DM(ctx, sess.Owner, "Approve sharing your identity in a Tandem session?", blocks)
}

// consent handles the owner's answer to askOwner. Only the owner's own press
// counts.
func (b *Bot) consent(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	key, ok := parseSessionKey(a.Value)
	if !ok {
		return
	}
	sess, err := b.cfg.Store.Session(ctx, key)
	if err != nil || cb.User.ID != sess.Owner {
		b.log.Warn("consent press refused", "session", a.Value, "user", cb.User.ID)
		return
	}
	var outcome string
	var reply tandem.Reply
	switch {
	case sess.Pending == nil:
		outcome = "There is nothing waiting for your approval in that session any more."
	case a.ActionID == actionApprove:
		// The approval shares the owner's identity with the editors the
		// owner was shown, and nobody added since.
		shown := sess.Pending.Editors
		if _, err = b.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
			s.Editors = slices.DeleteFunc(s.Editors, func(e string) bool { return !slices.Contains(shown, e) })
			return nil
		}); err != nil {
			break
		}
		reply, err = b.enablePersistent(ctx, key, cb.User.ID, "requested by "+mention(sess.Pending.RequestedBy)+", approved by the owner")
		outcome = "Approved: that session now runs every turn as you."
	default:
		_, err = b.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error { s.Pending = nil; return nil })
		b.auditChange(ctx, key, cb.User.ID, sess.Owner, "decline_env", tandem.EnvKeepCredentialsPersistent+"=true declined by the owner")
		reply = tandem.Reply{Title: "The owner declined", Text: fmt.Sprintf("<@%s> declined to share their identity; every message keeps running as its sender.", sess.Owner)}
		outcome = "Declined: that session keeps running each message as its sender."
	}
	if err != nil {
		b.log.Error("apply consent", "session", key.String(), "err", err)
		return
	}
	if reply.Title != "" {
		b.announce(ctx, key, reply)
	}
	if cb.Channel.ID != "" && cb.Message.Timestamp != "" {
		b.api.UpdateMessageContext(ctx, cb.Channel.ID, cb.Message.Timestamp, slack.MsgOptionText(outcome, false), slack.MsgOptionBlocks(section(outcome)))
	}
}

// announce posts a visible change notice in a session's thread.
func (b *Bot) announce(ctx context.Context, key tandem.SessionKey, r tandem.Reply) {
	t := tandem.Turn{Session: key}
	if err := b.postThread(ctx, t, r.Title, render(r, "session settings")); err != nil {
		b.log.Warn("announce", "session", key.String(), "err", err)
	}
}

func parseSessionKey(s string) (tandem.SessionKey, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return tandem.SessionKey{}, false
	}
	return tandem.SessionKey{Team: parts[0], Channel: parts[1], ThreadTS: parts[2]}, true
}

func (b *Bot) changeEditors(ctx context.Context, t tandem.Turn, sess tandem.Session, user string, add bool) (tandem.Reply, error) {
	if user == "" {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "Mention the person, as in `editors add @someone`.")
	}
	if user == sess.Owner && !add {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "The owner is always an editor of their session.")
	}
	if add && t.User != sess.Owner && (sess.Persistent() || sess.Pending != nil) && !sess.HasEditor(user) {
		// An editor here acts as the owner: only the owner can share that.
		return b.requestEditor(ctx, t, sess, user)
	}
	updated, err := b.cfg.Store.UpdateSession(ctx, sess.Key, func(s *tandem.Session) error {
		s.Editors = slices.DeleteFunc(s.Editors, func(e string) bool { return e == user })
		if add && user != s.Owner {
			s.Editors = append(s.Editors, user)
		}
		return nil
	})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("bot: editors: %w", err)
	}
	action, verb := "editors_remove", "removed"
	if add {
		action, verb = "editors_add", "added"
	}
	b.auditChange(ctx, sess.Key, t.User, sess.Owner, action, user)
	r := editorsReply(updated)
	// A title is plain text, where a mention would show as its code.
	r.Title = "Editor " + verb
	r.Text = fmt.Sprintf("%s %s <@%s>. %s", mention(t.User), verb, user, r.Text)
	return r, nil
}

func (b *Bot) auditChange(ctx context.Context, key tandem.SessionKey, actor, owner, action, detail string) {
	rec := tandem.AuditRecord{Time: b.cfg.Now(), Session: key, Actor: actor, Effective: owner, Action: action, Outcome: tandem.OutcomeOK, Detail: detail}
	if err := b.cfg.Store.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
		b.log.Error("append audit", "err", err)
	}
	b.log.Info("audit", "action", action, "session", key.String(), "actor", actor, "detail", detail)
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
		r.Items = append(r.Items, tandem.Item{Text: fmt.Sprintf("`%s=%s` waiting for <@%s>'s approval (asked by %s)", p.Name, p.Value, sess.Owner, mention(p.RequestedBy))})
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

func editorList(sess tandem.Session) string {
	if len(sess.Editors) == 0 {
		return "nobody else yet"
	}
	var out []string
	for _, e := range sess.Editors {
		out = append(out, "<@"+e+">")
	}
	return strings.Join(out, ", ")
}

// mention renders a Slack user, or an operator's name as it is.
func mention(actor string) string {
	if strings.HasPrefix(actor, "U") || strings.HasPrefix(actor, "W") {
		return "<@" + actor + ">"
	}
	return escape(actor)
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
func (b *Bot) auditReply(ctx context.Context, sess tandem.Session) (tandem.Reply, error) {
	key := sess.Key
	recs, err := b.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &key, Limit: 15})
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("bot: audit: %w", err)
	}
	r := tandem.Reply{Title: fmt.Sprintf("Last %d audit records of this session", len(recs))}
	for _, rec := range recs {
		line := fmt.Sprintf("%s %s by %s", slackTime(rec.Time), rec.Action, mention(rec.Actor))
		if rec.Provider != "" {
			line += fmt.Sprintf(" · %s as %s (%s)", rec.Provider.Name(), mention(rec.Effective), rec.Reason)
		}
		line += " → " + string(rec.Outcome)
		if rec.Detail != "" {
			line += " · " + escape(rec.Detail)
		}
		r.Items = append(r.Items, tandem.Item{Text: line})
	}
	return r, nil
}

// applyChannelDefault asks a new session's owner to consent when its channel
// defaults to persistent sessions.
func (b *Bot) applyChannelDefault(ctx context.Context, sess tandem.Session) tandem.Session {
	v, err := b.cfg.Store.Setting(ctx, channelDefaultKey(sess.Key.Team, sess.Key.Channel))
	if err != nil || v != "on" {
		return sess
	}
	if _, err := b.requestConsent(ctx, sess.Key, "channel default"); err != nil {
		b.log.Warn("channel default consent", "session", sess.Key.String(), "err", err)
		return sess
	}
	if s, err := b.cfg.Store.Session(ctx, sess.Key); err == nil {
		return s
	}
	return sess
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
func (b *Bot) requestEditor(ctx context.Context, t tandem.Turn, sess tandem.Session, user string) (tandem.Reply, error) {
	if err := b.cfg.Store.SetSetting(ctx, editorRequestKey(sess.Key, user), t.User); err != nil {
		return tandem.Reply{}, fmt.Errorf("bot: request editor: %w", err)
	}
	b.auditChange(ctx, sess.Key, t.User, sess.Owner, "request_editor", user+" (pending the owner's approval)")
	link, _ := b.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: sess.Key.Channel, Ts: sess.Key.ThreadTS})
	where := "a thread you started"
	if link != "" {
		where = "<" + link + "|a thread you started>"
	}
	value := sess.Key.String() + "/" + user
	approve := slack.NewButtonBlockElement(actionEditorApprove, value, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
	approve.Style = slack.StylePrimary
	decline := slack.NewButtonBlockElement(actionEditorDecline, value, slack.NewTextBlockObject(slack.PlainTextType, "Decline", false, false))
	decline.Style = slack.StyleDanger
	text := fmt.Sprintf("%s asks to let <@%s> act as you in %s: that session runs every turn of its editors with *your* accounts.", mention(t.User), user, where)
	if err := b.DM(ctx, sess.Owner, "Approve a new editor of your Tandem session?", []slack.Block{section(text), slack.NewActionBlock("editor_consent", approve, decline)}); err != nil {
		b.log.Warn("ask owner for an editor", "session", sess.Key.String(), "err", err)
	}
	return tandem.Reply{
		Title: "Editor waiting for the owner's approval",
		Text:  fmt.Sprintf("%s asked to add <@%s>. Editors here act as <@%s>, so <@%s> waits for <@%s>'s approval; I've asked them by direct message.", mention(t.User), user, sess.Owner, user, sess.Owner),
	}, nil
}

// editorConsent handles the owner's answer to requestEditor. Only the
// owner's own press counts, and only for a request still open.
func (b *Bot) editorConsent(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	i := strings.LastIndex(a.Value, "/")
	if i < 0 {
		return
	}
	key, ok := parseSessionKey(a.Value[:i])
	user := a.Value[i+1:]
	if !ok || user == "" {
		return
	}
	sess, err := b.cfg.Store.Session(ctx, key)
	if err != nil || cb.User.ID != sess.Owner {
		b.log.Warn("editor consent press refused", "session", a.Value[:i], "user", cb.User.ID)
		return
	}
	name := editorRequestKey(key, user)
	if _, err := b.cfg.Store.Setting(ctx, name); err != nil {
		return // answered already, or never asked
	}
	if err := b.cfg.Store.SetSetting(ctx, name, ""); err != nil {
		b.log.Error("close editor request", "err", err)
		return
	}
	var reply tandem.Reply
	outcome := "Declined: <@" + user + "> is not an editor of that session."
	if a.ActionID == actionEditorApprove {
		if _, err := b.cfg.Store.UpdateSession(ctx, key, func(s *tandem.Session) error {
			if !s.HasEditor(user) {
				s.Editors = append(s.Editors, user)
			}
			return nil
		}); err != nil {
			b.log.Error("approve editor", "err", err)
			return
		}
		b.auditChange(ctx, key, cb.User.ID, sess.Owner, "editors_add", user+" (approved by the owner)")
		reply = tandem.Reply{Title: "Editor approved", Text: fmt.Sprintf("<@%s> approved <@%s> as an editor.", sess.Owner, user)}
		outcome = "Approved: <@" + user + "> is an editor of that session."
	} else {
		b.auditChange(ctx, key, cb.User.ID, sess.Owner, "decline_editor", user)
		reply = tandem.Reply{Title: "Editor declined", Text: fmt.Sprintf("<@%s> declined <@%s> as an editor.", sess.Owner, user)}
	}
	b.announce(ctx, key, reply)
	if cb.Channel.ID != "" && cb.Message.Timestamp != "" {
		b.api.UpdateMessageContext(ctx, cb.Channel.ID, cb.Message.Timestamp, slack.MsgOptionText(outcome, false), slack.MsgOptionBlocks(section(outcome)))
	}
}
