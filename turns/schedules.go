package turns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/schedule"
)

// People says what Slack knows of a person, for schedules.
type People interface {
	// Person returns user's Slack time zone (an IANA name, "" when Slack
	// has none) and whether they left the workspace (or Slack no longer
	// knows them); it fails when Slack cannot say.
	Person(ctx context.Context, user string) (tz string, deleted bool, err error)
	// IsMember reports whether user is in channel; it fails when Slack
	// cannot say.
	IsMember(ctx context.Context, channel, user string) (bool, error)
}

// ScheduleNotifier tells people what happens to a schedule outside a run's
// reply.
type ScheduleNotifier interface {
	// ScheduleNeedsLink tells s's creator, by direct message with a button
	// that links their own account, that s did not run for want of their
	// link at p (expired: it needs reconnecting).
	ScheduleNeedsLink(ctx context.Context, s tandem.Schedule, p tandem.ProviderID, expired bool)
	// SchedulePaused says in s's thread, and to each of admins by direct
	// message, that s paused by itself and why (s.PausedWhy).
	SchedulePaused(ctx context.Context, s tandem.Schedule, admins []string)
}

// ScheduleAction is what a person or an operator does to a schedule.
type ScheduleAction string

// The schedule actions: Pause and Delete by its creator, a channel admin
// or an operator; Resume by its creator or an operator (it then runs at its
// times, as its creator made it), but by its creator alone when they paused
// it; RunNow by its creator alone, since it makes it act as them at a time
// they did not choose.
const (
	SchedulePause  ScheduleAction = "pause"
	ScheduleResume ScheduleAction = "resume"
	ScheduleDelete ScheduleAction = "delete"
	ScheduleRunNow ScheduleAction = "run"
)

// Operator is the "by" of a schedule action taken by whoever runs Tandem
// (tandem schedules …), who may take every action; "operator <name>"
// names them in the audit trail.
const Operator = "operator"

// IsOperator reports whether by is Operator, named or not.
func IsOperator(by string) bool { return by == Operator || strings.HasPrefix(by, Operator+" ") }

// Audit actions of schedules.
const (
	ActionScheduleCreate = "schedule.create"
	ActionSchedulePause  = "schedule.pause"
	ActionScheduleResume = "schedule.resume"
	ActionScheduleDelete = "schedule.delete"
	ActionScheduleRun    = "schedule.run"
	ActionScheduleSkip   = "schedule.skip"
)

// Defaults of the schedule limits.
const (
	DefaultSchedulesPerUser = 20
	DefaultScheduleGrace    = time.Hour
)

// scheduleTurnPrefix starts the inbox id of a scheduled run: the id names
// the schedule and its due time, so recording it is the claim of that run
// (the store records an id once, on every replica).
const scheduleTurnPrefix = "schedule/"

// whenOf is s's times as the schedule package reads them.
func whenOf(s tandem.Schedule) schedule.When {
	return schedule.When{Cron: s.Cron, Zone: s.Zone, At: s.At}
}

// nextAfter is s's first due time after t (zero for none).
func nextAfter(s tandem.Schedule, t time.Time) time.Time {
	return whenOf(s).Next(t)
}

// DescribeSchedule says s in words that cannot be misread: when it runs,
// where its zone came from, its next run and whom it runs as.
func DescribeSchedule(s tandem.Schedule, now time.Time) string {
	note := ""
	if s.ZoneFromSlack {
		note = fmt.Sprintf(", <@%s>'s time zone from Slack", s.Creator)
	}
	w := whenOf(s)
	d := w.DescribeNoted(now, note)
	if s.Paused {
		d, _, _ = strings.Cut(d, "; next run")
		d += "; *paused*"
		if s.PausedWhy != "" {
			d += " (" + s.PausedWhy + ")"
		}
	} else if s.Next.IsZero() {
		d, _, _ = strings.Cut(d, "; next run")
		d += "; it has no next run"
	}
	return fmt.Sprintf("%s; runs as <@%s>", d, s.Creator)
}

// createSchedule reads t's text as a schedule and its command, and stores
// it for t's sender in t's thread. The zone is the sender's Slack time
// zone unless the text names one. It fails with EINVALID for a schedule
// or command it cannot accept, with ELIMIT at TANDEM_SCHEDULES_PER_USER.
func (e *Engine) createSchedule(ctx context.Context, t tandem.Turn) (tandem.Reply, *tandem.Schedule, error) {
	now := e.cfg.Now()
	loc, fromSlack := e.zoneOf(ctx, t.User)
	w, text, err := schedule.Parse(t.Text, now, loc)
	if err != nil {
		return tandem.Reply{}, nil, err
	}
	// A zone the text names is one Parse did not default to.
	fromSlack = fromSlack && w.Zone == loc.String()
	cmd := e.Parse(text)
	switch {
	case cmd.Control():
		return tandem.Reply{}, nil, tandem.Errorf(tandem.EINVALID, "A schedule runs a command or a request, not `%s`.", tandem.Escape(text))
	case cmd.Err() != nil && (e.cfg.Agent == nil || tandem.ErrorCode(cmd.Err()) != tandem.EUNKNOWNCOMMAND):
		return tandem.Reply{}, nil, cmd.Err()
	}
	s := tandem.Schedule{
		ID: scheduleIDOf(t), Session: t.Session, Creator: t.User, Text: text,
		Cron: w.Cron, Zone: w.Zone, At: w.At, ZoneFromSlack: fromSlack, CreatedAt: now,
	}
	s.Next = nextAfter(s, now)
	if gone, err := e.deletedSince(ctx, t, s.ID); err != nil {
		return tandem.Reply{}, nil, err
	} else if gone {
		// This turn made it before a crash cut the turn off, and someone
		// deleted it before the turn ran again: their delete stands.
		return tandem.Reply{}, nil, tandem.Errorf(tandem.ECONFLICT, "This request made the schedule %s before Tandem restarted, and it was deleted since; it is not made again. Ask again to make a new one.", s.ID)
	}
	err = e.cfg.Store.CreateSchedule(ctx, s, e.schedulesPerUser(), t.ID)
	if tandem.ErrorCode(err) == tandem.ECONFLICT && !errors.Is(err, tandem.ErrTurnDone) {
		// Its id is its turn's: this turn made it already (a run cut off
		// by a crash, or a runner that stalled past the lease while
		// another ran it). It is not made twice; the one there is the
		// answer.
		made, readErr := e.cfg.Store.Schedule(ctx, s.ID)
		if readErr != nil || made.Creator != t.User || made.Session != t.Session {
			return tandem.Reply{}, nil, fmt.Errorf("turns: create schedule: %w", err)
		}
		s, err = made, nil
	} else if err == nil {
		e.auditSchedule(ctx, s, t.User, ActionScheduleCreate, tandem.OutcomeOK, DescribeSchedule(s, now)+": "+s.Text)
	}
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ELIMIT {
			return tandem.Reply{}, nil, tandem.Errorf(tandem.ELIMIT, "You have %d schedules, the most one person may have here; delete one first (`/tandem schedules`).", e.schedulesPerUser())
		}
		return tandem.Reply{}, nil, fmt.Errorf("turns: create schedule: %w", err)
	}
	reply := tandem.Reply{
		Title: "Scheduled: " + s.Text,
		Text:  DescribeSchedule(s, now) + ".",
	}
	if cmd.Mutating() {
		reply.Text += " It changes something, and will do so as you each time it runs."
	} else if cmd.Err() != nil {
		reply.Text += " It is a free-form request: changes it proposes wait for your press."
	}
	return reply, &s, nil
}

// deletedSince reports whether the audit records the deletion of the
// schedule id, which turn t makes, since t was received: t made it before
// a crash or a stall cut it off, and its creator (or a channel admin, or an
// operator) deleted it before t ran again. Every deletion is audited
// (ActOnSchedule) with the schedule's session and creator. It fails with
// the store's error when the audit cannot be read: a schedule is not made
// on a guess.
func (e *Engine) deletedSince(ctx context.Context, t tandem.Turn, id string) (bool, error) {
	recs, err := e.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &t.Session, User: t.User, Since: t.ReceivedAt})
	if err != nil {
		return false, fmt.Errorf("turns: create schedule: read the audit: %w", err)
	}
	for _, r := range recs {
		if r.Action == ActionScheduleDelete && strings.HasPrefix(r.Detail, id+": ") {
			return true, nil
		}
	}
	return false, nil
}

// zoneOf is user's Slack time zone, and whether Slack gave it (UTC when
// it did not, or cannot say).
func (e *Engine) zoneOf(ctx context.Context, user string) (*time.Location, bool) {
	if e.cfg.People == nil {
		return time.UTC, false
	}
	tz, _, err := e.cfg.People.Person(ctx, user)
	if err != nil {
		e.log.Warn("users.info for a schedule's zone; using UTC", "user", user, "err", err)
		return time.UTC, false
	}
	if tz == "" {
		return time.UTC, false
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		e.log.Warn("unknown time zone from Slack; using UTC", "user", user, "tz", tz)
		return time.UTC, false
	}
	return loc, true
}

func (e *Engine) schedulesPerUser() int {
	if e.cfg.SchedulesPerUser <= 0 {
		return DefaultSchedulesPerUser
	}
	return e.cfg.SchedulesPerUser
}

func (e *Engine) scheduleGrace() time.Duration {
	if e.cfg.ScheduleGrace <= 0 {
		return DefaultScheduleGrace
	}
	return e.cfg.ScheduleGrace
}

// scheduleIDOf is the id of the schedule turn t asks for: made from the
// turn's, so that running the turn again (after a crash, or on a runner
// that stalled past the session's lease) finds it made rather than makes
// a second one.
func scheduleIDOf(t tandem.Turn) string {
	sum := sha256.Sum256([]byte(t.Session.Team + "/" + t.ID))
	return "sch_" + hex.EncodeToString(sum[:6])
}

// threadSchedules lists the schedules of sess's thread.
func (e *Engine) threadSchedules(ctx context.Context, sess tandem.Session) (tandem.Reply, []tandem.Schedule, error) {
	key := sess.Key
	list, err := e.cfg.Store.Schedules(ctx, tandem.ScheduleFilter{Team: key.Team, Session: &key})
	if err != nil {
		return tandem.Reply{}, nil, fmt.Errorf("turns: schedules: %w", err)
	}
	reply := tandem.Reply{Title: "Schedules in this thread"}
	if len(list) == 0 {
		reply.Text = "None. Start one with `@tandem every weekday at 9:00 standup`."
	}
	now := e.cfg.Now()
	for _, s := range list {
		reply.Items = append(reply.Items, tandem.Item{Text: fmt.Sprintf("`%s` %s: %s", tandem.Escape(s.Text), s.ID, DescribeSchedule(s, now))})
	}
	return reply, list, nil
}

// Schedules lists team's schedules, only creator's when creator is not "".
func (e *Engine) Schedules(ctx context.Context, team, creator string) ([]tandem.Schedule, error) {
	list, err := e.cfg.Store.Schedules(ctx, tandem.ScheduleFilter{Team: team, Creator: creator})
	if err != nil {
		return nil, fmt.Errorf("turns: schedules: %w", err)
	}
	return list, nil
}

// ActOnSchedule takes action on the schedule id for by (a Slack user of
// team, or Operator) and returns the schedule as it now stands, with words
// for by. It fails with ENOTFOUND for an unknown schedule (or one of
// another team), EFORBIDDEN when by may not take the action, and ELIMIT
// for a run sooner than schedule.MinInterval after the last.
func (e *Engine) ActOnSchedule(ctx context.Context, team, id, by string, action ScheduleAction) (tandem.Schedule, string, error) {
	s, err := e.cfg.Store.Schedule(ctx, id)
	if err == nil && team != "" && s.Session.Team != team {
		err = tandem.Errorf(tandem.ENOTFOUND, "There is no schedule %s.", id)
	}
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return s, "", tandem.Errorf(tandem.ENOTFOUND, "There is no schedule %s (it may have been deleted).", id)
		}
		return s, "", fmt.Errorf("turns: schedule: %w", err)
	}
	if err := e.mayActOn(ctx, s, by, action); err != nil {
		return s, "", err
	}
	who := "an operator"
	if !IsOperator(by) {
		who = fmt.Sprintf("<@%s>", by)
	}
	now := e.cfg.Now()
	switch action {
	case ScheduleDelete:
		if err := e.cfg.Store.DeleteSchedule(ctx, id); err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
			return s, "", fmt.Errorf("turns: delete schedule: %w", err)
		}
		e.auditSchedule(ctx, s, by, ActionScheduleDelete, tandem.OutcomeOK, "deleted by "+who)
		return s, fmt.Sprintf("Deleted the schedule `%s` (%s).", tandem.Escape(s.Text), s.ID), nil
	case SchedulePause, ScheduleResume:
		pause, already := action == SchedulePause, false
		s, err = e.cfg.Store.UpdateSchedule(ctx, id, func(s *tandem.Schedule) error {
			if !pause && pausedByCreator(*s) && by != s.Creator {
				// Checked here too: the creator may have paused it since
				// it was read.
				return errCreatorPaused(*s)
			}
			if pause && s.Paused && (by != s.Creator || pausedByCreator(*s)) {
				// Paused already: who paused it stays, unless it is its
				// creator pausing it now, whose pause then counts as theirs.
				already = true
				return nil
			}
			s.Paused, s.PausedWhy, s.PausedBy = pause, "", ""
			if pause {
				s.PausedWhy, s.PausedBy = "paused by "+who, by
			} else if s.Next.IsZero() || s.Next.Before(now) {
				// Runs missed while paused are not made up.
				s.Next = nextAfter(*s, now)
			}
			return nil
		})
		if err != nil {
			return s, "", fmt.Errorf("turns: %s schedule: %w", action, err)
		}
		if already {
			return s, fmt.Sprintf("The schedule `%s` is paused already (%s); nothing changed.", tandem.Escape(s.Text), s.PausedWhy), nil
		}
		act := ActionSchedulePause
		if !pause {
			act = ActionScheduleResume
		}
		e.auditSchedule(ctx, s, by, act, tandem.OutcomeOK, string(action)+"d by "+who)
		return s, fmt.Sprintf("%s the schedule `%s`: %s.", map[bool]string{true: "Paused", false: "Resumed"}[pause], tandem.Escape(s.Text), DescribeSchedule(s, now)), nil
	case ScheduleRunNow:
		return e.runNow(ctx, s, by, now)
	}
	return s, "", tandem.Errorf(tandem.EINVALID, "Unknown schedule action %q.", action)
}

// mayActOn refuses, with EFORBIDDEN, an action by someone who may not take
// it: pausing and deleting stop a schedule, so a channel admin may too;
// resuming and running make it act as its creator, so only they may (and
// an operator may resume it, not run it).
func (e *Engine) mayActOn(ctx context.Context, s tandem.Schedule, by string, action ScheduleAction) error {
	if by == s.Creator {
		return nil
	}
	if action == ScheduleResume && pausedByCreator(s) {
		return errCreatorPaused(s)
	}
	if IsOperator(by) && action != ScheduleRunNow {
		return nil
	}
	if action == SchedulePause || action == ScheduleDelete {
		admin, err := e.isChannelAdmin(ctx, s.Session.Channel, by)
		if err != nil {
			return err
		}
		if admin {
			return nil
		}
		return tandem.Errorf(tandem.EFORBIDDEN, "Only <@%s>, who made this schedule, or a channel admin can %s it.", s.Creator, action)
	}
	return tandem.Errorf(tandem.EFORBIDDEN, "Only <@%s> can %s this schedule: it runs as them.", s.Creator, map[ScheduleAction]string{ScheduleResume: "resume", ScheduleRunNow: "run"}[action])
}

// pausedByCreator reports whether s's creator paused it themselves (as
// PausedWhy said it before PausedBy was recorded).
func pausedByCreator(s tandem.Schedule) bool {
	return s.Paused && (s.PausedBy == s.Creator || s.PausedBy == "" && s.PausedWhy == "paused by <@"+s.Creator+">")
}

// errCreatorPaused refuses to resume s for anyone but its creator, who
// paused it: that pause withdrew their consent to its runs.
func errCreatorPaused(s tandem.Schedule) error {
	return tandem.Errorf(tandem.EFORBIDDEN, "<@%s> paused this schedule themselves, and it runs as them: only they can resume it.", s.Creator)
}

// runNow claims a run of s now and records it; at most one run per
// schedule.MinInterval.
func (e *Engine) runNow(ctx context.Context, s tandem.Schedule, by string, now time.Time) (tandem.Schedule, string, error) {
	if s.Paused {
		return s, "", tandem.Errorf(tandem.EINVALID, "This schedule is paused; resume it first.")
	}
	why, err := e.creatorGone(ctx, s)
	if err != nil {
		return s, "", err
	}
	if why != "" {
		if err := e.pauseGone(ctx, s, why); err != nil {
			return s, "", err
		}
		return s, "", tandem.Errorf(tandem.EINVALID, "This schedule did not run and is now paused: %s.", why)
	}
	s, err = e.cfg.Store.UpdateSchedule(ctx, s.ID, func(s *tandem.Schedule) error {
		if !s.LastRun.IsZero() && now.Sub(s.LastRun) < schedule.MinInterval {
			return tandem.Errorf(tandem.ELIMIT, "This schedule ran at %s; it can run again from %s (at most once every %d minutes).",
				s.LastRun.Format("15:04:05"), s.LastRun.Add(schedule.MinInterval).Format("15:04:05"), int(schedule.MinInterval.Minutes()))
		}
		s.LastRun = now
		return nil
	})
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ELIMIT {
			return s, "", err
		}
		return s, "", fmt.Errorf("turns: run schedule: %w", err)
	}
	id := fmt.Sprintf("%s%s/now/%d", scheduleTurnPrefix, s.ID, now.Unix()/int64(schedule.MinInterval.Seconds()))
	if err := e.claimRun(ctx, s, id, now, "run now by "+by); err != nil {
		return s, "", err
	}
	return s, fmt.Sprintf("Running `%s` now, as <@%s>.", tandem.Escape(s.Text), s.Creator), nil
}

// claimRun records the run id of s in its session's inbox, unless some
// replica did before, and asks for it to run.
func (e *Engine) claimRun(ctx context.Context, s tandem.Schedule, id string, now time.Time, detail string) error {
	t := tandem.Turn{ID: id, Session: s.Session, User: s.Creator, Text: s.Text, ReceivedAt: now, Schedule: s.ID}
	dup, err := e.cfg.Store.RecordTurn(ctx, t)
	if err != nil {
		return fmt.Errorf("turns: claim scheduled run: %w", err)
	}
	if dup {
		return nil
	}
	e.auditSchedule(ctx, s, s.Creator, ActionScheduleRun, tandem.OutcomeOK, detail)
	e.log.Info("scheduled run claimed", "schedule", s.ID, "turn", id, "session", s.Session.String(), "creator", s.Creator)
	if e.cfg.Chat != nil {
		e.cfg.Chat.Submit(t)
	}
	return nil
}

// RunDue claims and starts every schedule due by now, once per due time
// across every replica: a due time missed by more than the grace
// (TANDEM_SCHEDULE_GRACE) is skipped and audited, a schedule whose creator
// left the workspace or the channel is paused and its channel's admins are
// told. It returns the first error after trying every due schedule.
func (e *Engine) RunDue(ctx context.Context, now time.Time) error {
	due, err := e.cfg.Store.Schedules(ctx, tandem.ScheduleFilter{DueBy: now})
	if err != nil {
		return fmt.Errorf("turns: due schedules: %w", err)
	}
	var first error
	for _, s := range due {
		if err := e.runDue(ctx, s, now); err != nil {
			e.log.Error("scheduled run", "schedule", s.ID, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// runDue handles one due schedule: it skips, pauses or claims its due run,
// then moves Next past now. After an outage, the runs missed by more than
// the grace are skipped (one audit record says how many) and the latest
// one still within it, if any, runs. Whatever it decides is taken once
// across replicas: the run is reserved in the stored schedule (its LastRun,
// which also keeps the five-minute minimum against a Run now press) before
// it is claimed, and only the replica that moves Next audits a skip. A
// crash between the claim and the move claims the same id again next time,
// which the store refuses as a duplicate.
func (e *Engine) runDue(ctx context.Context, s tandem.Schedule, now time.Time) error {
	stored := s.Next
	due, missed := stored, 0
	for n := nextAfter(s, due); !n.IsZero() && !n.After(now) && missed < maxMissed; n = nextAfter(s, n) {
		due, missed = n, missed+1
	}
	var skips []string
	if missed > 0 || now.Sub(due) > e.scheduleGrace() {
		last := due
		if now.Sub(due) <= e.scheduleGrace() {
			last = nextBefore(s, due, stored)
		} else {
			missed++
		}
		skips = append(skips, fmt.Sprintf("missed %d run(s) due from %s to %s by more than the grace of %s", missed, stored.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), e.scheduleGrace()))
	}
	if now.Sub(due) <= e.scheduleGrace() {
		why, err := e.creatorGone(ctx, s)
		if err != nil {
			// Left due: the next look tries again, within the grace.
			return fmt.Errorf("turns: schedule %s: %w", s.ID, err)
		}
		if why != "" {
			return e.pauseGone(ctx, s, why)
		}
		// Reserve the run: the schedule as stored now, not as listed,
		// says whether it ran (or was run by hand) too recently.
		reserved := false
		_, _, err = e.updateSchedule(ctx, s.ID, func(cur *tandem.Schedule) error {
			switch {
			case !cur.Next.Equal(stored) || cur.Paused:
				return errUnchanged // another replica moved it, or it was paused
			case cur.LastRun.Equal(due):
				reserved = true // reserved before a crash: claim it again
				return errUnchanged
			case !cur.LastRun.IsZero() && due.Sub(cur.LastRun) < schedule.MinInterval:
				skips = append(skips, fmt.Sprintf("the run due %s came less than %s after the last", due.UTC().Format(time.RFC3339), schedule.MinInterval))
				return errUnchanged
			}
			cur.LastRun, reserved = due, true
			return nil
		})
		if err != nil {
			return fmt.Errorf("turns: reserve a scheduled run: %w", err)
		}
		if reserved {
			id := fmt.Sprintf("%s%s/%d", scheduleTurnPrefix, s.ID, due.Unix())
			if err := e.claimRun(ctx, s, id, now, "due "+due.UTC().Format(time.RFC3339)); err != nil {
				return err
			}
		}
	}
	_, moved, err := e.updateSchedule(ctx, s.ID, func(cur *tandem.Schedule) error {
		if !cur.Next.Equal(stored) {
			return errUnchanged // another replica moved it
		}
		cur.Next = nextAfter(*cur, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("turns: move a schedule's next run: %w", err)
	}
	if moved {
		for _, why := range skips {
			e.auditSchedule(ctx, s, s.Creator, ActionScheduleSkip, tandem.OutcomeRefused, why)
		}
	}
	return nil
}

// maxMissed bounds how many missed due times runDue walks past after an
// outage (a daily schedule: over ten years).
const maxMissed = 4000

// nextBefore is the due time of s just before due, from first on (first
// itself when none is between).
func nextBefore(s tandem.Schedule, due, first time.Time) time.Time {
	prev := first
	for n := nextAfter(s, first); !n.IsZero() && n.Before(due); n = nextAfter(s, n) {
		prev = n
	}
	return prev
}

// creatorGone says why s may no longer run as its creator ("" when it
// may): they left the workspace, or the channel. It fails with
// EUNAVAILABLE when Slack cannot say: the run does not go ahead on a
// guess (a due run is tried again at the next look, within the grace).
func (e *Engine) creatorGone(ctx context.Context, s tandem.Schedule) (string, error) {
	if e.cfg.People == nil {
		return "", nil
	}
	left, err := e.leftWorkspace(ctx, s.Creator, "who made this schedule")
	if err != nil {
		return "", err
	}
	if left {
		return fmt.Sprintf("<@%s>, who made it, left the workspace", s.Creator), nil
	}
	member, err := e.cfg.People.IsMember(ctx, s.Session.Channel, s.Creator)
	if err != nil {
		e.log.Warn("conversations.members for a scheduled run", "schedule", s.ID, "err", err)
		return "", tandem.Errorf(tandem.EUNAVAILABLE, "Slack could not say whether <@%s>, who made this schedule, is still in this channel; try again in a moment.", s.Creator)
	}
	if !member {
		return fmt.Sprintf("<@%s>, who made it, is no longer in this channel", s.Creator), nil
	}
	return "", nil
}

// pauseGone pauses s for why, audits it and tells the channel's admins;
// a schedule already paused is left as it is, so that the replicas that
// all found its creator gone tell the admins once.
func (e *Engine) pauseGone(ctx context.Context, s tandem.Schedule, why string) error {
	paused, changed, err := e.updateSchedule(ctx, s.ID, func(cur *tandem.Schedule) error {
		if cur.Paused {
			return errUnchanged // paused already, by someone or by another replica
		}
		cur.Paused, cur.PausedWhy = true, why
		return nil
	})
	if err != nil {
		return fmt.Errorf("turns: pause schedule: %w", err)
	}
	if !changed {
		return nil
	}
	e.auditSchedule(ctx, paused, s.Creator, ActionSchedulePause, tandem.OutcomeRefused, "paused: "+why)
	n, ok := e.cfg.Notifier.(ScheduleNotifier)
	if !ok {
		return nil
	}
	admins := append([]string(nil), e.cfg.Admins...)
	if creator, err := e.cfg.Directory.ChannelCreator(ctx, s.Session.Channel); err == nil && creator != "" && creator != s.Creator {
		admins = append(admins, creator)
	}
	n.SchedulePaused(context.WithoutCancel(ctx), paused, admins)
	return nil
}

// scheduleOf is the schedule whose run t is, or why t may not run: the
// schedule was deleted or paused after the run was claimed, or t does not
// match it.
func (e *Engine) scheduleOf(ctx context.Context, t tandem.Turn) (tandem.Schedule, error) {
	s, err := e.cfg.Store.Schedule(ctx, t.Schedule)
	switch {
	case tandem.ErrorCode(err) == tandem.ENOTFOUND:
		return s, tandem.Errorf(tandem.EINVALID, "This schedule was deleted before its run; nothing ran.")
	case err != nil:
		return s, fmt.Errorf("turns: schedule: %w", err)
	case s.Creator != t.User || s.Session != t.Session || !strings.HasPrefix(t.ID, scheduleTurnPrefix+s.ID+"/"):
		return s, tandem.Errorf(tandem.EFORBIDDEN, "This run does not match its schedule; nothing ran.")
	case s.Paused:
		return s, tandem.Errorf(tandem.EINVALID, "This schedule was paused before its run; nothing ran.")
	}
	return s, nil
}

// scheduleStands fails unless t, a claimed run of a schedule, may still
// run as the schedule's creator: the schedule stands as it was claimed
// (scheduleOf), the run, when starting, has not waited longer than the
// grace since it was claimed (a run late by more is skipped, as an
// unclaimed one is; one that started in time is not stopped later), and
// its creator is still in the workspace and the channel (creatorGone; a
// schedule whose creator left is paused). Slack is asked unless it
// vouched for the creator less than creatorFresh before (asked: when it
// last did for this run); it returns when Slack last vouched. It fails
// with EUNAVAILABLE when Slack cannot say: nobody acts as a person on a
// guess.
func (e *Engine) scheduleStands(ctx context.Context, t tandem.Turn, asked time.Time, starting bool) (time.Time, error) {
	s, err := e.scheduleOf(ctx, t)
	if err != nil {
		return asked, err
	}
	now := e.cfg.Now()
	if late := now.Sub(t.ReceivedAt); starting && late > e.scheduleGrace() {
		e.auditSchedule(ctx, s, s.Creator, ActionScheduleSkip, tandem.OutcomeRefused, fmt.Sprintf("a run claimed %s waited %s to start, more than the grace of %s", t.ReceivedAt.UTC().Format(time.RFC3339), late.Round(time.Second), e.scheduleGrace()))
		return asked, tandem.Errorf(tandem.EINVALID, "This scheduled run waited %s to start, more than the grace of %s, so it was skipped; nothing ran.", late.Round(time.Minute), e.scheduleGrace())
	}
	if vouchedRecently(asked, now) {
		return asked, nil
	}
	why, err := e.creatorGone(ctx, s)
	if err != nil {
		return asked, err
	}
	if why != "" {
		if err := e.pauseGone(ctx, s, why); err != nil {
			return asked, err
		}
		return asked, tandem.Errorf(tandem.EFORBIDDEN, "This schedule is paused and this run did nothing: %s.", why)
	}
	return now, nil
}

// afterScheduledRun keeps a schedule's link gap: its creator is told once
// per gap, by direct message, that a run stopped for want of their link,
// and a run that gets past it ends the gap. A run that stopped before it
// came to credentials (its schedule paused or gone, its creator left, Slack
// unable to say) says nothing of the link and leaves the gap as it is.
func (e *Engine) afterScheduledRun(ctx context.Context, t tandem.Turn, out Result) {
	gap := tandem.ProviderID("")
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	expired := false
	switch {
	case errors.As(out.Err, &nc) && nc.User == t.User:
		gap = nc.Provider
	case errors.As(out.Err, &ex) && ex.User == t.User:
		gap, expired = ex.Provider, true
	case tandem.ErrorCode(out.Err) == tandem.EUNAUTHORIZED && out.Identity != nil:
		gap, expired = out.Identity.Provider, true
	case out.Err != nil && out.Identity == nil:
		return
	}
	s, changed, err := e.updateSchedule(context.WithoutCancel(ctx), t.Schedule, func(s *tandem.Schedule) error {
		if s.Gap == gap {
			return errUnchanged
		}
		s.Gap = gap
		return nil
	})
	if err != nil {
		e.log.Error("record a schedule's link gap", "schedule", t.Schedule, "err", err)
		return
	}
	if n, ok := e.cfg.Notifier.(ScheduleNotifier); ok && changed && gap != "" {
		n.ScheduleNeedsLink(context.WithoutCancel(ctx), s, gap, expired)
	}
}

// errUnchanged is what an update function returns to leave the schedule
// as it is (see updateSchedule).
var errUnchanged = errors.New("unchanged")

// updateSchedule applies fn to the stored schedule id in one transaction
// and reports whether it changed it: fn returning errUnchanged, or the
// schedule deleted meanwhile, changes nothing and is no error. It fails
// with the store's errors and fn's others.
func (e *Engine) updateSchedule(ctx context.Context, id string, fn func(*tandem.Schedule) error) (tandem.Schedule, bool, error) {
	s, err := e.cfg.Store.UpdateSchedule(ctx, id, fn)
	switch {
	case err == nil:
		return s, true, nil
	case errors.Is(err, errUnchanged), tandem.ErrorCode(err) == tandem.ENOTFOUND:
		return s, false, nil
	}
	return s, false, err
}

// auditSchedule appends the record of something done to or by s; a
// failure is logged.
func (e *Engine) auditSchedule(ctx context.Context, s tandem.Schedule, actor, action string, out tandem.Outcome, detail string) {
	rec := tandem.AuditRecord{
		Time: e.cfg.Now(), Session: s.Session, Actor: actor, Effective: s.Creator,
		Action: action, Reason: tandem.ReasonScheduleCreator, Outcome: out, Detail: s.ID + ": " + detail,
	}
	if err := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
		e.log.Error("audit a schedule", "schedule", s.ID, "action", action, "err", err)
	}
	e.log.Info("audit", "action", action, "schedule", s.ID, "actor", actor, "effective_user", s.Creator, "outcome", out)
}

// runScheduleControl makes a schedule (schedule.create) or lists the
// thread's (schedule.list). Neither uses anybody's account; a schedule is
// made for its sender, whatever the session's mode, and cannot be made
// through an API key (Run refuses controls there) or by a scheduled run.
func (e *Engine) runScheduleControl(ctx context.Context, t tandem.Turn, sess tandem.Session, name string, res Result) Result {
	if t.Schedule != "" {
		res.Err, res.Outcome = tandem.Errorf(tandem.EINVALID, "A scheduled run cannot make or list schedules."), tandem.OutcomeRefused
		return res
	}
	if !e.writeBeforeControl(ctx, t, &res) {
		return res
	}
	var err error
	if name == "schedule.create" {
		var s *tandem.Schedule
		res.Reply, s, err = e.createSchedule(ctx, t)
		if s != nil {
			res.Schedules = []tandem.Schedule{*s}
		}
	} else {
		res.Reply, res.Schedules, err = e.threadSchedules(ctx, sess)
	}
	if err != nil {
		res.Err, res.Outcome = err, outcomeOf(err)
	}
	// Another runner made (or refused) this schedule after this one lost
	// the lease: its answer is that runner's to post, and its creator may
	// have deleted the schedule since.
	res.LeaseLost = errors.Is(err, tandem.ErrTurnDone)
	return res
}
