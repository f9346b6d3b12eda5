package schedule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	"github.com/tandembot/tandem"
)

// runs lists the next n runs of w after start, each after the one before.
func runs(w When, start time.Time, n int) []time.Time {
	var out []time.Time
	t := start
	for range n {
		t = w.Next(t)
		out = append(out, t.UTC())
	}
	return out
}

// The transitions: Europe/Berlin goes forward on Sun 28 Mar 2027 (02:00 CET
// → 03:00 CEST, 01:00 UTC) and back on Sun 25 Oct 2026 (03:00 CEST → 02:00
// CET, 01:00 UTC); America/New_York goes forward on Sun 14 Mar 2027 (02:00
// EST → 03:00 EDT, 07:00 UTC) and back on Sun 1 Nov 2026 (02:00 EDT → 01:00
// EST, 06:00 UTC), so there 01:30 is the time that happens twice.
func TestNextAcrossDST(t *testing.T) {
	tests := []struct {
		name  string
		when  When
		start time.Time
		want  []time.Time
	}{
		{"Berlin forward, 02:30 runs once at 03:00 CEST", When{Cron: "30 2 * * *", Zone: "Europe/Berlin"}, utc(2027, 3, 26, 12, 0),
			[]time.Time{utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30), utc(2027, 3, 30, 0, 30), utc(2027, 3, 31, 0, 30)}},
		{"Berlin forward, 09:00", When{Cron: "0 9 * * *", Zone: "Europe/Berlin"}, utc(2027, 3, 26, 12, 0),
			[]time.Time{utc(2027, 3, 27, 8, 0), utc(2027, 3, 28, 7, 0), utc(2027, 3, 29, 7, 0), utc(2027, 3, 30, 7, 0), utc(2027, 3, 31, 7, 0)}},
		{"Berlin back, 02:30 runs once, at 02:30 CEST", When{Cron: "30 2 * * *", Zone: "Europe/Berlin"}, utc(2026, 10, 23, 12, 0),
			[]time.Time{utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30), utc(2026, 10, 28, 1, 30)}},
		{"Berlin back, 09:00", When{Cron: "0 9 * * *", Zone: "Europe/Berlin"}, utc(2026, 10, 23, 12, 0),
			[]time.Time{utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 8, 0), utc(2026, 10, 26, 8, 0), utc(2026, 10, 27, 8, 0), utc(2026, 10, 28, 8, 0)}},
		{"Berlin back, weekdays 09:00", When{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"}, utc(2026, 10, 22, 12, 0),
			[]time.Time{utc(2026, 10, 23, 7, 0), utc(2026, 10, 26, 8, 0), utc(2026, 10, 27, 8, 0), utc(2026, 10, 28, 8, 0), utc(2026, 10, 29, 8, 0)}},
		{"New York forward, 02:30 runs once at 03:00 EDT", When{Cron: "30 2 * * *", Zone: "America/New_York"}, utc(2027, 3, 12, 12, 0),
			[]time.Time{utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 15, 6, 30), utc(2027, 3, 16, 6, 30), utc(2027, 3, 17, 6, 30)}},
		{"New York forward, 09:00", When{Cron: "0 9 * * *", Zone: "America/New_York"}, utc(2027, 3, 12, 18, 0),
			[]time.Time{utc(2027, 3, 13, 14, 0), utc(2027, 3, 14, 13, 0), utc(2027, 3, 15, 13, 0), utc(2027, 3, 16, 13, 0), utc(2027, 3, 17, 13, 0)}},
		{"New York back, 02:30 runs once", When{Cron: "30 2 * * *", Zone: "America/New_York"}, utc(2026, 10, 30, 12, 0),
			[]time.Time{utc(2026, 10, 31, 6, 30), utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 7, 30), utc(2026, 11, 3, 7, 30), utc(2026, 11, 4, 7, 30)}},
		{"New York back, 01:30 runs once, at 01:30 EDT", When{Cron: "30 1 * * *", Zone: "America/New_York"}, utc(2026, 10, 30, 12, 0),
			[]time.Time{utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30), utc(2026, 11, 4, 6, 30)}},
		{"New York back, 09:00", When{Cron: "0 9 * * *", Zone: "America/New_York"}, utc(2026, 10, 30, 18, 0),
			[]time.Time{utc(2026, 10, 31, 13, 0), utc(2026, 11, 1, 14, 0), utc(2026, 11, 2, 14, 0), utc(2026, 11, 3, 14, 0), utc(2026, 11, 4, 14, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, runs(tt.when, tt.start, len(tt.want))); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNextInsideDSTChange asks for the next run from instants inside the
// gap and the repeated hour, as a replica that restarts there would.
func TestNextInsideDSTChange(t *testing.T) {
	berlin := When{Cron: "30 2 * * *", Zone: "Europe/Berlin"}
	tests := []struct {
		name  string
		after time.Time
		want  time.Time
	}{
		{"just before the gap", utc(2027, 3, 28, 0, 59), utc(2027, 3, 28, 1, 0)},
		{"at the gap's run", utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30)},
		{"at the first 02:30", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)},
		{"between the two 02:30s, in CEST", utc(2026, 10, 25, 0, 45), utc(2026, 10, 26, 1, 30)},
		{"in the repeated hour before the second 02:30", utc(2026, 10, 25, 1, 10), utc(2026, 10, 26, 1, 30)},
		{"at the second 02:30", utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 1, 30)},
		{"before the repeated hour", utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 0, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := berlin.Next(tt.after); !got.Equal(tt.want) {
				t.Errorf("Next(%v) = %v, want %v", tt.after, got.UTC(), tt.want)
			}
		})
	}
}

// TestRobfigAloneAtDST records what github.com/robfig/cron/v3 v3.0.1 does on
// its own with CRON_TZ, which is why Next evaluates the expression on a
// wall clock in UTC and places the result in the zone itself: it skips a
// day whose time falls in the gap, and runs twice on the day whose time is
// repeated.
func TestRobfigAloneAtDST(t *testing.T) {
	s, err := cron.ParseStandard("CRON_TZ=Europe/Berlin 30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Next(utc(2027, 3, 27, 12, 0)), utc(2027, 3, 29, 0, 30); !got.Equal(want) {
		t.Errorf("robfig after the Saturday before going forward = %v, want %v (28 Mar skipped)", got.UTC(), want)
	}
	if got, want := s.Next(utc(2026, 10, 25, 0, 30)), utc(2026, 10, 25, 1, 30); !got.Equal(want) {
		t.Errorf("robfig after the first 02:30 of 25 Oct = %v, want %v (a second run that day)", got.UTC(), want)
	}
}

func TestNextAcrossZones(t *testing.T) {
	w := When{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"}
	tests := []struct {
		after, want time.Time
	}{
		{utc(2026, 12, 4, 7, 59), utc(2026, 12, 4, 8, 0)}, // Friday, winter: 08:00 UTC
		{utc(2026, 12, 4, 8, 0), utc(2026, 12, 7, 8, 0)},  // then Monday
		{utc(2027, 6, 4, 8, 0), utc(2027, 6, 7, 7, 0)},    // summer: 07:00 UTC
	}
	for _, tt := range tests {
		got := w.Next(tt.after)
		if !got.Equal(tt.want) {
			t.Errorf("Next(%v) = %v, want %v", tt.after, got.UTC(), tt.want)
		}
		if got.Location().String() != "Europe/Berlin" || got.Hour() != 9 {
			t.Errorf("Next(%v) = %v, want 09:00 in Europe/Berlin", tt.after, got)
		}
	}
}

func TestOneOffNext(t *testing.T) {
	w := When{At: utc(2026, 12, 24, 15, 0), Zone: "Europe/Berlin"}
	if got := w.Next(utc(2026, 12, 24, 14, 59)); !got.Equal(w.At) {
		t.Errorf("Next before = %v, want %v", got, w.At)
	}
	for _, after := range []time.Time{w.At, utc(2026, 12, 25, 0, 0)} {
		if got := w.Next(after); !got.IsZero() {
			t.Errorf("Next(%v) = %v, want zero: a one-off runs once", after, got)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		when When
		ok   bool
	}{
		{When{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"}, true},
		{When{Cron: "*/5 * * * *", Zone: "UTC"}, true},
		{When{At: utc(2026, 12, 24, 15, 0), Zone: "UTC"}, true},
		{When{Cron: "* * * * *", Zone: "UTC"}, false},
		{When{Cron: "*/2 * * * *", Zone: "UTC"}, false},
		{When{Cron: "0,3 9 * * *", Zone: "UTC"}, false},
		{When{Cron: "0 9 * * *", Zone: "Mars/Base"}, false},
		{When{Cron: "0 9 * * *", Zone: "Local"}, false},
		{When{Cron: "0 9 * * *"}, false},
		{When{Cron: "not cron", Zone: "UTC"}, false},
		{When{Zone: "UTC"}, false},
		{When{Cron: "0 9 * * *", At: utc(2026, 12, 24, 15, 0), Zone: "UTC"}, false},
	}
	for _, tt := range tests {
		err := tt.when.Validate()
		if tt.ok && err != nil {
			t.Errorf("%v: Validate = %v, want nil", tt.when, err)
		}
		if !tt.ok && tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("%v: Validate = %v, want EINVALID", tt.when, err)
		}
	}
}

func TestJSON(t *testing.T) {
	for _, w := range []When{
		{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"},
		{At: utc(2026, 12, 24, 15, 0), Zone: "Europe/Berlin"},
	} {
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"at"`) != w.OneOff() || strings.Contains(string(b), `"cron"`) == w.OneOff() {
			t.Errorf("%s: a one-off stores at, a repeating schedule does not", b)
		}
		var got When
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		when When
		now  time.Time
		want string
	}{
		{When{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"}, now, "Every Monday to Friday at 09:00 Europe/Berlin; next run Mon 7 Dec 09:00"},
		{When{Cron: "30 17 * * *", Zone: "Europe/Berlin"}, now, "Every day at 17:30 Europe/Berlin; next run Sat 5 Dec 17:30"},
		{When{Cron: "30 9 * * 1,4", Zone: "UTC"}, now, "Every Monday and Thursday at 09:30 UTC; next run Mon 7 Dec 09:30"},
		{When{Cron: "0 9 * * 0,1,3", Zone: "UTC"}, now, "Every Monday, Wednesday and Sunday at 09:00 UTC; next run Sun 6 Dec 09:00"},
		{When{Cron: "0 10 * * 1", Zone: "UTC"}, utc(2026, 12, 29, 12, 0), "Every Monday at 10:00 UTC; next run Mon 4 Jan 2027 10:00"},
		{When{Cron: "30 2 * * *", Zone: "Europe/Berlin"}, utc(2027, 3, 27, 12, 0), "Every day at 02:30 Europe/Berlin; next run Sun 28 Mar 03:00 (02:30 does not exist that day: the clocks go forward)"},
		{When{Cron: "*/30 * * * *", Zone: "UTC"}, now, "On the cron schedule “*/30 * * * *” in UTC; next run Sat 5 Dec 01:30"},
		{When{At: utc(2026, 12, 24, 15, 0), Zone: "Europe/Berlin"}, now, "Once, on Thu 24 Dec 2026 at 16:00 Europe/Berlin"},
		{When{At: utc(2026, 12, 24, 15, 0), Zone: "Europe/Berlin"}, utc(2026, 12, 25, 0, 0), "Once, on Thu 24 Dec 2026 at 16:00 Europe/Berlin; that time has passed"},
		{When{Cron: "* * * * *", Zone: "UTC"}, now, "A schedule Tandem cannot read (CRON_TZ=UTC * * * * *)"},
	}
	for _, tt := range tests {
		if got := tt.when.Describe(tt.now); got != tt.want {
			t.Errorf("Describe of %v =\n %q, want\n %q", tt.when, got, tt.want)
		}
	}
}
