package turns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/testclock"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
	"github.com/tandembot/tandem/store"
)

// Recognisable fake people of the schedule tests.
const (
	schCreator   = "U_CREATOR"   // makes the schedules
	schOwner     = "U_OWNER"     // owns the persistent session
	schOther     = "U_OTHER"     // anyone else in the channel
	schChanAdmin = "U_CHANADMIN" // created the channel
	schAdmin     = "U_TANDEMADMIN"
)

var schKey = tandem.SessionKey{Team: "T_SCHED", Channel: "C_SCHED", ThreadTS: "1700000000.000100"}

// schFriday is Friday 2 January 2026, 07:00 UTC (08:00 in Berlin).
var schFriday = time.Date(2026, 1, 2, 7, 0, 0, 0, time.UTC)

var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// schPeople is Slack's view of people: everyone is in Berlin, in every
// channel and still in the workspace, unless the test says otherwise.
type schPeople struct {
	mu        sync.Mutex
	tz        map[string]string
	deleted   map[string]bool
	notMember map[string]bool
}

func (p *schPeople) Person(_ context.Context, user string) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tz, ok := p.tz[user]
	if !ok {
		tz = "Europe/Berlin"
	}
	return tz, p.deleted[user], nil
}

func (p *schPeople) IsMember(_ context.Context, channel, user string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.notMember[user], nil
}

// schDirectory: U_CHANADMIN created every channel; no workspace admins.
type schDirectory struct{}

func (schDirectory) IsWorkspaceAdmin(context.Context, string) (bool, error) { return false, nil }
func (schDirectory) ChannelCreator(context.Context, string) (string, error) {
	return schChanAdmin, nil
}

// schNotifier records what the engine asked to tell people about
// schedules; the session notifications are not used here.
type schNotifier struct {
	mu        sync.Mutex
	needsLink []string // "<schedule>/<provider>/<expired>"
	paused    []schPausedCall
}

type schPausedCall struct {
	ID, Why string
	Admins  []string
}

func (n *schNotifier) AskConsent(context.Context, tandem.Session, string, []string) error { return nil }
func (n *schNotifier) AskEditor(context.Context, tandem.Session, string, string) error    { return nil }
func (n *schNotifier) Announce(context.Context, tandem.SessionKey, tandem.Reply)          {}
func (n *schNotifier) OfferConnect(context.Context, tandem.SessionKey, string, tandem.Reply, []tandem.ProviderID, []tandem.ProviderID) {
}

func (n *schNotifier) ScheduleNeedsLink(_ context.Context, s tandem.Schedule, p tandem.ProviderID, expired bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.needsLink = append(n.needsLink, fmt.Sprintf("%s/%s/%v", s.ID, p, expired))
}

func (n *schNotifier) SchedulePaused(_ context.Context, s tandem.Schedule, admins []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paused = append(n.paused, schPausedCall{s.ID, s.PausedWhy, slices.Clone(admins)})
}

func (n *schNotifier) linkDMs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.needsLink)
}

// schResolver records who was asked for, and fails for the users in
// missing with the test's error.
type schResolver struct {
	mu      sync.Mutex
	asked   []string // "<user>/<provider>/<reason>"
	missing map[string]bool
}

func (r *schResolver) Credentials(_ context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, fmt.Sprintf("%s/%s/%s", user, p, reason))
	if r.missing[user] {
		return tandem.Credentials{}, &tandem.NotConnectedError{Team: team, User: user, Provider: p}
	}
	return tandem.Credentials{Identity: tandem.Identity{SlackUser: user, Provider: p, Login: user + "-fakeacme", Reason: reason}}, nil
}

func (r *schResolver) setMissing(user string, missing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.missing == nil {
		r.missing = map[string]bool{}
	}
	r.missing[user] = missing
}

func (r *schResolver) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.asked
	r.asked = nil
	return out
}

// schChat records the turns submitted to run.
type schChat struct {
	mu    sync.Mutex
	turns []tandem.Turn
}

func (c *schChat) CheckMember(context.Context, tandem.APIKey, string) error { return nil }
func (c *schChat) StartThread(context.Context, string, string) (string, error) {
	return "", tandem.Errorf(tandem.EFORBIDDEN, "no threads here")
}
func (c *schChat) Submit(t tandem.Turn) {
	c.mu.Lock()
	c.turns = append(c.turns, t)
	c.mu.Unlock()
}

func (c *schChat) take() []tandem.Turn {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.turns
	c.turns = nil
	return out
}

func (c *schChat) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.turns)
}

// schOperations are the general operations and controls, and one read of
// a fake provider "acme" that says whose account it read with.
var schOperations = NewOperations([]ops.Spec{
	{Name: "acme.read", Example: "acme read", Summary: "reads acme", Provider: "acme", Phrasings: []string{"acme read"},
		Run: func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
			return tandem.Reply{Title: "read as " + r.Creds.Identity.Login}, nil
		}},
})

// schFixture is an Engine on a real bbolt store with the fakes above.
type schFixture struct {
	db     *store.DB
	e      *Engine
	clock  *testclock.Clock
	people *schPeople
	note   *schNotifier
	res    *schResolver
	chat   *schChat
	n      int
}

func newSchFixture(t *testing.T, tune func(*Config)) *schFixture {
	t.Helper()
	f := &schFixture{db: openStore(t), clock: testclock.New(schFriday), people: &schPeople{},
		note: &schNotifier{}, res: &schResolver{}, chat: &schChat{}}
	cfg := Config{Store: f.db, Resolver: f.res, Directory: schDirectory{}, Notifier: f.note, Chat: f.chat, People: f.people,
		Providers: map[tandem.ProviderID]tandem.Provider{"acme": acmeProvider{}}, Operations: schOperations,
		Admins: []string{schAdmin}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.Now,
		ScheduleGrace: time.Hour}
	if tune != nil {
		tune(&cfg)
	}
	f.e = New(cfg)
	return f
}

// send records a message of user in the session, runs it and marks it
// done, as the transport does.
func (f *schFixture) send(t *testing.T, user, text string, tune func(*tandem.Turn)) Result {
	t.Helper()
	tr := f.next(user, text)
	if tune != nil {
		tune(&tr)
	}
	return f.runTurn(t, tr)
}

// next is the turn of user's next message with text.
func (f *schFixture) next(user, text string) tandem.Turn {
	f.n++
	return tandem.Turn{ID: fmt.Sprintf("Ev_SCHED_%d", f.n), Session: schKey, User: user, Text: text,
		TS: fmt.Sprintf("1700000000.%06d", 200+f.n), ReceivedAt: f.clock.Now()}
}

// runTurn records tr (unless it is recorded), runs it and marks it done.
func (f *schFixture) runTurn(t *testing.T, tr tandem.Turn) Result {
	t.Helper()
	if _, err := f.db.RecordTurn(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	out := f.e.Run(t.Context(), tr, f.e.Parse(tr.Text), tandem.Hold{})
	if err := f.e.Done(t.Context(), tr, out); err != nil {
		t.Fatalf("Done %s: %v", tr.ID, err)
	}
	return out
}

// create makes a schedule through a message of user and returns it.
func (f *schFixture) create(t *testing.T, user, text string) tandem.Schedule {
	t.Helper()
	out := f.send(t, user, text, nil)
	if out.Err != nil || len(out.Schedules) != 1 || out.Command != "schedule.create" {
		t.Fatalf("%q: command %q, err %v, schedules %+v; want one schedule made", text, out.Command, out.Err, out.Schedules)
	}
	return f.schedule(t, out.Schedules[0].ID)
}

func (f *schFixture) schedule(t *testing.T, id string) tandem.Schedule {
	t.Helper()
	s, err := f.db.Schedule(t.Context(), id)
	if err != nil {
		t.Fatalf("schedule %s: %v", id, err)
	}
	return s
}

// runDue calls RunDue at now, with the clock at now.
func (f *schFixture) runDue(t *testing.T, now time.Time) {
	t.Helper()
	f.clock.Set(now)
	if err := f.e.RunDue(t.Context(), now); err != nil {
		t.Fatalf("RunDue at %s: %v", now, err)
	}
}

// scheduledTurns are the ids of the recorded, unfinished scheduled runs.
func (f *schFixture) scheduledTurns(t *testing.T) []string {
	t.Helper()
	recs, err := f.db.UnfinishedTurns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		if r.Turn.Schedule != "" || strings.HasPrefix(r.Turn.ID, "schedule/") {
			ids = append(ids, r.Turn.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// audit returns the session's audit records of action.
func (f *schFixture) audit(t *testing.T, action string) []tandem.AuditRecord {
	t.Helper()
	key := schKey
	recs, err := f.db.Audit(t.Context(), tandem.AuditFilter{Session: &key})
	if err != nil {
		t.Fatal(err)
	}
	var out []tandem.AuditRecord
	for _, r := range recs {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func runID(s tandem.Schedule, due time.Time) string {
	return fmt.Sprintf("schedule/%s/%d", s.ID, due.Unix())
}

func at(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, loc)
}

// TestScheduleCreate: a schedule made by a message takes its zone from
// the sender's Slack profile unless the text names one, is refused past
// the per-person limit (for that person only), for a control as its
// command and through an API key, and is audited as its creator's.
func TestScheduleCreate(t *testing.T) {
	t.Run("zone from Slack", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		want := at(berlin, 2026, 1, 2, 9, 0)
		if !s.Next.Equal(want) || s.Zone != "Europe/Berlin" || !s.ZoneFromSlack || s.Creator != schCreator || s.Text != "whoami" || s.Session != schKey {
			t.Errorf("schedule %+v; want whoami by %s next at %s, in Europe/Berlin from Slack", s, schCreator, want)
		}
	})
	t.Run("zone in the text wins", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 America/New_York whoami")
		want := at(mustZone("America/New_York"), 2026, 1, 2, 9, 0)
		if !s.Next.Equal(want) || s.Zone != "America/New_York" || s.ZoneFromSlack {
			t.Errorf("schedule next %s zone %q from Slack %v; want %s in America/New_York, not from Slack", s.Next, s.Zone, s.ZoneFromSlack, want)
		}
	})
	t.Run("limit per person", func(t *testing.T) {
		f := newSchFixture(t, func(c *Config) { c.SchedulesPerUser = 2 })
		f.create(t, schCreator, "every weekday at 9:00 whoami")
		f.create(t, schCreator, "every day at 10:00 whoami")
		out := f.send(t, schCreator, "every day at 11:00 whoami", nil)
		if tandem.ErrorCode(out.Err) != tandem.ELIMIT || out.Outcome != tandem.OutcomeRefused || len(out.Schedules) != 0 {
			t.Errorf("third schedule: err %v, outcome %s, schedules %v; want ELIMIT, refused, none", out.Err, out.Outcome, out.Schedules)
		}
		f.create(t, schOther, "every day at 11:00 whoami")
		mine, err := f.e.Schedules(t.Context(), schKey.Team, schCreator)
		if err != nil || len(mine) != 2 {
			t.Errorf("the creator's schedules: %d, %v; want 2", len(mine), err)
		}
	})
	refused := []struct {
		name, text string
		tune       func(*tandem.Turn)
		code       string
	}{
		{"a control as the command", "every day at 9 set X=1", nil, tandem.EINVALID},
		{"a control made with export", "every day at 9 export KEEP_CREDENTIALS_PERSISTENT=true", nil, tandem.EINVALID},
		{"through an API key", "every weekday at 9:00 whoami", func(tr *tandem.Turn) { tr.APIKey, tr.APIKeyName, tr.TS = "tdm_fake", "ci", "" }, tandem.EFORBIDDEN},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			f := newSchFixture(t, nil)
			out := f.send(t, schCreator, tt.text, tt.tune)
			if got := tandem.ErrorCode(out.Err); got != tt.code || out.Outcome != tandem.OutcomeRefused {
				t.Errorf("%q: code %q (err %v), outcome %s; want %s, refused", tt.text, got, out.Err, out.Outcome, tt.code)
			}
			if all, err := f.e.Schedules(t.Context(), schKey.Team, ""); err != nil || len(all) != 0 {
				t.Errorf("schedules stored: %+v, %v; want none", all, err)
			}
			if recs := f.audit(t, ActionScheduleCreate); len(recs) != 0 {
				t.Errorf("schedule.create audited %d times for a refusal", len(recs))
			}
		})
	}
	t.Run("audited", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		recs := f.audit(t, ActionScheduleCreate)
		if len(recs) != 1 {
			t.Fatalf("schedule.create records: %+v; want one", recs)
		}
		r := recs[0]
		if r.Reason != tandem.ReasonScheduleCreator || r.Actor != schCreator || r.Effective != schCreator || r.Outcome != tandem.OutcomeOK || !strings.HasPrefix(r.Detail, s.ID+": ") {
			t.Errorf("schedule.create record %+v; want by and as %s, reason %s, about %s", r, schCreator, tandem.ReasonScheduleCreator, s.ID)
		}
	})
}

// TestRunDueClaimsOnce: a due run is recorded and submitted once, as its
// creator, however often RunDue is called at that time, and Next moves to
// the next weekday; a one-off has no next run after its run.
func TestRunDueClaimsOnce(t *testing.T) {
	f := newSchFixture(t, nil)
	s := f.create(t, schCreator, "every weekday at 9:00 whoami")
	due := at(berlin, 2026, 1, 2, 9, 0) // Friday

	f.runDue(t, due.Add(-time.Second))
	if got := f.chat.take(); len(got) != 0 {
		t.Fatalf("a second before it is due: submitted %v", got)
	}
	f.runDue(t, due)
	f.runDue(t, due)
	got := f.chat.take()
	if len(got) != 1 {
		t.Fatalf("submitted %d turns at the due time, want 1: %+v", len(got), got)
	}
	tr := got[0]
	want := tandem.Turn{ID: runID(s, due), Session: schKey, User: schCreator, Text: "whoami", ReceivedAt: due, Schedule: s.ID}
	if diff := cmp.Diff(tr, want); diff != "" {
		t.Errorf("the claimed turn (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(f.scheduledTurns(t), []string{runID(s, due)}); diff != "" {
		t.Errorf("recorded scheduled turns (-got +want):\n%s", diff)
	}
	if n := len(f.audit(t, ActionScheduleRun)); n != 1 {
		t.Errorf("schedule.run records: %d, want 1", n)
	}
	s = f.schedule(t, s.ID)
	monday := at(berlin, 2026, 1, 5, 9, 0)
	if !s.Next.Equal(monday) || !s.LastRun.Equal(due) {
		t.Errorf("after Friday's run: next %s, last run %s; want next %s (Monday), last run %s", s.Next, s.LastRun, monday, due)
	}
	// Saturday and Sunday: nothing is due.
	f.runDue(t, at(berlin, 2026, 1, 3, 9, 0))
	f.runDue(t, at(berlin, 2026, 1, 4, 9, 0))
	if got := f.chat.take(); len(got) != 0 {
		t.Errorf("at the weekend: submitted %d turns", len(got))
	}

	t.Run("one-off", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "on 2026-01-03 at 10:00 whoami")
		due := at(berlin, 2026, 1, 3, 10, 0)
		if !s.Next.Equal(due) {
			t.Fatalf("one-off next %s, want %s", s.Next, due)
		}
		f.runDue(t, due.Add(2*time.Minute))
		if got := f.chat.take(); len(got) != 1 || got[0].ID != runID(s, due) {
			t.Fatalf("one-off run: submitted %+v; want %s", got, runID(s, due))
		}
		if s = f.schedule(t, s.ID); !s.Next.IsZero() {
			t.Errorf("after its run a one-off's next is %s, want none", s.Next)
		}
		f.runDue(t, due.Add(24*time.Hour))
		if got := f.chat.take(); len(got) != 0 {
			t.Errorf("a one-off ran again: %+v", got)
		}
	})
}

// TestRunDueGrace: a run late by less than the grace runs once; one late
// by more is skipped and audited, and nothing is made up for a long
// outage.
func TestRunDueGrace(t *testing.T) {
	due := at(berlin, 2026, 1, 2, 9, 0)
	t.Run("within the grace", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		f.runDue(t, due.Add(59*time.Minute))
		f.runDue(t, due.Add(59*time.Minute+30*time.Second))
		if got := f.chat.take(); len(got) != 1 || got[0].ID != runID(s, due) {
			t.Errorf("59 minutes late: submitted %+v; want %s once", got, runID(s, due))
		}
		if n := len(f.audit(t, ActionScheduleSkip)); n != 0 {
			t.Errorf("skip records: %d, want none", n)
		}
	})
	t.Run("beyond the grace", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		now := due.Add(2 * time.Hour)
		f.runDue(t, now)
		if got := f.chat.take(); len(got) != 0 {
			t.Errorf("two hours late: submitted %+v", got)
		}
		if got := f.scheduledTurns(t); len(got) != 0 {
			t.Errorf("two hours late: recorded %v", got)
		}
		skips := f.audit(t, ActionScheduleSkip)
		if len(skips) != 1 || skips[0].Outcome != tandem.OutcomeRefused || skips[0].Effective != schCreator || !strings.Contains(skips[0].Detail, due.UTC().Format(time.RFC3339)) {
			t.Errorf("skip records %+v; want one, refused, naming the run due %s", skips, due.UTC().Format(time.RFC3339))
		}
		s = f.schedule(t, s.ID)
		if monday := at(berlin, 2026, 1, 5, 9, 0); !s.Next.Equal(monday) || !s.LastRun.IsZero() {
			t.Errorf("after the skip: next %s, last run %s; want next %s and no last run", s.Next, s.LastRun, monday)
		}
	})
	t.Run("down for three days", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		// Friday 9:00 to Wednesday 12:00 in Berlin: Friday, Monday,
		// Tuesday and Wednesday were all missed by more than the grace.
		now := at(berlin, 2026, 1, 7, 12, 0)
		f.runDue(t, now)
		f.runDue(t, now.Add(time.Minute))
		if got := f.chat.take(); len(got) != 0 {
			t.Errorf("after three days down: submitted %+v", got)
		}
		if got := f.scheduledTurns(t); len(got) != 0 {
			t.Errorf("after three days down: recorded %v", got)
		}
		if n := len(f.audit(t, ActionScheduleSkip)); n < 1 || n > 4 {
			t.Errorf("skip records: %d; want between one and one per missed day", n)
		}
		s = f.schedule(t, s.ID)
		if thursday := at(berlin, 2026, 1, 8, 9, 0); !s.Next.Equal(thursday) {
			t.Errorf("after three days down: next %s, want %s", s.Next, thursday)
		}
		f.runDue(t, at(berlin, 2026, 1, 8, 9, 0))
		if got := f.chat.take(); len(got) != 1 || got[0].ID != runID(s, at(berlin, 2026, 1, 8, 9, 0)) {
			t.Errorf("the first run after the outage: %+v", got)
		}
	})
}

// TestScheduleActions: a paused schedule is never claimed; who may pause,
// resume, run and delete; a run now comes at most once every five
// minutes.
func TestScheduleActions(t *testing.T) {
	ctx := context.Background()
	due := at(berlin, 2026, 1, 2, 9, 0)

	t.Run("paused is never claimed", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, SchedulePause); err != nil {
			t.Fatal(err)
		}
		for _, now := range []time.Time{due, due.Add(time.Minute), at(berlin, 2026, 1, 5, 9, 0)} {
			f.runDue(t, now)
		}
		if got := f.chat.take(); len(got) != 0 {
			t.Errorf("a paused schedule ran: %+v", got)
		}
		if got := f.scheduledTurns(t); len(got) != 0 {
			t.Errorf("a paused schedule's runs recorded: %v", got)
		}
	})

	t.Run("run now at most every five minutes", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		now := schFriday.Add(10 * time.Minute)
		f.clock.Set(now)
		if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, ScheduleRunNow); err != nil {
			t.Fatalf("run now: %v", err)
		}
		got := f.chat.take()
		if len(got) != 1 || !strings.HasPrefix(got[0].ID, "schedule/"+s.ID+"/now/") || got[0].User != schCreator || got[0].Schedule != s.ID {
			t.Fatalf("run now submitted %+v; want one run as %s", got, schCreator)
		}
		f.clock.Set(now.Add(4*time.Minute + 59*time.Second))
		if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, ScheduleRunNow); tandem.ErrorCode(err) != tandem.ELIMIT {
			t.Errorf("run now again within five minutes: %v, want ELIMIT", err)
		}
		if got := f.chat.take(); len(got) != 0 {
			t.Errorf("refused runs submitted %+v", got)
		}
		f.clock.Set(now.Add(5 * time.Minute))
		if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, ScheduleRunNow); err != nil {
			t.Errorf("run now five minutes later: %v", err)
		}
		if got := f.chat.take(); len(got) != 1 {
			t.Errorf("run now five minutes later submitted %d turns, want 1", len(got))
		}
	})

	steps := []struct {
		by     string
		action ScheduleAction
		code   string // "" for allowed
		paused bool   // after the step
	}{
		{schOther, ScheduleRunNow, tandem.EFORBIDDEN, false},
		{schChanAdmin, ScheduleRunNow, tandem.EFORBIDDEN, false},
		{schOther, SchedulePause, tandem.EFORBIDDEN, false},
		{schChanAdmin, SchedulePause, "", true},
		{schOther, ScheduleResume, tandem.EFORBIDDEN, true},
		{schChanAdmin, ScheduleResume, tandem.EFORBIDDEN, true},
		{schCreator, ScheduleResume, "", false},
		{schAdmin, SchedulePause, "", true}, // Config.Admins count as channel admins
		{Operator, ScheduleResume, "", false},
		{Operator, SchedulePause, "", true},
		{schCreator, ScheduleRunNow, tandem.EINVALID, true}, // paused: resume first
		{schCreator, ScheduleResume, "", false},
		// The creator's own pause withdraws their consent: only they
		// resume it, not an operator.
		{schCreator, SchedulePause, "", true},
		{Operator, ScheduleResume, tandem.EFORBIDDEN, true},
		{"operator alice", ScheduleResume, tandem.EFORBIDDEN, true},
		{Operator, SchedulePause, "", true}, // paused already: still the creator's pause
		{schChanAdmin, SchedulePause, "", true},
		{Operator, ScheduleResume, tandem.EFORBIDDEN, true},
		{schCreator, ScheduleResume, "", false},
		// Paused by an operator, then by its creator: the creator's.
		{Operator, SchedulePause, "", true},
		{schCreator, SchedulePause, "", true},
		{Operator, ScheduleResume, tandem.EFORBIDDEN, true},
		{schCreator, ScheduleResume, "", false},
		{Operator, ScheduleRunNow, tandem.EFORBIDDEN, false}, // only its creator chooses when it acts as them
		{"operator alice", ScheduleRunNow, tandem.EFORBIDDEN, false},
		{schCreator, ScheduleRunNow, "", false},
		{schOther, ScheduleDelete, tandem.EFORBIDDEN, false},
		{Operator, ScheduleDelete, "", false},
	}
	t.Run("permissions", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		for i, st := range steps {
			_, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, st.by, st.action)
			if got := tandem.ErrorCode(err); (st.code == "" && err != nil) || (st.code != "" && got != st.code) {
				t.Errorf("step %d: %s %s: %v; want code %q", i, st.by, st.action, err, st.code)
			}
			if st.action == ScheduleDelete && st.code == "" {
				if _, err := f.db.Schedule(ctx, s.ID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
					t.Errorf("after the operator's delete: %v, want ENOTFOUND", err)
				}
				continue
			}
			if got := f.schedule(t, s.ID); got.Paused != st.paused {
				t.Errorf("step %d: %s %s: paused %v, want %v", i, st.by, st.action, got.Paused, st.paused)
			}
		}
		runs := f.chat.take()
		if len(runs) != 1 || runs[0].User != schCreator {
			t.Errorf("runs submitted %+v; want the creator's one run, as %s", runs, schCreator)
		}
		if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, SchedulePause); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("pause a deleted schedule: %v, want ENOTFOUND", err)
		}
		// A creator's pause by a channel admin is audited as by them.
		found := false
		for _, r := range f.audit(t, ActionSchedulePause) {
			if r.Actor == schChanAdmin && r.Effective == schCreator {
				found = true
			}
		}
		if !found {
			t.Errorf("no schedule.pause record by %s", schChanAdmin)
		}
	})

	t.Run("paused by its creator before PausedBy was kept", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		if _, err := f.db.UpdateSchedule(ctx, s.ID, func(s *tandem.Schedule) error {
			s.Paused, s.PausedWhy = true, "paused by <@"+schCreator+">"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, Operator, ScheduleResume); tandem.ErrorCode(err) != tandem.EFORBIDDEN {
			t.Errorf("an operator's resume of the creator's older pause: %v, want %s", err, tandem.EFORBIDDEN)
		}
		// Pausing it again changes nothing, says so, and audits nothing.
		if _, msg, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, Operator, SchedulePause); err != nil || !strings.Contains(msg, "paused already") {
			t.Errorf("an operator's pause of a paused schedule: %q, %v; want it said to be paused already", msg, err)
		}
		if recs := f.audit(t, ActionSchedulePause); len(recs) != 0 {
			t.Errorf("%d schedule.pause records for a pause that changed nothing", len(recs))
		}
	})

	t.Run("another team", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 whoami")
		if _, _, err := f.e.ActOnSchedule(ctx, "T_ELSEWHERE", s.ID, schCreator, SchedulePause); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("pause from another team: %v, want ENOTFOUND", err)
		}
	})
}

// persistentSession stores schKey's session, persistent, owned by
// U_OWNER.
func (f *schFixture) persistentSession(t *testing.T) {
	t.Helper()
	if _, _, err := f.db.EnsureSession(t.Context(), tandem.Session{Key: schKey, Owner: schOwner, CreatedAt: schFriday,
		Env: map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}}); err != nil {
		t.Fatal(err)
	}
}

// claim runs RunDue at due and returns the one turn it submitted.
func (f *schFixture) claim(t *testing.T, due time.Time) tandem.Turn {
	t.Helper()
	f.runDue(t, due)
	got := f.chat.take()
	if len(got) != 1 {
		t.Fatalf("RunDue at %s submitted %d turns, want 1: %+v", due, len(got), got)
	}
	return got[0]
}

// TestScheduledRunIdentity: a scheduled run in a persistent session owned
// by someone else resolves its creator's credentials, never the owner's,
// and makes the creator no editor; a run whose user is not the creator,
// or whose schedule was deleted, resolves nobody's.
func TestScheduledRunIdentity(t *testing.T) {
	due := at(berlin, 2026, 1, 2, 9, 0)
	t.Run("as the creator", func(t *testing.T) {
		f := newSchFixture(t, nil)
		f.persistentSession(t)
		s := f.create(t, schCreator, "every weekday at 9:00 acme read")
		tr := f.claim(t, due)
		out := f.runTurn(t, tr)
		if out.Err != nil || out.Identity == nil || out.Identity.SlackUser != schCreator || out.Reply.Title != "read as "+schCreator+"-fakeacme" {
			t.Fatalf("scheduled run: err %v, identity %+v, reply %q; want a read as %s", out.Err, out.Identity, out.Reply.Title, schCreator)
		}
		if diff := cmp.Diff(f.res.take(), []string{schCreator + "/acme/" + string(tandem.ReasonScheduleCreator)}); diff != "" {
			t.Errorf("credentials asked for (-got +want):\n%s", diff)
		}
		sess, err := f.db.Session(t.Context(), schKey)
		if err != nil {
			t.Fatal(err)
		}
		if sess.HasEditor(schCreator) || sess.Owner != schOwner || !sess.Persistent() {
			t.Errorf("session after the run: %+v; want %s's, persistent, without %s as an editor", sess, schOwner, schCreator)
		}
		if held := f.e.HeldIdentities(schKey); len(held) != 0 {
			t.Errorf("held for the session after a scheduled run: %+v; want nothing", held)
		}
		var resolves []tandem.AuditRecord
		for _, r := range f.audit(t, "resolve") {
			if r.TurnID == tr.ID {
				resolves = append(resolves, r)
			}
		}
		if len(resolves) != 1 || resolves[0].Effective != schCreator || resolves[0].Reason != tandem.ReasonScheduleCreator || resolves[0].Actor != "schedule:"+s.ID {
			t.Errorf("the run's resolve records %+v; want one as %s for schedule:%s", resolves, schCreator, s.ID)
		}
	})
	refusals := []struct {
		name string
		turn func(f *schFixture, s tandem.Schedule, claimed tandem.Turn) tandem.Turn
		code string
	}{
		{"user is not the creator", func(_ *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			c.ID, c.User = runID(s, due.Add(time.Hour)), schOwner
			return c
		}, tandem.EFORBIDDEN},
		{"id of no run of it", func(_ *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			c.ID = "Ev_FORGED"
			return c
		}, tandem.EFORBIDDEN},
		{"another session", func(_ *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			c.ID, c.Session = runID(s, due.Add(time.Hour)), tandem.SessionKey{Team: schKey.Team, Channel: "C_ELSEWHERE", ThreadTS: "1.0"}
			return c
		}, tandem.EFORBIDDEN},
		{"deleted schedule", func(f *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			if _, _, err := f.e.ActOnSchedule(context.Background(), schKey.Team, s.ID, schCreator, ScheduleDelete); err != nil {
				panic(err)
			}
			return c
		}, tandem.EINVALID},
		{"paused after the claim", func(f *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			if _, _, err := f.e.ActOnSchedule(context.Background(), schKey.Team, s.ID, schChanAdmin, SchedulePause); err != nil {
				panic(err)
			}
			return c
		}, tandem.EINVALID},
		// A claimed run that waited (behind the session's turns, or for a
		// restart) asks Slack again once the claim's answer is older than
		// creatorFresh.
		{"creator left the workspace after the claim", func(f *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			f.people.mu.Lock()
			f.people.deleted = map[string]bool{schCreator: true}
			f.people.mu.Unlock()
			f.clock.Advance(creatorFresh)
			return c
		}, tandem.EFORBIDDEN},
		{"creator left the channel after the claim", func(f *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			f.people.mu.Lock()
			f.people.notMember = map[string]bool{schCreator: true}
			f.people.mu.Unlock()
			f.clock.Advance(creatorFresh)
			return c
		}, tandem.EFORBIDDEN},
		{"started later than the grace after the claim", func(f *schFixture, s tandem.Schedule, c tandem.Turn) tandem.Turn {
			f.clock.Advance(f.e.scheduleGrace() + time.Second)
			return c
		}, tandem.EINVALID},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			f := newSchFixture(t, nil)
			f.persistentSession(t)
			s := f.create(t, schCreator, "every weekday at 9:00 acme read")
			tr := tt.turn(f, s, f.claim(t, due))
			out := f.runTurn(t, tr)
			if tandem.ErrorCode(out.Err) != tt.code || out.Outcome != tandem.OutcomeRefused || out.Identity != nil {
				t.Errorf("run: err %v, outcome %s, identity %+v; want %s, refused, as nobody", out.Err, out.Outcome, out.Identity, tt.code)
			}
			if got := f.res.take(); len(got) != 0 {
				t.Errorf("credentials asked for %v; want nobody's", got)
			}
			if got := f.e.HeldIdentities(schKey); len(got) != 0 {
				t.Errorf("held %+v; want nothing", got)
			}
			if strings.Contains(tt.name, "creator left") {
				if after, err := f.db.Schedule(t.Context(), s.ID); err != nil || !after.Paused {
					t.Errorf("the schedule of a creator who left: %+v, %v; want it paused", after, err)
				}
			}
		})
	}
}

// TestScheduledRunStartChecks: what a claimed run checks when it starts
// and what it checks again at each step. A claim stamped by a replica
// whose clock is ahead of this one's (so it looks younger than now) does
// not count as Slack's fresh word: Slack is asked, and a creator who left
// is found. A run that started within the grace is not stopped as late
// at a later step (an agent's read), only a run that starts late is.
func TestScheduledRunStartChecks(t *testing.T) {
	due := at(berlin, 2026, 1, 2, 9, 0)
	t.Run("a claim stamped ahead of this clock", func(t *testing.T) {
		f := newSchFixture(t, nil)
		f.create(t, schCreator, "every weekday at 9:00 acme read")
		tr := f.claim(t, due)
		f.people.mu.Lock()
		f.people.deleted = map[string]bool{schCreator: true}
		f.people.mu.Unlock()
		f.clock.Set(due.Add(-time.Minute)) // this replica's clock is a minute behind the claimer's
		out := f.runTurn(t, tr)
		if tandem.ErrorCode(out.Err) != tandem.EFORBIDDEN || out.Identity != nil {
			t.Errorf("run: err %v, identity %+v; want refused as nobody, the creator having left", out.Err, out.Identity)
		}
	})
	t.Run("late only when starting", func(t *testing.T) {
		f := newSchFixture(t, nil)
		f.create(t, schCreator, "every weekday at 9:00 acme read")
		tr := f.claim(t, due)
		vouched, err := f.e.scheduleStands(t.Context(), tr, tr.ReceivedAt, true)
		if err != nil {
			t.Fatalf("at its start: %v", err)
		}
		f.clock.Advance(f.e.scheduleGrace() + time.Minute) // a long plan
		if _, err := f.e.scheduleStands(t.Context(), tr, vouched, false); err != nil {
			t.Errorf("a step of a run that started in time, past the grace: %v; want it to go on", err)
		}
		if _, err := f.e.scheduleStands(t.Context(), tr, vouched, true); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("a start past the grace: %v; want it skipped", err)
		}
	})
}

// TestScheduleLinkGap: the creator is told once per gap that their link is
// missing; a run that gets past it ends the gap, and the next gap is told
// again.
func TestScheduleLinkGap(t *testing.T) {
	f := newSchFixture(t, nil)
	s := f.create(t, schCreator, "every day at 9:00 acme read")
	day := func(d int) time.Time { return at(berlin, 2026, 1, d, 9, 0) }
	run := func(d int) Result {
		t.Helper()
		return f.runTurn(t, f.claim(t, day(d)))
	}
	wantDM := s.ID + "/acme/false"

	f.res.setMissing(schCreator, true)
	out := run(2)
	var nc *tandem.NotConnectedError
	if !errors.As(out.Err, &nc) || nc.User != schCreator {
		t.Fatalf("first run: %v; want the creator's link missing", out.Err)
	}
	if diff := cmp.Diff(f.note.linkDMs(), []string{wantDM}); diff != "" {
		t.Errorf("after the first failure, DMs (-got +want):\n%s", diff)
	}
	if g := f.schedule(t, s.ID).Gap; g != "acme" {
		t.Errorf("gap %q, want acme", g)
	}
	run(3)
	if diff := cmp.Diff(f.note.linkDMs(), []string{wantDM}); diff != "" {
		t.Errorf("after the second failure, DMs (-got +want):\n%s", diff)
	}
	// A run refused before it came to credentials (it started later than
	// the grace) says nothing of the link: the gap stays, and the next
	// failure sends no second DM.
	late := f.claim(t, day(4))
	f.clock.Advance(f.e.scheduleGrace() + time.Minute)
	if out := f.runTurn(t, late); tandem.ErrorCode(out.Err) != tandem.EINVALID || out.Identity != nil {
		t.Fatalf("a late start: %v, %+v; want it skipped before any credentials", out.Err, out.Identity)
	}
	if g := f.schedule(t, s.ID).Gap; g != "acme" {
		t.Errorf("gap after a skipped run %q, want acme still", g)
	}
	run(5)
	if diff := cmp.Diff(f.note.linkDMs(), []string{wantDM}); diff != "" {
		t.Errorf("after a failure behind a skipped run, DMs (-got +want):\n%s", diff)
	}
	f.res.setMissing(schCreator, false)
	if out := run(6); out.Err != nil {
		t.Fatalf("run after linking: %v", out.Err)
	}
	if g := f.schedule(t, s.ID).Gap; g != "" {
		t.Errorf("gap after a good run %q, want none", g)
	}
	f.res.setMissing(schCreator, true)
	run(7)
	if diff := cmp.Diff(f.note.linkDMs(), []string{wantDM, wantDM}); diff != "" {
		t.Errorf("after a new gap, DMs (-got +want):\n%s", diff)
	}
	// Every resolution was the creator's own.
	for _, a := range f.res.take() {
		if !strings.HasPrefix(a, schCreator+"/") {
			t.Errorf("credentials asked for %s", a)
		}
	}
}

// TestScheduleCreatorGone: a due run of a creator who left the workspace
// or the channel runs nothing, pauses the schedule and tells the channel's
// admins.
func TestScheduleCreatorGone(t *testing.T) {
	due := at(berlin, 2026, 1, 2, 9, 0)
	for _, tt := range []struct {
		name string
		gone func(p *schPeople)
		why  string
	}{
		{"left the workspace", func(p *schPeople) { p.deleted = map[string]bool{schCreator: true} }, "left the workspace"},
		{"left the channel", func(p *schPeople) { p.notMember = map[string]bool{schCreator: true} }, "no longer in this channel"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newSchFixture(t, nil)
			s := f.create(t, schCreator, "every weekday at 9:00 acme read")
			f.people.mu.Lock()
			tt.gone(f.people)
			f.people.mu.Unlock()
			f.runDue(t, due)
			f.runDue(t, due.Add(time.Minute))
			if got := f.chat.take(); len(got) != 0 {
				t.Errorf("submitted %+v; want nothing", got)
			}
			if got := f.scheduledTurns(t); len(got) != 0 {
				t.Errorf("recorded %v; want nothing", got)
			}
			if got := f.res.take(); len(got) != 0 {
				t.Errorf("credentials asked for %v", got)
			}
			s = f.schedule(t, s.ID)
			if !s.Paused || !strings.Contains(s.PausedWhy, tt.why) {
				t.Errorf("paused %v (%q); want paused, saying %q", s.Paused, s.PausedWhy, tt.why)
			}
			f.note.mu.Lock()
			paused := slices.Clone(f.note.paused)
			f.note.mu.Unlock()
			if len(paused) != 1 || paused[0].ID != s.ID || !strings.Contains(paused[0].Why, tt.why) {
				t.Fatalf("SchedulePaused calls %+v; want one for %s", paused, s.ID)
			}
			admins := slices.Sorted(slices.Values(paused[0].Admins))
			if diff := cmp.Diff(admins, []string{schChanAdmin, schAdmin}); diff != "" {
				t.Errorf("admins told (-got +want):\n%s", diff)
			}
			recs := f.audit(t, ActionSchedulePause)
			if len(recs) != 1 || recs[0].Effective != schCreator || recs[0].Outcome != tandem.OutcomeRefused {
				t.Errorf("schedule.pause records %+v; want one", recs)
			}
		})
	}
}

// TestScheduleWaitsWhileSlackCannotSay: a due run whose creator Slack
// cannot vouch for (users.info or the channel's members failing) does not
// run on a guess; it stays due, and the next look, within the grace, runs
// it once Slack answers.
func TestScheduleWaitsWhileSlackCannotSay(t *testing.T) {
	due := at(berlin, 2026, 1, 2, 9, 0)
	f := newSchFixture(t, nil)
	s := f.create(t, schCreator, "every weekday at 9:00 acme read")
	f.e.cfg.People = failingPeople{}
	f.clock.Set(due)
	if err := f.e.RunDue(t.Context(), due); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("RunDue while Slack cannot say: %v, want %s", err, tandem.EUNAVAILABLE)
	}
	if got := f.scheduledTurns(t); len(got) != 0 {
		t.Errorf("recorded %v while Slack could not say; want nothing", got)
	}
	if got := f.schedule(t, s.ID); !got.Next.Equal(s.Next) || got.Paused {
		t.Errorf("schedule after the failed look: next %s (was %s), paused %v; want it still due", got.Next, s.Next, got.Paused)
	}
	f.e.cfg.People = f.people
	f.runDue(t, due.Add(15*time.Second))
	if got := f.scheduledTurns(t); len(got) != 1 {
		t.Errorf("recorded %v once Slack answered; want the due run", got)
	}
}

// TestRunDueFromAStaleListing: replicas list the due schedules and then
// act on what they listed, so each may hold a listing another has already
// acted on. What runDue decides is taken once all the same: a creator who
// left pauses the schedule and tells the admins once, a missed run is
// audited as skipped once, and a Run now pressed after the listing keeps
// the due run from following within five minutes.
func TestRunDueFromAStaleListing(t *testing.T) {
	due := at(berlin, 2026, 1, 2, 9, 0)
	t.Run("creator gone", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 acme read")
		f.people.mu.Lock()
		f.people.deleted = map[string]bool{schCreator: true}
		f.people.mu.Unlock()
		f.clock.Set(due)
		for range 2 {
			if err := f.e.runDue(t.Context(), s, due); err != nil {
				t.Fatal(err)
			}
		}
		f.note.mu.Lock()
		paused := len(f.note.paused)
		f.note.mu.Unlock()
		if paused != 1 {
			t.Errorf("admins told %d times; want once", paused)
		}
		if n := len(f.audit(t, ActionSchedulePause)); n != 1 {
			t.Errorf("%d schedule.pause records; want 1", n)
		}
	})
	t.Run("missed beyond the grace", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 acme read")
		now := due.Add(2 * time.Hour)
		f.clock.Set(now)
		for range 2 {
			if err := f.e.runDue(t.Context(), s, now); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(f.audit(t, ActionScheduleSkip)); n != 1 {
			t.Errorf("%d schedule.skip records; want 1", n)
		}
		if got := f.scheduledTurns(t); len(got) != 0 {
			t.Errorf("claimed %v; want nothing", got)
		}
	})
	t.Run("run now after the listing", func(t *testing.T) {
		f := newSchFixture(t, nil)
		s := f.create(t, schCreator, "every weekday at 9:00 acme read")
		f.clock.Set(due.Add(-2 * time.Minute))
		if _, _, err := f.e.ActOnSchedule(t.Context(), schKey.Team, s.ID, schCreator, ScheduleRunNow); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(due)
		if err := f.e.runDue(t.Context(), s, due); err != nil {
			t.Fatal(err)
		}
		got := f.scheduledTurns(t)
		if len(got) != 1 || !strings.Contains(got[0], "/now/") {
			t.Errorf("claimed %v; want only the run now", got)
		}
		if n := len(f.audit(t, ActionScheduleSkip)); n != 1 {
			t.Errorf("%d schedule.skip records; want 1 for the due run", n)
		}
		if next := f.schedule(t, s.ID).Next; !next.After(due) {
			t.Errorf("next run %s; want past %s", next, due)
		}
	})
}
