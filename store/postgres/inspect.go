package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem/secrets"
)

// Facts are what a database says about itself: its schema version (0 when
// it has no Tandem schema) and the value sealed under its key (nil when it
// has none).
type Facts struct {
	Version  int
	KeyCheck []byte
}

// OpenedBy fails unless keys opens the database's key check, which is
// what Open requires of its keyring.
func (f Facts) OpenedBy(keys *secrets.Keyring) error {
	if _, err := keys.Open(f.KeyCheck, keyCheckAD); err != nil {
		return fmt.Errorf("postgres: key check: %w", err)
	}
	return nil
}

// Inspect reads the facts of the database conn is connected to, with
// reads only. It fails with the server's error.
func Inspect(ctx context.Context, conn *pgx.Conn) (Facts, error) {
	v, err := readVersion(ctx, conn)
	if err != nil || v == 0 {
		return Facts{Version: v}, err
	}
	f := Facts{Version: v}
	err = conn.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, keyCheckName).Scan(&f.KeyCheck)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return f, fmt.Errorf("postgres: inspect: %w", err)
	}
	return f, nil
}
