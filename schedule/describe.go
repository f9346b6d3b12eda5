package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Describe says w in words that cannot be misread, with its next run after
// now in its own zone: "Every Monday to Friday at 09:00 Europe/Berlin; next
// run Mon 7 Dec 09:00". The caller adds who it runs as and where the zone
// came from. A When that does not validate is described as unreadable
// rather than guessed at.
func (w When) Describe(now time.Time) string { return w.DescribeNoted(now, "") }

// DescribeNoted is Describe with note added right after the zone's name
// (", your time zone from Slack").
func (w When) DescribeNoted(now time.Time, note string) string {
	if err := w.Validate(); err != nil {
		return fmt.Sprintf("A schedule Tandem cannot read (%s)", w)
	}
	loc, _ := loadZone(w.Zone)
	if w.OneOff() {
		s := "Once, on " + w.At.In(loc).Format("Mon 2 Jan 2006 at 15:04") + " " + w.Zone + note
		if !w.At.After(now) {
			s += "; that time has passed"
		}
		return s
	}
	var s string
	hour, minute, d, ok := readCron(w.Cron)
	if ok {
		s = fmt.Sprintf("Every %s at %02d:%02d %s%s", d.words(), hour, minute, w.Zone, note)
	} else {
		s = fmt.Sprintf("On the cron schedule “%s” in %s%s", w.Cron, w.Zone, note)
	}
	next := w.Next(now)
	if next.IsZero() {
		return s + "; it has no next run"
	}
	layout := "Mon 2 Jan 15:04"
	if next.Year() != now.In(loc).Year() {
		layout = "Mon 2 Jan 2006 15:04"
	}
	s += "; next run " + next.Format(layout)
	if ok && (next.Hour() != hour || next.Minute() != minute) {
		s += fmt.Sprintf(" (%02d:%02d does not exist that day: the clocks go forward)", hour, minute)
	}
	return s
}

// readCron reads back an expression Parse makes: "M H * * <days>".
func readCron(expr string) (hour, minute int, d days, ok bool) {
	f := strings.Fields(expr)
	if len(f) != 5 || f[2] != "*" || f[3] != "*" {
		return 0, 0, 0, false
	}
	minute, err1 := strconv.Atoi(f[0])
	hour, err2 := strconv.Atoi(f[1])
	d, ok = parseDaysField(f[4])
	if err1 != nil || err2 != nil || !ok {
		return 0, 0, 0, false
	}
	return hour, minute, d, true
}
