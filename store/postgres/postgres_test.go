package postgres

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/testclock"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store/postgres/pgtest"
	"github.com/tandembot/tandem/store/storetest"
)

func testKey(seed byte) []byte {
	k := make([]byte, secrets.KeySize)
	for i := range k {
		k[i] = seed ^ byte(i*7)
	}
	return k
}

func keyring(t testing.TB, current []byte, previous ...[]byte) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(current, previous...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

// openAt opens the store at url, closed when t ends.
func openAt(t testing.TB, url string, opts Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newDB opens a store in a schema of its own.
func newDB(t testing.TB) (*DB, string) {
	t.Helper()
	url := pgtest.URL(t)
	return openAt(t, url, Options{Keyring: keyring(t, testKey(1))}), url
}

// sql opens a plain connection to url, for looking under the store.
func sql(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pgtest.BaseURL(t)
	storetest.Run(t, func(t *testing.T) tandem.Store {
		db, _ := newDB(t)
		return db
	})
}

func TestMigrationFiles(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != SchemaVersion {
		t.Fatalf("%d migrations for schema version %d; each version needs one file", len(ms), SchemaVersion)
	}
	for i, m := range ms {
		if m.version != i+1 || !strings.HasPrefix(m.name, fmt.Sprintf("%04d_", i+1)) {
			t.Errorf("migration %d is %s (version %d)", i, m.name, m.version)
		}
	}
}

func TestOpenRequiresKeyring(t *testing.T) {
	_, err := Open(t.Context(), "postgres://127.0.0.1:1/none", Options{})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open without keyring: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
}

func TestOpenInvalidURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://user:s3cret@[::1", Options{Keyring: keyring(t, testKey(1))})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open of an invalid URL: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error reveals the password: %v", err)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	// Nothing listens on port 1; the connection is refused at once.
	const url = "postgres://tandem:s3cret@127.0.0.1:1/tandem?sslmode=disable&connect_timeout=5"
	_, err := Open(t.Context(), url, Options{Keyring: keyring(t, testKey(1))})
	if got := tandem.ErrorCode(err); got != tandem.EUNAVAILABLE {
		t.Errorf("Open of an unreachable server: code %q (%v), want %q", got, err, tandem.EUNAVAILABLE)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error reveals the password: %v", err)
	}
	if _, _, err := Migrate(t.Context(), url, Options{}); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("Migrate of an unreachable server: %v, want code %q", err, tandem.EUNAVAILABLE)
	}
}

func TestCloseTwiceAndPing(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t)
	must(t, db.Ping(t.Context()))
	must(t, db.Close())
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := db.Ping(t.Context()); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("Ping after Close: %v, want code %q", err, tandem.EUNAVAILABLE)
	}
	if _, err := db.Counts(t.Context()); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("Counts after Close: %v, want code %q", err, tandem.EUNAVAILABLE)
	}
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.RecordTurn(ctx, tandem.Turn{ID: "Ev1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("RecordTurn with a canceled context: %v, want context.Canceled", err)
	}
	if _, err := db.UpdateAPIKey(ctx, "tdm_none", func(*tandem.APIKey) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateAPIKey with a canceled context: %v, want context.Canceled", err)
	}
}

// seed writes one record of every kind and returns what it wrote.
func seed(t *testing.T, s tandem.Store) (tandem.Link, tandem.OAuthState, tandem.Session, tandem.Turn, tandem.AuditRecord) {
	t.Helper()
	ctx := t.Context()
	l := tandem.Link{
		Team: "T1", User: "U1", Provider: tandem.GitHub, AccountID: "583231", Login: "octo-U1",
		LinkedAt: storetest.T0,
		Token: tandem.Token{
			AccessToken: storetest.FakeAccessToken, RefreshToken: storetest.FakeRefreshToken,
			TokenType: "bearer", Expiry: storetest.T0.Add(8 * time.Hour),
		},
	}
	st := tandem.OAuthState{
		ID: storetest.FakeStateID, Provider: tandem.GitLab, Team: "T1", User: "U1",
		NonceHash: secrets.Hash("nonce"), Verifier: storetest.FakeVerifier,
		Expires: storetest.T0.Add(10 * time.Minute),
	}
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	sess := tandem.Session{Key: key, Owner: "U1", CreatedAt: storetest.T0, Editors: []string{"U2"}}
	tr := tandem.Turn{ID: "Ev1", Session: key, User: "U1", Text: "prs", TS: "1740830400.000100", ReceivedAt: storetest.T0}
	ar := tandem.AuditRecord{Time: storetest.T0, Session: key, TurnID: "Ev1", Actor: "U1", Effective: "U1", Provider: tandem.GitHub, Action: "resolve", Outcome: tandem.OutcomeOK}

	must(t, s.SaveLink(ctx, l))
	must(t, s.SaveOAuthState(ctx, st))
	_, _, err := s.EnsureSession(ctx, sess)
	must(t, err)
	_, err = s.RecordTurn(ctx, tr)
	must(t, err)
	must(t, s.AppendAudit(ctx, ar))
	return l, st, sess, tr, ar
}

func TestDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	db, url := newDB(t)
	l, st, sess, tr, ar := seed(t, db)
	must(t, db.Close())

	db = openAt(t, url, Options{Keyring: keyring(t, testKey(1))})
	ctx := t.Context()
	gotLink, err := db.Link(ctx, "T1", "U1", tandem.GitHub)
	must(t, err)
	if d := gocmp.Diff(gotLink, l); d != "" {
		t.Errorf("link after reopen (-got +want):\n%s", d)
	}
	gotState, err := db.TakeOAuthState(ctx, st.ID)
	must(t, err)
	if d := gocmp.Diff(gotState, st); d != "" {
		t.Errorf("oauth state after reopen (-got +want):\n%s", d)
	}
	gotSess, err := db.Session(ctx, sess.Key)
	must(t, err)
	if d := gocmp.Diff(gotSess, sess); d != "" {
		t.Errorf("session after reopen (-got +want):\n%s", d)
	}
	unfinished, err := db.UnfinishedTurns(ctx)
	must(t, err)
	if d := gocmp.Diff(unfinished, []tandem.TurnRecord{{Turn: tr, State: tandem.TurnPending}}); d != "" {
		t.Errorf("unfinished turns after reopen (-got +want):\n%s", d)
	}
	if dup, err := db.RecordTurn(ctx, tr); err != nil || !dup {
		t.Errorf("RecordTurn of a turn recorded before reopening: duplicate %v, %v", dup, err)
	}
	audit, err := db.Audit(ctx, tandem.AuditFilter{})
	must(t, err)
	if d := gocmp.Diff(audit, []tandem.AuditRecord{ar}); d != "" {
		t.Errorf("audit after reopen (-got +want):\n%s", d)
	}
}

// version returns the schema version recorded at url.
func version(t *testing.T, url string) int {
	t.Helper()
	v, err := readVersion(t.Context(), sql(t, url))
	must(t, err)
	return v
}

func TestOpenOlderSchemaRefused(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn := sql(t, url)
	ctx := t.Context()
	// A database of the first release, with a turn, a session and a link.
	if _, _, err := migrate(ctx, conn, "test", migrations[:1]); err != nil {
		t.Fatal(err)
	}
	keys := keyring(t, testKey(1))
	sealedCheck, _ := keys.Seal(keyCheckPT, keyCheckAD)
	db := &DB{keys: keys}
	sealedTok, err := db.keys.SealToken(tandem.Token{AccessToken: "gho_FAKE_v1_UALICE"}, "T1", "UALICE", tandem.GitHub)
	must(t, err)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO meta (name, value) VALUES ('key_check', $1)`, []any{sealedCheck}},
		{`INSERT INTO turns (id, team, channel, thread_ts, user_id, text, ts, received_at, rerun, state, attempts, recorded_at)
			VALUES ('Ev1', 'T1', 'C1', '1700000000.000100', 'UALICE', 'prs', '1700000000.000100', $1, false, 'pending', 0, $1)`, []any{storetest.T0}},
		{`INSERT INTO sessions (key, team, channel, thread_ts, owner, created_at, editors)
			VALUES ('T1/C1/1700000000.000100', 'T1', 'C1', '1700000000.000100', 'UALICE', $1, '{UBOB}')`, []any{storetest.T0}},
		{`INSERT INTO links (team, user_id, provider, account_id, login, linked_at, site, site_name, needs_reconnect, sealed_token)
			VALUES ('T1', 'UALICE', 'github', '1', 'alice', $1, '', '', false, $2)`, []any{storetest.T0, sealedTok}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}

	_, err = Open(ctx, url, Options{Keyring: keys})
	if tandem.ErrorCode(err) != tandem.EINVALID || !strings.Contains(tandem.ErrorMessage(err), "run tandem migrate") {
		t.Fatalf("Open of a schema 1 database: %v, want EINVALID saying to run tandem migrate", err)
	}
	t.Logf("older schema: %s", tandem.ErrorMessage(err))

	from, to, err := Migrate(ctx, url, Options{})
	if err != nil || from != 1 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 1, %d", from, to, err, SchemaVersion)
	}
	db = openAt(t, url, Options{Keyring: keys})
	l, err := db.Link(ctx, "T1", "UALICE", tandem.GitHub)
	if err != nil || l.Token.AccessToken != "gho_FAKE_v1_UALICE" {
		t.Errorf("link after migrate: %v (token intact: %v)", err, l.Token.AccessToken == "gho_FAKE_v1_UALICE")
	}
	s, err := db.Session(ctx, tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"})
	if err != nil || s.Owner != "UALICE" || len(s.Editors) != 1 || s.Editors[0] != "UBOB" {
		t.Errorf("session after migrate = %+v, %v", s, err)
	}
	open, err := db.UnfinishedTurns(ctx)
	if err != nil || len(open) != 1 || open[0].Turn.ID != "Ev1" || open[0].Turn.APIKey != "" {
		t.Errorf("unfinished turns after migrate = %+v, %v", open, err)
	}
	if err := db.SetSetting(ctx, "x", "y"); err != nil {
		t.Errorf("a schema 2 table is missing: %v", err)
	}
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	db, url := newDB(t)
	must(t, db.Close())
	conn := sql(t, url)
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_version (version, name) VALUES ($1, 'from_the_future.sql')`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), url, Options{Keyring: keyring(t, testKey(1))})
	if tandem.ErrorCode(err) != tandem.EINVALID || !strings.Contains(tandem.ErrorMessage(err), "written by a newer Tandem") {
		t.Errorf("Open of a newer schema: %v, want EINVALID saying it was written by a newer Tandem", err)
	}
	t.Logf("newer schema: %s", tandem.ErrorMessage(err))
	from, to, err := Migrate(t.Context(), url, Options{})
	if tandem.ErrorCode(err) != tandem.EINVALID || from != SchemaVersion+1 || to != SchemaVersion+1 {
		t.Errorf("Migrate of a newer schema = %d, %d, %v; want code %q and nothing done", from, to, err, tandem.EINVALID)
	}
}

// schemaShape describes the tables and columns at url.
func schemaShape(t *testing.T, url string) []string {
	t.Helper()
	rows, _ := sql(t, url).Query(t.Context(), `
		SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY 1`)
	shape, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	return shape
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	from, to, err := Migrate(t.Context(), url, Options{})
	if err != nil || from != 0 || to != SchemaVersion {
		t.Fatalf("Migrate of an empty database = %d, %d, %v; want 0, %d", from, to, err, SchemaVersion)
	}
	before := schemaShape(t, url)
	from, to, err = Migrate(t.Context(), url, Options{})
	if err != nil || from != SchemaVersion || to != SchemaVersion {
		t.Errorf("second Migrate = %d, %d, %v; want nothing to do", from, to, err)
	}
	if d := gocmp.Diff(schemaShape(t, url), before); d != "" {
		t.Errorf("a second migrate changed the schema (-got +want):\n%s", d)
	}
	var rows int
	must(t, sql(t, url).QueryRow(t.Context(), `SELECT count(*) FROM schema_version`).Scan(&rows))
	if rows != SchemaVersion {
		t.Errorf("schema_version holds %d rows, want %d", rows, SchemaVersion)
	}
	// Open of a migrated database creates nothing more.
	openAt(t, url, Options{Keyring: keyring(t, testKey(1))})
}

func TestConcurrentMigrateAndOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				_, _, err := Migrate(context.Background(), url, Options{})
				errs <- err
				return
			}
			// Replicas starting at once on an empty database.
			db, err := Open(context.Background(), url, Options{Keyring: keyring(t, testKey(1))})
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate or Open: %v", err)
		}
	}
	if v := version(t, url); v != SchemaVersion {
		t.Errorf("schema version after concurrent migrations = %d, want %d", v, SchemaVersion)
	}
	var rows int
	must(t, sql(t, url).QueryRow(t.Context(), `SELECT count(*) FROM schema_version`).Scan(&rows))
	if rows != SchemaVersion {
		t.Errorf("schema_version holds %d rows, want %d: a version was applied twice", rows, SchemaVersion)
	}
}

func TestMigrateFailureKeepsLastVersion(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := t.Context()
	conn := sql(t, url)
	broken := []migration{migrations[0], {
		version: 2, name: "0002_broken.sql",
		// The real step runs, then the "crash".
		sql: migrations[1].sql + "\nSELECT 1/0;",
	}}
	from, to, err := migrate(ctx, conn, "test", broken)
	if err == nil {
		t.Fatal("a failing migration succeeded")
	}
	if from != 0 || to != 1 {
		t.Errorf("failed migrate = %d, %d; want 0, 1 (the first version applied, the second not)", from, to)
	}
	if v := version(t, url); v != 1 {
		t.Errorf("schema version after a failed step = %d, want 1", v)
	}
	var apiKeys bool
	must(t, conn.QueryRow(ctx, `SELECT to_regclass('api_keys') IS NOT NULL`).Scan(&apiKeys))
	if apiKeys {
		t.Error("the failed step's tables were kept")
	}
	if from, to, err := Migrate(ctx, url, Options{}); err != nil || from != 1 || to != SchemaVersion {
		t.Errorf("Migrate after the failure = %d, %d, %v", from, to, err)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	t.Parallel()
	db, url := newDB(t)
	seed(t, db)
	must(t, db.Close())
	_, err := Open(t.Context(), url, Options{Keyring: keyring(t, testKey(2))})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open under the wrong key: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
	if !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("Open under the wrong key: %v, want it to wrap secrets.ErrUnknownKey", err)
	}
}

func TestSecretsBoundToOwner(t *testing.T) {
	t.Parallel()
	db, url := newDB(t)
	seed(t, db)
	ctx := t.Context()
	conn := sql(t, url)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Someone with write access to the tables copies rows onto other owners.
	exec(`INSERT INTO links SELECT team, 'U666', provider, account_id, login, linked_at, site, site_name, sites, needs_reconnect, sealed_token FROM links WHERE user_id = 'U1'`)
	exec(`INSERT INTO links SELECT team, user_id, 'gitlab', account_id, login, linked_at, site, site_name, sites, needs_reconnect, sealed_token FROM links WHERE user_id = 'U1'`)
	if _, err := db.Link(ctx, "T1", "U666", tandem.GitHub); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("Link of a row copied onto another user: %v, want secrets.ErrDecrypt", err)
	}
	if _, err := db.Links(ctx, "T1", "U666"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("Links of a row copied onto another user: %v, want secrets.ErrDecrypt", err)
	}
	err := db.SwapToken(ctx, "T1", "U666", tandem.GitHub, storetest.FakeRefreshToken, tandem.Token{AccessToken: "gho_FAKE_storetest_stolen"})
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("SwapToken of a row copied onto another user: %v, want secrets.ErrDecrypt", err)
	}
	if _, err := db.Link(ctx, "T1", "U1", tandem.GitLab); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("Link of a row copied onto another provider: %v, want secrets.ErrDecrypt", err)
	}

	const otherID = "state_FAKE_storetest_attacker"
	exec(`INSERT INTO oauth_states SELECT $1, provider, team, user_id, nonce_hash, expires, rerun_turn, sealed_verifier FROM oauth_states WHERE id_hash = $2`,
		secrets.Hash(otherID), secrets.Hash(storetest.FakeStateID))
	_, err = db.TakeOAuthState(ctx, otherID)
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("TakeOAuthState of a state copied under another id: %v, want secrets.ErrDecrypt", err)
	}
	if err != nil && strings.Contains(err.Error(), otherID) {
		t.Errorf("error reveals the state id: %v", err)
	}
	if _, err := db.TakeOAuthState(ctx, otherID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("a state that failed to open was not consumed: %v", err)
	}
}

// dump returns every row of every table at url as text (bytea in hex, as
// PostgreSQL prints it), and the raw bytes of every bytea value.
func dump(t *testing.T, url string) (text []string, raw [][]byte) {
	t.Helper()
	ctx := t.Context()
	conn := sql(t, url)
	rows, _ := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	for _, table := range tables {
		ident := pgx.Identifier{table}.Sanitize()
		rows, _ := conn.Query(ctx, `SELECT t::text FROM `+ident+` t`)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		text = append(text, lines...)

		rows, _ = conn.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND data_type = 'bytea'`, table)
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		for _, col := range cols {
			rows, _ := conn.Query(ctx, `SELECT `+pgx.Identifier{col}.Sanitize()+` FROM `+ident)
			values, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
			must(t, err)
			raw = append(raw, values...)
		}
	}
	return text, raw
}

func TestNoSecretsInTables(t *testing.T) {
	t.Parallel()
	db, url := newDB(t)
	seed(t, db)
	ctx := t.Context()
	must(t, db.SaveOAuthState(ctx, tandem.OAuthState{ID: storetest.FakeStateID + "2", Verifier: storetest.FakeVerifier + "2", Team: "T1", User: "U2", Provider: tandem.GitHub, Expires: storetest.T0}))
	must(t, db.SwapToken(ctx, "T1", "U1", tandem.GitHub, storetest.FakeRefreshToken, tandem.Token{AccessToken: storetest.FakeAccessToken2, RefreshToken: storetest.FakeRefreshToken2}))
	must(t, db.SaveLink(ctx, tandem.Link{Team: "T1", User: "U3", Provider: tandem.Jira, Login: "u3@example.com",
		Token: tandem.Token{AccessToken: storetest.FakeAccessToken, RefreshToken: storetest.FakeRefreshToken}}))
	must(t, db.SaveAPIKey(ctx, tandem.APIKey{Prefix: "tdm_aaaa1111", Hash: secrets.Hash("tdm_aaaa1111_FAKE_secret"), Name: "ci", Team: "T1", Creator: "U1", CreatedAt: storetest.T0}))

	text, raw := dump(t, url)
	all := strings.Join(text, "\n")
	// The scan sees clear data: non-secret fields are there.
	if !strings.Contains(all, "octo-U1") || !strings.Contains(all, "tdm_aaaa1111") {
		t.Fatalf("the dump lacks the link's login or the key's prefix; is it reading the right schema?\n%s", all)
	}
	if len(raw) < 4 {
		t.Fatalf("the dump found %d bytea values, want the sealed tokens, verifiers and key check", len(raw))
	}
	const apiKeySecret = "tdm_aaaa1111_FAKE_secret" // its prefix is shown, by design
	for _, secret := range []string{
		storetest.FakeAccessToken, storetest.FakeRefreshToken,
		storetest.FakeAccessToken2, storetest.FakeRefreshToken2,
		storetest.FakeStateID, storetest.FakeStateID + "2",
		storetest.FakeVerifier, storetest.FakeVerifier + "2",
		apiKeySecret,
	} {
		partial := secret[:12] // a partial token
		if secret == apiKeySecret {
			partial = strings.TrimPrefix(secret, "tdm_aaaa1111")
		}
		for _, form := range []string{
			secret,
			partial,
			hex.EncodeToString([]byte(secret)),
			base64.StdEncoding.EncodeToString([]byte(secret)),
			base64.RawURLEncoding.EncodeToString([]byte(secret)),
		} {
			if strings.Contains(all, form) {
				t.Errorf("a table holds %q in clear", form)
			}
			for _, v := range raw {
				if strings.Contains(string(v), form) {
					t.Errorf("a bytea value holds %q in clear", form)
				}
			}
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := testKey(1), testKey(2)
	db, url := newDB(t) // under oldKey
	l, st, _, _, _ := seed(t, db)
	must(t, db.Close())
	ctx := t.Context()

	db = openAt(t, url, Options{Keyring: keyring(t, newKey, oldKey)})
	got, err := db.Link(ctx, "T1", "U1", tandem.GitHub)
	if err != nil {
		t.Fatalf("Link under (new, old): %v", err)
	}
	if d := gocmp.Diff(got, l); d != "" {
		t.Errorf("Link under (new, old) (-got +want):\n%s", d)
	}
	n, err := db.Rekey(ctx)
	if err != nil {
		t.Fatalf("Rekey: %v", err)
	}
	if n != 2 {
		t.Errorf("Rekey resealed %d records, want 2 (a link and an oauth state)", n)
	}
	if n, err := db.Rekey(ctx); err != nil || n != 0 {
		t.Errorf("second Rekey = %d, %v; want 0, nil", n, err)
	}
	must(t, db.Close())

	db = openAt(t, url, Options{Keyring: keyring(t, newKey)})
	if got, err := db.Link(ctx, "T1", "U1", tandem.GitHub); err != nil || got.Token != l.Token {
		t.Errorf("Link under the new key alone after Rekey: %v (token intact: %v)", err, got.Token == l.Token)
	}
	if got, err := db.TakeOAuthState(ctx, st.ID); err != nil || got.Verifier != st.Verifier {
		t.Errorf("TakeOAuthState under the new key alone after Rekey: %v (verifier intact: %v)", err, got.Verifier == st.Verifier)
	}
	must(t, db.Close())

	_, err = Open(ctx, url, Options{Keyring: keyring(t, oldKey)})
	if !errors.Is(err, secrets.ErrUnknownKey) || tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("Open under the old key alone after Rekey: %v, want code %q wrapping secrets.ErrUnknownKey", err, tandem.EINVALID)
	}
}

func TestRekeyFailureRewritesNothing(t *testing.T) {
	t.Parallel()
	oldKey, newKey := testKey(1), testKey(2)
	db, url := newDB(t)
	seed(t, db)
	must(t, db.Close())
	db = openAt(t, url, Options{Keyring: keyring(t, newKey, oldKey)})
	ctx := t.Context()
	// A second link whose token does not open: Rekey must fail as a whole.
	must(t, db.SaveLink(ctx, tandem.Link{Team: "T1", User: "U2", Provider: tandem.GitHub, Token: tandem.Token{AccessToken: "x"}}))
	if _, err := sql(t, url).Exec(ctx, `UPDATE links SET sealed_token = (SELECT sealed_token FROM links WHERE user_id = 'U1') WHERE user_id = 'U2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Rekey(ctx); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("Rekey with a token that does not open: %v, want secrets.ErrDecrypt", err)
	}
	var stale int
	must(t, sql(t, url).QueryRow(ctx, `SELECT count(*) FROM links WHERE user_id = 'U1' AND substring(sealed_token FROM 1 FOR 4) <> $1`,
		mustHex(t, keyring(t, newKey).KeyID())).Scan(&stale))
	if stale != 1 {
		t.Error("a failed Rekey rewrote a link")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	must(t, err)
	return b
}

func TestPruneTurns(t *testing.T) {
	t.Parallel()
	clk := testclock.New(storetest.T0)
	url := pgtest.URL(t)
	db := openAt(t, url, Options{Keyring: keyring(t, testKey(1)), Now: clk.Now})
	ctx := t.Context()
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}
	rec := func(id, ts string, done bool) {
		t.Helper()
		if _, err := db.RecordTurn(ctx, tandem.Turn{ID: id, Session: key, TS: ts}); err != nil {
			t.Fatal(err)
		}
		if done {
			must(t, db.SetTurnState(ctx, id, tandem.TurnDone))
		}
	}
	rec("old-done", "1.001", true)
	rec("old-running", "1.002", false)
	rec("old-no-ts", "", true)
	clk.Set(storetest.T0.Add(48 * time.Hour))
	rec("new-done", "1.003", true)

	// Many old done turns, more than one pruning batch.
	clk.Set(storetest.T0.Add(time.Hour))
	_, err := sql(t, url).Exec(ctx, `
		INSERT INTO turns (id, team, channel, thread_ts, user_id, text, ts, received_at, rerun, state, attempts, recorded_at)
		SELECT 'bulk' || i, 'T1', 'C1', '1.1', 'U1', 'prs', 'bulk.' || i, $1, false, 'done', 1, $1
		FROM generate_series(1, $2) AS i`, storetest.T0.Add(time.Hour), 2*pruneBatch+5)
	must(t, err)

	n, err := db.PruneTurns(storetest.T0.Add(24 * time.Hour))
	must(t, err)
	if want := 2 + 2*pruneBatch + 5; n != want {
		t.Errorf("PruneTurns = %d, want %d", n, want)
	}
	for id, want := range map[string]string{"old-done": tandem.ENOTFOUND, "old-no-ts": tandem.ENOTFOUND, "old-running": "", "new-done": ""} {
		_, err := db.TurnRecord(ctx, id)
		if got := tandem.ErrorCode(err); got != want {
			t.Errorf("TurnRecord %s after prune: code %q, want %q", id, got, want)
		}
	}
	c, err := db.Counts(ctx)
	must(t, err)
	if c["turns"] != 2 || c["turn_dedupe"] != 2 || c["turns_open"] != 1 {
		t.Errorf("counts after prune = %v; want 2 turns, 2 dedupe, 1 open", c)
	}
	// The pruned message's ts is free again; the kept ones still dedupe.
	if dup, err := db.RecordTurn(ctx, tandem.Turn{ID: "again", Session: key, TS: "1.001"}); err != nil || dup {
		t.Errorf("redelivery of a pruned message: duplicate %v, %v; want recorded", dup, err)
	}
	if dup, err := db.RecordTurn(ctx, tandem.Turn{ID: "again2", Session: key, TS: "1.003"}); err != nil || !dup {
		t.Errorf("redelivery of a kept message: duplicate %v, %v; want duplicate", dup, err)
	}
	if n, err := db.PruneTurns(storetest.T0.Add(24 * time.Hour)); err != nil || n != 0 {
		t.Errorf("second PruneTurns = %d, %v; want 0", n, err)
	}
}

func TestPruneAudit(t *testing.T) {
	t.Parallel()
	db, url := newDB(t)
	ctx := t.Context()
	total := 2*pruneBatch + 10
	_, err := sql(t, url).Exec(ctx, `
		INSERT INTO audit (at, team, channel, thread_ts, turn_id, actor, effective, provider, action, reason, outcome, detail)
		SELECT $1::timestamptz + i * interval '1 second', '', '', '', '', 'U1', 'U1', '', 'resolve', '', 'ok', ''
		FROM generate_series(0, $2 - 1) AS i ORDER BY i`, storetest.T0, total)
	must(t, err)
	// A late record with an old time waits behind a newer one, as in bbolt.
	must(t, db.AppendAudit(ctx, tandem.AuditRecord{Time: storetest.T0, Actor: "U1", Effective: "U1", Action: "late", Outcome: tandem.OutcomeOK}))
	keepFrom := storetest.T0.Add(time.Duration(2*pruneBatch+3) * time.Second)
	n, err := db.PruneAudit(keepFrom)
	must(t, err)
	if n != 2*pruneBatch+3 {
		t.Errorf("PruneAudit = %d, want %d", n, 2*pruneBatch+3)
	}
	rest, err := db.Audit(ctx, tandem.AuditFilter{})
	must(t, err)
	if len(rest) != 8 || !rest[0].Time.Equal(keepFrom) || rest[7].Action != "late" {
		t.Errorf("after PruneAudit: %d records, first at %v; want 8 from %v, the late one last", len(rest), rest[0].Time, keepFrom)
	}
}

func TestPruneOAuthStates(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t)
	ctx := t.Context()
	for i, exp := range []time.Duration{-time.Hour, -time.Second, 0, time.Minute} {
		st := tandem.OAuthState{ID: fmt.Sprintf("state_FAKE_%d", i), Verifier: storetest.FakeVerifier, Expires: storetest.T0.Add(exp)}
		must(t, db.SaveOAuthState(ctx, st))
	}
	n, err := db.PruneOAuthStates(storetest.T0)
	if err != nil || n != 2 {
		t.Errorf("PruneOAuthStates = %d, %v; want 2", n, err)
	}
	if _, err := db.TakeOAuthState(ctx, "state_FAKE_2"); err != nil {
		t.Errorf("a state expiring exactly now was pruned: %v", err)
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t)
	seed(t, db)
	got, err := db.Counts(t.Context())
	must(t, err)
	want := map[string]int{
		"turns": 1, "turn_dedupe": 1, "turns_open": 1, "turns_by_time": 1,
		"sessions": 1, "links": 1, "oauth_states": 1, "audit": 1,
		"api_keys": 0, "settings": 0, "leases": 0, "turns_open_by_session": 1,
		"schedules": 0,
	}
	if d := gocmp.Diff(got, want); d != "" {
		t.Errorf("Counts (-got +want):\n%s", d)
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t)
	ctx := t.Context()
	for _, l := range []tandem.Link{
		{Team: "", User: "U1", Provider: tandem.GitHub},
		{Team: "T1", User: "U1/x", Provider: tandem.GitHub},
		{Team: "T1", User: "U1|x", Provider: tandem.GitHub},
		{Team: "T1", User: "U1", Provider: ""},
	} {
		if err := db.SaveLink(ctx, l); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("SaveLink %q/%q/%q: %v, want code %q", l.Team, l.User, l.Provider, err, tandem.EINVALID)
		}
	}
	if _, _, err := db.EnsureSession(ctx, tandem.Session{Key: tandem.SessionKey{Team: "T1", Channel: "C1"}}); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("EnsureSession without thread ts: %v, want code %q", err, tandem.EINVALID)
	}
	// PostgreSQL text holds no NUL and only UTF-8: refused as invalid input,
	// not as a failure of the store.
	for _, text := range []string{"nul \x00 here", "bad \xff utf-8"} {
		_, err := db.RecordTurn(ctx, tandem.Turn{ID: "Ev-" + fmt.Sprint(len(text)), Text: text})
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("RecordTurn with text %q: %v, want code %q", text, err, tandem.EINVALID)
		}
	}
}

// replicas opens n stores on one database, as n replicas of Tandem would.
func replicas(t *testing.T, n int) []*DB {
	t.Helper()
	url := pgtest.URL(t)
	var dbs []*DB
	for range n {
		dbs = append(dbs, openAt(t, url, Options{Keyring: keyring(t, testKey(1)), MaxConns: 4}))
	}
	return dbs
}

func TestReplicasRecordTurnOnce(t *testing.T) {
	t.Parallel()
	dbs := replicas(t, 3)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	const perReplica = 20
	var mu sync.Mutex
	fresh := map[string]int{}
	var wg sync.WaitGroup
	for r, db := range dbs {
		for i := range perReplica {
			wg.Go(func() {
				// Slack redelivers one event to every replica, and the same
				// message under other event ids.
				for _, tr := range []tandem.Turn{
					{ID: "Ev1", Session: key, User: "U1", Text: "prs", TS: "1740830400.000100", ReceivedAt: storetest.T0},
					{ID: fmt.Sprintf("Ev2-%d-%d", r, i), Session: key, User: "U1", Text: "prs", TS: "1740830400.000200", ReceivedAt: storetest.T0},
				} {
					dup, err := db.RecordTurn(context.Background(), tr)
					if err != nil {
						t.Errorf("replica %d: RecordTurn %s: %v", r, tr.ID, err)
						continue
					}
					if !dup {
						mu.Lock()
						fresh[tr.TS]++
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	if fresh["1740830400.000100"] != 1 || fresh["1740830400.000200"] != 1 {
		t.Errorf("non-duplicates per message across 3 replicas = %v, want exactly 1 each", fresh)
	}
	for r, db := range dbs {
		got, err := db.UnfinishedTurns(t.Context())
		if err != nil || len(got) != 2 {
			t.Errorf("replica %d sees %d unfinished turns (%v), want 2", r, len(got), err)
		}
	}
}

func TestReplicasLeaseOneWinner(t *testing.T) {
	t.Parallel()
	// Each replica's clock is a day from the others': a lease's time is
	// the database server's, so that changes nothing.
	url := pgtest.URL(t)
	var dbs []*DB
	for r := range 3 {
		clk := testclock.New(storetest.T0.Add(time.Duration(r) * 24 * time.Hour))
		dbs = append(dbs, openAt(t, url, Options{Keyring: keyring(t, testKey(1)), Now: clk.Now}))
	}
	ctx := t.Context()
	race := func(name, prefix string) []string {
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		for r, db := range dbs {
			for i := range 10 {
				wg.Go(func() {
					owner := fmt.Sprintf("%s-%d/%d", prefix, r, i)
					ok, err := db.Lease(context.Background(), name, owner, time.Minute)
					if err != nil {
						t.Errorf("Lease: %v", err)
					}
					if ok {
						mu.Lock()
						winners = append(winners, owner)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		return winners
	}
	winners := race("session/T1/C1/1.1", "replica")
	if len(winners) != 1 {
		t.Fatalf("%d owners won one lease across 3 replicas (%v), want 1", len(winners), winners)
	}
	// The holder renews through another replica's handle; others still
	// lose, whatever their clocks say.
	if ok, err := dbs[2].Lease(ctx, "session/T1/C1/1.1", winners[0], time.Minute); err != nil || !ok {
		t.Errorf("the holder could not renew through another replica: %v, %v", ok, err)
	}
	if again := race("session/T1/C1/1.1", "other"); len(again) != 0 {
		t.Fatalf("%d owners took a lease held for a minute (%v), want none", len(again), again)
	}
	// Once it expires, by the server's clock, exactly one new owner takes
	// it over.
	if ok, err := dbs[0].Lease(ctx, "session/T1/C1/1.1", winners[0], 20*time.Millisecond); err != nil || !ok {
		t.Fatalf("the holder could not renew: %v, %v", ok, err)
	}
	conn := sql(t, url)
	for deadline := time.Now().Add(10 * time.Second); ; {
		var expired bool
		must(t, conn.QueryRow(ctx, `SELECT expires <= now() FROM leases WHERE name = 'session/T1/C1/1.1'`).Scan(&expired))
		if expired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a lease of 20 ms had not expired after 10 s")
		}
	}
	if again := race("session/T1/C1/1.1", "late"); len(again) != 1 {
		t.Errorf("%d owners took over one expired lease (%v), want 1", len(again), again)
	}
	must(t, dbs[0].ReleaseLease(ctx, "session/T1/C1/1.1", "nobody"))
	if ok, _ := dbs[1].Lease(ctx, "session/T1/C1/1.1", "late", time.Minute); ok {
		t.Error("a release by a non-holder dropped the lease")
	}
}

func TestReplicasSingleUseAndSwap(t *testing.T) {
	t.Parallel()
	dbs := replicas(t, 3)
	ctx := t.Context()
	seed(t, dbs[0])
	var mu sync.Mutex
	took, swapped := 0, 0
	var wg sync.WaitGroup
	for r, db := range dbs {
		for i := range 5 {
			wg.Go(func() {
				_, err := db.TakeOAuthState(context.Background(), storetest.FakeStateID)
				if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
					t.Errorf("TakeOAuthState: %v", err)
				}
				tok := tandem.Token{AccessToken: fmt.Sprintf("gho_FAKE_r%d_%d", r, i), RefreshToken: fmt.Sprintf("ghr_FAKE_r%d_%d", r, i)}
				serr := db.SwapToken(context.Background(), "T1", "U1", tandem.GitHub, storetest.FakeRefreshToken, tok)
				if serr != nil && tandem.ErrorCode(serr) != tandem.ECONFLICT {
					t.Errorf("SwapToken: %v", serr)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					took++
				}
				if serr == nil {
					swapped++
				}
			})
		}
	}
	wg.Wait()
	if took != 1 || swapped != 1 {
		t.Errorf("across 3 replicas, %d takes of one OAuth state and %d swaps of one refresh token succeeded; want 1 and 1", took, swapped)
	}
	if _, err := dbs[1].Link(ctx, "T1", "U1", tandem.GitHub); err != nil {
		t.Errorf("Link after the swaps: %v", err)
	}
}

func TestForeignTablesRefused(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	if _, err := sql(t, url).Exec(t.Context(), `CREATE TABLE turns (id int)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), url, Options{Keyring: keyring(t, testKey(1))})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open of a database with another program's tables: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
	if v := version(t, url); v != 0 {
		t.Errorf("a failed Open left schema version %d, want none", v)
	}
}

// TestMigrateSchema2SentAt migrates a schema 2 database holding unfinished
// turns of every kind: the SQL that fills sent_at in gives each the order
// tandem.Turn.SentAt gives it, so NextTurn runs them in the thread's order.
func TestMigrateSchema2SentAt(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn := sql(t, url)
	ctx := t.Context()
	if _, _, err := migrate(ctx, conn, "test", migrations[:2]); err != nil {
		t.Fatal(err)
	}
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	at := func(d time.Duration) time.Time { return storetest.T0.Add(d) }
	turns := []tandem.Turn{ // in the order recorded
		{ID: "late", TS: "1740830400.000900", ReceivedAt: at(0)},
		{ID: "api", TS: "api-1", APIKey: "tdm_1", ReceivedAt: at(500 * time.Microsecond)},
		{ID: "rerun", TS: "1740830400.000050/rerun/github", Rerun: true, ReceivedAt: at(700 * time.Microsecond)},
		{ID: "early", TS: "1740830400.000300", ReceivedAt: at(time.Second)},
		{ID: "no-ts", ReceivedAt: at(800 * time.Microsecond)},
	}
	for _, tr := range turns {
		tr.Session = key
		if _, err := conn.Exec(ctx, `
			INSERT INTO turns (id, team, channel, thread_ts, user_id, text, ts, received_at, rerun, api_key, state, attempts, recorded_at)
			VALUES ($1, $2, $3, $4, 'U1', 'prs', $5, $6, $7, $8, 'pending', 0, $6)`,
			tr.ID, key.Team, key.Channel, key.ThreadTS, tr.TS, tr.ReceivedAt, tr.Rerun, tr.APIKey); err != nil {
			t.Fatal(err)
		}
	}
	if from, to, err := Migrate(ctx, url, Options{}); err != nil || from != 2 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 2, %d", from, to, err, SchemaVersion)
	}
	for _, tr := range turns {
		var got float64
		must(t, conn.QueryRow(ctx, `SELECT sent_at FROM turns WHERE id = $1`, tr.ID).Scan(&got))
		if want := tr.SentAt(); got != want {
			t.Errorf("sent_at of %s = %f, want %f", tr.ID, got, want)
		}
	}
	db := openAt(t, url, Options{Keyring: keyring(t, testKey(1))})
	var order []string
	for range len(turns) {
		r, err := db.NextTurn(ctx, key)
		must(t, err)
		order = append(order, r.Turn.ID)
		must(t, db.SetTurnState(ctx, r.Turn.ID, tandem.TurnDone))
	}
	if want := []string{"early", "api", "rerun", "no-ts", "late"}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("NextTurn order after migrate = %v, want %v", order, want)
	}
}

// TestNextTurnUsesItsIndex: PostgreSQL answers NextTurn from the index of
// each session's unfinished turns, reading no other session's turns.
func TestNextTurnUsesItsIndex(t *testing.T) {
	t.Parallel()
	_, url := newDB(t)
	conn := sql(t, url)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, _ := conn.Query(ctx, `EXPLAIN SELECT `+turnColumns+` FROM turns
		WHERE team = $1 AND channel = $2 AND thread_ts = $3 AND state <> 'done'
		ORDER BY sent_at, seq LIMIT 1`, "T1", "C1", "1.1")
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	if !strings.Contains(strings.Join(plan, "\n"), "turns_open_by_session") {
		t.Errorf("NextTurn's query does not use turns_open_by_session:\n%s", strings.Join(plan, "\n"))
	}
}

// TestMigrateSchema3KeyScope migrates a schema 3 database holding an API
// key: the key could run changes, so it becomes a write key; a new key
// saved without a scope is a read key, and the table refuses any other
// scope.
func TestMigrateSchema3KeyScope(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn := sql(t, url)
	ctx := t.Context()
	if _, _, err := migrate(ctx, conn, "test", migrations[:3]); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO api_keys (hash, prefix, name, team, creator, created_at)
		VALUES ('hash-of-FAKE-old', 'tdm_olde1111', 'old-ci', 'T1', 'U1', $1)`, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if from, to, err := Migrate(ctx, url, Options{}); err != nil || from != 3 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 3, %d", from, to, err, SchemaVersion)
	}
	var scope string
	must(t, conn.QueryRow(ctx, `SELECT scope FROM api_keys WHERE prefix = 'tdm_olde1111'`).Scan(&scope))
	if scope != "write" {
		t.Errorf("scope of a key from schema 3 = %q, want write", scope)
	}
	db := openAt(t, url, Options{Keyring: keyring(t, testKey(1))})
	k, err := db.APIKeyByHash(ctx, "hash-of-FAKE-old")
	if err != nil || k.Scope != tandem.ScopeWrite {
		t.Errorf("APIKeyByHash of the old key = %+v, %v; want scope write", k, err)
	}
	must(t, db.SaveAPIKey(ctx, tandem.APIKey{Prefix: "tdm_neww2222", Hash: "hash-of-FAKE-new", Name: "laptop", Team: "T1", Creator: "U1", CreatedAt: storetest.T0}))
	must(t, conn.QueryRow(ctx, `SELECT scope FROM api_keys WHERE prefix = 'tdm_neww2222'`).Scan(&scope))
	if scope != "read" {
		t.Errorf("scope of a new key saved without one = %q, want read", scope)
	}
	if _, err := conn.Exec(ctx, `UPDATE api_keys SET scope = 'admin' WHERE prefix = 'tdm_neww2222'`); err == nil {
		t.Error("the table took scope admin")
	}
}

// TestMigrateSchema5KeyPending migrates a schema 5 database holding API
// keys. tandem apikey create --user made keys for others then too, without
// asking them: such a key, and any whose audit does not show its person
// made it (the record was pruned), waits for its person's Allow after the
// upgrade; a key its person made in Slack stays allowed and reads and
// updates as before; a revoked one stays as it was.
func TestMigrateSchema5KeyPending(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn := sql(t, url)
	ctx := t.Context()
	if _, _, err := migrate(ctx, conn, "test", migrations[:5]); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		prefix, actor string
		revoked       bool
	}{
		{"tdm_olde1111", "U1", false},
		{"tdm_oper2222", "operator", false},
		{"tdm_gone3333", "", false}, // its create record was pruned
		{"tdm_oldr4444", "operator", true},
	} {
		var revoked *time.Time
		if k.revoked {
			r := storetest.T0
			revoked = &r
		}
		if _, err := conn.Exec(ctx, `INSERT INTO api_keys (hash, prefix, name, team, creator, created_at, scope, revoked)
			VALUES ($1, $2, 'old-ci', 'T1', 'U1', $3, 'read', $4)`, "hash-of-FAKE-"+k.prefix, k.prefix, storetest.T0, revoked); err != nil {
			t.Fatal(err)
		}
		if k.actor != "" {
			if _, err := conn.Exec(ctx, `INSERT INTO audit (at, team, channel, thread_ts, turn_id, actor, effective, provider, action, reason, outcome, detail)
				VALUES ($1, '', '', '', '', $2, 'U1', '', 'apikey_create', 'api_key_creator', 'ok', $3)`, storetest.T0, k.actor, k.prefix+" old-ci (read scope)"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Someone else's record naming the same prefix proves nothing.
	if _, err := conn.Exec(ctx, `INSERT INTO audit (at, team, channel, thread_ts, turn_id, actor, effective, provider, action, reason, outcome, detail)
		VALUES ($1, '', '', '', '', 'U2', 'U2', '', 'apikey_create', 'api_key_creator', 'ok', 'tdm_oper2222 ci (read scope)')`, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if from, to, err := Migrate(ctx, url, Options{}); err != nil || from != 5 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 5, %d", from, to, err, SchemaVersion)
	}
	db := openAt(t, url, Options{Keyring: keyring(t, testKey(1))})
	for prefix, want := range map[string]bool{"tdm_olde1111": false, "tdm_oper2222": true, "tdm_gone3333": true, "tdm_oldr4444": false} {
		k, err := db.APIKeyByHash(ctx, "hash-of-FAKE-"+prefix)
		if err != nil || k.Pending != want || k.Scope != tandem.ScopeRead {
			t.Errorf("%s after migrate = %+v, %v; want a read key, pending %v", prefix, k, err, want)
		}
	}
	_, err := db.UpdateAPIKey(ctx, "tdm_olde1111", func(k *tandem.APIKey) error { k.LastUsed = storetest.T0; return nil })
	must(t, err)
	var pending bool
	must(t, conn.QueryRow(ctx, `SELECT pending FROM api_keys WHERE prefix = 'tdm_olde1111'`).Scan(&pending))
	if pending {
		t.Error("an old key its person made is pending after UpdateAPIKey")
	}
}

// TestSchedulesUseTheirIndexes: the scheduler's due query reads the partial
// index of unpaused schedules with a next run, and a person's schedules
// are found by team and creator.
func TestSchedulesUseTheirIndexes(t *testing.T) {
	t.Parallel()
	_, url := newDB(t)
	conn := sql(t, url)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		f     tandem.ScheduleFilter
		index string
	}{
		{tandem.ScheduleFilter{DueBy: storetest.T0}, "schedules_due"},
		{tandem.ScheduleFilter{Team: "T1", Creator: "U1"}, "schedules_team_creator"},
	} {
		query, args := schedulesQuery(tt.f)
		rows, _ := conn.Query(ctx, `EXPLAIN `+query, args...)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		if !strings.Contains(strings.Join(plan, "\n"), tt.index) {
			t.Errorf("Schedules(%+v) does not use %s:\n%s", tt.f, tt.index, strings.Join(plan, "\n"))
		}
	}
}

// TestMigrateSchema4Schedules migrates a schema 4 database holding a turn:
// the turn runs for no schedule, and the new schema stores schedules and
// the schedule a turn runs for.
func TestMigrateSchema4Schedules(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn := sql(t, url)
	ctx := t.Context()
	if _, _, err := migrate(ctx, conn, "test", migrations[:4]); err != nil {
		t.Fatal(err)
	}
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	if _, err := conn.Exec(ctx, `
		INSERT INTO turns (id, team, channel, thread_ts, user_id, text, ts, received_at, rerun, state, attempts, recorded_at)
		VALUES ('old', $1, $2, $3, 'U1', 'prs', '1740830400.000100', $4, false, 'pending', 0, $4)`,
		key.Team, key.Channel, key.ThreadTS, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if from, to, err := Migrate(ctx, url, Options{}); err != nil || from != 4 || to != SchemaVersion {
		t.Fatalf("Migrate = %d, %d, %v; want 4, %d", from, to, err, SchemaVersion)
	}
	db := openAt(t, url, Options{Keyring: keyring(t, testKey(1))})
	r, err := db.TurnRecord(ctx, "old")
	if err != nil || r.Turn.Schedule != "" {
		t.Errorf("TurnRecord of a turn from schema 4 = %+v, %v; want no schedule", r.Turn, err)
	}
	sc := tandem.Schedule{ID: "sch_1", Session: key, Creator: "U1", Text: "prs", Cron: "0 9 * * *", Zone: "UTC", CreatedAt: storetest.T0, Next: storetest.T0}
	must(t, db.CreateSchedule(ctx, sc, 5, ""))
	if got, err := db.Schedules(ctx, tandem.ScheduleFilter{DueBy: storetest.T0}); err != nil || len(got) != 1 {
		t.Errorf("due schedules after migrating = %v, %v; want sch_1", got, err)
	}
}

// BenchmarkMarkRunning: a change's running mark, with and without the
// session lease it is written under (TurnStep.Hold: a transaction that
// locks the lease row). Needs TANDEM_TEST_DATABASE_URL.
func BenchmarkMarkRunning(b *testing.B) {
	storetest.BenchMarkRunning(b, func(b *testing.B) tandem.Store {
		db, _ := newDB(b)
		return db
	})
}
