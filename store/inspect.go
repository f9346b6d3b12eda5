package store

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	bolt "go.etcd.io/bbolt"
)

// Facts are what a database says about itself: its schema version (0 when
// it has none) and the value sealed under its key (nil when it has none).
type Facts struct {
	Version  int
	KeyCheck []byte
}

// OpenedBy fails unless keys opens the database's key check, which is
// what Open requires of its keyring.
func (f Facts) OpenedBy(keys *secrets.Keyring) error {
	if _, err := keys.Open(f.KeyCheck, keyCheckAD); err != nil {
		return fmt.Errorf("store: key check: %w", err)
	}
	return nil
}

// Inspect reads the facts of the bbolt file at path read-only, under a
// shared lock, writing nothing. It fails with EUNAVAILABLE when another
// process holds the file for longer than timeout (a running tandem serve),
// and with the file system's error otherwise.
func Inspect(path string, timeout time.Duration) (Facts, error) {
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return Facts{}, fmt.Errorf("store: inspect: %w", tandem.Errorf(tandem.EUNAVAILABLE,
			"the database %s is in use by another process (is tandem serve running?)", path))
	} else if err != nil {
		return Facts{}, fmt.Errorf("store: inspect %s: %w", path, err)
	}
	defer bdb.Close()
	var f Facts
	err = bdb.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		if meta == nil {
			return nil
		}
		f.Version, _ = strconv.Atoi(string(meta.Get(keySchemaVersion)))
		if sealed := meta.Get(keyCheck); len(sealed) > 0 {
			f.KeyCheck = append([]byte(nil), sealed...)
		}
		return nil
	})
	return f, err
}
