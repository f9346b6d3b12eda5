package turns

import (
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// TestRunDueRunsTheRunWithinGraceAfterAnOutage: after Tandem was down from
// Friday to Wednesday 09:30 Berlin, Wednesday's 09:00 run is only 30
// minutes late (grace 1h) and must run; Friday to Tuesday are skipped.
// It fails when runDue judges lateness by s.Next (Friday) alone, skips,
// and moves Next past now to Thursday, losing Wednesday's run too.
func TestRunDueRunsTheRunWithinGraceAfterAnOutage(t *testing.T) {
	f := newSchFixture(t, nil)
	s := f.create(t, schCreator, "every weekday at 9:00 whoami")
	wednesday := at(berlin, 2026, 1, 7, 9, 0)
	f.runDue(t, wednesday.Add(30*time.Minute))
	got := f.chat.take()
	if len(got) != 1 || got[0].ID != runID(s, wednesday) {
		t.Errorf("30 minutes after Wednesday's due time, after an outage: submitted %+v; want %s (within the grace)", got, runID(s, wednesday))
	}
}

// TestSkippedRunIsNotALastRun: a due run skipped because a Run now came
// less than five minutes before it did not run, so it must not become
// LastRun. It fails when runDue sets cur.LastRun = due whenever
// late <= grace, including the MinInterval-skip case, so the creator's next
// Run now is refused (ELIMIT, "ran at 09:00") although the last real run was
// at 08:58.
func TestSkippedRunIsNotALastRun(t *testing.T) {
	ctx := t.Context()
	f := newSchFixture(t, nil)
	s := f.create(t, schCreator, "every weekday at 9:00 whoami")
	due := at(berlin, 2026, 1, 2, 9, 0)
	pressed := due.Add(-2 * time.Minute)
	f.clock.Set(pressed)
	if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, ScheduleRunNow); err != nil {
		t.Fatal(err)
	}
	f.runDue(t, due)
	if n := len(f.audit(t, ActionScheduleSkip)); n != 1 {
		t.Fatalf("skip records %d, want 1 (the due run two minutes after Run now)", n)
	}
	if got := f.schedule(t, s.ID); !got.LastRun.Equal(pressed) {
		t.Errorf("last run %s after a skipped due run; want %s, the Run now", got.LastRun, pressed)
	}
	f.clock.Set(pressed.Add(5*time.Minute + 30*time.Second))
	if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, s.ID, schCreator, ScheduleRunNow); tandem.ErrorCode(err) == tandem.ELIMIT {
		t.Errorf("Run now 5m30s after the last real run: %v; want it allowed", err)
	}
}
