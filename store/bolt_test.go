package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/testclock"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store/storetest"
	bolt "go.etcd.io/bbolt"
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

func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDB(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tandem.db")
	return openAt(t, path, Options{Keyring: keyring(t, testKey(1))}), path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tandem.Store {
		db, _ := newDB(t)
		return db
	})
}

func TestOpenHeldFileFailsFast(t *testing.T) {
	_, path := newDB(t)
	// The default timeout applies: without one, bbolt would wait forever.
	second, err := Open(path, Options{Keyring: keyring(t, testKey(1))})
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a held file succeeded")
	}
	if got := tandem.ErrorCode(err); got != tandem.EUNAVAILABLE {
		t.Errorf("error code = %q (%v), want %q", got, err, tandem.EUNAVAILABLE)
	}
	if _, _, _, err := Migrate(path, Options{Timeout: 10 * time.Millisecond}); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("Migrate of a held file: %v, want code %q", err, tandem.EUNAVAILABLE)
	}
}

func TestOpenRequiresKeyring(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "tandem.db"), Options{})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open without keyring: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
}

func TestFileIsPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not enforced on Windows")
	}
	_, path := newDB(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("database file mode = %04o, want no access for group and others", got)
	}
}

func TestCloseTwice(t *testing.T) {
	db, _ := newDB(t)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := db.Counts(); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("Counts after Close: %v, want code %q", err, tandem.EUNAVAILABLE)
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

	if err := s.SaveLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveOAuthState(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EnsureSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordTurn(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, ar); err != nil {
		t.Fatal(err)
	}
	return l, st, sess, tr, ar
}

func TestDataSurvivesReopen(t *testing.T) {
	db, path := newDB(t)
	l, st, sess, tr, ar := seed(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path, Options{Keyring: keyring(t, testKey(1))})
	ctx := t.Context()
	gotLink, err := db.Link(ctx, "T1", "U1", tandem.GitHub)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(gotLink, l); d != "" {
		t.Errorf("link after reopen (-got +want):\n%s", d)
	}
	gotState, err := db.TakeOAuthState(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(gotState, st); d != "" {
		t.Errorf("oauth state after reopen (-got +want):\n%s", d)
	}
	gotSess, err := db.Session(ctx, sess.Key)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(gotSess, sess); d != "" {
		t.Errorf("session after reopen (-got +want):\n%s", d)
	}
	unfinished, err := db.UnfinishedTurns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(unfinished, []tandem.TurnRecord{{Turn: tr, State: tandem.TurnPending}}); d != "" {
		t.Errorf("unfinished turns after reopen (-got +want):\n%s", d)
	}
	if dup, err := db.RecordTurn(ctx, tr); err != nil || !dup {
		t.Errorf("RecordTurn of a turn recorded before reopening: duplicate %v, %v", dup, err)
	}
	audit, err := db.Audit(ctx, tandem.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(audit, []tandem.AuditRecord{ar}); d != "" {
		t.Errorf("audit after reopen (-got +want):\n%s", d)
	}
	// Sequences continue rather than restart, so new audit records follow.
	if err := db.AppendAudit(ctx, ar); err != nil {
		t.Fatal(err)
	}
	if audit, _ := db.Audit(ctx, tandem.AuditFilter{}); len(audit) != 2 {
		t.Errorf("audit holds %d records after one more append, want 2", len(audit))
	}
}

// setSchemaVersion rewrites the version of a closed database file.
func setSchemaVersion(t *testing.T, path string, v string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put(keySchemaVersion, []byte(v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSchemaVersion(t *testing.T) {
	if len(migrations) != SchemaVersion-1 {
		t.Fatalf("%d migrations for schema version %d; each version after 1 needs one", len(migrations), SchemaVersion)
	}
	db, path := newDB(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	from, to, _, err := Migrate(path, Options{})
	if err != nil || from != SchemaVersion || to != SchemaVersion {
		t.Errorf("Migrate of a current database = %d, %d, %v; want %d, %d, nil", from, to, err, SchemaVersion, SchemaVersion)
	}

	setSchemaVersion(t, path, strconv.Itoa(SchemaVersion+1))
	_, err = Open(path, Options{Keyring: keyring(t, testKey(1))})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open of a newer schema: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
	t.Logf("newer schema: %s", tandem.ErrorMessage(err))
	if _, _, _, err := Migrate(path, Options{}); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("Migrate of a newer schema: %v, want code %q", err, tandem.EINVALID)
	}

	setSchemaVersion(t, path, "garbage")
	if _, err := Open(path, Options{Keyring: keyring(t, testKey(1))}); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("Open with an unreadable schema version: %v, want code %q", err, tandem.EINVALID)
	}
}

func TestCheckVersionOlder(t *testing.T) {
	// No older schema exists yet; the refusal is ready for the first one.
	err := checkVersion(SchemaVersion-1, "tandem.db")
	if SchemaVersion == 1 {
		err = checkVersion(0, "tandem.db")
	}
	if tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("checkVersion of an older schema: %v, want code %q", err, tandem.EINVALID)
	}
	t.Logf("older schema: %s", tandem.ErrorMessage(err))
}

func TestMigrateMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	if _, _, _, err := Migrate(path, Options{}); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("Migrate of a missing file: %v, want code %q", err, tandem.ENOTFOUND)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("Migrate created a file")
	}
}

func TestForeignBoltFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{Keyring: keyring(t, testKey(1))})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open of another program's bbolt file: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	db, path := newDB(t)
	seed(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{Keyring: keyring(t, testKey(2))})
	if got := tandem.ErrorCode(err); got != tandem.EINVALID {
		t.Errorf("Open under the wrong key: code %q (%v), want %q", got, err, tandem.EINVALID)
	}
	if !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("Open under the wrong key: %v, want it to wrap secrets.ErrUnknownKey", err)
	}
	t.Logf("wrong key: %s", tandem.ErrorMessage(err))
}

// copyValue copies a raw value from one key to another inside a bucket, as
// someone with write access to the file could.
func copyValue(t *testing.T, db *DB, bucket, from, to string) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		return b.Put([]byte(to), bytes.Clone(b.Get([]byte(from))))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecretsBoundToOwner(t *testing.T) {
	db, _ := newDB(t)
	seed(t, db)
	ctx := t.Context()

	copyValue(t, db, bucketLinks, "T1/U1/github", "T1/U666/github")
	_, err := db.Link(ctx, "T1", "U666", tandem.GitHub)
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("Link of a row copied onto another user: %v, want secrets.ErrDecrypt", err)
	}
	if _, err := db.Links(ctx, "T1", "U666"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("Links of a row copied onto another user: %v, want secrets.ErrDecrypt", err)
	}
	err = db.SwapToken(ctx, "T1", "U666", tandem.GitHub, storetest.FakeRefreshToken, tandem.Token{AccessToken: "gho_FAKE_storetest_stolen"})
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("SwapToken of a row copied onto another user: %v, want secrets.ErrDecrypt", err)
	}
	copyValue(t, db, bucketLinks, "T1/U1/github", "T1/U1/gitlab")
	if _, err := db.Link(ctx, "T1", "U1", tandem.GitLab); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("Link of a row copied onto another provider: %v, want secrets.ErrDecrypt", err)
	}

	const otherID = "state_FAKE_storetest_attacker"
	copyValue(t, db, bucketOAuthStates, secrets.Hash(storetest.FakeStateID), secrets.Hash(otherID))
	_, err = db.TakeOAuthState(ctx, otherID)
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("TakeOAuthState of a state copied under another id: %v, want secrets.ErrDecrypt", err)
	}
	if err != nil && bytes.Contains([]byte(err.Error()), []byte(otherID)) {
		t.Errorf("error reveals the state id: %v", err)
	}
	if _, err := db.TakeOAuthState(ctx, otherID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("a state that failed to open was not consumed: %v", err)
	}
}

func TestNoSecretsInFile(t *testing.T) {
	db, path := newDB(t)
	seed(t, db)
	ctx := t.Context()
	// A second state and a swapped token, so old and new values are both
	// written (and freed pages may keep old ones).
	if err := db.SaveOAuthState(ctx, tandem.OAuthState{ID: storetest.FakeStateID + "2", Verifier: storetest.FakeVerifier + "2", Team: "T1", User: "U2", Provider: tandem.GitHub, Expires: storetest.T0}); err != nil {
		t.Fatal(err)
	}
	if err := db.SwapToken(ctx, "T1", "U1", tandem.GitHub, storetest.FakeRefreshToken, tandem.Token{AccessToken: storetest.FakeAccessToken2, RefreshToken: storetest.FakeRefreshToken2}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TakeOAuthState(ctx, storetest.FakeStateID+"2"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The scan sees clear data: a non-secret field is there.
	if !bytes.Contains(raw, []byte("octo-U1")) {
		t.Fatal("the file does not contain the link's login; is the scan reading the right file?")
	}
	for _, secret := range []string{
		storetest.FakeAccessToken, storetest.FakeRefreshToken,
		storetest.FakeAccessToken2, storetest.FakeRefreshToken2,
		storetest.FakeStateID, storetest.FakeStateID + "2",
		storetest.FakeVerifier, storetest.FakeVerifier + "2",
	} {
		for _, form := range []string{
			secret,
			base64.StdEncoding.EncodeToString([]byte(secret)),
			base64.RawURLEncoding.EncodeToString([]byte(secret)),
		} {
			if bytes.Contains(raw, []byte(form)) {
				t.Errorf("the database file contains %q in clear", form)
			}
		}
		// A partial token (its fixed prefix and a few characters) must not
		// appear either, in case of a split across pages.
		if bytes.Contains(raw, []byte(secret[:12])) {
			t.Errorf("the database file contains the start of %q", secret)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	db, path := newDB(t) // under oldKey
	l, st, _, _, _ := seed(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	db = openAt(t, path, Options{Keyring: keyring(t, newKey, oldKey)})
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
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path, Options{Keyring: keyring(t, newKey)})
	if got, err := db.Link(ctx, "T1", "U1", tandem.GitHub); err != nil || got.Token != l.Token {
		t.Errorf("Link under the new key alone after Rekey: %v (token intact: %v)", err, got.Token == l.Token)
	}
	if got, err := db.TakeOAuthState(ctx, st.ID); err != nil || got.Verifier != st.Verifier {
		t.Errorf("TakeOAuthState under the new key alone after Rekey: %v (verifier intact: %v)", err, got.Verifier == st.Verifier)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = Open(path, Options{Keyring: keyring(t, oldKey)})
	if !errors.Is(err, secrets.ErrUnknownKey) || tandem.ErrorCode(err) != tandem.EINVALID {
		t.Errorf("Open under the old key alone after Rekey: %v, want code %q wrapping secrets.ErrUnknownKey", err, tandem.EINVALID)
	}
}

func TestPreviousKeyNeededUntilRekey(t *testing.T) {
	// Without Rekey, a previous key must stay configured: dropping it makes
	// Open refuse the database rather than fail later, token by token.
	oldKey, newKey := testKey(1), testKey(2)
	db, path := newDB(t)
	seed(t, db)
	db.Close()
	db = openAt(t, path, Options{Keyring: keyring(t, newKey, oldKey)})
	db.Close()
	if _, err := Open(path, Options{Keyring: keyring(t, newKey)}); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("Open under the new key alone without Rekey: %v, want secrets.ErrUnknownKey", err)
	}
}

// bulkTurns records n turns in one transaction, done unless open says
// otherwise, for tests and benchmarks that need many.
func bulkTurns(t testing.TB, db *DB, n int, prefix string, open func(i int) bool) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%s%07d", prefix, i)
			tr := tandem.Turn{
				ID: id, Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"},
				User: "U1", Text: "prs", TS: fmt.Sprintf("%s.%07d", prefix, i), ReceivedAt: storetest.T0,
			}
			if _, err := db.recordTurn(tx, tr); err != nil {
				return err
			}
			if open != nil && open(i) {
				continue
			}
			if err := markDone(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func markDone(tx *bolt.Tx, id string) error {
	turns := tx.Bucket([]byte(bucketTurns))
	var v turnValue
	if err := decode(turns.Get([]byte(id)), &v); err != nil {
		return err
	}
	v.State = tandem.TurnDone
	if err := tx.Bucket([]byte(bucketTurnsOpen)).Delete(u64(v.Seq)); err != nil {
		return err
	}
	if err := tx.Bucket([]byte(bucketTurnsOpenBySession)).Delete(openKey(v.Turn, v.Seq)); err != nil {
		return err
	}
	return putJSON(turns, []byte(id), v)
}

func counts(t *testing.T, db *DB) map[string]int {
	t.Helper()
	c, err := db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUnfinishedIndexExcludesDone(t *testing.T) {
	db, _ := newDB(t)
	bulkTurns(t, db, 5000, "ev", func(i int) bool { return i%2000 == 7 })
	c := counts(t, db)
	if c[bucketTurns] != 5000 || c[bucketTurnsOpen] != 3 || c[bucketTurnDedupe] != 5000 || c[bucketTurnsByTime] != 5000 {
		t.Errorf("counts = %v; want 5000 turns, dedupe and time entries, and 3 open", c)
	}
	got, err := db.UnfinishedTurns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.Turn.ID)
	}
	if d := gocmp.Diff(ids, []string{"ev0000007", "ev0002007", "ev0004007"}); d != "" {
		t.Errorf("UnfinishedTurns (-got +want):\n%s", d)
	}
}

func TestPruneTurns(t *testing.T) {
	clk := testclock.New(storetest.T0)
	path := filepath.Join(t.TempDir(), "tandem.db")
	db := openAt(t, path, Options{Keyring: keyring(t, testKey(1)), Now: clk.Now})
	ctx := t.Context()
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}
	rec := func(id, ts string, done bool) {
		t.Helper()
		if _, err := db.RecordTurn(ctx, tandem.Turn{ID: id, Session: key, TS: ts}); err != nil {
			t.Fatal(err)
		}
		if done {
			if err := db.SetTurnState(ctx, id, tandem.TurnDone); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec("old-done", "1.001", true)
	rec("old-running", "1.002", false)
	rec("old-no-ts", "", true)
	clk.Set(storetest.T0.Add(48 * time.Hour))
	rec("new-done", "1.003", true)

	// Many old done turns in bulk, more than one pruning batch.
	clk.Set(storetest.T0.Add(time.Hour))
	bulkTurns(t, db, 2*pruneBatch+5, "bulk", nil)

	n, err := db.PruneTurns(storetest.T0.Add(24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + 2*pruneBatch + 5; n != want {
		t.Errorf("PruneTurns = %d, want %d", n, want)
	}
	for id, want := range map[string]string{"old-done": tandem.ENOTFOUND, "old-no-ts": tandem.ENOTFOUND, "old-running": "", "new-done": ""} {
		_, err := db.TurnRecord(ctx, id)
		if got := tandem.ErrorCode(err); got != want {
			t.Errorf("TurnRecord %s after prune: code %q, want %q", id, got, want)
		}
	}
	c := counts(t, db)
	if c[bucketTurns] != 2 || c[bucketTurnDedupe] != 2 || c[bucketTurnsByTime] != 2 || c[bucketTurnsOpen] != 1 {
		t.Errorf("counts after prune = %v; want 2 turns, 2 dedupe, 2 by time, 1 open", c)
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
	db, _ := newDB(t)
	ctx := t.Context()
	for i := range 2*pruneBatch + 10 {
		r := tandem.AuditRecord{Time: storetest.T0.Add(time.Duration(i) * time.Second), Actor: "U1", Effective: "U1", Action: "resolve", Outcome: tandem.OutcomeOK}
		if err := db.AppendAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	keepFrom := storetest.T0.Add(time.Duration(2*pruneBatch+3) * time.Second)
	n, err := db.PruneAudit(keepFrom)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2*pruneBatch+3 {
		t.Errorf("PruneAudit = %d, want %d", n, 2*pruneBatch+3)
	}
	rest, err := db.Audit(ctx, tandem.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 7 || !rest[0].Time.Equal(keepFrom) {
		t.Errorf("after PruneAudit: %d records, first at %v; want 7 from %v", len(rest), rest[0].Time, keepFrom)
	}
}

func TestPruneOAuthStates(t *testing.T) {
	db, _ := newDB(t)
	ctx := t.Context()
	for i, exp := range []time.Duration{-time.Hour, -time.Second, 0, time.Minute} {
		st := tandem.OAuthState{ID: fmt.Sprintf("state_FAKE_%d", i), Verifier: storetest.FakeVerifier, Expires: storetest.T0.Add(exp)}
		if err := db.SaveOAuthState(ctx, st); err != nil {
			t.Fatal(err)
		}
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
	db, _ := newDB(t)
	seed(t, db)
	want := map[string]int{
		bucketTurns: 1, bucketTurnDedupe: 1, bucketTurnsOpen: 1, bucketTurnsByTime: 1,
		bucketSessions: 1, bucketLinks: 1, bucketOAuthStates: 1, bucketAudit: 1,
		bucketAPIKeys: 0, bucketSettings: 0, bucketLeases: 0, bucketTurnsOpenBySession: 1,
		bucketSchedules: 0,
	}
	if d := gocmp.Diff(counts(t, db), want); d != "" {
		t.Errorf("Counts (-got +want):\n%s", d)
	}
}

func TestInvalidKeyParts(t *testing.T) {
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
}

func TestContextCanceled(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.RecordTurn(ctx, tandem.Turn{ID: "Ev1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("RecordTurn with a canceled context: %v, want context.Canceled", err)
	}
}

func BenchmarkRecordTurn(b *testing.B) {
	db, _ := newDB(b)
	ctx := context.Background()
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	i := 0
	for b.Loop() {
		i++
		tr := tandem.Turn{ID: fmt.Sprintf("Ev%09d", i), Session: key, User: "U1", Text: "prs", TS: fmt.Sprintf("1740830400.%09d", i), ReceivedAt: storetest.T0}
		if _, err := db.RecordTurn(ctx, tr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionLookup(b *testing.B) {
	db, _ := newDB(b)
	const n = 10000
	keys := make([]tandem.SessionKey, n)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucketSessions))
		for i := range keys {
			keys[i] = tandem.SessionKey{Team: "T1", Channel: fmt.Sprintf("C%03d", i%100), ThreadTS: fmt.Sprintf("1740830400.%06d", i)}
			s := tandem.Session{Key: keys[i], Owner: "U1", CreatedAt: storetest.T0, Editors: []string{"U2", "U3"}}
			if err := putJSON(bk, []byte(keys[i].String()), s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := db.Session(ctx, keys[i%n]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnfinishedTurns reads 10 unfinished turns among 100,000 done
// ones; the index keeps it independent of the done turns.
func BenchmarkUnfinishedTurns(b *testing.B) {
	db, _ := newDB(b)
	bulkTurns(b, db, 100000, "ev", func(i int) bool { return i%10000 == 0 })
	ctx := context.Background()
	for b.Loop() {
		got, err := db.UnfinishedTurns(ctx)
		if err != nil || len(got) != 10 {
			b.Fatalf("UnfinishedTurns = %d, %v", len(got), err)
		}
	}
}

// BenchmarkPickNextTurn picks one session's next turn while 1,000 turns of
// 100 sessions are unfinished (a backlog): NextTurn seeks the session's
// index; the scan is how the bot picked before it, reading every
// unfinished turn and keeping the session's earliest.
func BenchmarkPickNextTurn(b *testing.B) {
	db, _ := newDB(b)
	const sessions, perSession = 100, 10
	keys := make([]tandem.SessionKey, sessions)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for i := range sessions * perSession {
			keys[i%sessions] = tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: fmt.Sprintf("1740830400.%06d", i%sessions)}
			tr := tandem.Turn{
				ID: fmt.Sprintf("Ev%06d", i), Session: keys[i%sessions], User: "U1", Text: "prs",
				TS: fmt.Sprintf("1740830401.%06d", i), ReceivedAt: storetest.T0,
			}
			if _, err := db.recordTurn(tx, tr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("NextTurn", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := db.NextTurn(ctx, keys[i%sessions]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnfinishedTurns", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			recs, err := db.UnfinishedTurns(ctx)
			if err != nil {
				b.Fatal(err)
			}
			found := false
			for _, r := range recs {
				if r.Turn.Session == keys[i%sessions] {
					found = true
					break
				}
			}
			if !found {
				b.Fatal("no turn of the session")
			}
		}
	})
}

// BenchmarkMarkRunning: a change's running mark, with and without the
// session lease it is written under (TurnStep.Hold).
func BenchmarkMarkRunning(b *testing.B) {
	storetest.BenchMarkRunning(b, func(b *testing.B) tandem.Store {
		db, _ := newDB(b)
		return db
	})
}

// TestRenewLeaseAfterAReleaseWhilePinned: a lease released while a step
// of its owner pinned it (the step still being written) is gone once the
// step ends: its former owner's renewal takes nothing back, and another
// owner may take it.
func TestRenewLeaseAfterAReleaseWhilePinned(t *testing.T) {
	db, _ := newDB(t)
	ctx := t.Context()
	h := tandem.Hold{Name: "session/pinned", Owner: "replica-1"}
	if ok, err := db.Lease(ctx, h.Name, h.Owner, time.Minute); err != nil || !ok {
		t.Fatalf("Lease: %v, %v", ok, err)
	}
	if !db.pin(h) {
		t.Fatal("the holder's step could not pin its lease")
	}
	if err := db.ReleaseLease(ctx, h.Name, h.Owner); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.RenewLease(ctx, h.Name, h.Owner, time.Minute); ok {
		t.Error("a lease released while pinned was renewed before the step ended")
	}
	db.unpin(h.Name)
	if ok, _ := db.RenewLease(ctx, h.Name, h.Owner, time.Minute); ok {
		t.Error("a lease released while pinned was renewed by its former owner after the step ended")
	}
	if ok, _ := db.Lease(ctx, h.Name, "replica-2", time.Minute); !ok {
		t.Error("another owner could not take a lease released while pinned, after the step ended")
	}
}
