package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tandembot/tandem"
)

// testAppendTurn: an appended turn is in the inbox, pending, once its
// channel says so; the same message appended again (a redelivery, or its
// app_mention and message twins) is a duplicate and stores nothing more;
// many appends at once are each recorded once; a turn RecordTurn would
// refuse is refused before anything is durable.
func testAppendTurn(t *testing.T, open func(t *testing.T) tandem.Store) {
	ctx := context.Background()
	s := open(t)
	append1 := func(tu tandem.Turn) tandem.Recorded {
		t.Helper()
		r, err := Append(s, tu)
		must(t, "append "+tu.ID, err)
		return r
	}
	if r := append1(turn("EvAPPEND1", "1740830400.000200")); r.Err != nil || r.Duplicate {
		t.Fatalf("first append: %+v", r)
	}
	rec, err := s.TurnRecord(ctx, "EvAPPEND1")
	must(t, "turn record", err)
	if rec.State != tandem.TurnPending || rec.Turn.Session != sessionA {
		t.Errorf("appended turn reads %+v", rec)
	}
	if r := append1(turn("EvAPPEND1", "1740830400.000200")); r.Err != nil || !r.Duplicate {
		t.Errorf("the same event again: %+v, want a duplicate", r)
	}
	if r := append1(turn("EvAPPEND1-twin", "1740830400.000200")); r.Err != nil || !r.Duplicate {
		t.Errorf("the same message's twin event: %+v, want a duplicate", r)
	}
	if _, err := s.TurnRecord(ctx, "EvAPPEND1-twin"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("a duplicate was stored: %v", err)
	}
	if _, err := Append(s, tandem.Turn{Session: sessionA, TS: "1740830400.000300"}); err == nil {
		t.Errorf("a turn without an id was appended")
	}

	var wg sync.WaitGroup
	results := make([]tandem.Recorded, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tu := turn(fmt.Sprintf("EvMANY%02d", i), fmt.Sprintf("1740830401.%06d", i))
			r, err := Append(s, tu)
			if err != nil {
				r.Err = err
			}
			results[i] = r
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Err != nil || r.Duplicate {
			t.Errorf("append %d of 50 at once: %+v", i, r)
		}
		if _, err := s.TurnRecord(ctx, fmt.Sprintf("EvMANY%02d", i)); err != nil {
			t.Errorf("append %d of 50 at once is not in the inbox: %v", i, err)
		}
	}
	must(t, "close", s.Close())
	if _, err := Append(s, turn("EvAFTERCLOSE", "1740830402.000100")); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("append after close: %v, want unavailable", err)
	}
}

// Append appends tu to s and waits for both of AppendTurn's calls: it
// returns AppendTurn's own error or durable's, and otherwise what recorded
// was called with. It panics when they come in the wrong order or more
// than once, which a store must never do.
func Append(s tandem.Store, tu tandem.Turn) (tandem.Recorded, error) {
	durable := make(chan error, 1)
	recorded := make(chan tandem.Recorded, 1)
	var mu sync.Mutex
	calls := 0
	err := s.AppendTurn(tu, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if calls != 0 {
			panic("storetest: durable called twice, or after recorded")
		}
		calls++
		durable <- err
	}, func(r tandem.Recorded) {
		mu.Lock()
		defer mu.Unlock()
		if calls != 1 {
			panic("storetest: recorded called before durable, or twice")
		}
		calls++
		recorded <- r
	})
	if err != nil {
		return tandem.Recorded{}, err
	}
	if err := <-durable; err != nil {
		return tandem.Recorded{}, err
	}
	return <-recorded, nil
}
