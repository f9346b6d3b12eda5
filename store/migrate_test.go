package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	bolt "go.etcd.io/bbolt"
)

// fixtureKey is the key internal/genfixture sealed testdata/schema1.db with.
const fixtureKey = "Zml4dHVyZS1rZXktZm9yLXNjaGVtYS0xLXRlc3RzISE="

func fixture(t *testing.T) (string, Options) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "schema1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	key, _ := secrets.ParseKey(fixtureKey)
	keys, _ := secrets.NewKeyring(key)
	return path, Options{Keyring: keys}
}

func TestMigrateFirstSchemaKeepsEverything(t *testing.T) {
	path, opts := fixture(t)
	if _, err := Open(path, opts); tandem.ErrorCode(err) != tandem.EINVALID || !bytes.Contains([]byte(err.Error()), []byte("tandem migrate")) {
		t.Fatalf("Open of a schema 1 database: %v, want a refusal that says to run tandem migrate", err)
	}
	from, to, backup, err := Migrate(path, opts)
	if err != nil || from != 1 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 1, %d", from, to, err, SchemaVersion)
	}
	if old, err := os.ReadFile(backup); err != nil || !bytes.Contains(old, []byte("schema_version")) {
		t.Errorf("no usable backup at %q: %v", backup, err)
	}
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open after migrate: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, u := range []string{"UALICE", "UBOB"} {
		l, err := db.Link(ctx, "T1", u, tandem.GitHub)
		if err != nil || l.Token.AccessToken != "gho_FIXTURE_v1_"+u {
			t.Errorf("link of %s after migrate: %v (token intact: %v)", u, err, l.Token.AccessToken == "gho_FIXTURE_v1_"+u)
		}
	}
	s, err := db.Session(ctx, tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"})
	if err != nil || s.Owner != "UALICE" || len(s.Editors) != 1 || s.Editors[0] != "UBOB" {
		t.Errorf("session after migrate = %+v, %v", s, err)
	}
	open, _ := db.UnfinishedTurns(ctx)
	if len(open) != 1 || open[0].Turn.ID != "Ev2" {
		t.Errorf("unfinished turns after migrate = %+v", open)
	}
	if err := db.SetSetting(ctx, "x", "y"); err != nil {
		t.Errorf("a schema 2 bucket is missing: %v", err)
	}
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	path, opts := fixture(t)
	if _, _, _, err := Migrate(path, opts); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	from, to, backup, err := Migrate(path, opts)
	if err != nil || from != SchemaVersion || to != SchemaVersion || backup != "" {
		t.Errorf("second Migrate = %d, %d, %q, %v; want nothing to do", from, to, backup, err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a second migrate changed the file")
	}
}

func TestMigrateCrashLeavesTheOldDatabase(t *testing.T) {
	path, opts := fixture(t)
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = []func(*bolt.Tx) error{func(tx *bolt.Tx) error {
		if err := saved[0](tx); err != nil { // the real step runs, then the "crash"
			return err
		}
		return errors.New("simulated crash")
	}}
	if _, _, _, err := Migrate(path, opts); err == nil {
		t.Fatal("a failing migration succeeded")
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var version string
	var hasNew bool
	db.View(func(tx *bolt.Tx) error {
		version = string(tx.Bucket([]byte(bucketMeta)).Get(keySchemaVersion))
		hasNew = tx.Bucket([]byte(bucketAPIKeys)) != nil
		return nil
	})
	db.Close()
	if version != "1" || hasNew {
		t.Errorf("after a failed migration: schema %q, new buckets %v; want the old database", version, hasNew)
	}
	migrations = saved
	if _, _, _, err := Migrate(path, opts); err != nil {
		t.Errorf("migrating after the failure: %v", err)
	}
}

// TestMigrateBuildsSessionIndex: the unfinished turn of the schema 1
// fixture is its session's next turn once migrated.
func TestMigrateBuildsSessionIndex(t *testing.T) {
	path, opts := fixture(t)
	if _, _, _, err := Migrate(path, opts); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"}
	if r, err := db.NextTurn(t.Context(), key); err != nil || r.Turn.ID != "Ev2" || r.State != tandem.TurnPending {
		t.Errorf("NextTurn after migrate = %s (%s), %v; want Ev2, pending", r.Turn.ID, r.State, err)
	}
	if err := db.SetTurnState(t.Context(), "Ev2", tandem.TurnDone); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NextTurn(t.Context(), key); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("NextTurn with Ev2 done: %v, want ENOTFOUND", err)
	}
}

// TestMigrateSchema2 makes a schema 2 database (the current one without the
// index of each session's unfinished turns) and migrates it: the index holds
// the unfinished turns, pending and running, and none of the done ones.
func TestMigrateSchema2(t *testing.T) {
	db, path := newDB(t)
	ctx := t.Context()
	a := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}
	b := tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1.1"}
	for i, tr := range []tandem.Turn{
		{ID: "a-done", Session: a, TS: "1.1"},
		{ID: "a-late", Session: a, TS: "1.5"},
		{ID: "a-running", Session: a, TS: "1.3"},
		{ID: "b-done", Session: b, TS: "1.2"},
	} {
		tr.ReceivedAt = time.Unix(int64(i), 0)
		if _, err := db.RecordTurn(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	for id, state := range map[string]tandem.TurnState{"a-done": tandem.TurnDone, "a-running": tandem.TurnRunning, "b-done": tandem.TurnDone} {
		if err := db.SetTurnState(ctx, id, state); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bucketTurnsOpenBySession)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketMeta)).Put(keySchemaVersion, []byte("2"))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}

	opts := Options{Keyring: keyring(t, testKey(1))}
	from, to, _, err := Migrate(path, opts)
	if err != nil || from != 2 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 2, %d", from, to, err, SchemaVersion)
	}
	db = openAt(t, path, opts)
	if c := counts(t, db); c[bucketTurnsOpenBySession] != 2 {
		t.Errorf("the index holds %d turns after migrate, want 2", c[bucketTurnsOpenBySession])
	}
	var got []string
	for range 3 {
		r, err := db.NextTurn(ctx, a)
		if err != nil {
			break
		}
		got = append(got, r.Turn.ID+" "+string(r.State))
		if err := db.SetTurnState(ctx, r.Turn.ID, tandem.TurnDone); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"a-running running", "a-late pending"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("session a's turns after migrate: %v, want %v", got, want)
	}
	if _, err := db.NextTurn(ctx, b); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("NextTurn of session b, whose turn is done: %v, want ENOTFOUND", err)
	}
}

// TestMigrateSchema4OperatorKeysWait migrates a schema 4 database whose
// keys were made before keys could be pending. tandem apikey create --user
// made keys for others then too, without asking them: such a key, and any
// whose audit does not show its person made it (the record was pruned),
// waits for its person's Allow after the upgrade, as a new operator's key
// does; a key its person made in Slack stays allowed, and a revoked one
// stays as it was.
func TestMigrateSchema4OperatorKeysWait(t *testing.T) {
	db, path := newDB(t)
	ctx := t.Context()
	for _, k := range []struct {
		prefix, actor string
		revoked       bool
	}{
		{"tdm_self1111", "U1", false},
		{"tdm_oper2222", "operator", false},
		{"tdm_gone3333", "", false}, // its create record was pruned
		{"tdm_oldr4444", "operator", true},
	} {
		rec := tandem.APIKey{Prefix: k.prefix, Hash: "hash-of-FAKE-" + k.prefix, Name: "ci", Team: "T1", Creator: "U1", CreatedAt: time.Unix(1, 0)}
		if k.revoked {
			rec.Revoked = time.Unix(2, 0)
		}
		if err := db.SaveAPIKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if k.actor != "" {
			if err := db.AppendAudit(ctx, tandem.AuditRecord{Time: time.Unix(1, 0), Actor: k.actor, Effective: "U1", Action: "apikey_create",
				Reason: tandem.ReasonAPIKeyCreator, Outcome: tandem.OutcomeOK, Detail: k.prefix + " ci (read scope)"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Someone else's record naming the same prefix proves nothing.
	if err := db.AppendAudit(ctx, tandem.AuditRecord{Time: time.Unix(1, 0), Actor: "U2", Effective: "U2", Action: "apikey_create",
		Reason: tandem.ReasonAPIKeyCreator, Outcome: tandem.OutcomeOK, Detail: "tdm_oper2222 ci (read scope)"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucketMeta)).Put(keySchemaVersion, []byte("4")) })
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Keyring: keyring(t, testKey(1))}
	if from, to, _, err := Migrate(path, opts); err != nil || from != 4 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 4, %d", from, to, err, SchemaVersion)
	}
	db = openAt(t, path, opts)
	for prefix, want := range map[string]bool{"tdm_self1111": false, "tdm_oper2222": true, "tdm_gone3333": true, "tdm_oldr4444": false} {
		k, err := db.APIKeyByHash(ctx, "hash-of-FAKE-"+prefix)
		if err != nil || k.Pending != want {
			t.Errorf("%s after migrate: pending %v (%v), want %v", prefix, k.Pending, err, want)
		}
	}
}
