// Package schedule is the language of Tandem's schedules and their next-run
// arithmetic: it reads "every weekday at 9:00 standup" into a When (a
// standard cron expression plus an IANA zone, or a one-off instant) and says
// when it runs next. It knows nothing of Slack, the store or the engine.
package schedule

import (
	"time"

	"github.com/robfig/cron/v3"
	"github.com/tandembot/tandem"
)

// MinInterval is the shortest time allowed between two runs of a schedule.
const MinInterval = 5 * time.Minute

// When is when a schedule runs: either Cron (a standard five-field
// expression, minute hour day-of-month month day-of-week, read as wall-clock
// time in Zone) or At (a one-off instant). Zone is always set, since a
// one-off is described in the zone it was written in. It is stored as JSON.
type When struct {
	Cron string    `json:"cron,omitempty"`
	Zone string    `json:"zone"`
	At   time.Time `json:"at,omitzero"`
}

// OneOff reports whether w runs once.
func (w When) OneOff() bool { return w.Cron == "" }

// Validate checks a When read from storage or built by hand: the zone must
// load, exactly one of Cron and At must be set, the expression must parse,
// and no two of its next runs on the wall clock may be closer than
// MinInterval. It fails with code EINVALID. Every expression Parse makes
// runs at most once a day; for a hand-made one, a time in a DST gap runs
// when the gap ends and may then come closer than MinInterval to the run
// before it, so the runner still keeps its own minimum between runs.
func (w When) Validate() error {
	if _, err := loadZone(w.Zone); err != nil {
		return err
	}
	if (w.Cron == "") == w.At.IsZero() {
		return tandem.Errorf(tandem.EINVALID, "A schedule needs either a repeating time or a single date, not both or neither.")
	}
	if w.OneOff() {
		return nil
	}
	s, err := floating(w.Cron)
	if err != nil {
		return err
	}
	// Any expression too frequent shows it within its first runs of a
	// year (the next 400 would only miss gaps that recur less often
	// than the schedule itself).
	t := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := s.Next(t)
	for range 400 {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if next.Sub(prev) < MinInterval {
			return tandem.Errorf(tandem.EINVALID, "A schedule runs at most once every %d minutes.", int(MinInterval/time.Minute))
		}
		prev = next
	}
	return nil
}

// floating parses expr for wall-clock arithmetic: the schedule is evaluated
// in UTC, where no day is 23 or 25 hours long, and the wall-clock result is
// then placed in the real zone by place.
func floating(expr string) (cron.Schedule, error) {
	s, err := cron.ParseStandard("CRON_TZ=UTC " + expr)
	if err != nil {
		return nil, tandem.Errorf(tandem.EINVALID, "“%s” is not a schedule Tandem can read.", expr)
	}
	return s, nil
}

// Next returns the first run strictly after after, in the schedule's zone;
// it returns the zero time when a one-off has passed or w is invalid.
//
// Daylight saving neither skips nor doubles a run, which robfig/cron alone
// does (see TestRobfigAloneAtDST): a wall-clock time that does not exist on
// the day the clocks go forward runs at the moment they jump (02:30 in
// Europe/Berlin on 28 Mar 2027 runs at 03:00 CEST), and a wall-clock time
// that happens twice when they go back runs at its first occurrence only.
func (w When) Next(after time.Time) time.Time {
	loc, err := loadZone(w.Zone)
	if err != nil {
		return time.Time{}
	}
	if w.OneOff() {
		if w.At.After(after) {
			return w.At.In(loc)
		}
		return time.Time{}
	}
	s, err := floating(w.Cron)
	if err != nil {
		return time.Time{}
	}
	wall := asUTC(after.In(loc))
	// Three rounds suffice: a wall-clock time whose first occurrence is
	// before after (the second pass of a repeated hour) moves on to the
	// next match, which lies a day or more later.
	for range 3 {
		wall = s.Next(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		if t := place(wall, loc); t.After(after) {
			return t
		}
	}
	return time.Time{}
}

// asUTC keeps t's wall clock and calls it UTC.
func asUTC(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// place returns the first instant whose wall clock in loc is wall's (a UTC
// time standing for a wall clock), or the end of the gap when that wall
// clock does not exist because the clocks went forward.
func place(wall time.Time, loc *time.Location) time.Time {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
	if !asUTC(t).Equal(wall) {
		// time.Date moved a wall clock in a gap out of it; the run
		// happens when the gap ends.
		start, _ := t.ZoneBounds()
		if asUTC(start).After(wall) {
			return start
		}
		_, end := t.ZoneBounds()
		return end
	}
	// In a repeated hour time.Date may pick either occurrence; prefer the
	// earlier one if there is one.
	start, _ := t.ZoneBounds()
	if !start.IsZero() {
		_, before := start.Add(-time.Nanosecond).Zone()
		_, off := t.Zone()
		if d := time.Duration(before-off) * time.Second; d > 0 {
			if e := t.Add(-d); asUTC(e).Equal(wall) {
				return e
			}
		}
	}
	return t
}

// String is w's stored form, for logs.
func (w When) String() string {
	if w.OneOff() {
		return "at " + w.At.UTC().Format(time.RFC3339) + " " + w.Zone
	}
	return "CRON_TZ=" + w.Zone + " " + w.Cron
}
