package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
)

// stateAD binds a sealed verifier to its state, as the bbolt store does.
func stateAD(hashedID string) string { return "oauth_state|" + hashedID }

// unknownState never names the id, which is a secret.
var unknownState = tandem.Errorf(tandem.ENOTFOUND, "this sign-in link is unknown or was already used")

const stateColumns = `id_hash, provider, team, user_id, nonce_hash, expires, rerun_turn, sealed_verifier`

// scanState reads a state row; ID holds the id's hash and the verifier
// stays sealed.
func scanState(row pgx.Row) (tandem.OAuthState, []byte, error) {
	var s tandem.OAuthState
	var sealed []byte
	if err := row.Scan(&s.ID, &s.Provider, &s.Team, &s.User, &s.NonceHash, &s.Expires, &s.RerunTurn, &sealed); err != nil {
		return tandem.OAuthState{}, nil, err
	}
	s.Expires = s.Expires.UTC()
	return s, sealed, nil
}

const insertState = `INSERT INTO oauth_states (` + stateColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// stateArgs returns the columns of stateColumns; s.ID is the id's hash.
func stateArgs(s tandem.OAuthState, sealed []byte) []any {
	return []any{s.ID, string(s.Provider), s.Team, s.User, s.NonceHash, s.Expires, s.RerunTurn, sealed}
}

// SaveOAuthState records a flow in progress, replacing one with the same
// id. The row is keyed by the hex SHA-256 of the id, which is not kept; the
// verifier is sealed. It fails with EINVALID for an empty id.
func (db *DB) SaveOAuthState(ctx context.Context, s tandem.OAuthState) error {
	if s.ID == "" {
		return fmt.Errorf("postgres: save oauth state: %w", tandem.Errorf(tandem.EINVALID, "the OAuth state has no id"))
	}
	hashed := secrets.Hash(s.ID)
	sealed, err := db.keys.Seal([]byte(s.Verifier), stateAD(hashed))
	if err != nil {
		return fmt.Errorf("postgres: save oauth state: %w", err)
	}
	s.ID = hashed
	_, err = db.exec(ctx, "save oauth state", insertState+`
		ON CONFLICT (id_hash) DO UPDATE SET
			provider = excluded.provider, team = excluded.team, user_id = excluded.user_id,
			nonce_hash = excluded.nonce_hash, expires = excluded.expires, rerun_turn = excluded.rerun_turn,
			sealed_verifier = excluded.sealed_verifier`, stateArgs(s, sealed)...)
	return err
}

// TakeOAuthState returns and deletes the state of id in one statement
// (DELETE ... RETURNING), so a state is usable once, even by concurrent
// callbacks on different replicas. An expired state is returned too (check
// OAuthState.Expired). It fails with ENOTFOUND when the id is unknown or
// already used, and EINTERNAL when the verifier does not decrypt (the state
// is deleted all the same: it could never succeed).
func (db *DB) TakeOAuthState(ctx context.Context, id string) (tandem.OAuthState, error) {
	if id == "" {
		return tandem.OAuthState{}, fmt.Errorf("postgres: take oauth state: %w", unknownState)
	}
	if err := db.ready(ctx, "take oauth state"); err != nil {
		return tandem.OAuthState{}, err
	}
	hashed := secrets.Hash(id)
	s, sealed, err := scanState(db.pool.QueryRow(ctx, `DELETE FROM oauth_states WHERE id_hash = $1 RETURNING `+stateColumns, hashed))
	if errors.Is(err, pgx.ErrNoRows) {
		err = unknownState
	}
	if err != nil {
		return tandem.OAuthState{}, db.fail(ctx, "take oauth state", err)
	}
	verifier, err := db.keys.Open(sealed, stateAD(hashed))
	if err != nil {
		return tandem.OAuthState{}, fmt.Errorf("postgres: take oauth state: verifier: %w", err)
	}
	s.ID, s.Verifier = id, string(verifier)
	clear(verifier)
	return s, nil
}

// PruneOAuthStates deletes flows that expired before now (abandoned
// sign-ins) and returns how many it deleted. It fails when the store is
// closed.
func (db *DB) PruneOAuthStates(now time.Time) (int, error) {
	tag, err := db.exec(context.Background(), "prune oauth states", `DELETE FROM oauth_states WHERE expires < $1`, now)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
