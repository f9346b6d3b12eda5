package store

import (
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// TestAPIKeyWithoutScopeReadsAsWrite: a key stored before keys had scopes
// (its JSON has no "scope") could run changes, and still can: it reads as
// a write key everywhere, and an update keeps it one.
func TestAPIKeyWithoutScopeReadsAsWrite(t *testing.T) {
	db, _ := newDB(t)
	ctx := t.Context()
	// As schema 3 wrote it, before scopes.
	raw := `{"prefix":"tdm_olde1111","hash":"hash-of-FAKE-old","name":"old-ci","team":"T1","creator":"U1","created_at":"2025-03-01T12:00:00Z"}`
	if err := db.update(ctx, "plant old key", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketAPIKeys)).Put([]byte("hash-of-FAKE-old"), []byte(raw))
	}); err != nil {
		t.Fatal(err)
	}
	k, err := db.APIKeyByHash(ctx, "hash-of-FAKE-old")
	if err != nil || k.Scope != tandem.ScopeWrite || k.Name != "old-ci" {
		t.Fatalf("APIKeyByHash of a key without scope = %+v, %v; want scope write", k, err)
	}
	keys, err := db.APIKeys(ctx, "T1", "")
	if err != nil || len(keys) != 1 || keys[0].Scope != tandem.ScopeWrite {
		t.Fatalf("APIKeys = %+v, %v; want the old key with scope write", keys, err)
	}
	upd, err := db.UpdateAPIKey(ctx, "tdm_olde1111", func(k *tandem.APIKey) error { k.LastUsed = storetest.T0; return nil })
	if err != nil || upd.Scope != tandem.ScopeWrite {
		t.Fatalf("UpdateAPIKey = %+v, %v; want scope write", upd, err)
	}
	if k, _ := db.APIKeyByHash(ctx, "hash-of-FAKE-old"); k.Scope != tandem.ScopeWrite || !k.LastUsed.Equal(storetest.T0) {
		t.Errorf("after UpdateAPIKey = %+v; want scope write and the last use stored", k)
	}
}
