package schedule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// ErrNoSchedule is returned by Parse when a message does not start with
// "every", "tomorrow" or "on <date>", so the caller can read it as an
// ordinary command instead. Compare with errors.Is.
var ErrNoSchedule = &tandem.Error{Code: tandem.EINVALID, Message: "That message does not start with a schedule such as `every weekday at 9:00` or `on 2026-12-24 at 16:00`."}

var (
	timeRE = regexp.MustCompile(`^(\d{1,2})(?::(\d{2}))?(am|pm|a\.m\.|p\.m\.)?$`)
	dateRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
)

const examples = "`every weekday at 9:00 standup`, `every monday and thursday at 9:30 …`, `on 2026-12-24 at 16:00 …` or `tomorrow at 8:15 …`"

// Parse reads the schedule at the start of text and returns it with the
// rest of the text, the command to run. now places "tomorrow" and refuses
// one-offs in the past; defaultZone (the creator's, from Slack) applies
// unless the text names a zone after the time. The accepted forms are
//
//	every (day|weekday|<weekday>[(,|and) <weekday>…]) [at] <time> [<zone>] <command>
//	on <yyyy-mm-dd> [at] <time> [<zone>] <command>
//	tomorrow [at] <time> [<zone>] <command>
//
// with <time> as 9, 9:00, 09:00, 17:30, 9am or 5:30 pm, and <zone> an IANA
// name such as Europe/Berlin, or UTC (a nil defaultZone means UTC; a zone
// without an IANA name, such as time.Local, is refused). A word with a
// slash after the time counts as a zone when it starts with a capital or
// an IANA area (Europe/…), so "Mars/Base" is refused as a zone while
// "tandembot/tandem PRs" stays the command. It returns ErrNoSchedule when text
// starts with none of the forms, and an error with code EINVALID that says
// what is wrong for a schedule it cannot accept: an unknown day or zone, a
// time of day that does not exist, a date in the past, a schedule more
// frequent than daily, or no command.
func Parse(text string, now time.Time, defaultZone *time.Location) (When, string, error) {
	c := &cursor{toks: lex(text)}
	var (
		repeat days
		date   time.Time // a one-off's day, as UTC midnight
	)
	switch c.peek() {
	case "every":
		c.i++
		d, err := parseDays(c)
		if err != nil {
			return When{}, "", err
		}
		repeat = d
	case "tomorrow":
		c.i++ // the day is placed once the zone is known
	case "on":
		if c.i+1 >= len(c.toks) || !dateRE.MatchString(c.toks[c.i+1].text) {
			return When{}, "", ErrNoSchedule
		}
		c.i++
		d, err := parseDate(c.raw())
		if err != nil {
			return When{}, "", err
		}
		c.i++
		date = d
	default:
		return When{}, "", ErrNoSchedule
	}
	tomorrow := repeat == 0 && date.IsZero()

	c.skip(",")
	c.skip("at")
	hour, minute, err := parseTime(c)
	if err != nil {
		return When{}, "", err
	}
	loc, err := parseZone(c, defaultZone)
	if err != nil {
		return When{}, "", err
	}
	rest := strings.TrimLeft(text[c.end():], " \t\r\n,:;-–—")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return When{}, "", tandem.Errorf(tandem.EINVALID, "Say what to run after the time, as in %s.", examples)
	}

	if repeat != 0 {
		return When{Cron: fmt.Sprintf("%d %d * * %s", minute, hour, repeat.cronField()), Zone: loc.String()}, rest, nil
	}
	if tomorrow {
		y, m, d := now.In(loc).Date()
		date = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	}
	w, err := oneOff(date, hour, minute, loc, now)
	return w, rest, err
}

// oneOff places a one-off at hour:minute on date (UTC midnight standing for
// a day) in loc. It refuses a wall-clock time that the clocks skip and a
// time that is not after now.
func oneOff(date time.Time, hour, minute int, loc *time.Location, now time.Time) (When, error) {
	wall := time.Date(date.Year(), date.Month(), date.Day(), hour, minute, 0, 0, time.UTC)
	when := wall.Format("Mon 2 Jan 2006 at 15:04") + " " + loc.String()
	if !asUTC(time.Date(wall.Year(), wall.Month(), wall.Day(), hour, minute, 0, 0, loc)).Equal(wall) {
		return When{}, tandem.Errorf(tandem.EINVALID, "%s does not exist: the clocks go forward that night. Pick another time.", when)
	}
	at := place(wall, loc)
	if !at.After(now) {
		return When{}, tandem.Errorf(tandem.EINVALID, "%s has already passed; pick a time in the future.", when)
	}
	return When{At: at.UTC(), Zone: loc.String()}, nil
}

// parseDays reads "day", "weekday" or weekday names joined by commas and
// "and".
func parseDays(c *cursor) (days, error) {
	var set days
	for {
		w := c.peek()
		d, ok := dayWords[w]
		if !ok {
			switch {
			case w == "":
				return 0, tandem.Errorf(tandem.EINVALID, "Say which days and at what time, as in %s.", examples)
			case tooOften(w):
				return 0, tandem.Errorf(tandem.EINVALID, "Tandem runs a schedule at a time of day, at most once every %d minutes; “every %s” is not one of its schedules. Try %s.", int(MinInterval/time.Minute), c.raw(), examples)
			}
			return 0, tandem.Errorf(tandem.EINVALID, "“%s” is not a day; say day, weekday, or a day's name such as monday.", c.raw())
		}
		set |= d
		c.i++
		comma := c.skip(",")
		and := c.skip("and")
		if !comma && !and {
			return set, nil
		}
		if _, ok := dayWords[c.peek()]; !ok && !and {
			// A comma ends the days when no day follows it:
			// "every monday, at 10".
			return set, nil
		}
	}
}

// tooOften reports whether w starts a schedule more frequent than daily
// ("every minute", "every hour", "every 5 minutes").
func tooOften(w string) bool {
	switch w {
	case "minute", "minutes", "hour", "hours", "second", "seconds", "half", "quarter", "other":
		return true
	}
	_, err := strconv.Atoi(w)
	return err == nil
}

// parseDate reads yyyy-mm-dd as UTC midnight of that day.
func parseDate(s string) (time.Time, error) {
	m := dateRE.FindStringSubmatch(s)
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return time.Time{}, tandem.Errorf(tandem.EINVALID, "“%s” is not a date; write one as 2026-12-24.", s)
	}
	return t, nil
}

// parseTime reads a time of day: 24-hour 9, 9:00, 17:30, or 12-hour 9am,
// 5:30pm, 5:30 pm.
func parseTime(c *cursor) (hour, minute int, err error) {
	raw := strings.TrimSuffix(c.raw(), ":") // "at 9:00: standup"
	m := timeRE.FindStringSubmatch(strings.ToLower(raw))
	if m == nil {
		if raw != "" && raw[0] >= '0' && raw[0] <= '9' {
			return 0, 0, badTime(raw)
		}
		return 0, 0, tandem.Errorf(tandem.EINVALID, "Say at what time, as in %s.", examples)
	}
	c.i++
	hour, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		minute, _ = strconv.Atoi(m[2])
	}
	suffix := strings.ReplaceAll(m[3], ".", "")
	if suffix == "" {
		switch c.peek() {
		case "am", "a.m.", "pm", "p.m.":
			suffix = strings.ReplaceAll(c.peek(), ".", "")
			raw += " " + c.raw()
			c.i++
		}
	}
	if minute > 59 {
		return 0, 0, badTime(raw)
	}
	switch suffix {
	case "":
		if hour > 23 {
			return 0, 0, badTime(raw)
		}
	default:
		if hour < 1 || hour > 12 {
			return 0, 0, badTime(raw)
		}
		hour %= 12
		if suffix == "pm" {
			hour += 12
		}
	}
	return hour, minute, nil
}

func badTime(raw string) error {
	return tandem.Errorf(tandem.EINVALID, "“%s” is not a time of day; write one as 9:00, 17:30, 9am or 5:30pm.", raw)
}
