package schedule

import (
	"strconv"
	"strings"
	"time"
)

// days is a set of weekdays, bit i for time.Weekday(i).
type days uint8

const (
	everyDay days = 1<<7 - 1
	weekdays days = everyDay &^ (1<<time.Saturday | 1<<time.Sunday)
)

var dayWords = map[string]days{
	"day": everyDay, "weekday": weekdays, "weekdays": weekdays,
}

func init() {
	names := map[time.Weekday][]string{
		time.Monday:    {"mon", "monday"},
		time.Tuesday:   {"tue", "tues", "tuesday"},
		time.Wednesday: {"wed", "wednesday"},
		time.Thursday:  {"thu", "thur", "thurs", "thursday"},
		time.Friday:    {"fri", "friday"},
		time.Saturday:  {"sat", "saturday"},
		time.Sunday:    {"sun", "sunday"},
	}
	for d, ws := range names {
		for _, w := range ws {
			dayWords[w] = 1 << d
			dayWords[w+"s"] = 1 << d // "every mondays" reads fine
		}
	}
}

// cronField is the day-of-week field of a cron expression.
func (d days) cronField() string {
	switch d {
	case everyDay:
		return "*"
	case weekdays:
		return "1-5"
	}
	var out []string
	for w := time.Sunday; w <= time.Saturday; w++ {
		if d&(1<<w) != 0 {
			out = append(out, strconv.Itoa(int(w)))
		}
	}
	return strings.Join(out, ",")
}

// parseDaysField reads back a day-of-week field made by cronField.
func parseDaysField(f string) (days, bool) {
	switch f {
	case "*":
		return everyDay, true
	case "1-5":
		return weekdays, true
	}
	var d days
	for _, s := range strings.Split(f, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 6 {
			return 0, false
		}
		d |= 1 << n
	}
	return d, d != 0
}

// words says d for people: "day", "Monday to Friday", "Monday and Thursday",
// with the week starting on Monday.
func (d days) words() string {
	switch d {
	case everyDay:
		return "day"
	case weekdays:
		return "Monday to Friday"
	}
	var names []string
	for i := 1; i <= 7; i++ {
		w := time.Weekday(i % 7)
		if d&(1<<w) != 0 {
			names = append(names, w.String())
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
