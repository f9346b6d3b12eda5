package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

// schedule returns a schedule of creator in session, created at T0 plus
// created, due at T0 plus next.
func schedule(id string, session tandem.SessionKey, creator string, created, next time.Duration) tandem.Schedule {
	return tandem.Schedule{
		ID: id, Session: session, Creator: creator, Text: "prs " + id,
		Cron: "0 9 * * 1-5", Zone: "Europe/Berlin",
		CreatedAt: T0.Add(created), Next: T0.Add(next),
	}
}

func scheduleIDs(ss []tandem.Schedule) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func create(t *testing.T, s tandem.Store, sc tandem.Schedule, max int) {
	t.Helper()
	must(t, "CreateSchedule "+sc.ID, s.CreateSchedule(t.Context(), sc, max, ""))
}

var (
	sessionA2 = tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1740830400.000200"}
	sessionB  = tandem.SessionKey{Team: "T2", Channel: "C1", ThreadTS: "1740830400.000100"}
)

func testSchedules(t *testing.T, open func(t *testing.T) tandem.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		// Times in zones other than UTC: stores may give them back in UTC,
		// as long as they are the same instants (the diff uses Equal).
		berlin := time.FixedZone("CET", 3600)
		full := tandem.Schedule{
			ID: "sch_full", Session: sessionA, Creator: "U1", Text: "prs review-requested",
			Cron: "30 8 * * 1-5", Zone: "Europe/Berlin", ZoneFromSlack: true,
			CreatedAt: T0.In(berlin), Next: T0.Add(20 * time.Hour).In(berlin), LastRun: T0.Add(-4 * time.Hour),
			Paused: true, PausedWhy: "paused by @bob", Gap: tandem.GitHub,
		}
		oneOff := tandem.Schedule{
			ID: "sch_once", Session: sessionA2, Creator: "U2", Text: "calendar",
			Zone: "America/New_York", At: T0.Add(26 * time.Hour), CreatedAt: T0.Add(time.Second),
			Next: T0.Add(26 * time.Hour),
		}
		for _, want := range []tandem.Schedule{full, oneOff} {
			create(t, s, want, 0)
			got, err := s.Schedule(ctx, want.ID)
			must(t, "Schedule "+want.ID, err)
			if d := gocmp.Diff(got, want, diffOpts...); d != "" {
				t.Errorf("Schedule %s (-got +want):\n%s", want.ID, d)
			}
		}
		all, err := s.Schedules(ctx, tandem.ScheduleFilter{})
		must(t, "Schedules", err)
		if d := gocmp.Diff(all, []tandem.Schedule{full, oneOff}, diffOpts...); d != "" {
			t.Errorf("Schedules (-got +want):\n%s", d)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		s := open(t)
		ok := schedule("sch_1", sessionA, "U1", 0, time.Hour)
		for name, change := range map[string]func(*tandem.Schedule){
			"NoID":       func(sc *tandem.Schedule) { sc.ID = "" },
			"NoCreator":  func(sc *tandem.Schedule) { sc.Creator = "" },
			"NoTeam":     func(sc *tandem.Schedule) { sc.Session.Team = "" },
			"NoThread":   func(sc *tandem.Schedule) { sc.Session.ThreadTS = "" },
			"SlashInID":  func(sc *tandem.Schedule) { sc.ID = "a/b" },
			"ChannelBar": func(sc *tandem.Schedule) { sc.Session.Channel = "C|1" },
		} {
			sc := ok
			change(&sc)
			wantCode(t, "CreateSchedule "+name, s.CreateSchedule(t.Context(), sc, 0, ""), tandem.EINVALID)
		}
		got, err := s.Schedules(t.Context(), tandem.ScheduleFilter{})
		if err != nil || len(got) != 0 {
			t.Errorf("Schedules after refusals = %v, %v; want none", scheduleIDs(got), err)
		}
	})

	t.Run("ForAnUnfinishedTurnOnly", func(t *testing.T) {
		// A schedule asked for by a turn is stored only while that turn
		// is unfinished: a runner that lost the session's lease never
		// makes one after another runner finished the turn (and its
		// creator deleted what that runner made).
		s := open(t)
		ctx := t.Context()
		record(t, s, turn("Ev1", "1740830400.000100"))
		must(t, "CreateSchedule for a pending turn", s.CreateSchedule(ctx, schedule("sch_1", sessionA, "U1", 0, time.Hour), 0, "Ev1"))
		must(t, "done", s.StepTurn(ctx, "Ev1", tandem.TurnStep{State: tandem.TurnDone}))
		if err := s.CreateSchedule(ctx, schedule("sch_2", sessionA, "U1", 0, time.Hour), 0, "Ev1"); !errors.Is(err, tandem.ErrTurnDone) {
			t.Errorf("CreateSchedule for a done turn: %v, want ErrTurnDone", err)
		}
		wantCode(t, "CreateSchedule for an unknown turn", s.CreateSchedule(ctx, schedule("sch_3", sessionA, "U1", 0, time.Hour), 0, "EvNone"), tandem.ENOTFOUND)
		all, err := s.Schedules(ctx, tandem.ScheduleFilter{})
		must(t, "Schedules", err)
		if len(all) != 1 || all[0].ID != "sch_1" {
			t.Errorf("schedules = %+v, want only sch_1", all)
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		s := open(t)
		first := schedule("sch_1", sessionA, "U1", 0, time.Hour)
		create(t, s, first, 0)
		again := schedule("sch_1", sessionB, "U2", time.Minute, 2*time.Hour)
		again.Text = "something else"
		wantCode(t, "CreateSchedule of a taken id", s.CreateSchedule(t.Context(), again, 0, ""), tandem.ECONFLICT)
		wantCode(t, "CreateSchedule of a taken id under a limit", s.CreateSchedule(t.Context(), again, 5, ""), tandem.ECONFLICT)
		got, err := s.Schedule(t.Context(), "sch_1")
		must(t, "Schedule", err)
		if d := gocmp.Diff(got, first, diffOpts...); d != "" {
			t.Errorf("a duplicate replaced the stored schedule (-got +want):\n%s", d)
		}
	})

	t.Run("Limit", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		create(t, s, schedule("sch_1", sessionA, "U1", 0, time.Hour), 2)
		create(t, s, schedule("sch_2", sessionA2, "U1", time.Second, time.Hour), 2)
		err := s.CreateSchedule(ctx, schedule("sch_3", sessionA, "U1", 2*time.Second, time.Hour), 2, "")
		wantCode(t, "CreateSchedule over the limit", err, tandem.ELIMIT)
		if msg := tandem.ErrorMessage(err); msg == "" {
			t.Error("ELIMIT has no message for the person")
		}
		_, err = s.Schedule(ctx, "sch_3")
		wantCode(t, "Schedule refused by the limit", err, tandem.ENOTFOUND)

		// Another creator in the team, and the same creator in another
		// team, have limits of their own.
		create(t, s, schedule("sch_u2", sessionA, "U2", 0, time.Hour), 2)
		create(t, s, schedule("sch_t2", sessionB, "U1", 0, time.Hour), 2)
		create(t, s, schedule("sch_t2b", sessionB, "U1", 0, time.Hour), 2)

		// max <= 0 is no limit.
		create(t, s, schedule("sch_0", sessionA, "U1", 3*time.Second, time.Hour), 0)
		create(t, s, schedule("sch_neg", sessionA, "U1", 4*time.Second, time.Hour), -1)

		// A larger limit counts what is there.
		wantCode(t, "CreateSchedule at a limit of 4", s.CreateSchedule(ctx, schedule("sch_4", sessionA, "U1", 0, time.Hour), 4, ""), tandem.ELIMIT)
		create(t, s, schedule("sch_5", sessionA, "U1", 5*time.Second, time.Hour), 5)

		// Deleting one frees its place.
		must(t, "DeleteSchedule", s.DeleteSchedule(ctx, "sch_1"))
		create(t, s, schedule("sch_6", sessionA, "U1", 6*time.Second, time.Hour), 5)

		mine, err := s.Schedules(ctx, tandem.ScheduleFilter{Team: "T1", Creator: "U1"})
		must(t, "Schedules", err)
		if d := gocmp.Diff(scheduleIDs(mine), []string{"sch_2", "sch_0", "sch_neg", "sch_5", "sch_6"}); d != "" {
			t.Errorf("U1's schedules in T1 (-got +want):\n%s", d)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		paused := schedule("sch_d", sessionB, "U1", 2*time.Minute, 0)
		paused.Paused, paused.PausedWhy = true, "paused by @bob"
		ran := schedule("sch_c", sessionA2, "U1", 2*time.Minute, 0)
		ran.Next = time.Time{} // a one-off that ran
		for _, sc := range []tandem.Schedule{
			schedule("sch_a", sessionA, "U1", 3*time.Minute, time.Hour), // due later
			schedule("sch_b", sessionA, "U2", time.Minute, -time.Hour),  // overdue
			paused, // inserted before sch_c, created at the same time
			ran,
			schedule("sch_e", sessionB, "U3", 0, 0), // due exactly at T0
		} {
			create(t, s, sc, 0)
		}
		for _, tt := range []struct {
			name string
			f    tandem.ScheduleFilter
			want []string
		}{
			{"All", tandem.ScheduleFilter{}, []string{"sch_e", "sch_b", "sch_c", "sch_d", "sch_a"}},
			{"Team", tandem.ScheduleFilter{Team: "T1"}, []string{"sch_b", "sch_c", "sch_a"}},
			{"Creator", tandem.ScheduleFilter{Creator: "U1"}, []string{"sch_c", "sch_d", "sch_a"}},
			{"TeamAndCreator", tandem.ScheduleFilter{Team: "T2", Creator: "U1"}, []string{"sch_d"}},
			{"Session", tandem.ScheduleFilter{Session: &sessionA}, []string{"sch_b", "sch_a"}},
			{"SessionAndCreator", tandem.ScheduleFilter{Session: &sessionA, Creator: "U2"}, []string{"sch_b"}},
			{"SessionOfAnotherTeam", tandem.ScheduleFilter{Session: &sessionB, Team: "T1"}, nil},
			{"DueByInclusive", tandem.ScheduleFilter{DueBy: T0}, []string{"sch_e", "sch_b"}},
			{"DueByLater", tandem.ScheduleFilter{DueBy: T0.Add(2 * time.Hour)}, []string{"sch_e", "sch_b", "sch_a"}},
			{"DueByBeforeAll", tandem.ScheduleFilter{DueBy: T0.Add(-2 * time.Hour)}, nil},
			{"DueByAndTeam", tandem.ScheduleFilter{DueBy: T0, Team: "T1"}, []string{"sch_b"}},
			{"DueByAndCreator", tandem.ScheduleFilter{DueBy: T0.Add(2 * time.Hour), Creator: "U1"}, []string{"sch_a"}},
			{"DueByAndSession", tandem.ScheduleFilter{DueBy: T0.Add(2 * time.Hour), Session: &sessionB}, []string{"sch_e"}},
			{"NoMatch", tandem.ScheduleFilter{Creator: "U404"}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Schedules(ctx, tt.f)
				must(t, "Schedules", err)
				if d := gocmp.Diff(scheduleIDs(got), tt.want); d != "" {
					t.Errorf("Schedules(%+v) (-got +want):\n%s", tt.f, d)
				}
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		create(t, s, schedule("sch_1", sessionA, "U1", 0, time.Hour), 0)
		got, err := s.UpdateSchedule(ctx, "sch_1", func(sc *tandem.Schedule) error {
			sc.ID = "sch_other" // ignored: the id is the schedule's
			sc.LastRun = T0.Add(time.Hour)
			sc.Next = T0.Add(-time.Minute)
			sc.Text = "issues"
			sc.Gap = tandem.Jira
			return nil
		})
		must(t, "UpdateSchedule", err)
		want := schedule("sch_1", sessionA, "U1", 0, -time.Minute)
		want.LastRun, want.Text, want.Gap = T0.Add(time.Hour), "issues", tandem.Jira
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("UpdateSchedule returned (-got +want):\n%s", d)
		}
		stored, err := s.Schedule(ctx, "sch_1")
		must(t, "Schedule", err)
		if d := gocmp.Diff(stored, want, diffOpts...); d != "" {
			t.Errorf("stored after UpdateSchedule (-got +want):\n%s", d)
		}
		if _, err := s.Schedule(ctx, "sch_other"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("fn's change of the id stored a schedule under it: %v", err)
		}
		// Queries see the update: it is due now, and not once paused.
		due, err := s.Schedules(ctx, tandem.ScheduleFilter{DueBy: T0})
		must(t, "Schedules", err)
		if d := gocmp.Diff(scheduleIDs(due), []string{"sch_1"}); d != "" {
			t.Errorf("due after moving Next (-got +want):\n%s", d)
		}
		_, err = s.UpdateSchedule(ctx, "sch_1", func(sc *tandem.Schedule) error {
			sc.Paused, sc.PausedWhy = true, "paused by @bob"
			return nil
		})
		must(t, "UpdateSchedule pause", err)
		if due, _ := s.Schedules(ctx, tandem.ScheduleFilter{DueBy: T0}); len(due) != 0 {
			t.Errorf("a paused schedule is due: %v", scheduleIDs(due))
		}
		_, err = s.UpdateSchedule(ctx, "sch_1", func(sc *tandem.Schedule) error {
			sc.Creator = ""
			return nil
		})
		wantCode(t, "UpdateSchedule leaving no creator", err, tandem.EINVALID)
	})

	t.Run("UpdateFnFails", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		want := schedule("sch_1", sessionA, "U1", 0, time.Hour)
		create(t, s, want, 0)
		boom := tandem.Errorf(tandem.EFORBIDDEN, "only its creator may change it")
		_, err := s.UpdateSchedule(ctx, "sch_1", func(sc *tandem.Schedule) error {
			sc.Text, sc.Paused = "changed", true
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("UpdateSchedule with a failing fn: %v, want its error", err)
		}
		wantCode(t, "UpdateSchedule with a failing fn", err, tandem.EFORBIDDEN)
		got, err := s.Schedule(ctx, "sch_1")
		must(t, "Schedule", err)
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("a failing fn's change was stored (-got +want):\n%s", d)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		create(t, s, schedule("sch_1", sessionA, "U1", 0, time.Hour), 0)
		_, err := s.Schedule(ctx, "sch_404")
		wantCode(t, "Schedule of an unknown id", err, tandem.ENOTFOUND)
		called := false
		_, err = s.UpdateSchedule(ctx, "sch_404", func(*tandem.Schedule) error { called = true; return nil })
		wantCode(t, "UpdateSchedule of an unknown id", err, tandem.ENOTFOUND)
		if called {
			t.Error("UpdateSchedule called fn for an unknown id")
		}
		wantCode(t, "DeleteSchedule of an unknown id", s.DeleteSchedule(ctx, "sch_404"), tandem.ENOTFOUND)

		must(t, "DeleteSchedule", s.DeleteSchedule(ctx, "sch_1"))
		_, err = s.Schedule(ctx, "sch_1")
		wantCode(t, "Schedule after delete", err, tandem.ENOTFOUND)
		wantCode(t, "DeleteSchedule twice", s.DeleteSchedule(ctx, "sch_1"), tandem.ENOTFOUND)
	})

	t.Run("ConcurrentCreateKeepsLimit", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		// Several rounds, each in a team of its own, each with two people
		// racing at once: a race lost once in a few tries shows up.
		const rounds, callers, max = 4, 8, 5
		creators := []string{"U1", "U2"}
		for round := range rounds {
			session := tandem.SessionKey{Team: fmt.Sprintf("TR%d", round), Channel: "C1", ThreadTS: "1740830400.000100"}
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[string]int{}
			start := make(chan struct{}) // all at once, for the most overlap
			for _, creator := range creators {
				for i := range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						id := fmt.Sprintf("sch_%s_%s_%d", session.Team, creator, i)
						err := s.CreateSchedule(ctx, schedule(id, session, creator, time.Duration(i)*time.Second, time.Hour), max, "")
						mu.Lock()
						defer mu.Unlock()
						codes[creator+" "+tandem.ErrorCode(err)]++
						if code := tandem.ErrorCode(err); code != "" && code != tandem.ELIMIT {
							t.Errorf("CreateSchedule %s: %v", id, err)
						}
					}()
				}
			}
			close(start)
			wg.Wait()
			for _, creator := range creators {
				if ok, limited := codes[creator+" "], codes[creator+" "+tandem.ELIMIT]; ok != max || limited != callers-max {
					t.Errorf("%s: %d concurrent creates by %s under a limit of %d: %d stored, %d ELIMIT; want %d and %d",
						session.Team, callers, creator, max, ok, limited, max, callers-max)
				}
				got, err := s.Schedules(ctx, tandem.ScheduleFilter{Team: session.Team, Creator: creator})
				must(t, "Schedules", err)
				if len(got) != max {
					t.Errorf("%s: %s has %d schedules after concurrent creates, want %d", session.Team, creator, len(got), max)
				}
			}
		}
	})

	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		sc := schedule("sch_1", sessionA, "U1", 0, time.Hour)
		sc.Text = "0"
		create(t, s, sc, 0)
		const callers, each = 8, 3
		var wg sync.WaitGroup
		var errs countGroup
		start := make(chan struct{})
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range each {
					_, err := s.UpdateSchedule(ctx, "sch_1", func(sc *tandem.Schedule) error {
						n, err := strconv.Atoi(sc.Text)
						if err != nil {
							return err
						}
						sc.Text = strconv.Itoa(n + 1)
						return nil
					})
					errs.add(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		errs.none(t, "UpdateSchedule")
		got, err := s.Schedule(ctx, "sch_1")
		must(t, "Schedule", err)
		if want := strconv.Itoa(callers * each); got.Text != want {
			t.Errorf("counter after %d concurrent updates = %s, want %s: an update was lost", callers*each, got.Text, want)
		}
	})

	t.Run("TurnKeepsItsSchedule", func(t *testing.T) {
		s := open(t)
		tr := turn("schedule:sch_1:1", "")
		tr.Schedule = "sch_1"
		record(t, s, tr)
		got, err := s.TurnRecord(t.Context(), tr.ID)
		must(t, "TurnRecord", err)
		if got.Turn.Schedule != "sch_1" {
			t.Errorf("TurnRecord.Turn.Schedule = %q, want sch_1", got.Turn.Schedule)
		}
	})
}
