package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

var (
	_ turns.People           = people{}
	_ turns.ScheduleNotifier = people{}
)

// defaultScheduleTick is how often the bot looks for due schedules.
const defaultScheduleTick = 15 * time.Second

// runSchedules claims and starts due scheduled runs until ctx ends. Every
// replica does; the store lets one of them claim each due time.
func (b *Bot) runSchedules(ctx context.Context) {
	tick := b.cfg.ScheduleTick
	if tick <= 0 {
		tick = defaultScheduleTick
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := b.engine.RunDue(ctx, b.now()); err != nil && ctx.Err() == nil {
			b.log.Error("due schedules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// now is the bot's clock.
func (b *Bot) now() time.Time {
	if b.cfg.Now != nil {
		return b.cfg.Now()
	}
	return time.Now()
}

// Person asks users.info for user's time zone and whether they left the
// workspace, waiting out Slack's rate limit (Retry-After) rather than
// failing on it. A user Slack does not know (user_not_found: erased, or never
// of this workspace) counts as one who left: nothing may act as them.
func (p people) Person(ctx context.Context, user string) (string, bool, error) {
	var u *slack.User
	err := p.b.withRateLimit(ctx, func() error {
		var err error
		u, err = p.b.api.GetUserInfoContext(ctx, user)
		return err
	})
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "user_not_found" {
		return "", true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("bot: users.info: %w", err)
	}
	return u.TZ, u.Deleted, nil
}

// IsMember asks Slack whether user is in channel. A channel that is gone
// for Tandem (not found, Tandem not in it, archived) counts as one user is
// not in; any other failure is returned, and the run waits (when it is
// claimed) or is refused (when it starts) rather than go ahead on a guess.
func (p people) IsMember(ctx context.Context, channel, user string) (bool, error) {
	member, err := p.b.isMember(ctx, channel, user)
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && slices.Contains([]string{"channel_not_found", "not_in_channel", "is_archived"}, se.Err) {
		return false, nil
	}
	return member, err
}

// ScheduleNeedsLink DMs s's creator a button that links their own account
// at pr, once per gap (the engine decides when).
func (p people) ScheduleNeedsLink(ctx context.Context, s tandem.Schedule, pr tandem.ProviderID, expired bool) {
	b := p.b
	reply, label := slackview.ScheduleStopped(s, pr, expired, b.threadLink(ctx, s.Session))
	reply.Buttons = b.connectButton(ctx, s.Session.Team, s.Creator, pr, "", tandem.Button{Text: label, Primary: true})
	if err := b.DM(ctx, s.Creator, reply.Title, slackview.Reply(reply, fmt.Sprintf("for <@%s>", s.Creator))); err != nil {
		b.log.Warn("dm schedule creator", "schedule", s.ID, "err", err)
	}
}

// SchedulePaused says in s's thread, and to each admin by DM, that s
// paused by itself.
func (p people) SchedulePaused(ctx context.Context, s tandem.Schedule, admins []string) {
	b := p.b
	reply := slackview.SchedulePaused(s)
	b.announce(ctx, s.Session, reply)
	text := reply.Text + " (" + b.threadLink(ctx, s.Session) + ")"
	for _, a := range admins {
		if err := b.DM(ctx, a, reply.Title, slackview.Reply(tandem.Reply{Title: reply.Title, Text: text}, "for channel admins")); err != nil {
			b.log.Warn("dm a channel admin about a paused schedule", "schedule", s.ID, "admin", a, "err", err)
		}
	}
}

// scheduleButtons are the buttons of one schedule: pressing them is
// checked by the engine (only its creator may resume or run it).
func scheduleButtons(s tandem.Schedule) []tandem.Button {
	pause := tandem.Button{Text: "Pause", ActionID: slackview.ActionSchedulePause, Value: s.ID}
	if s.Paused {
		pause = tandem.Button{Text: "Resume", ActionID: slackview.ActionScheduleResume, Value: s.ID}
	}
	return []tandem.Button{
		pause,
		{Text: "Delete", ActionID: slackview.ActionScheduleDelete, Value: s.ID},
		{Text: "Run now", ActionID: slackview.ActionScheduleRun, Value: s.ID, Primary: !s.Paused},
	}
}

// scheduleActions maps the buttons to the engine's actions.
var scheduleActions = map[string]turns.ScheduleAction{
	slackview.ActionSchedulePause:  turns.SchedulePause,
	slackview.ActionScheduleResume: turns.ScheduleResume,
	slackview.ActionScheduleDelete: turns.ScheduleDelete,
	slackview.ActionScheduleRun:    turns.ScheduleRunNow,
}

// pressSchedule carries out a schedule button's press: the presser is told
// privately what happened (or why not), the thread sees a pause, resume or
// delete, and the presser's App Home is refreshed.
func (b *Bot) pressSchedule(ctx context.Context, team string, cb slack.InteractionCallback, a *slack.BlockAction) {
	user := cb.User.ID
	s, words, err := b.ActOnSchedule(ctx, team, a.Value, user, scheduleActions[a.ActionID])
	if err != nil {
		words = tandem.ErrorMessage(err)
	}
	if cb.Container.Type == "view" || cb.View.ID != "" {
		b.publishHome(ctx, team, user)
		if err == nil {
			return
		}
		if derr := b.DM(ctx, user, words, []slack.Block{slackview.Section(words)}); derr != nil {
			b.log.Warn("answer a schedule press", "err", derr)
		}
		return
	}
	key := tandem.SessionKey{Team: team, Channel: cb.Channel.ID, ThreadTS: cb.Message.ThreadTimestamp}
	if key.ThreadTS == "" {
		key.ThreadTS = cb.Message.Timestamp
	}
	if err == nil && s.ID != "" {
		key = s.Session
		b.refreshCard(ctx, cb, s, scheduleActions[a.ActionID])
	}
	if perr := b.postEphemeral(ctx, key, user, words, []slack.Block{slackview.Section(words)}); perr != nil {
		b.log.Warn("answer a schedule press", "err", perr)
	}
}

// ActOnSchedule takes action on schedule id for by (a Slack user, or
// turns.Operator) and, for a pause, resume or delete, says so in the
// schedule's thread. Its errors are the engine's (ENOTFOUND, EFORBIDDEN,
// ELIMIT).
func (b *Bot) ActOnSchedule(ctx context.Context, team, id, by string, action turns.ScheduleAction) (tandem.Schedule, string, error) {
	s, words, err := b.engine.ActOnSchedule(ctx, team, id, by, action)
	if err != nil {
		return s, words, err
	}
	if action != turns.ScheduleRunNow {
		who := "An operator"
		if !turns.IsOperator(by) {
			who = fmt.Sprintf("<@%s>", by)
		}
		b.announce(ctx, s.Session, tandem.Reply{Title: fmt.Sprintf("Schedule %sd", action),
			Text: fmt.Sprintf("%s %sd the schedule `%s` of <@%s>.", who, action, tandem.Escape(s.Text), s.Creator)})
	}
	return s, words, nil
}

// Schedules lists team's schedules, only creator's when creator is not "".
func (b *Bot) Schedules(ctx context.Context, team, creator string) ([]tandem.Schedule, error) {
	return b.engine.Schedules(ctx, team, creator)
}

// scheduleList lists schedules with their buttons.
func (b *Bot) scheduleList(title string, list []tandem.Schedule, empty, attr string) []slack.Block {
	now := b.now()
	var entries []tandem.Reply
	for _, s := range list {
		entries = append(entries, tandem.Reply{Title: s.Text, Text: fmt.Sprintf("In %s: %s", slackview.ThreadRef(s.Session), turns.DescribeSchedule(s, now)), Buttons: scheduleButtons(s)})
	}
	return slackview.List(title, entries, empty, attr)
}

// scheduleNote is the short visible note in a schedule's thread when a run
// did not happen for want of its creator's link; the creator is told by DM.
func scheduleNote(t tandem.Turn, p tandem.ProviderID, expired bool) tandem.Reply {
	state := "not configured"
	if expired {
		state = "expired or revoked"
	}
	return tandem.Reply{
		Title: "Scheduled run skipped",
		Text:  fmt.Sprintf("%s credentials %s for <@%s>, who made this schedule (`%s`) and whom it runs as. They have a link in a direct message; the schedule runs again at its next time once they connect.", p.Name(), state, t.User, t.Schedule),
	}
}

// scheduleAttribution is the line of a scheduled run's reply.
func scheduleAttribution(t tandem.Turn, id *tandem.Identity) string {
	who := fmt.Sprintf("scheduled by <@%s> · ran as <@%s>", t.User, t.User)
	if id != nil && id.Provider != "" {
		who += fmt.Sprintf(" · %s: %s", id.Provider.Name(), strings.ReplaceAll(tandem.Escape(id.Login), "`", "'"))
	}
	return who
}

// mySchedules lists user's schedules everywhere (/tandem schedules).
func (b *Bot) mySchedules(ctx context.Context, team, user, attr string) []slack.Block {
	list, err := b.engine.Schedules(ctx, team, user)
	if err != nil {
		b.log.Error("list schedules", "user", user, "err", err)
		return []slack.Block{slackview.Section("Tandem could not read your schedules; try again.")}
	}
	return b.scheduleList("Your schedules", list, "None yet. Mention me in a thread with, say, `@tandem every weekday at 9:00 standup`.", attr)
}

// homeSchedules is the App Home's Schedules section: the user's first
// homeScheduleMax schedules with their buttons.
func (b *Bot) homeSchedules(ctx context.Context, team, user string) []slack.Block {
	list, err := b.engine.Schedules(ctx, team, user)
	if err != nil {
		b.log.Error("list schedules for home", "user", user, "err", err)
		return nil
	}
	more := ""
	if len(list) > homeScheduleMax {
		more = fmt.Sprintf("…and %d more; `/tandem schedules` shows all.", len(list)-homeScheduleMax)
		list = list[:homeScheduleMax]
	}
	blocks := append(slackview.HomeSchedules(), b.scheduleList("", list, "You have none.", "")...)
	if more != "" {
		blocks = append(blocks, slackview.Section(more))
	}
	return blocks
}

// homeScheduleMax bounds the App Home's list (a view holds 100 blocks).
const homeScheduleMax = 10

// refreshCard shows a schedule's card (the reply that made it) as it now
// stands: paused with a Resume button, running with Pause, or deleted
// without buttons. A list of several schedules is left as it is.
func (b *Bot) refreshCard(ctx context.Context, cb slack.InteractionCallback, s tandem.Schedule, action turns.ScheduleAction) {
	if action == turns.ScheduleRunNow || !strings.HasPrefix(cb.Message.Text, "Scheduled: ") || cb.Channel.ID == "" {
		return
	}
	reply := tandem.Reply{Title: "Scheduled: " + s.Text, Text: turns.DescribeSchedule(s, b.now()) + ".", Buttons: scheduleButtons(s)}
	if action == turns.ScheduleDelete {
		reply = tandem.Reply{Title: "Deleted schedule: " + s.Text, Text: "It will not run again."}
	}
	_, _, _, err := b.api.UpdateMessageContext(ctx, cb.Channel.ID, cb.Message.Timestamp, slack.MsgOptionText(tandem.Escape(reply.Title), false),
		slack.MsgOptionBlocks(slackview.Reply(reply, fmt.Sprintf("schedule of <@%s>", s.Creator))...))
	if err != nil {
		b.log.Warn("update a schedule's card", "schedule", s.ID, "err", err)
	}
}
