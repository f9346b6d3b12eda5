package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	bolt "go.etcd.io/bbolt"
)

// stateValue is an OAuth flow as stored. The state id is a secret, so the
// key is its hash and the id itself is not kept; the verifier is sealed
// under that hash.
type stateValue struct {
	Provider       tandem.ProviderID `json:"provider"`
	Team           string            `json:"team"`
	User           string            `json:"user"`
	NonceHash      string            `json:"nonce_hash"`
	Expires        time.Time         `json:"expires"`
	RerunTurn      string            `json:"rerun_turn,omitempty"`
	SealedVerifier []byte            `json:"sealed_verifier"`
}

func stateAD(hashedID string) string { return "oauth_state|" + hashedID }

// SaveOAuthState records a flow in progress, replacing one with the same id.
// It fails with EINVALID for an empty id.
func (db *DB) SaveOAuthState(ctx context.Context, s tandem.OAuthState) error {
	if s.ID == "" {
		return fmt.Errorf("store: save oauth state: %w", tandem.Errorf(tandem.EINVALID, "the OAuth state has no id"))
	}
	k := secrets.Hash(s.ID)
	sealed, err := db.keys.Seal([]byte(s.Verifier), stateAD(k))
	if err != nil {
		return fmt.Errorf("store: save oauth state: %w", err)
	}
	v := stateValue{
		Provider: s.Provider, Team: s.Team, User: s.User, NonceHash: s.NonceHash,
		Expires: s.Expires, RerunTurn: s.RerunTurn, SealedVerifier: sealed,
	}
	return db.update(ctx, "save oauth state", func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket([]byte(bucketOAuthStates)), []byte(k), v)
	})
}

// TakeOAuthState returns and deletes the state of id in one transaction, so
// a state is usable once, even by concurrent callbacks. An expired state is
// returned too (check OAuthState.Expired). It fails with ENOTFOUND when the
// id is unknown or already used, and EINTERNAL when the verifier does not
// decrypt (the state is deleted all the same).
func (db *DB) TakeOAuthState(ctx context.Context, id string) (tandem.OAuthState, error) {
	if id == "" {
		return tandem.OAuthState{}, fmt.Errorf("store: take oauth state: %w", unknownState)
	}
	k := secrets.Hash(id)
	var v stateValue
	var verifier []byte
	var openErr error
	err := db.update(ctx, "take oauth state", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOAuthStates))
		raw := b.Get([]byte(k))
		if raw == nil {
			return unknownState
		}
		if err := decode(raw, &v); err != nil {
			return err
		}
		// A state whose verifier does not open is deleted all the same: it
		// can never succeed, and the error still reaches the caller.
		verifier, openErr = db.keys.Open(v.SealedVerifier, stateAD(k))
		return b.Delete([]byte(k))
	})
	if err != nil {
		return tandem.OAuthState{}, err
	}
	if openErr != nil {
		return tandem.OAuthState{}, fmt.Errorf("store: take oauth state: verifier: %w", openErr)
	}
	return tandem.OAuthState{
		ID: id, Provider: v.Provider, Team: v.Team, User: v.User, NonceHash: v.NonceHash,
		Verifier: string(verifier), Expires: v.Expires, RerunTurn: v.RerunTurn,
	}, nil
}

// unknownState never names the id, which is a secret.
var unknownState = tandem.Errorf(tandem.ENOTFOUND, "this sign-in link is unknown or was already used")

// PruneOAuthStates deletes flows that expired before now (abandoned
// sign-ins) and returns how many it deleted. It fails when the store is
// closed.
func (db *DB) PruneOAuthStates(now time.Time) (int, error) {
	n := 0
	err := db.update(context.Background(), "prune oauth states", func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket([]byte(bucketOAuthStates))
		var expired [][]byte
		err := b.ForEach(func(k, raw []byte) error {
			var v stateValue
			if err := decode(raw, &v); err != nil {
				return err
			}
			if v.Expires.Before(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}
