package postgres

import (
	"context"
	"os"
	"strconv"
	"sync"
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
//
// TANDEM_BENCH_FLOOR_BACKGROUND=N adds N other commits a second, spread
// over four more connections, each updating a row of a table of their own:
// what the turns' own commits (a lease, a done state, a release: three per
// turn, so 600/s at 200 turns/s) add to the WAL flushes the inserts wait
// for.
func BenchmarkCommitFloor(b *testing.B) {
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
	stop := startBackgroundCommits(b, ctx)
	defer stop()
	payload := make([]byte, 300)
	paced.Bench(b, func() error {
		_, err := conn.Exec(ctx, "INSERT INTO floor (payload) VALUES ($1)", payload)
		return err
	})
}

// startBackgroundCommits starts TANDEM_BENCH_FLOOR_BACKGROUND commits a
// second (none when unset) on four connections of their own, and returns
// what stops them.
func startBackgroundCommits(b *testing.B, ctx context.Context) (stop func()) {
	b.Helper()
	n := 0
	if v := os.Getenv("TANDEM_BENCH_FLOOR_BACKGROUND"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			b.Fatalf("TANDEM_BENCH_FLOOR_BACKGROUND=%q: want a number of commits a second", v)
		}
	}
	if n == 0 {
		return func() {}
	}
	url := pgtest.URL(b)
	setup, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer setup.Close(ctx)
	if _, err := setup.Exec(ctx, "CREATE TABLE background (id int PRIMARY KEY, n bigint NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	const conns = 4
	bctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range conns {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO background VALUES ($1, 0)", i); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer conn.Close(context.Background())
			// Run until stopped; the timings are not kept.
			_, _ = paced.Run(bctx, max(1, n/conns), time.Hour, func() error {
				_, err := conn.Exec(bctx, "UPDATE background SET n = n + 1 WHERE id = $1", i)
				return err
			})
		})
	}
	return func() { cancel(); wg.Wait() }
}
