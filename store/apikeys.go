package store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// SaveAPIKey stores a new key under the hash of its secret; the secret
// itself never reaches the store. A key without a scope is stored as a read
// key. It fails with ECONFLICT when a key with the same hash or prefix
// exists, EINVALID without hash, prefix or creator, or with a scope other
// than read or write.
func (db *DB) SaveAPIKey(ctx context.Context, k tandem.APIKey) error {
	if k.Hash == "" || k.Prefix == "" || k.Creator == "" || k.Team == "" {
		return fmt.Errorf("store: save api key: %w", tandem.Errorf(tandem.EINVALID, "an API key needs a hash, a prefix, a team and a creator"))
	}
	if k.Scope == "" {
		k.Scope = tandem.ScopeRead
	}
	if err := checkScope(k.Scope); err != nil {
		return fmt.Errorf("store: save api key: %w", err)
	}
	return db.update(ctx, "save api key", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAPIKeys))
		if b.Get([]byte(k.Hash)) != nil {
			return tandem.Errorf(tandem.ECONFLICT, "an API key with that hash exists")
		}
		if _, _, found := findKey(b, k.Prefix); found {
			return tandem.Errorf(tandem.ECONFLICT, "an API key with prefix %s exists", k.Prefix)
		}
		return putJSON(b, []byte(k.Hash), k)
	})
}

// findKey scans for the key with prefix (keys are few per team).
func findKey(b *bolt.Bucket, prefix string) ([]byte, tandem.APIKey, bool) {
	c := b.Cursor()
	want := []byte(`"prefix":"` + prefix + `"`)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.Contains(v, want) {
			continue
		}
		key, err := decodeKey(v)
		if err == nil && key.Prefix == prefix {
			return append([]byte(nil), k...), key, true
		}
	}
	return nil, tandem.APIKey{}, false
}

// decodeKey reads a stored key. One stored before keys had scopes has
// none: it reads as a write key, what it could do then.
func decodeKey(v []byte) (tandem.APIKey, error) {
	var k tandem.APIKey
	if err := decode(v, &k); err != nil {
		return tandem.APIKey{}, err
	}
	k.Scope = k.EffectiveScope()
	return k, nil
}

// checkScope fails with EINVALID for a scope other than read or write.
func checkScope(s tandem.Scope) error {
	if s != tandem.ScopeRead && s != tandem.ScopeWrite {
		return tandem.Errorf(tandem.EINVALID, "an API key's scope is read or write, not %q", s)
	}
	return nil
}

// APIKeyByHash returns the key whose secret hashes to hash, or ENOTFOUND.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (tandem.APIKey, error) {
	var k tandem.APIKey
	err := db.view(ctx, "api key", func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketAPIKeys)).Get([]byte(hash))
		if raw == nil {
			return tandem.Errorf(tandem.ENOTFOUND, "no such API key")
		}
		var err error
		k, err = decodeKey(raw)
		return err
	})
	return k, err
}

// APIKeys lists team's keys (every team's when team is ""), only those of
// creator when creator is not "".
func (db *DB) APIKeys(ctx context.Context, team, creator string) ([]tandem.APIKey, error) {
	var out []tandem.APIKey
	err := db.view(ctx, "api keys", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketAPIKeys)).ForEach(func(_, v []byte) error {
			k, err := decodeKey(v)
			if err != nil {
				return err
			}
			if (team == "" || k.Team == team) && (creator == "" || k.Creator == creator) {
				out = append(out, k)
			}
			return nil
		})
	})
	return out, err
}

// UpdateAPIKey applies fn to the key with prefix in one transaction. It
// fails with ENOTFOUND when there is none, and with fn's error (nothing
// stored) when fn fails, EINVALID when fn leaves a scope other than read or
// write. fn may not change the key's hash or prefix.
func (db *DB) UpdateAPIKey(ctx context.Context, prefix string, fn func(*tandem.APIKey) error) (tandem.APIKey, error) {
	var out tandem.APIKey
	err := db.update(ctx, "update api key", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAPIKeys))
		k, key, found := findKey(b, prefix)
		if !found {
			return tandem.Errorf(tandem.ENOTFOUND, "no API key %s", prefix)
		}
		if err := fn(&key); err != nil {
			return err
		}
		if err := checkScope(key.Scope); err != nil {
			return err
		}
		key.Prefix, key.Hash = prefix, string(k)
		out = key
		return putJSON(b, k, key)
	})
	return out, err
}

// Setting returns the named setting, or ENOTFOUND.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.view(ctx, "setting", func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketSettings)).Get([]byte(name))
		if raw == nil {
			return tandem.Errorf(tandem.ENOTFOUND, "no setting %s", name)
		}
		v = string(raw)
		return nil
	})
	return v, err
}

// SetSetting stores the named setting; an empty value deletes it.
func (db *DB) SetSetting(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("store: set setting: %w", tandem.Errorf(tandem.EINVALID, "a setting needs a name"))
	}
	return db.update(ctx, "set setting", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSettings))
		if value == "" {
			return b.Delete([]byte(name))
		}
		return b.Put([]byte(name), []byte(value))
	})
}
