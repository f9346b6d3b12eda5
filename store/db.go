// Package store keeps Tandem's state in one bbolt file: the inbox of turns,
// sessions, linked accounts (tokens sealed), OAuth flows in progress (PKCE
// verifiers sealed) and the audit trail.
//
// Every write is one bbolt transaction, synced to disk before the method
// returns, so a crash loses nothing that was acknowledged. Only one process
// can open the file at a time.
package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout of the buckets this binary writes. A database
// records the version it was written with; Open refuses any other one, and
// Migrate upgrades older ones.
//
// History: 1, the first release; 2 adds API keys, settings and leases; 3
// adds the index of each session's unfinished turns; 4 adds schedules and
// the journal beside the file. Version 4 changes no older bucket, but a
// binary that predates it must not open the file: it would run a pending
// scheduled run as an ordinary message of its creator (in a persistent
// session, as the owner), and ignore the journal a crash left. Version 5:
// an API key may now be pending (an operator made it and its person has
// not allowed it), and a binary that predates it would ignore the flag,
// and let the key act as that person (or clear the flag for good at its
// next update of the key); the upgrade marks pending the existing keys
// their person may not have made (pendingOldKeys).
const SchemaVersion = 5

// DefaultTimeout is how long Open waits for another process to release the
// file when Options.Timeout is zero.
const DefaultTimeout = time.Second

// Bucket names, as Counts reports them.
const (
	bucketMeta        = "meta"
	bucketTurns       = "turns"         // turn id -> turnValue
	bucketTurnDedupe  = "turn_dedupe"   // channel/ts -> turn id
	bucketTurnsOpen   = "turns_open"    // seq -> turn id, pending and running only
	bucketTurnsByTime = "turns_by_time" // recorded-at nanos ++ seq -> turn id
	bucketSessions    = "sessions"      // team/channel/thread_ts -> Session
	bucketLinks       = "links"         // team/user/provider -> linkValue
	bucketOAuthStates = "oauth_states"  // hex sha256(state id) -> stateValue
	bucketAudit       = "audit"         // seq -> AuditRecord
	bucketAPIKeys     = "api_keys"      // hex sha256(key) -> APIKey (schema 2)
	bucketSettings    = "settings"      // name -> value (schema 2)
	bucketLeases      = "leases"        // name -> leaseValue (schema 2)
	bucketSchedules   = "schedules"     // id -> Schedule (created by Open)
	// session ++ sent-at ++ seq -> turn id, pending and running only
	// (schema 3; see openKey)
	bucketTurnsOpenBySession = "turns_open_by_session"
)

var dataBuckets = []string{
	bucketTurns, bucketTurnDedupe, bucketTurnsOpen, bucketTurnsByTime,
	bucketSessions, bucketLinks, bucketOAuthStates, bucketAudit,
	bucketAPIKeys, bucketSettings, bucketLeases, bucketTurnsOpenBySession,
	bucketSchedules,
}

var (
	keySchemaVersion = []byte("schema_version")
	// keyCheck holds a constant sealed under the database's key, so Open
	// finds a wrong key at once instead of at the first token it reads.
	keyCheck   = []byte("key_check")
	keyCheckAD = "tandem|meta|key_check"
	keyCheckPT = []byte("tandem key check v1")
)

// migrations[i] upgrades a database from schema version i+1 to i+2, inside
// the transaction that Migrate commits. Its length is SchemaVersion-1.
var migrations = []func(tx *bolt.Tx) error{
	// 1 -> 2: API keys, settings and leases.
	func(tx *bolt.Tx) error {
		for _, name := range []string{bucketAPIKeys, bucketSettings, bucketLeases} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	},
	// 2 -> 3: the index of each session's unfinished turns, built from the
	// index of all unfinished turns.
	func(tx *bolt.Tx) error {
		bySession, err := tx.CreateBucketIfNotExists([]byte(bucketTurnsOpenBySession))
		if err != nil {
			return err
		}
		turns := tx.Bucket([]byte(bucketTurns))
		return tx.Bucket([]byte(bucketTurnsOpen)).ForEach(func(_, id []byte) error {
			var v turnValue
			if err := decode(turns.Get(id), &v); err != nil {
				return fmt.Errorf("turn %s: %w", id, err)
			}
			return bySession.Put(openKey(v.Turn, v.Seq), id)
		})
	},
	// 3 -> 4: schedules (the bucket; the journal is a file of its own).
	func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(bucketSchedules))
		return err
	},
	// 4 -> 5: pending API keys (pendingOldKeys).
	pendingOldKeys,
}

// pendingOldKeys marks pending, at the upgrade to schema 5, every key that
// is not revoked and that the audit does not show its person made
// themselves (an apikey_create record, as api.Keys writes it, whose actor
// is the key's creator and whose detail starts with its prefix). tandem
// apikey create --user made keys for others before keys could be pending,
// without asking them, and a key does not say who made it: such a key, or
// one whose record was pruned, now waits for its person's Allow as a new
// operator's key does, rather than act as them on a guess that they agreed.
func pendingOldKeys(tx *bolt.Tx) error {
	self := map[string]bool{} // creator + " " + prefix of the keys their person made
	err := tx.Bucket([]byte(bucketAudit)).ForEach(func(_, v []byte) error {
		var r tandem.AuditRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		if r.Action == "apikey_create" && r.Actor == r.Effective {
			prefix, _, _ := strings.Cut(r.Detail, " ")
			self[r.Actor+" "+prefix] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	keys := tx.Bucket([]byte(bucketAPIKeys))
	waiting := map[string]tandem.APIKey{}
	err = keys.ForEach(func(h, v []byte) error {
		var k tandem.APIKey
		if err := decode(v, &k); err != nil {
			return err
		}
		if k.Revoked.IsZero() && !k.Pending && !self[k.Creator+" "+k.Prefix] {
			k.Pending = true
			waiting[string(h)] = k
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("api keys: %w", err)
	}
	for h, k := range waiting {
		if err := putJSON(keys, []byte(h), k); err != nil {
			return err
		}
	}
	return nil
}

// Options configure Open.
type Options struct {
	// Keyring seals and opens tokens and verifiers. Required.
	Keyring *secrets.Keyring
	// Timeout is how long Open waits for another process holding the file;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DB is the bbolt implementation of tandem.Store. It is safe for concurrent
// use.
type DB struct {
	leases leaseTable
	bolt   *bolt.DB
	keys   *secrets.Keyring
	now    func() time.Time
	path   string
	// journal makes appended turns durable before they are in the inbox.
	journal *journal
}

var _ tandem.Store = (*DB)(nil)

// Open opens or creates the database at path. It fails with code
// EUNAVAILABLE when another process holds the file, EINVALID when the file
// was written by another schema version or under a key that is not in
// opts.Keyring (or when there is no keyring), and EINTERNAL otherwise.
func Open(path string, opts Options) (*DB, error) {
	if opts.Keyring == nil {
		return nil, fmt.Errorf("store: open %s: %w", path, tandem.Errorf(tandem.EINVALID, "the store needs an encryption key to open %s", path))
	}
	bdb, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	db := &DB{bolt: bdb, keys: opts.Keyring, now: opts.Now, path: path}
	if db.now == nil {
		db.now = time.Now
	}
	if err := bdb.Update(db.initialize); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// What a crash left in the journal goes into the inbox before anything
	// else reads it.
	if err := db.replayJournal(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.openJournal(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

func openBolt(path string, opts Options) (*bolt.DB, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: open: %w", tandem.Errorf(tandem.EUNAVAILABLE,
			"the database %s is in use by another process (is tandem serve running?)", path))
	} else if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		// The operating system's refusal (no such folder, read-only, not
		// permitted) is the operator's to fix.
		return nil, fmt.Errorf("store: open %s: %w (%w)", path, tandem.Errorf(tandem.EINVALID,
			"the database file %s cannot be opened or created: %s", path, pe.Err), err)
	} else if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// A write waits at most this long for others to share its commit.
	bdb.MaxBatchDelay = 500 * time.Microsecond
	return bdb, nil
}

// initialize creates the buckets of a new file, and checks the schema
// version and the key of an existing one.
func (db *DB) initialize(tx *bolt.Tx) error {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		if !isEmpty(tx) {
			return tandem.Errorf(tandem.EINVALID, "%s is not a Tandem database (it has no schema version)", db.path)
		}
		var err error
		if meta, err = tx.CreateBucket([]byte(bucketMeta)); err != nil {
			return err
		}
		if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
	}
	version, err := schemaVersion(tx, db.path)
	if err != nil {
		return err
	}
	if err := checkVersion(version, db.path); err != nil {
		return err
	}
	for _, name := range dataBuckets {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	// Leases live in memory now (leases.go); a lease an older binary left
	// in the file belongs to a process that is gone, so it is dropped.
	if err := tx.DeleteBucket([]byte(bucketLeases)); err != nil {
		return err
	}
	if _, err := tx.CreateBucket([]byte(bucketLeases)); err != nil {
		return err
	}
	return db.checkKey(meta)
}

func (db *DB) checkKey(meta *bolt.Bucket) error {
	sealed := meta.Get(keyCheck)
	if sealed == nil {
		sealed, err := db.keys.Seal(keyCheckPT, keyCheckAD)
		if err != nil {
			return err
		}
		return meta.Put(keyCheck, sealed)
	}
	if _, err := db.keys.Open(sealed, keyCheckAD); err != nil {
		if errors.Is(err, secrets.ErrUnknownKey) {
			return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID,
				"the secrets in %s are sealed under key id %s, which is neither the current key (%s) nor a previous one; configure the key the database was written with",
				db.path, secrets.SealedKeyID(sealed), db.keys.KeyID()), err)
		}
		return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID,
			"the key check in %s does not authenticate under key id %s; the key is wrong or the file is damaged",
			db.path, secrets.SealedKeyID(sealed)), err)
	}
	return nil
}

func isEmpty(tx *bolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error {
		empty = false
		return errors.New("stop")
	})
	return empty
}

func schemaVersion(tx *bolt.Tx, path string) (int, error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return 0, tandem.Errorf(tandem.EINVALID, "%s is not a Tandem database (it has no schema version)", path)
	}
	v, err := strconv.Atoi(string(meta.Get(keySchemaVersion)))
	if err != nil || v < 1 {
		return 0, tandem.Errorf(tandem.EINVALID, "%s has an unreadable schema version", path)
	}
	return v, nil
}

func checkVersion(version int, path string) error {
	switch {
	case version > SchemaVersion:
		return tandem.Errorf(tandem.EINVALID,
			"the database %s was written by a newer Tandem (schema %d, this binary knows up to %d); upgrade Tandem",
			path, version, SchemaVersion)
	case version < SchemaVersion:
		return tandem.Errorf(tandem.EINVALID,
			"the database %s has schema %d, older than this binary's %d; back it up and run tandem migrate",
			path, version, SchemaVersion)
	}
	return nil
}

// Migrate upgrades the database at path to SchemaVersion in one
// transaction, after copying the file to a backup beside it, and reports the
// versions it went from and to (equal, and no backup, when there was nothing
// to do). A crash or a failing step leaves the old database as it was. It
// fails with ENOTFOUND when there is no file, EUNAVAILABLE when another
// process holds it, and EINVALID when it is not a Tandem database or is
// newer than this binary.
func Migrate(path string, opts Options) (from, to int, backup string, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, 0, "", fmt.Errorf("store: migrate: %w", tandem.Errorf(tandem.ENOTFOUND, "there is no database at %s", path))
	}
	bdb, err := openBolt(path, opts)
	if err != nil {
		return 0, 0, "", err
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bolt.Tx) error {
		v, err := schemaVersion(tx, path)
		from, to = v, v
		if err != nil || v >= SchemaVersion {
			if v > SchemaVersion {
				return checkVersion(v, path)
			}
			return err
		}
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		backup = fmt.Sprintf("%s.schema%d-%s.bak", path, v, now().UTC().Format("20060102T150405Z"))
		return tx.CopyFile(backup, 0o600)
	})
	if err != nil || from == SchemaVersion {
		if err != nil {
			err = fmt.Errorf("store: migrate %s: %w", path, err)
		}
		return from, to, "", err
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for to = from; to < SchemaVersion; to++ {
			if err := migrations[to-1](tx); err != nil {
				return fmt.Errorf("schema %d to %d: %w", to, to+1, err)
			}
		}
		return tx.Bucket([]byte(bucketMeta)).Put(keySchemaVersion, []byte(strconv.Itoa(to)))
	})
	if err != nil {
		return from, from, backup, fmt.Errorf("store: migrate %s: %w", path, err)
	}
	return from, to, backup, nil
}

// Path returns the file the database lives in.
func (db *DB) Path() string { return db.path }

// Close releases the file, waiting for transactions in flight; later calls
// of other methods fail with EUNAVAILABLE. Closing twice returns nil.
func (db *DB) Close() error {
	db.closeJournal()
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

var errClosed = tandem.Errorf(tandem.EUNAVAILABLE, "the store is closed")

// update runs fn in a write transaction that is committed (fsync'ed)
// before it returns. Concurrent writes share one commit (bbolt's Batch), so
// many turns recording at once pay for one fsync, not one each; fn may
// therefore run more than once (when another write of its batch fails) and
// must only depend on the transaction.
func (db *DB) update(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	return db.write(ctx, op, db.bolt.Batch, fn)
}

// updateAlone is update in a transaction of its own, for long writes whose
// fn counts what it does (rekey, truncate).
func (db *DB) updateAlone(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	return db.write(ctx, op, db.bolt.Update, fn)
}

func (db *DB) write(ctx context.Context, op string, commit func(func(*bolt.Tx) error) error, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := commit(fn); err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			err = errClosed
		}
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

func (db *DB) view(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := db.bolt.View(fn); err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			err = errClosed
		}
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// Counts returns the number of records in each bucket, by bucket name
// ("turns", "turns_open", "links", ...). It fails when the store is closed.
func (db *DB) Counts() (map[string]int, error) {
	counts := make(map[string]int, len(dataBuckets))
	err := db.view(context.Background(), "counts", func(tx *bolt.Tx) error {
		for _, name := range dataBuckets {
			counts[name] = tx.Bucket([]byte(name)).Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// Rekey seals again, under the current key, every secret still sealed under
// a previous key, in one transaction, and returns how many records it
// rewrote. Once it returns, the previous keys can be dropped. It fails when
// a secret does not open (its key is missing from the keyring), rewriting
// nothing.
func (db *DB) Rekey(ctx context.Context) (n int, err error) {
	err = db.updateAlone(ctx, "rekey", func(tx *bolt.Tx) error {
		n = 0
		meta := tx.Bucket([]byte(bucketMeta))
		if sealed := meta.Get(keyCheck); db.keys.NeedsRekey(sealed) {
			if err := db.reseal(meta, keyCheck, sealed, keyCheckAD); err != nil {
				return err
			}
		}
		links := tx.Bucket([]byte(bucketLinks))
		var keys [][]byte
		err := links.ForEach(func(k, v []byte) error {
			var lv linkValue
			if err := decode(v, &lv); err != nil {
				return fmt.Errorf("link %s: %w", k, err)
			}
			if db.keys.NeedsRekey(lv.SealedToken) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			var lv linkValue
			if err := decode(links.Get(k), &lv); err != nil {
				return fmt.Errorf("link %s: %w", k, err)
			}
			team, user, provider, err := splitLinkKey(k)
			if err != nil {
				return err
			}
			tok, err := db.keys.OpenToken(lv.SealedToken, team, user, provider)
			if err != nil {
				return err
			}
			if lv.SealedToken, err = db.keys.SealToken(tok, team, user, provider); err != nil {
				return err
			}
			if err := putJSON(links, k, lv); err != nil {
				return err
			}
			n++
		}

		states := tx.Bucket([]byte(bucketOAuthStates))
		keys = keys[:0]
		err = states.ForEach(func(k, v []byte) error {
			var sv stateValue
			if err := decode(v, &sv); err != nil {
				return fmt.Errorf("oauth state: %w", err)
			}
			if db.keys.NeedsRekey(sv.SealedVerifier) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			var sv stateValue
			if err := decode(states.Get(k), &sv); err != nil {
				return fmt.Errorf("oauth state: %w", err)
			}
			plain, err := db.keys.Open(sv.SealedVerifier, stateAD(string(k)))
			if err != nil {
				return fmt.Errorf("oauth state verifier: %w", err)
			}
			if sv.SealedVerifier, err = db.keys.Seal(plain, stateAD(string(k))); err != nil {
				return err
			}
			if err := putJSON(states, k, sv); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (db *DB) reseal(b *bolt.Bucket, key, sealed []byte, ad string) error {
	plain, err := db.keys.Open(sealed, ad)
	if err != nil {
		return err
	}
	resealed, err := db.keys.Seal(plain, ad)
	if err != nil {
		return err
	}
	return b.Put(key, resealed)
}

// checkPart rejects an empty key component or one holding a separator, so
// composite keys ("team/user/provider") and associated data cannot be
// ambiguous.
func checkPart(what, s string) error {
	if s == "" {
		return tandem.Errorf(tandem.EINVALID, "the %s is empty", what)
	}
	if strings.ContainsAny(s, "/|\x00") {
		return tandem.Errorf(tandem.EINVALID, "the %s %q contains a separator (/ or |)", what, s)
	}
	return nil
}

func u64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

// Ping reports whether the store can still be read (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	return db.view(ctx, "ping", func(*bolt.Tx) error { return nil })
}
