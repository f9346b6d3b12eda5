package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
)

// journalRecord is one record as the journal's writer lays it out.
func journalRecord(t *testing.T, tu tandem.Turn) []byte {
	t.Helper()
	payload, err := json.Marshal(tu)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 8)
	binary.BigEndian.PutUint32(head[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(head[4:], crc32.Checksum(payload, castagnoli))
	return append(head, payload...)
}

// TestJournalLeftByACrashIsRecordedAtOpen: turns a crash left in the
// journal (durable, acknowledged, not yet in the inbox) are in the inbox as
// soon as the database opens again, once each, even when one of them got
// there before the crash; a torn last record, which was never
// acknowledged, is ignored; the journal is then empty.
func TestJournalLeftByACrashIsRecordedAtOpen(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	mk := func(id, ts string) tandem.Turn {
		return tandem.Turn{ID: id, Session: key, User: "U1", Text: "whoami", TS: ts}
	}
	before := mk("EvMOVED", "1740830400.000100")
	if _, err := db.RecordTurn(ctx, before); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var journal []byte
	for _, tu := range []tandem.Turn{before, mk("EvLEFT1", "1740830400.000200"), mk("EvLEFT2", "1740830400.000300")} {
		journal = append(journal, journalRecord(t, tu)...)
	}
	torn := journalRecord(t, mk("EvTORN", "1740830400.000400"))
	journal = append(journal, torn[:len(torn)-3]...)
	if err := os.WriteFile(journalPath(path), journal, 0o600); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path, Options{Keyring: keyring(t, testKey(1))})
	for _, id := range []string{"EvMOVED", "EvLEFT1", "EvLEFT2"} {
		rec, err := db.TurnRecord(ctx, id)
		if err != nil || rec.State != tandem.TurnPending {
			t.Errorf("%s after the restart: %+v, %v; want pending in the inbox", id, rec, err)
		}
	}
	if _, err := db.TurnRecord(ctx, "EvTORN"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("the torn record was recorded: %v", err)
	}
	unfinished, err := db.UnfinishedTurns(ctx)
	if err != nil || len(unfinished) != 3 {
		t.Errorf("%d unfinished turns (%v); want 3", len(unfinished), err)
	}
	if fi, err := os.Stat(journalPath(path)); err != nil || fi.Size() != 0 {
		t.Errorf("the journal after the restart: %v, %v; want empty", fi, err)
	}
}

// TestJournalEmptiesOnceEverythingIsInTheInbox: past journalMax, the
// writer empties the journal before its next batch, since every turn in it
// is in the inbox; it never grows much past journalMax.
func TestJournalEmptiesOnceEverythingIsInTheInbox(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	text := strings.Repeat("x", 4096)
	var last int64
	for i := 0; i < 4*journalMax/4096; i++ {
		ch, err := db.AppendTurn(ctx, tandem.Turn{ID: fmt.Sprintf("EvBIG%04d", i), Session: key, User: "U1", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if r := <-ch; r.Err != nil {
			t.Fatal(r.Err)
		}
		fi, err := os.Stat(journalPath(path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < last {
			if last < journalMax {
				t.Fatalf("the journal was emptied at %d bytes, before it reached %d", last, journalMax)
			}
			return
		}
		last = fi.Size()
	}
	t.Fatalf("the journal grew to %d bytes and was never emptied", last)
}
