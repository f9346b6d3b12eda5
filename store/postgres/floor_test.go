package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem/internal/paced"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// BenchmarkCommitFloor is what this machine's PostgreSQL allows a durable
// acknowledgement: one connection inserting a 300-byte row into a table of
// its own, each insert its own transaction (so each waits for its WAL
// flush, synchronous_commit as the database has it), open-loop at
// TANDEM_BENCH_FLOOR_RATE. Each insert is timed from when it was due, so a
// stalled flush also delays the inserts queued behind it. No Tandem code
// runs: the percentiles are the floor that issue 16's and 20's ack rows on
// PostgreSQL are read against. Needs TANDEM_TEST_DATABASE_URL.
func BenchmarkCommitFloor(b *testing.B) {
	rate, d := paced.Settings(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE floor (id bigserial PRIMARY KEY, payload bytea NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	var sync string
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sync); err != nil {
		b.Fatal(err)
	}
	if sync != "on" {
		b.Logf("synchronous_commit = %s: these commits do not all wait for their flush", sync)
	}
	payload := make([]byte, 300)
	var all []time.Duration
	for b.Loop() {
		ds, err := paced.Run(ctx, rate, d, func() error {
			_, err := conn.Exec(ctx, "INSERT INTO floor (payload) VALUES ($1)", payload)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, ds...)
	}
	paced.Report(b, all)
}
