package turns

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/testclock"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// TestRunDueAcrossReplicasOnPostgres: three replicas, each with its own
// connection pool to one PostgreSQL database, call RunDue at once for 500
// due times of a schedule every five minutes: each due time is claimed,
// recorded, audited and submitted exactly once. It fails, rather than
// skips, in CI without TANDEM_TEST_DATABASE_URL (pgtest).
func TestRunDueAcrossReplicasOnPostgres(t *testing.T) {
	const (
		replicas = 3
		steps    = 500
	)
	ctx := context.Background()
	url := pgtest.URL(t)
	keys, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(schFriday)
	var dbs []*postgres.DB
	var engines []*Engine
	var chats []*schChat
	for range replicas {
		db, err := postgres.Open(ctx, url, postgres.Options{Keyring: keys, Now: clock.Now})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		chat := &schChat{}
		dbs, chats = append(dbs, db), append(chats, chat)
		engines = append(engines, New(Config{Store: db, Resolver: &schResolver{}, Directory: schDirectory{}, Notifier: &schNotifier{},
			Chat: chat, Operations: schOperations, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.Now}))
	}

	start := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	s := tandem.Schedule{ID: "sch_pgreplicas", Session: schKey, Creator: schCreator, Text: "whoami",
		Cron: "*/5 * * * *", Zone: "UTC", CreatedAt: start.Add(-time.Hour), Next: start}
	if err := whenOf(s).Validate(); err != nil {
		t.Fatalf("the hand-made schedule: %v", err)
	}
	if err := dbs[0].CreateSchedule(ctx, s, 0, ""); err != nil {
		t.Fatal(err)
	}

	for i := range steps {
		now := start.Add(time.Duration(i) * 5 * time.Minute)
		clock.Set(now)
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		for r, e := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[r] = e.RunDue(ctx, now)
			}()
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("step %d: replica %d: RunDue: %v", i, r, err)
			}
		}
	}

	submitted := map[string]int{}
	total := 0
	for _, c := range chats {
		for _, tr := range c.take() {
			submitted[tr.ID]++
			total++
			if tr.User != schCreator || tr.Schedule != s.ID {
				t.Errorf("submitted %+v; want a run of %s as %s", tr, s.ID, schCreator)
			}
		}
	}
	if total != steps {
		t.Errorf("submitted %d runs across the replicas, want %d", total, steps)
	}
	for i := range steps {
		id := runID(s, start.Add(time.Duration(i)*5*time.Minute))
		if submitted[id] != 1 {
			t.Errorf("%s submitted %d times, want once", id, submitted[id])
		}
		rec, err := dbs[i%replicas].TurnRecord(ctx, id)
		if err != nil || rec.Turn.User != schCreator || rec.Turn.Schedule != s.ID {
			t.Errorf("%s recorded as %+v, %v; want a run as %s", id, rec.Turn, err, schCreator)
		}
	}
	recs, err := dbs[0].UnfinishedTurns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]int{}
	for _, r := range recs {
		if strings.HasPrefix(r.Turn.ID, "schedule/"+s.ID+"/") {
			recorded[r.Turn.ID]++
		}
	}
	if len(recorded) != steps || len(recs) != steps {
		t.Errorf("recorded %d distinct scheduled turns (%d turns in all), want %d", len(recorded), len(recs), steps)
	}
	key := schKey
	audit, err := dbs[1].Audit(ctx, tandem.AuditFilter{Session: &key})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range audit {
		counts[r.Action]++
	}
	if counts[ActionScheduleRun] != steps || counts[ActionScheduleSkip] != 0 {
		t.Errorf("audit actions %v; want %d %s and no %s", counts, steps, ActionScheduleRun, ActionScheduleSkip)
	}
	got, err := dbs[2].Schedule(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := start.Add((steps - 1) * 5 * time.Minute)
	if !got.LastRun.Equal(last) || !got.Next.Equal(last.Add(5*time.Minute)) {
		t.Errorf("after the last step: last run %s, next %s; want %s and %s", got.LastRun, got.Next, last, last.Add(5*time.Minute))
	}
}
