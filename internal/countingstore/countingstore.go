// Package countingstore is a real bbolt store, in a test's temporary
// directory, that counts the reads which find turns to run, so that tests
// can prove a session's next turn is picked with one read of that session
// and never with a scan of every open turn.
package countingstore

import (
	"context"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

// Store is a bbolt store that counts the reads of the whole inbox
// (UnfinishedTurns and Waiting calls) and the reads of one session's next
// turn (NextTurn, LeaseNextTurn and NextTurnOrRelease calls).
type Store struct {
	*store.DB

	mu         sync.Mutex
	unfinished int                       // UnfinishedTurns and Waiting calls
	next       map[tandem.SessionKey]int // reads of the next turn, by session
}

// Open opens a new store in t's temporary directory, closed when t ends.
func Open(t testing.TB) *Store {
	t.Helper()
	keys, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "tandem.db"), store.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Store{DB: db}
}

// UnfinishedTurns counts the call and reads every unfinished turn.
func (s *Store) UnfinishedTurns(ctx context.Context) ([]tandem.TurnRecord, error) {
	s.mu.Lock()
	s.unfinished++
	s.mu.Unlock()
	return s.DB.UnfinishedTurns(ctx)
}

// Waiting counts the call as a read of the whole inbox, and reads each
// session's next turn.
func (s *Store) Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error) {
	s.mu.Lock()
	s.unfinished++
	s.mu.Unlock()
	return s.DB.Waiting(ctx, leasePrefix, max)
}

// NextTurn counts the call for key and reads key's next turn.
func (s *Store) NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error) {
	s.count(key)
	return s.DB.NextTurn(ctx, key)
}

// LeaseNextTurn counts the call for key, takes the lease and reads key's
// next turn.
func (s *Store) LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key tandem.SessionKey) (tandem.TurnRecord, error) {
	s.count(key)
	return s.DB.LeaseNextTurn(ctx, name, owner, ttl, key)
}

// NextTurnOrRelease counts the call for key, reads key's next turn and
// releases the lease when there is none.
func (s *Store) NextTurnOrRelease(ctx context.Context, key tandem.SessionKey, name, owner string) (tandem.TurnRecord, error) {
	s.count(key)
	return s.DB.NextTurnOrRelease(ctx, key, name, owner)
}

func (s *Store) count(key tandem.SessionKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = map[tandem.SessionKey]int{}
	}
	s.next[key]++
}

// Counts returns the reads of the whole inbox so far and the reads of a
// session's next turn, by session.
func (s *Store) Counts() (unfinished int, next map[tandem.SessionKey]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unfinished, maps.Clone(s.next)
}
