package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

const apiKeyColumns = `hash, prefix, name, team, creator, created_at, expires, last_used, revoked, scope, pending`

func scanAPIKey(row pgx.Row) (tandem.APIKey, error) {
	var k tandem.APIKey
	var expires, lastUsed, revoked *time.Time
	if err := row.Scan(&k.Hash, &k.Prefix, &k.Name, &k.Team, &k.Creator, &k.CreatedAt, &expires, &lastUsed, &revoked, &k.Scope, &k.Pending); err != nil {
		return tandem.APIKey{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.Expires, k.LastUsed, k.Revoked = fromNull(expires), fromNull(lastUsed), fromNull(revoked)
	return k, nil
}

const insertAPIKey = `INSERT INTO api_keys (` + apiKeyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// apiKeyArgs are k's columns, in apiKeyColumns' order. A key without a
// scope is one from before scopes (SaveAPIKey gives new keys read first):
// it is a write key, as the bbolt store reads it.
func apiKeyArgs(k tandem.APIKey) []any {
	if k.Scope == "" {
		k.Scope = tandem.ScopeWrite
	}
	return []any{k.Hash, k.Prefix, k.Name, k.Team, k.Creator, k.CreatedAt, nullTime(k.Expires), nullTime(k.LastUsed), nullTime(k.Revoked), string(k.Scope), k.Pending}
}

func checkAPIKey(k tandem.APIKey) error {
	if k.Hash == "" || k.Prefix == "" || k.Creator == "" || k.Team == "" {
		return tandem.Errorf(tandem.EINVALID, "an API key needs a hash, a prefix, a team and a creator")
	}
	if k.Scope == "" {
		return nil // one from before scopes; see apiKeyArgs
	}
	return checkScope(k.Scope)
}

// checkScope fails with EINVALID for a scope other than read or write, as
// the bbolt store does (the table's CHECK constraint agrees).
func checkScope(s tandem.Scope) error {
	if s != tandem.ScopeRead && s != tandem.ScopeWrite {
		return tandem.Errorf(tandem.EINVALID, "an API key's scope is read or write, not %q", s)
	}
	return nil
}

// apiKeyConflict turns a unique violation on api_keys into ECONFLICT.
func apiKeyConflict(err error, k tandem.APIKey) error {
	switch constraint, ok := uniqueViolation(err); {
	case !ok:
		return err
	case constraint == "api_keys_prefix_key":
		return tandem.Errorf(tandem.ECONFLICT, "an API key with prefix %s exists", k.Prefix)
	default:
		return tandem.Errorf(tandem.ECONFLICT, "an API key with that hash exists")
	}
}

// SaveAPIKey stores a new key under the hash of its secret; the secret
// itself never reaches the store. A key without a scope is stored as a read
// key (the column's default, write, is for rows older than scopes). It fails with ECONFLICT when a key with the
// same hash or prefix exists (unique constraints decide, across replicas
// too), EINVALID without hash, prefix, team or creator, or with a scope
// other than read or write.
func (db *DB) SaveAPIKey(ctx context.Context, k tandem.APIKey) error {
	if k.Scope == "" {
		k.Scope = tandem.ScopeRead
	}
	if err := checkAPIKey(k); err != nil {
		return fmt.Errorf("postgres: save api key: %w", err)
	}
	if err := db.ready(ctx, "save api key"); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, insertAPIKey, apiKeyArgs(k)...)
	return db.fail(ctx, "save api key", apiKeyConflict(err, k))
}

// APIKeyByHash returns the key whose secret hashes to hash, or ENOTFOUND.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (tandem.APIKey, error) {
	if err := db.ready(ctx, "api key"); err != nil {
		return tandem.APIKey{}, err
	}
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		err = tandem.Errorf(tandem.ENOTFOUND, "no such API key")
	}
	if err != nil {
		return tandem.APIKey{}, db.fail(ctx, "api key", err)
	}
	return k, nil
}

// APIKeys lists team's keys (every team's when team is ""), only those of
// creator when creator is not "", ordered by hash as in the bbolt store.
func (db *DB) APIKeys(ctx context.Context, team, creator string) ([]tandem.APIKey, error) {
	if err := db.ready(ctx, "api keys"); err != nil {
		return nil, err
	}
	rows, _ := db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE ($1 = '' OR team = $1) AND ($2 = '' OR creator = $2) ORDER BY hash`, team, creator)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, db.fail(ctx, "api keys", err)
	}
	return out, nil
}

// UpdateAPIKey applies fn to the key with prefix in one transaction, with
// the row locked. It fails with ENOTFOUND when there is none, and with fn's
// error (nothing stored) when fn fails, EINVALID when fn leaves a scope
// other than read or write. fn may not change the key's hash or
// prefix.
func (db *DB) UpdateAPIKey(ctx context.Context, prefix string, fn func(*tandem.APIKey) error) (tandem.APIKey, error) {
	var out tandem.APIKey
	var fnErr error
	err := db.inTx(ctx, "update api key", func(tx pgx.Tx) error {
		key, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE prefix = $1 FOR UPDATE`, prefix))
		if errors.Is(err, pgx.ErrNoRows) {
			return tandem.Errorf(tandem.ENOTFOUND, "no API key %s", prefix)
		} else if err != nil {
			return err
		}
		hash := key.Hash
		if fnErr = fn(&key); fnErr == nil {
			fnErr = checkScope(key.Scope)
		}
		if fnErr != nil {
			return fnErr
		}
		key.Prefix, key.Hash = prefix, hash
		out = key
		_, err = tx.Exec(ctx, `UPDATE api_keys SET name = $3, team = $4, creator = $5, created_at = $6, expires = $7, last_used = $8, revoked = $9, scope = $10, pending = $11
			WHERE hash = $1 AND prefix = $2`, apiKeyArgs(key)...)
		return err
	})
	if fnErr != nil {
		return tandem.APIKey{}, fmt.Errorf("postgres: update api key: %w", fnErr)
	}
	if err != nil {
		return tandem.APIKey{}, err
	}
	return out, nil
}

// settingByNameSQL reads the value of the setting named $1.
const settingByNameSQL = `SELECT value FROM settings WHERE name = $1`

// Setting returns the named setting, or ENOTFOUND.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.queryRow(ctx, "setting", tandem.Errorf(tandem.ENOTFOUND, "no setting %s", name),
		settingByNameSQL, []any{name}, &v)
	return v, err
}

// SetSetting stores the named setting; an empty value deletes it. It fails
// with EINVALID for an empty name.
func (db *DB) SetSetting(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("postgres: set setting: %w", tandem.Errorf(tandem.EINVALID, "a setting needs a name"))
	}
	var err error
	if value == "" {
		_, err = db.exec(ctx, "set setting", `DELETE FROM settings WHERE name = $1`, name)
	} else {
		_, err = db.exec(ctx, "set setting", `INSERT INTO settings (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	}
	return err
}
