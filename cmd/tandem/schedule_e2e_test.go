package main

// Schedules end to end (issue 19): the real run, the fake Slack and fake
// providers, and tandem serve's clock moved by the test (testClock), so a
// due time is reached at once and nothing sleeps for a schedule.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store"
)

// testClock is tandem serve's clock in a test: the wall clock moved by an
// offset the test sets, so time still flows for leases and timers while a
// schedule's due time is reached at once.
type testClock struct {
	offset atomic.Int64
	file   string // shared with child processes (shareWith), when set
}

// useTestClock makes tandem serve, started after it, read c and look for
// due schedules every 20 ms.
func useTestClock(t *testing.T) *testClock {
	c := &testClock{}
	clock.now, clock.tick = c.now, 20*time.Millisecond
	t.Cleanup(func() { clock.now, clock.tick = nil, 0 })
	return c
}

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// jumpTo moves the clock so that it reads at now.
func (c *testClock) jumpTo(at time.Time) {
	c.offset.Store(int64(time.Until(at)))
	if c.file != "" {
		if err := os.WriteFile(c.file, []byte(strconv.FormatInt(c.offset.Load(), 10)), 0o600); err != nil {
			panic(err)
		}
	}
}

// nextAt is the first time after now at hh:mm in loc on a day ok accepts.
func nextAt(now time.Time, loc *time.Location, hh, mm int, ok func(time.Weekday) bool) time.Time {
	d := now.In(loc)
	for i := 0; i < 14; i++ {
		day := time.Date(d.Year(), d.Month(), d.Day()+i, hh, mm, 0, 0, loc)
		if day.After(now) && ok(day.Weekday()) {
			return day
		}
	}
	panic("no such day")
}

func weekday(d time.Weekday) bool { return d != time.Saturday && d != time.Sunday }
func anyDay(time.Weekday) bool    { return true }

// dms counts the direct messages to user that contain want.
func (e *env) dms(user, want string) int {
	return e.count(func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.Channel == "D"+user && strings.Contains(plain(m), want)
	})
}

// inThread counts the visible replies in thread that contain want.
func (e *env) inThread(thread, want string) int {
	return e.count(func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.ThreadTS == thread && strings.Contains(plain(m), want)
	})
}

// schedules reads the schedules from the bbolt file of a stopped serve.
func (e *env) schedules() []tandem.Schedule {
	e.t.Helper()
	db := e.openDB()
	defer db.Close()
	list, err := db.Schedules(ctxFor(e.t), tandem.ScheduleFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

func (e *env) openDB() *store.DB {
	e.t.Helper()
	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A weekday standup made by Bob in Alice's persistent session runs as Bob
// (his GitHub, not Alice's, and his own missing GitLab), at 09:00 in Bob's
// Slack time zone.
func TestScheduleRunsAsCreatorInAnOwnersPersistentSession(t *testing.T) {
	clk := useTestClock(t)
	e := newEnvWith(t, func(o *fakeslack.Options) {
		for i := range o.Users {
			if o.Users[i].ID == "UBOB" {
				o.Users[i].TZ = "Europe/Berlin"
			}
		}
	})
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
	e.setPersistent("UALICE", root, "UBOB")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UALICE> (persistent session) · GitHub: alice-gh")

	now := clk.now()
	due := nextAt(now, berlin(t), 9, 0, weekday)
	made := e.ask("UBOB", "every weekday at 9:00 standup", root, "Scheduled: standup")
	for _, want := range []string{
		"Every Monday to Friday at 09:00 Europe/Berlin, <@UBOB>'s time zone from Slack",
		"next run " + due.Format("Mon 2 Jan 15:04"),
		"runs as <@UBOB>", "Pause", "Delete", "Run now",
	} {
		if !strings.Contains(plain(made), want) {
			t.Errorf("confirmation lacks %q:\n%s", want, plain(made))
		}
	}

	before := len(e.searchLogins())
	clk.jumpTo(due.Add(time.Second))
	run := e.reply(root, "Your standup")
	for _, want := range []string{"scheduled by <@UBOB> · ran as <@UBOB>", "(as bob-gh)", "GitLab credentials not configured"} {
		if !strings.Contains(plain(run), want) {
			t.Errorf("the scheduled standup lacks %q:\n%s", want, plain(run))
		}
	}
	logins := e.searchLogins()[before:]
	if strings.Join(logins, ",") != "bob-gh" {
		t.Fatalf("the scheduled run searched GitHub as %v; it must be Bob's own account, once", logins)
	}
	// The next run is the next weekday; the clock staying put runs nothing more.
	e.ask("UBOB", "schedules", root, "next run "+nextAt(due, berlin(t), 9, 0, weekday).Format("Mon 2 Jan 15:04"))
	if n := len(e.searchLogins()) - before; n != 1 {
		t.Errorf("%d scheduled searches; want 1", n)
	}
	e.stop()
	var rec *tandem.AuditRecord
	for _, r := range e.auditOf(root) {
		if r.Action == "resolve" && strings.HasPrefix(r.Actor, "schedule:") {
			rec = &r
		}
	}
	if rec == nil || rec.Effective != "UBOB" || rec.Reason != tandem.ReasonScheduleCreator {
		t.Errorf("the run's audit record is %+v; want effective UBOB, reason schedule_creator", rec)
	}
}

// Carol, who has no GitHub link, gets one DM for the gap however many runs
// it stops, the thread a short note each time, and nothing reaches GitHub;
// once she connects, the next run runs as her.
func TestScheduleWaitsForItsCreatorsLink(t *testing.T) {
	clk := useTestClock(t)
	e := newEnv(t)
	e.start()
	root, _ := e.mention("UCAROL", "every day at 7:30 list my open PRs", "")
	e.reply(root, "Every day at 07:30 Etc/UTC")
	due := nextAt(clk.now(), time.UTC, 7, 30, anyDay)

	clk.jumpTo(due.Add(time.Second))
	e.reply(root, "Scheduled run skipped")
	waitFor(t, "the DM to Carol", func() bool {
		return e.dms("UCAROL", "Your schedule did not run: GitHub credentials not configured") == 1
	})
	clk.jumpTo(due.Add(24*time.Hour + time.Second))
	waitFor(t, "the second skipped run's note", func() bool { return e.inThread(root, "Scheduled run skipped") == 2 })
	if n := e.dms("UCAROL", "Your schedule did not run"); n != 1 {
		t.Errorf("Carol got %d DMs for one gap; want 1", n)
	}
	if n := len(e.searchLogins()); n != 0 {
		t.Fatalf("%d GitHub searches before Carol connected", n)
	}
	e.connect("UCAROL", "carol-gh")
	clk.jumpTo(due.Add(48*time.Hour + time.Second))
	e.reply(root, "scheduled by <@UCAROL> · ran as <@UCAROL> · GitHub: carol-gh")
	if got := strings.Join(e.searchLogins(), ","); got != "carol-gh" {
		t.Errorf("searches ran as %s; want carol-gh once", got)
	}
}

// A schedule whose creator left the workspace pauses instead of running,
// and the channel's admins (here its creator, Alice) are told; so does one
// whose creator Slack no longer knows at all (an erased account).
func TestSchedulePausesWhenItsCreatorLeaves(t *testing.T) {
	for _, tt := range []struct {
		name  string
		leave func(*fakeslack.Server)
	}{
		{"deactivated", func(s *fakeslack.Server) {
			s.AddUser(fakeslack.User{ID: "UDAVE", Name: "dave", RealName: "dave", Deleted: true})
		}},
		{"erased", func(s *fakeslack.Server) { s.RemoveUser("UDAVE") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := useTestClock(t)
			e := newEnv(t)
			e.start()
			e.connect("UDAVE", "dave-gh")
			root, _ := e.mention("UDAVE", "every day at 8:00 list my open PRs", "")
			e.reply(root, "Scheduled: list my open PRs")
			tt.leave(e.slack)
			clk.jumpTo(nextAt(clk.now(), time.UTC, 8, 0, anyDay).Add(time.Second))
			e.reply(root, "left the workspace")
			waitFor(t, "the DM to the channel's creator", func() bool { return e.dms("UALICE", "Schedule paused") == 1 })
			if n := len(e.searchLogins()); n != 0 {
				t.Errorf("%d GitHub searches by a schedule whose creator left", n)
			}
			e.stop()
			list := e.schedules()
			if len(list) != 1 || !list[0].Paused || !strings.Contains(list[0].PausedWhy, "left the workspace") {
				t.Errorf("schedules after the creator left: %+v", list)
			}
		})
	}
}

// Tandem down across a due time: back within the grace, the missed run
// runs once; back after it, the run is skipped and audited.
func TestScheduleMissedWhileDownRunsWithinTheGraceOnly(t *testing.T) {
	clk := useTestClock(t)
	e := newEnv(t)
	e.vars["TANDEM_SCHEDULE_GRACE"] = "30m"
	e.start()
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UBOB", "every day at 6:00 list my open PRs", "")
	e.reply(root, "Scheduled: list my open PRs")
	due := nextAt(clk.now(), time.UTC, 6, 0, anyDay)
	e.stop()

	clk.jumpTo(due.Add(20 * time.Minute))
	e.start()
	e.reply(root, "scheduled by <@UBOB> · ran as <@UBOB>")
	e.stop()

	clk.jumpTo(due.Add(24*time.Hour + 45*time.Minute))
	e.start()
	e.ask("UBOB", "schedules", root, "next run "+due.Add(48*time.Hour).Format("Mon 2 Jan 15:04"))
	e.stop()
	if n := e.inThread(root, "scheduled by <@UBOB>"); n != 1 {
		t.Errorf("%d scheduled runs; want only the one within the grace", n)
	}
	skipped := 0
	for _, r := range e.auditOf(root) {
		if r.Action == "schedule.skip" && strings.Contains(r.Detail, "more than the grace of 30m") {
			skipped++
		}
	}
	if skipped != 1 {
		t.Errorf("%d skip records; want 1", skipped)
	}
}

// clockFileVar names, for a child tandem serve (TestMain), a file that
// holds its clock's offset from the wall clock in nanoseconds: the parent's
// testClock writes it on every jump.
const clockFileVar = "TANDEM_TEST_CLOCK_FILE"

// fileClock is the clock of a child whose offset is in file (re-read at
// most every 10 ms; a file it cannot read leaves the offset as it was).
func fileClock(file string) func() time.Time {
	var mu sync.Mutex
	var offset time.Duration
	var read time.Time
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(read) > 10*time.Millisecond {
			if b, err := os.ReadFile(file); err == nil {
				if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
					offset = time.Duration(n)
				}
			}
			read = time.Now()
		}
		return time.Now().Add(offset)
	}
}

// shareWith makes c the clock of e's child processes too.
func (c *testClock) shareWith(e *env) {
	c.file = filepath.Join(e.t.TempDir(), "clock")
	c.jumpTo(c.now())
	e.vars[clockFileVar] = c.file
}

// A scheduled change cut off by kill -9 after it reached GitHub is never
// made again: the restarted process says it was interrupted, and its due
// time is not claimed a second time.
func TestScheduledChangeKilledMidRunIsNotMadeTwice(t *testing.T) {
	clk := useTestClock(t)
	e := newEnv(t)
	clk.shareWith(e)
	ref := e.addFaultRepo()
	p := e.startProc(e.vars["TANDEM_HTTP_ADDR"])
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UBOB", "every day at 5:45 comment on "+ref+" nightly-check-7f3a", "")
	e.reply(root, "Scheduled: comment on")

	stored, release := e.gh.HoldComments()
	defer release()
	clk.jumpTo(nextAt(clk.now(), time.UTC, 5, 45, anyDay).Add(time.Second))
	select {
	case <-stored:
	case <-time.After(30 * time.Second):
		t.Fatalf("the scheduled comment never reached GitHub:\n%s", p.logs)
	}
	p.kill()
	release()
	p2 := e.startProc(e.vars["TANDEM_HTTP_ADDR"])
	e.reply(root, interruptedTitle)
	e.ask("UBOB", "schedules", root, "Schedules in this thread")
	p2.kill()
	p.checkRaces()
	p2.checkRaces()
	n := 0
	for _, c := range e.gh.Comments() {
		if strings.Contains(c.Body, "nightly-check-7f3a") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d scheduled comments on GitHub; want exactly 1", n)
	}
	runs := 0
	for _, r := range e.auditOf(root) {
		if r.Action == "schedule.run" {
			runs++
		}
	}
	if runs != 1 {
		t.Errorf("%d schedule.run records; the due time must be claimed once", runs)
	}
}
