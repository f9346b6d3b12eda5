package store

import (
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// TestInspectReadsWhatOpenChecks: Inspect gives a closed database's schema
// version and a key check that its own key opens and another does not, and
// refuses, as in use, a database another handle holds.
func TestInspectReadsWhatOpenChecks(t *testing.T) {
	db, path := newDB(t)
	if _, err := Inspect(path, 50*time.Millisecond); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("Inspect of an open database: %v, want EUNAVAILABLE", err)
	}
	db.Close()
	f, err := Inspect(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != SchemaVersion || len(f.KeyCheck) == 0 {
		t.Errorf("Inspect = version %d, key check of %d bytes; want %d and one", f.Version, len(f.KeyCheck), SchemaVersion)
	}
	if err := f.OpenedBy(keyring(t, testKey(1))); err != nil {
		t.Errorf("the database's own key: %v", err)
	}
	if err := f.OpenedBy(keyring(t, testKey(2))); err == nil {
		t.Error("another key opened the key check")
	}
}
