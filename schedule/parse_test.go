package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// now is Saturday 5 Dec 2026, 01:00 UTC (02:00 in Berlin).
var now = utc(2026, 12, 5, 1, 0)

func TestParse(t *testing.T) {
	tests := []struct {
		text     string
		def      string
		now      time.Time
		want     When
		rest     string
		wantNext time.Time
	}{
		{"every weekday at 9:00 standup", "Europe/Berlin", now, When{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"}, "standup", utc(2026, 12, 7, 8, 0)},
		{"Every Day at 17:30 what is waiting on me today?", "Europe/Berlin", now, When{Cron: "30 17 * * *", Zone: "Europe/Berlin"}, "what is waiting on me today?", utc(2026, 12, 5, 16, 30)},
		{"every monday at 10 PRs waiting for my review", "Europe/Berlin", now, When{Cron: "0 10 * * 1", Zone: "Europe/Berlin"}, "PRs waiting for my review", utc(2026, 12, 7, 9, 0)},
		{"every monday and thursday at 9:30 digest", "UTC", now, When{Cron: "30 9 * * 1,4", Zone: "UTC"}, "digest", utc(2026, 12, 7, 9, 30)},
		{"every mon, wed and fri 9am digest", "UTC", now, When{Cron: "0 9 * * 1,3,5", Zone: "UTC"}, "digest", utc(2026, 12, 7, 9, 0)},
		{"every saturday,sunday at 11 weekend digest", "UTC", now, When{Cron: "0 11 * * 0,6", Zone: "UTC"}, "weekend digest", utc(2026, 12, 5, 11, 0)},
		{"every monday, at 10, PRs", "UTC", now, When{Cron: "0 10 * * 1", Zone: "UTC"}, "PRs", utc(2026, 12, 7, 10, 0)},
		{"every weekdays at 09:00: standup", "UTC", now, When{Cron: "0 9 * * 1-5", Zone: "UTC"}, "standup", utc(2026, 12, 7, 9, 0)},
		{"every weekday at 9:00 Europe/Berlin standup", "UTC", now, When{Cron: "0 9 * * 1-5", Zone: "Europe/Berlin"}, "standup", utc(2026, 12, 7, 8, 0)},
		{"every weekday at 9:00 UTC standup", "Europe/Berlin", now, When{Cron: "0 9 * * 1-5", Zone: "UTC"}, "standup", utc(2026, 12, 7, 9, 0)},
		{"every weekday at 9:00 UTC: standup", "Europe/Berlin", now, When{Cron: "0 9 * * 1-5", Zone: "UTC"}, "standup", utc(2026, 12, 7, 9, 0)},
		{"every weekday at 9:00 america/new_york standup", "UTC", now, When{Cron: "0 9 * * 1-5", Zone: "America/New_York"}, "standup", utc(2026, 12, 7, 14, 0)},
		{"every weekday at 9:00 tandembot/tandem PRs", "UTC", now, When{Cron: "0 9 * * 1-5", Zone: "UTC"}, "tandembot/tandem PRs", utc(2026, 12, 7, 9, 0)},
		{"every day at 5:30pm wrap up", "UTC", now, When{Cron: "30 17 * * *", Zone: "UTC"}, "wrap up", utc(2026, 12, 5, 17, 30)},
		{"every day at 5:30 PM wrap up", "UTC", now, When{Cron: "30 17 * * *", Zone: "UTC"}, "wrap up", utc(2026, 12, 5, 17, 30)},
		{"every day at 12am midnight", "UTC", now, When{Cron: "0 0 * * *", Zone: "UTC"}, "midnight", utc(2026, 12, 6, 0, 0)},
		{"every day at 12pm lunch", "UTC", now, When{Cron: "0 12 * * *", Zone: "UTC"}, "lunch", utc(2026, 12, 5, 12, 0)},
		{"on 2026-12-24 at 16:00 remind me to tag the release", "Europe/Berlin", now, When{At: utc(2026, 12, 24, 15, 0), Zone: "Europe/Berlin"}, "remind me to tag the release", utc(2026, 12, 24, 15, 0)},
		{"on 2027-7-1 9:00 America/New_York quarterly report", "Europe/Berlin", now, When{At: utc(2027, 7, 1, 13, 0), Zone: "America/New_York"}, "quarterly report", utc(2027, 7, 1, 13, 0)},
		// 01:30 repeats in New York on 1 Nov 2026; a one-off takes the first.
		{"on 2026-11-01 at 1:30 x", "America/New_York", utc(2026, 10, 1, 0, 0), When{At: utc(2026, 11, 1, 5, 30), Zone: "America/New_York"}, "x", utc(2026, 11, 1, 5, 30)},
		{"tomorrow at 8:15 check CI", "Europe/Berlin", now, When{At: utc(2026, 12, 6, 7, 15), Zone: "Europe/Berlin"}, "check CI", utc(2026, 12, 6, 7, 15)},
		// Already Sunday in Berlin at 23:30 UTC on Saturday.
		{"tomorrow 8:15 check CI", "Europe/Berlin", utc(2026, 12, 5, 23, 30), When{At: utc(2026, 12, 7, 7, 15), Zone: "Europe/Berlin"}, "check CI", utc(2026, 12, 7, 7, 15)},
		{"tomorrow at 8:15 UTC check CI", "Europe/Berlin", utc(2026, 12, 5, 23, 30), When{At: utc(2026, 12, 6, 8, 15), Zone: "UTC"}, "check CI", utc(2026, 12, 6, 8, 15)},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, rest, err := Parse(tt.text, tt.now, zone(t, tt.def))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("When (-want +got):\n%s", diff)
			}
			if rest != tt.rest {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if next := got.Next(tt.now); !next.Equal(tt.wantNext) {
				t.Errorf("Next = %v, want %v", next.UTC(), tt.wantNext)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	tests := []struct {
		text string
		want string // a part of the message for people
	}{
		{"every funday at 9 standup", "“funday” is not a day"},
		{"every monday and standup", "“standup” is not a day"},
		{"every day at 25:00 standup", "“25:00” is not a time of day"},
		{"every day at 9:60 standup", "“9:60” is not a time of day"},
		{"every day at 13pm standup", "“13pm” is not a time of day"},
		{"every day at 0 am standup", "“0 am” is not a time of day"},
		{"every minute standup", "at most once every 5 minutes"},
		{"every hour standup", "at most once every 5 minutes"},
		{"every 5 minutes standup", "at most once every 5 minutes"},
		{"every weekday standup", "Say at what time"},
		{"every", "Say which days"},
		{"every weekday at 9:00", "Say what to run"},
		{"every weekday at 9:00 Europe/Berlin", "Say what to run"},
		{"on 2026-12-01 at 9:00 standup", "Tue 1 Dec 2026 at 09:00 Europe/Berlin has already passed"},
		{"on 2026-12-05 at 1:59 standup", "has already passed"},
		{"on 2026-02-30 at 9:00 standup", "“2026-02-30” is not a date"},
		{"on 2027-03-28 at 2:30 standup", "Sun 28 Mar 2027 at 02:30 Europe/Berlin does not exist"},
		{"every weekday at 9:00 Mars/Base standup", "“Mars/Base” is not a time zone; use one such as Europe/Berlin or UTC."},
		{"every weekday at 9:00 europe/atlantis standup", "“europe/atlantis” is not a time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			_, _, err := Parse(tt.text, now, berlin)
			if got := tandem.ErrorCode(err); got != tandem.EINVALID {
				t.Fatalf("code = %q (%v), want %q", got, err, tandem.EINVALID)
			}
			if errors.Is(err, ErrNoSchedule) {
				t.Fatalf("err is ErrNoSchedule, want a refusal")
			}
			if msg := tandem.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not say %q", msg, tt.want)
			}
		})
	}
}

func TestParseNoSchedule(t *testing.T) {
	for _, text := range []string{"", "list my open PRs", "on call list", "standup every day", "tomorrowland"} {
		if _, _, err := Parse(text, now, time.UTC); !errors.Is(err, ErrNoSchedule) {
			t.Errorf("Parse(%q) = %v, want ErrNoSchedule", text, err)
		}
	}
}

func TestParseRefusesLocal(t *testing.T) {
	if _, _, err := Parse("every day at 9 standup", now, time.Local); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("Parse with time.Local = %v, want EINVALID: a stored zone must be an IANA name", err)
	}
}

func TestParseNilZoneIsUTC(t *testing.T) {
	got, _, err := Parse("every day at 9 standup", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Zone != "UTC" {
		t.Errorf("Zone = %q, want UTC", got.Zone)
	}
}
