package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// A replica on PostgreSQL reads the schema version again while it serves:
// once a newer release's tandem migrate moved it on (here, a row of the
// next version written by hand), the replica stops, as a shutdown does,
// and run returns why. Until then it answers as usual; it would otherwise
// go on acting on records whose new meaning it does not know (an
// operator's API key that waits for its person's Allow, say).
func TestReplicaStopsWhenANewerReleaseMigratesTheDatabase(t *testing.T) {
	dbURL := pgtest.URL(t)
	clock.schemaCheck = 20 * time.Millisecond
	t.Cleanup(func() { clock.schemaCheck = 0 })
	e := newEnv(t)
	e.vars["TANDEM_DATABASE_URL"] = dbURL
	e.start()
	e.connect("UALICE", "alice-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")

	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_version (version, name) VALUES ($1, 'from_a_newer_release.sql')`, postgres.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	done := e.done
	e.cancel, e.done = nil, nil // run ends by itself; stop has nothing to end
	e.mu.Unlock()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "written by a newer Tandem") {
			t.Errorf("run returned %v; want the newer schema named", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the replica still runs 30 s after the schema moved on\n%s", e.logs.String())
	}
	if !strings.Contains(e.logs.String(), "the database's schema changed under this replica") {
		t.Errorf("no log line says why the replica stopped:\n%s", e.logs.String())
	}
}
