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
		ch, err := s.AppendTurn(ctx, tu)
		must(t, "append "+tu.ID, err)
		return <-ch
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
	if _, err := s.AppendTurn(ctx, tandem.Turn{Session: sessionA, TS: "1740830400.000300"}); err == nil {
		t.Errorf("a turn without an id was appended")
	}

	var wg sync.WaitGroup
	results := make([]tandem.Recorded, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tu := turn(fmt.Sprintf("EvMANY%02d", i), fmt.Sprintf("1740830401.%06d", i))
			ch, err := s.AppendTurn(ctx, tu)
			if err != nil {
				results[i] = tandem.Recorded{Err: err}
				return
			}
			results[i] = <-ch
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
	if _, err := s.AppendTurn(ctx, turn("EvAFTERCLOSE", "1740830402.000100")); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("append after close: %v, want unavailable", err)
	}
}
