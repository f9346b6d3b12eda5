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
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/store/storetest"
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

// TestJournalHoldsOnlyTurnsNotYetInTheInbox: by the time an append hears
// that its turn is in the inbox, the journal is empty again (nothing else
// was appended meanwhile), so it never grows with turns that are recorded.
func TestJournalHoldsOnlyTurnsNotYetInTheInbox(t *testing.T) {
	db, path := newDB(t)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	text := strings.Repeat("x", 4096)
	for i := range 300 {
		r, err := storetest.Append(db, tandem.Turn{ID: fmt.Sprintf("EvBIG%04d", i), Session: key, User: "U1", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		fi, err := os.Stat(journalPath(path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 0 {
			t.Fatalf("after append %d was recorded in the inbox, the journal holds %d bytes; want 0", i, fi.Size())
		}
	}
}

// TestJournalNeverBringsBackAPrunedTurn: a turn appended, run, marked done
// and then pruned (a day later, by housekeeping) is not in the inbox again
// when the database is next opened, so it never runs twice.
func TestJournalNeverBringsBackAPrunedTurn(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	tu := tandem.Turn{ID: "EvDONE", Session: key, User: "U1", Text: "comment on acme/tools#1 hello", TS: "1740830400.000100", ReceivedAt: time.Now()}
	r, err := storetest.Append(db, tu)
	if err != nil {
		t.Fatal(err)
	}
	if r.Err != nil || r.Duplicate {
		t.Fatalf("recorded: %+v", r)
	}
	if err := db.StepTurn(ctx, tu.ID, tandem.TurnStep{State: tandem.TurnDone}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneTurns(time.Now().Add(48 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("pruned %d turns (%v); want 1", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{Keyring: keyring(t, testKey(1))})
	if rec, err := db.TurnRecord(ctx, tu.ID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("the pruned turn after a restart: %+v, %v; want it gone, never to run again", rec, err)
	}
	if unfinished, err := db.UnfinishedTurns(ctx); err != nil || len(unfinished) != 0 {
		t.Errorf("unfinished after a restart: %v, %v; want none", unfinished, err)
	}
}
