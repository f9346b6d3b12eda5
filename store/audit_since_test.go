package store

import (
	"context"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// TestAuditSinceReadsBackToTheWindow: Audit with Since walks back from the
// newest record and stops well before the window, yet still returns a
// record appended a moment after a newer one, and nothing older than Since.
func TestAuditSinceReadsBackToTheWindow(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	add := func(at time.Time, actor string) {
		t.Helper()
		if err := db.AppendAudit(ctx, tandem.AuditRecord{Time: at, Actor: actor, Action: "resolve", Outcome: tandem.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		add(t0.Add(-2*time.Hour+time.Duration(i)*time.Second), "UOLD")
	}
	add(t0.Add(10*time.Second), "UNEWER")
	add(t0.Add(5*time.Second), "ULATE") // its time taken before UNEWER's append
	add(t0.Add(-30*time.Second), "UBEFORE")

	recs, err := db.Audit(ctx, tandem.AuditFilter{Since: t0})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Actor)
	}
	if len(got) != 2 || got[0] != "UNEWER" || got[1] != "ULATE" {
		t.Errorf("Audit(Since) = %v, want [UNEWER ULATE] in append order", got)
	}
	recs, err = db.Audit(ctx, tandem.AuditFilter{Since: t0.Add(-3 * time.Hour), User: "UOLD", Limit: 2})
	if err != nil || len(recs) != 2 || !recs[0].Time.Before(recs[1].Time) {
		t.Errorf("Audit(Since, Limit 2) = %v, %v; want the two newest of UOLD, oldest first", recs, err)
	}
}
