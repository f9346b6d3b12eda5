package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

// withU2sTurn stores sessionA, owned by U1, with a turn Ev2 of U2 in it.
func withU2sTurn(t *testing.T, s tandem.Store) tandem.Store {
	t.Helper()
	_, _, err := s.EnsureSession(t.Context(), tandem.Session{Key: sessionA, Owner: "U1", CreatedAt: T0})
	must(t, "EnsureSession", err)
	tr := turn("Ev2", "1740830400.000200")
	tr.User = "U2"
	record(t, s, tr)
	return s
}

// testStepTurn checks StepTurn: a turn's state, the session it starts, its
// sender as an editor and its audit records land together, or not at all.
func testStepTurn(t *testing.T, open func(t *testing.T) tandem.Store) {
	resolve := func(turnID, user string) tandem.AuditRecord {
		return tandem.AuditRecord{Time: T0, Session: sessionA, TurnID: turnID, Actor: user, Effective: user,
			Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK}
	}
	newSession := tandem.Session{Key: sessionA, Owner: "U1", CreatedAt: T0}

	t.Run("DoneStartsTheSessionAndAudits", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("Ev1", "1740830400.000100"))
		second := resolve("Ev1", "U1")
		second.Provider, second.Outcome = tandem.Jira, tandem.OutcomeNotConfigured
		must(t, "StepTurn", s.StepTurn(t.Context(), "Ev1", tandem.TurnStep{
			State: tandem.TurnDone, Session: &newSession, Audit: []tandem.AuditRecord{resolve("Ev1", "U1"), second},
		}))
		got, err := s.TurnRecord(t.Context(), "Ev1")
		must(t, "TurnRecord", err)
		if got.State != tandem.TurnDone || got.Attempts != 0 {
			t.Errorf("turn = %s with %d attempts, want done with 0 (a read is never marked running)", got.State, got.Attempts)
		}
		open, err := s.UnfinishedTurns(t.Context())
		must(t, "UnfinishedTurns", err)
		if len(open) != 0 {
			t.Errorf("UnfinishedTurns = %v, want none", ids(open))
		}
		_, err = s.NextTurn(t.Context(), sessionA)
		wantCode(t, "NextTurn after the step", err, tandem.ENOTFOUND)
		sess, err := s.Session(t.Context(), sessionA)
		must(t, "Session", err)
		if d := gocmp.Diff(sess, newSession, diffOpts...); d != "" {
			t.Errorf("Session (-got +want):\n%s", d)
		}
		recs, err := s.Audit(t.Context(), tandem.AuditFilter{})
		must(t, "Audit", err)
		if d := gocmp.Diff(recs, []tandem.AuditRecord{resolve("Ev1", "U1"), second}, diffOpts...); d != "" {
			t.Errorf("Audit (-got +want):\n%s", d)
		}
	})

	t.Run("RunningThenDoneWithAnEditor", func(t *testing.T) {
		s := withU2sTurn(t, open(t))
		must(t, "StepTurn running", s.StepTurn(t.Context(), "Ev2", tandem.TurnStep{
			State: tandem.TurnRunning, Editor: "U2", Audit: []tandem.AuditRecord{resolve("Ev2", "U2")},
		}))
		got, err := s.TurnRecord(t.Context(), "Ev2")
		must(t, "TurnRecord", err)
		if got.State != tandem.TurnRunning || got.Attempts != 1 {
			t.Errorf("turn = %s with %d attempts, want running with 1", got.State, got.Attempts)
		}
		next, err := s.NextTurn(t.Context(), sessionA)
		must(t, "NextTurn while running", err)
		if next.Turn.ID != "Ev2" {
			t.Errorf("NextTurn = %s, want the running Ev2", next.Turn.ID)
		}
		// The owner and an editor already there are not added again.
		must(t, "StepTurn done", s.StepTurn(t.Context(), "Ev2", tandem.TurnStep{State: tandem.TurnDone, Editor: "U2"}))
		record(t, s, turn("Ev3", "1740830400.000300"))
		must(t, "StepTurn by the owner", s.StepTurn(t.Context(), "Ev3", tandem.TurnStep{State: tandem.TurnDone, Editor: "U1"}))
		sess, err := s.Session(t.Context(), sessionA)
		must(t, "Session", err)
		if d := gocmp.Diff(sess.Editors, []string{"U2"}, diffOpts...); d != "" {
			t.Errorf("editors (-got +want):\n%s", d)
		}
		recs, err := s.Audit(t.Context(), tandem.AuditFilter{})
		must(t, "Audit", err)
		if len(recs) != 1 {
			t.Errorf("Audit = %d records, want the one of the running step", len(recs))
		}
	})

	t.Run("NoEditorJoinsAPersistentOrPendingSession", func(t *testing.T) {
		// A turn that read the session while it ran each message as its
		// sender ends after the owner shared their identity (or while a
		// request waits for them): its sender is not added to the list
		// the owner approved, or was shown.
		for _, c := range []struct {
			name string
			set  func(*tandem.Session)
		}{
			{"persistent", func(s *tandem.Session) {
				s.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
			}},
			{"pending", func(s *tandem.Session) {
				s.Pending = &tandem.PendingChange{ID: "req1", Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: "U3", RequestedAt: T0}
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				s := withU2sTurn(t, open(t))
				_, err := s.UpdateSession(t.Context(), sessionA, func(s *tandem.Session) error { c.set(s); return nil })
				must(t, "UpdateSession", err)
				must(t, "StepTurn", s.StepTurn(t.Context(), "Ev2", tandem.TurnStep{State: tandem.TurnDone, Editor: "U2"}))
				sess, err := s.Session(t.Context(), sessionA)
				must(t, "Session", err)
				if len(sess.Editors) != 0 {
					t.Errorf("editors = %q, want none: the session is %s", sess.Editors, c.name)
				}
				got, err := s.TurnRecord(t.Context(), "Ev2")
				must(t, "TurnRecord", err)
				if got.State != tandem.TurnDone {
					t.Errorf("turn = %s, want done (the step is written; only the editor is not)", got.State)
				}
			})
		}
	})

	t.Run("SessionChangedForAnUnfinishedTurnOnly", func(t *testing.T) {
		// A control's change applies while its turn is pending or running,
		// and never once the turn is done (another runner ran it).
		s := withU2sTurn(t, open(t))
		ctx := t.Context()
		setOn := func(sess *tandem.Session) error {
			sess.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
			return nil
		}
		got, err := s.UpdateSessionForTurn(ctx, sessionA, "Ev2", setOn)
		if err != nil || !got.Persistent() {
			t.Fatalf("UpdateSessionForTurn of a pending turn = %+v, %v; want it applied", got, err)
		}
		must(t, "running", s.StepTurn(ctx, "Ev2", tandem.TurnStep{State: tandem.TurnRunning}))
		if _, err := s.UpdateSessionForTurn(ctx, sessionA, "Ev2", func(sess *tandem.Session) error { sess.Env = nil; return nil }); err != nil {
			t.Fatalf("UpdateSessionForTurn of a running turn: %v", err)
		}
		must(t, "done", s.StepTurn(ctx, "Ev2", tandem.TurnStep{State: tandem.TurnDone}))
		_, err = s.UpdateSessionForTurn(ctx, sessionA, "Ev2", setOn)
		if !errors.Is(err, tandem.ErrTurnDone) || tandem.ErrorCode(err) != tandem.ECONFLICT {
			t.Errorf("UpdateSessionForTurn of a done turn: %v (code %q), want ErrTurnDone (%s)", err, tandem.ErrorCode(err), tandem.ECONFLICT)
		}
		if sess, err := s.Session(ctx, sessionA); err != nil || sess.Persistent() {
			t.Errorf("session after a done turn's change = %+v, %v; want it unchanged, not persistent", sess, err)
		}
		if _, err := s.UpdateSessionForTurn(ctx, sessionA, "EvNone", setOn); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("UpdateSessionForTurn of an unknown turn: %v, want %s", err, tandem.ENOTFOUND)
		}
	})

	t.Run("NoWriteToADoneTurn", func(t *testing.T) {
		// What a turn writes (its sender as an editor, its state) is
		// refused once another runner finished it: a runner that lost the
		// session's lease never writes after the turns that followed,
		// such as an owner's removal of that editor. Its audit, of calls
		// it made, is kept.
		for _, tt := range []struct {
			state tandem.TurnState
			held  bool // under a lease its runner holds again
		}{{"", false}, {tandem.TurnRunning, false}, {tandem.TurnDone, false}, {tandem.TurnRunning, true}} {
			state := tt.state
			t.Run(fmt.Sprintf("State%s/held=%v", state, tt.held), func(t *testing.T) {
				s := withU2sTurn(t, open(t))
				ctx := t.Context()
				must(t, "done", s.StepTurn(ctx, "Ev2", tandem.TurnStep{State: tandem.TurnDone}))
				var hold tandem.Hold
				if tt.held {
					hold = tandem.Hold{Name: "session/" + sessionA.String(), Owner: "replica-1"}
					if ok, err := s.Lease(ctx, hold.Name, hold.Owner, time.Minute); err != nil || !ok {
						t.Fatalf("Lease = %v, %v", ok, err)
					}
				}
				err := s.StepTurn(ctx, "Ev2", tandem.TurnStep{State: state, Hold: hold, Editor: "U2", Audit: []tandem.AuditRecord{resolve("Ev2", "U2")}})
				if !errors.Is(err, tandem.ErrTurnDone) {
					t.Errorf("a step (state %q) of a done turn: %v, want ErrTurnDone", state, err)
				}
				if sess, err := s.Session(ctx, sessionA); err != nil || sess.HasEditor("U2") {
					t.Errorf("session after it = %+v, %v; want U2 not added", sess, err)
				}
				if recs, err := s.Audit(ctx, tandem.AuditFilter{Session: &sessionA}); err != nil || len(recs) != 1 || recs[0].TurnID != "Ev2" {
					t.Errorf("audit after it = %+v, %v; want the step's one record", recs, err)
				}
				if rec, err := s.TurnRecord(ctx, "Ev2"); err != nil || rec.State != tandem.TurnDone || rec.Attempts != 0 {
					t.Errorf("turn after it = %+v, %v; want done as it was", rec, err)
				}
				if err := s.StepTurn(ctx, "EvNone", tandem.TurnStep{State: state, Editor: "U2"}); tandem.ErrorCode(err) != tandem.ENOTFOUND {
					t.Errorf("a step (state %q) of an unknown turn: %v, want %s", state, err, tandem.ENOTFOUND)
				}
			})
		}
	})

	t.Run("FirstOwnerWins", func(t *testing.T) {
		s := open(t)
		_, _, err := s.EnsureSession(t.Context(), newSession)
		must(t, "EnsureSession", err)
		record(t, s, turn("Ev1", "1740830400.000100"))
		other := newSession
		other.Owner = "U9"
		must(t, "StepTurn", s.StepTurn(t.Context(), "Ev1", tandem.TurnStep{State: tandem.TurnDone, Session: &other}))
		sess, err := s.Session(t.Context(), sessionA)
		must(t, "Session", err)
		if sess.Owner != "U1" {
			t.Errorf("owner = %s, want U1, the session's first owner", sess.Owner)
		}
	})

	t.Run("NoStateLeavesItAndStampsTime", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("Ev1", "1740830400.000100"))
		must(t, "StepTurn", s.StepTurn(t.Context(), "Ev1", tandem.TurnStep{Audit: []tandem.AuditRecord{{Session: sessionA, TurnID: "Ev1", Actor: "U1", Action: "await_connect", Outcome: tandem.OutcomeNotConfigured}}}))
		got, err := s.TurnRecord(t.Context(), "Ev1")
		must(t, "TurnRecord", err)
		if got.State != tandem.TurnPending {
			t.Errorf("state = %s, want pending (a step without a state leaves it)", got.State)
		}
		recs, err := s.Audit(t.Context(), tandem.AuditFilter{})
		must(t, "Audit", err)
		if len(recs) != 1 || recs[0].Time.IsZero() {
			t.Errorf("Audit = %+v, want one record with the store's time", recs)
		}
	})

	refused := []struct {
		name, id string
		step     tandem.TurnStep
		code     string
	}{
		{"UnknownTurn", "nope", tandem.TurnStep{State: tandem.TurnDone, Session: &newSession, Audit: []tandem.AuditRecord{resolve("nope", "U1")}}, tandem.ENOTFOUND},
		{"UnknownTurnWithoutState", "nope", tandem.TurnStep{Session: &newSession, Audit: []tandem.AuditRecord{resolve("nope", "U1")}}, tandem.ENOTFOUND},
		{"UnknownState", "Ev1", tandem.TurnStep{State: "paused", Session: &newSession, Audit: []tandem.AuditRecord{resolve("Ev1", "U1")}}, tandem.EINVALID},
		{"EmptySessionPart", "Ev1", tandem.TurnStep{State: tandem.TurnDone, Session: &tandem.Session{Key: tandem.SessionKey{Team: "T1", Channel: "C1"}, Owner: "U1"}, Audit: []tandem.AuditRecord{resolve("Ev1", "U1")}}, tandem.EINVALID},
	}
	for _, tt := range refused {
		t.Run("Refused"+tt.name, func(t *testing.T) {
			s := open(t)
			record(t, s, turn("Ev1", "1740830400.000100"))
			wantCode(t, "StepTurn", s.StepTurn(t.Context(), tt.id, tt.step), tt.code)
			got, err := s.TurnRecord(t.Context(), "Ev1")
			must(t, "TurnRecord", err)
			if got.State != tandem.TurnPending {
				t.Errorf("state = %s after a refused step, want pending", got.State)
			}
			_, err = s.Session(t.Context(), sessionA)
			wantCode(t, "Session after a refused step", err, tandem.ENOTFOUND)
			recs, err := s.Audit(t.Context(), tandem.AuditFilter{})
			must(t, "Audit", err)
			if len(recs) != 0 {
				t.Errorf("a refused step wrote %d audit records", len(recs))
			}
		})
	}
}
