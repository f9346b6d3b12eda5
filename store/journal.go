package store

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// The journal is where AppendTurn makes a turn durable before it is in the
// inbox: a file of its own beside the database, appended to and fsynced
// once for every appends that came meanwhile (group commit), so that
// acknowledging a Slack event never waits for the database's writer, which
// the running turns share. A mover records each batch of appended turns
// in the inbox in one transaction, and Open records whatever a crash left
// in the journal before anything else. Each time the mover finds every
// appended turn in the inbox, it empties the journal, and Close empties it
// for good: a turn already in the inbox, which may be done and pruned by
// the time the database is next opened, must not be there to replay.
//
// Each record is a 4-byte big-endian length, the CRC-32 (Castagnoli) of the
// payload, and the payload: the turn as JSON. A torn last record (a crash
// in the middle of a write, before its fsync, so never acknowledged) is
// ignored.
type journal struct {
	f    *os.File
	path string

	mu      sync.Mutex
	cond    *sync.Cond
	pending []*appendReq
	closed  bool
	// size is the file's length; unmoved counts the appended turns not
	// yet recorded in the inbox. Both belong to the writer and mover.
	size    int64
	unmoved int

	// fmu serializes the writer's writes and the mover's emptying of f.
	fmu sync.Mutex

	moves chan []*appendReq
	done  sync.WaitGroup
}

// appendReq is one AppendTurn waiting for its record to be durable
// (durable is called) and then recorded in the inbox (recorded).
type appendReq struct {
	t        tandem.Turn
	payload  []byte
	durable  func(error)
	recorded func(tandem.Recorded)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journalPath is the journal of the database at path.
func journalPath(path string) string { return path + ".journal" }

// replayJournal records in the inbox every turn the journal of db holds
// (duplicates are ignored), then empties it. It runs at Open, before
// anything else uses the database.
func (db *DB) replayJournal() error {
	path := journalPath(db.path)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open journal: %w", err)
	}
	var turns []tandem.Turn
	r := bufio.NewReader(f)
	for {
		t, err := readRecord(r)
		if err != nil {
			break // the end, or a torn last record that was never acknowledged
		}
		turns = append(turns, t)
	}
	f.Close()
	if len(turns) > 0 {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for _, t := range turns {
				if _, err := db.recordTurn(tx, t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: record the journal's %d turns: %w", len(turns), err)
		}
	}
	if err := os.Truncate(path, 0); err != nil {
		return fmt.Errorf("store: empty journal: %w", err)
	}
	return nil
}

func readRecord(r io.Reader) (tandem.Turn, error) {
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return tandem.Turn{}, err
	}
	n := binary.BigEndian.Uint32(head[:4])
	if n > 1<<20 {
		return tandem.Turn{}, errors.New("record too long")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return tandem.Turn{}, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(head[4:]) {
		return tandem.Turn{}, errors.New("bad checksum")
	}
	var t tandem.Turn
	if err := json.Unmarshal(payload, &t); err != nil {
		return tandem.Turn{}, err
	}
	return t, nil
}

// openJournal opens db's journal for appending (after replayJournal) and
// starts its writer and mover.
func (db *DB) openJournal() error {
	f, err := os.OpenFile(journalPath(db.path), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: open journal: %w", err)
	}
	j := &journal{f: f, path: journalPath(db.path), moves: make(chan []*appendReq, 1024)}
	j.cond = sync.NewCond(&j.mu)
	db.journal = j
	j.done.Add(2)
	go func() { defer j.done.Done(); j.write() }()
	go func() { defer j.done.Done(); db.move() }()
	return nil
}

// AppendTurn queues t for the journal's next write and returns. Once the
// write is fsynced, durable is called: a crash from then on still records
// t in the inbox when the database is next opened. t is recorded in the
// inbox (RecordTurn's rules, duplicates ignored) soon after, and recorded
// is called with what that found. Appends that arrive together share one
// fsync, and none waits for the database's writer. durable gets an error,
// and nothing is durable, when the journal cannot be written; AppendTurn
// fails at once for an invalid turn or a closed store.
func (db *DB) AppendTurn(t tandem.Turn, durable func(error), recorded func(tandem.Recorded)) error {
	if err := checkTurn(t); err != nil {
		return fmt.Errorf("store: append turn: %w", err)
	}
	payload, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("store: append turn: %w", err)
	}
	req := &appendReq{t: t, payload: payload, durable: durable, recorded: recorded}
	j := db.journal
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("store: append turn: %w", errClosed)
	}
	j.pending = append(j.pending, req)
	j.mu.Unlock()
	j.cond.Signal()
	return nil
}

// write is the journal's writer: it writes every pending append in one
// write and one fsync, tells each that it is durable, and hands them to
// the mover. A failed write is cut off the file, so that the records
// appended after it can be read back.
func (j *journal) write() {
	var buf []byte
	for {
		j.mu.Lock()
		for len(j.pending) == 0 && !j.closed {
			j.cond.Wait()
		}
		if j.closed && len(j.pending) == 0 {
			j.mu.Unlock()
			close(j.moves)
			return
		}
		batch := j.pending
		j.pending = nil
		j.unmoved += len(batch)
		j.mu.Unlock()

		buf = buf[:0]
		for _, r := range batch {
			var head [8]byte
			binary.BigEndian.PutUint32(head[:4], uint32(len(r.payload)))
			binary.BigEndian.PutUint32(head[4:], crc32.Checksum(r.payload, castagnoli))
			buf = append(append(buf, head[:]...), r.payload...)
		}
		j.fmu.Lock()
		_, err := j.f.Write(buf)
		if err == nil {
			err = j.f.Sync()
		}
		j.mu.Lock()
		if err == nil {
			j.size += int64(len(buf))
		} else {
			j.unmoved -= len(batch)
			j.cut(j.size)
		}
		j.mu.Unlock()
		j.fmu.Unlock()
		for _, r := range batch {
			r.durable(wrapAppend(err))
		}
		if err == nil {
			j.moves <- batch
		}
	}
}

// wrapAppend names a failed journal write as AppendTurn's.
func wrapAppend(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: append turn: %w", err)
}

// cut truncates the file to size and writes on from there; the caller
// holds fmu and mu. A failure is left for the next write to meet.
func (j *journal) cut(size int64) {
	if err := j.f.Truncate(size); err != nil {
		return
	}
	if _, err := j.f.Seek(size, io.SeekStart); err == nil {
		j.size = size
	}
}

// emptyIfMoved empties the journal when every turn appended to it is in
// the inbox. Not fsynced: the next write's fsync, or Close's, makes it
// durable, and until then the turns it drops are still deduplicated by the
// inbox at a replay.
func (j *journal) emptyIfMoved() {
	j.fmu.Lock()
	defer j.fmu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.unmoved == 0 && j.size > 0 {
		j.cut(0)
	}
}

// move records each durable batch in the inbox, in one transaction per
// batch (more at once when it falls behind), tells each append what it
// found, and empties the journal when nothing in it is left to record. A
// batch that cannot be recorded is tried again, less and less often, until
// it is recorded or the store closes; it is then recorded at the next Open.
func (db *DB) move() {
	j := db.journal
	for batch := range j.moves {
		// Take whatever else is waiting: one commit for all of it.
	more:
		for {
			select {
			case b, ok := <-j.moves:
				if !ok {
					break more
				}
				batch = append(batch, b...)
			default:
				break more
			}
		}
		dups := make([]bool, len(batch))
		record := func() error {
			return db.bolt.Update(func(tx *bolt.Tx) error {
				for i, r := range batch {
					d, err := db.recordTurn(tx, r.t)
					if err != nil {
						return err
					}
					dups[i] = d
				}
				return nil
			})
		}
		err := record()
		for wait := 50 * time.Millisecond; err != nil && !j.isClosed(); wait = min(2*wait, 5*time.Second) {
			time.Sleep(wait)
			err = record()
		}
		if err != nil {
			err = fmt.Errorf("store: record appended turns: %w", err)
		} else {
			j.mu.Lock()
			j.unmoved -= len(batch)
			j.mu.Unlock()
			j.emptyIfMoved()
		}
		for i, r := range batch {
			r.recorded(tandem.Recorded{Duplicate: dups[i], Err: err})
		}
	}
}

func (j *journal) isClosed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.closed
}

// closeJournal stops the journal after its pending appends and moves.
func (db *DB) closeJournal() {
	j := db.journal
	if j == nil {
		return
	}
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.cond.Broadcast()
	j.done.Wait()
	if j.unmoved == 0 && j.f.Truncate(0) == nil {
		j.f.Sync()
	}
	j.f.Close()
}
