package schedule

import (
	"fmt"
	"testing"
	"time"
)

// TestDailyRunsOncePerDay checks over two years in zones with unusual
// transitions (São Paulo's midnight gap in 2018, Lord Howe's half-hour
// shift) that a daily schedule runs on every local day exactly once, at its
// time or, when that time does not exist, when the gap ends.
func TestDailyRunsOncePerDay(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kolkata"}
	clock := []string{"0 0", "30 0", "30 1", "0 2", "15 2", "30 2", "0 3", "0 9", "30 23"}
	for _, name := range zones {
		loc := zone(t, name)
		for _, c := range clock {
			for _, year := range []int{2018, 2026} {
				w := When{Cron: c + " * * *", Zone: name}
				var minute, hour int
				fmt.Sscan(c, &minute, &hour)
				start := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
				prev := w.Next(start)
				for range 730 {
					next := w.Next(prev)
					py, pm, pd := prev.In(loc).Date()
					if want := time.Date(py, pm, pd+1, 0, 0, 0, 0, time.UTC); !asUTC(next.In(loc)).Truncate(24 * time.Hour).Equal(want) {
						t.Fatalf("%s %q: run after %v is %v, want one on %s", name, c, prev, next, want.Format("2 Jan 2006"))
					}
					if l := next.In(loc); l.Hour() != hour || l.Minute() != minute {
						if s, _ := l.ZoneBounds(); !l.Equal(s) {
							t.Fatalf("%s %q: run at %v is neither its time nor the end of a gap", name, c, l)
						}
					}
					prev = next
				}
			}
		}
	}
}
