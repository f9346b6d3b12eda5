// Package storetest is the conformance suite of tandem.Store: every
// implementation (bbolt now, PostgreSQL later) runs Run from its own tests
// and must pass it unchanged.
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
)

// Recognisable fake secrets, so a scan of a database file or a log can look
// for them.
const (
	FakeAccessToken   = "gho_FAKE_storetest_access_1"
	FakeRefreshToken  = "ghr_FAKE_storetest_refresh_1"
	FakeAccessToken2  = "gho_FAKE_storetest_access_2"
	FakeRefreshToken2 = "ghr_FAKE_storetest_refresh_2"
	FakeStateID       = "state_FAKE_storetest_0123456789abcdef"
	FakeVerifier      = "verifier_FAKE_storetest_0123456789abcdefghijklmnop"
)

// T0 is the suite's reference time; times are whole seconds so stores with
// coarser clocks (PostgreSQL keeps microseconds) round-trip them exactly.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the conformance suite. open must return a new, empty store for
// each call and close it when t ends (closing an already closed store must
// be harmless).
func Run(t *testing.T, open func(t *testing.T) tandem.Store) {
	t.Run("Turns", func(t *testing.T) { testTurns(t, open) })
	t.Run("AppendTurn", func(t *testing.T) { testAppendTurn(t, open) })
	t.Run("NextTurn", func(t *testing.T) { testNextTurn(t, open) })
	t.Run("StepTurn", func(t *testing.T) { testStepTurn(t, open) })
	t.Run("StepTurnHeld", func(t *testing.T) { testStepTurnHeld(t, open) })
	t.Run("Waiting", func(t *testing.T) { testWaiting(t, open) })
	t.Run("WaitingAtMost", func(t *testing.T) { testWaitingAtMost(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("Links", func(t *testing.T) { testLinks(t, open) })
	t.Run("OAuthStates", func(t *testing.T) { testOAuthStates(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("SessionUpdates", func(t *testing.T) { testSessionUpdates(t, open) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open) })
	t.Run("Schedules", func(t *testing.T) { testSchedules(t, open) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, open) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
}

var diffOpts = []gocmp.Option{cmpopts.EquateEmpty()}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := tandem.ErrorCode(err); got != code {
		t.Errorf("%s: error code = %q (err %v), want %q", what, got, err, code)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var sessionA = tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}

// Turn returns a turn with id in sessionA, sent as message ts.
func turn(id, ts string) tandem.Turn {
	return tandem.Turn{
		ID: id, Session: sessionA, User: "U1", Text: "prs " + id, TS: ts,
		ReceivedAt: T0,
	}
}

func record(t *testing.T, s tandem.Store, tr tandem.Turn) {
	t.Helper()
	dup, err := s.RecordTurn(t.Context(), tr)
	must(t, "RecordTurn "+tr.ID, err)
	if dup {
		t.Fatalf("RecordTurn %s: duplicate = true, want a new turn", tr.ID)
	}
}

func ids(recs []tandem.TurnRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Turn.ID)
	}
	return out
}

func testTurns(t *testing.T, open func(t *testing.T) tandem.Store) {
	t.Run("RecordAndRead", func(t *testing.T) {
		s := open(t)
		tr := turn("Ev1", "1740830400.000100")
		record(t, s, tr)
		got, err := s.TurnRecord(t.Context(), "Ev1")
		must(t, "TurnRecord", err)
		want := tandem.TurnRecord{Turn: tr, State: tandem.TurnPending}
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("TurnRecord (-got +want):\n%s", d)
		}
	})

	t.Run("MissingTurn", func(t *testing.T) {
		s := open(t)
		_, err := s.TurnRecord(t.Context(), "nope")
		wantCode(t, "TurnRecord of an unknown id", err, tandem.ENOTFOUND)
	})

	t.Run("EmptyIDRefused", func(t *testing.T) {
		s := open(t)
		_, err := s.RecordTurn(t.Context(), turn("", "1.1"))
		wantCode(t, "RecordTurn without id", err, tandem.EINVALID)
	})

	t.Run("DuplicateID", func(t *testing.T) {
		s := open(t)
		first := turn("Ev1", "1740830400.000100")
		record(t, s, first)
		again := first
		again.TS, again.Text = "1740830499.000999", "something else"
		dup, err := s.RecordTurn(t.Context(), again)
		must(t, "RecordTurn again", err)
		if !dup {
			t.Error("RecordTurn of a recorded id: duplicate = false, want true")
		}
		got, err := s.TurnRecord(t.Context(), "Ev1")
		must(t, "TurnRecord", err)
		if got.Turn.Text != first.Text || got.Turn.TS != first.TS {
			t.Errorf("a duplicate replaced the stored turn: %+v", got.Turn)
		}
		// The second delivery's ts was not indexed either.
		dup, err = s.RecordTurn(t.Context(), turn("Ev2", "1740830499.000999"))
		must(t, "RecordTurn Ev2", err)
		if dup {
			t.Error("a duplicate's ts was indexed: a new message with that ts is a duplicate")
		}
	})

	t.Run("DuplicateChannelAndTS", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("Ev1", "1740830400.000100"))
		dup, err := s.RecordTurn(t.Context(), turn("Ev1-redelivered", "1740830400.000100"))
		must(t, "RecordTurn", err)
		if !dup {
			t.Error("same channel and ts under another event id: duplicate = false, want true")
		}
		_, err = s.TurnRecord(t.Context(), "Ev1-redelivered")
		wantCode(t, "TurnRecord of a duplicate", err, tandem.ENOTFOUND)

		other := turn("Ev2", "1740830400.000100")
		other.Session.Channel = "C2"
		dup, err = s.RecordTurn(t.Context(), other)
		must(t, "RecordTurn other channel", err)
		if dup {
			t.Error("same ts in another channel: duplicate = true, want false")
		}
	})

	t.Run("DuplicateOfDoneTurn", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("Ev1", "1740830400.000100"))
		must(t, "SetTurnState", s.SetTurnState(t.Context(), "Ev1", tandem.TurnDone))
		for _, tr := range []tandem.Turn{turn("Ev1", "1740830400.000100"), turn("Ev9", "1740830400.000100")} {
			dup, err := s.RecordTurn(t.Context(), tr)
			must(t, "RecordTurn", err)
			if !dup {
				t.Errorf("redelivery %s of a done turn: duplicate = false, want true", tr.ID)
			}
		}
	})

	t.Run("TurnsWithoutTSAreDedupedByIDOnly", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("derived-1", ""))
		record(t, s, turn("derived-2", ""))
		dup, err := s.RecordTurn(t.Context(), turn("derived-1", ""))
		must(t, "RecordTurn", err)
		if !dup {
			t.Error("same id without ts: duplicate = false, want true")
		}
	})

	t.Run("RerunIsDedupedByIDOnly", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("Ev1", "1740830400.000100"))
		must(t, "SetTurnState", s.SetTurnState(t.Context(), "Ev1", tandem.TurnDone))
		rerun := turn("rerun:Ev1", "1740830400.000100")
		rerun.Rerun = true
		record(t, s, rerun)
		dup, err := s.RecordTurn(t.Context(), rerun)
		must(t, "RecordTurn rerun again", err)
		if !dup {
			t.Error("the same rerun twice: duplicate = false, want true")
		}
		// A rerun does not claim the ts for anyone else either.
		dup, err = s.RecordTurn(t.Context(), turn("Ev1-redelivered", "1740830400.000100"))
		must(t, "RecordTurn redelivery", err)
		if !dup {
			t.Error("redelivery of the original message after a rerun: duplicate = false, want true")
		}
	})

	t.Run("ConcurrentSameTurn", func(t *testing.T) {
		s := open(t)
		const n = 50
		var fresh, failed countGroup
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				dup, err := s.RecordTurn(context.Background(), turn("Ev1", "1740830400.000100"))
				if err != nil {
					failed.add(err)
				} else if !dup {
					fresh.add(nil)
				}
			})
		}
		wg.Wait()
		failed.none(t, "RecordTurn")
		if fresh.n != 1 {
			t.Errorf("%d of %d concurrent RecordTurn calls recorded the turn, want exactly 1", fresh.n, n)
		}
	})

	t.Run("ConcurrentSameMessageUnderManyIDs", func(t *testing.T) {
		s := open(t)
		const n = 50
		var fresh, failed countGroup
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				dup, err := s.RecordTurn(context.Background(), turn(fmt.Sprintf("Ev%d", i), "1740830400.000100"))
				if err != nil {
					failed.add(err)
				} else if !dup {
					fresh.add(nil)
				}
			})
		}
		wg.Wait()
		failed.none(t, "RecordTurn")
		if fresh.n != 1 {
			t.Errorf("%d of %d deliveries of one message recorded it, want exactly 1", fresh.n, n)
		}
		unfinished, err := s.UnfinishedTurns(t.Context())
		must(t, "UnfinishedTurns", err)
		if len(unfinished) != 1 {
			t.Errorf("UnfinishedTurns holds %d turns, want 1", len(unfinished))
		}
	})

	t.Run("StatesAndAttempts", func(t *testing.T) {
		s := open(t)
		record(t, s, turn("Ev1", "1.1"))
		steps := []struct {
			state    tandem.TurnState
			attempts int
		}{
			{tandem.TurnRunning, 1},
			{tandem.TurnPending, 1},
			{tandem.TurnRunning, 2},
			{tandem.TurnRunning, 3}, // found running after a restart and started again
			{tandem.TurnDone, 3},
		}
		for _, st := range steps {
			must(t, "SetTurnState "+string(st.state), s.SetTurnState(t.Context(), "Ev1", st.state))
			got, err := s.TurnRecord(t.Context(), "Ev1")
			must(t, "TurnRecord", err)
			if got.State != st.state || got.Attempts != st.attempts {
				t.Errorf("after %s: state %s, attempts %d; want %s, %d", st.state, got.State, got.Attempts, st.state, st.attempts)
			}
		}
		err := s.SetTurnState(t.Context(), "nope", tandem.TurnRunning)
		wantCode(t, "SetTurnState of an unknown turn", err, tandem.ENOTFOUND)
		err = s.SetTurnState(t.Context(), "Ev1", tandem.TurnState("exploded"))
		wantCode(t, "SetTurnState to an unknown state", err, tandem.EINVALID)
	})

	t.Run("UnfinishedTurns", func(t *testing.T) {
		s := open(t)
		got, err := s.UnfinishedTurns(t.Context())
		must(t, "UnfinishedTurns of an empty store", err)
		if len(got) != 0 {
			t.Errorf("UnfinishedTurns of an empty store = %v", ids(got))
		}

		for i, id := range []string{"A", "B", "C", "D", "E"} {
			tr := turn(id, fmt.Sprintf("1740830400.00010%d", i))
			tr.ReceivedAt = T0.Add(time.Duration(i) * time.Second)
			record(t, s, tr)
		}
		must(t, "B done", s.SetTurnState(t.Context(), "B", tandem.TurnDone))
		must(t, "C running", s.SetTurnState(t.Context(), "C", tandem.TurnRunning))
		must(t, "E running", s.SetTurnState(t.Context(), "E", tandem.TurnRunning))
		must(t, "E done", s.SetTurnState(t.Context(), "E", tandem.TurnDone))

		got, err = s.UnfinishedTurns(t.Context())
		must(t, "UnfinishedTurns", err)
		if d := gocmp.Diff(ids(got), []string{"A", "C", "D"}); d != "" {
			t.Errorf("UnfinishedTurns ids, oldest first (-got +want):\n%s", d)
		}
		for _, r := range got {
			if r.Turn.ID == "C" && (r.State != tandem.TurnRunning || r.Attempts != 1) {
				t.Errorf("C: state %s, attempts %d; want running, 1", r.State, r.Attempts)
			}
			if r.Turn.ID == "A" && r.State != tandem.TurnPending {
				t.Errorf("A: state %s, want pending", r.State)
			}
		}

		// A done turn moved back keeps its place.
		must(t, "B pending again", s.SetTurnState(t.Context(), "B", tandem.TurnPending))
		got, err = s.UnfinishedTurns(t.Context())
		must(t, "UnfinishedTurns", err)
		if d := gocmp.Diff(ids(got), []string{"A", "B", "C", "D"}); d != "" {
			t.Errorf("UnfinishedTurns after B reopened (-got +want):\n%s", d)
		}

		for _, id := range []string{"A", "B", "C", "D"} {
			must(t, id+" done", s.SetTurnState(t.Context(), id, tandem.TurnDone))
		}
		got, err = s.UnfinishedTurns(t.Context())
		must(t, "UnfinishedTurns", err)
		if len(got) != 0 {
			t.Errorf("UnfinishedTurns with every turn done = %v, want none", ids(got))
		}
	})
}

func testSessions(t *testing.T, open func(t *testing.T) tandem.Store) {
	owned := func(owner string) tandem.Session {
		return tandem.Session{
			Key: sessionA, Owner: owner, CreatedAt: T0,
			Env: map[string]string{tandem.EnvKeepCredentialsPersistent: "true"},
		}
	}

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		_, err := s.Session(t.Context(), sessionA)
		wantCode(t, "Session of an unknown key", err, tandem.ENOTFOUND)
	})

	// SessionOrSetting reads the setting only for a session that is not
	// there yet: the channel default its first turn needs.
	t.Run("OrSetting", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		const setting = "channel/T1/C1/persistent"
		_, v, err := s.SessionOrSetting(ctx, sessionA, setting)
		wantCode(t, "SessionOrSetting, neither there", err, tandem.ENOTFOUND)
		if v != "" {
			t.Errorf("SessionOrSetting of an unset setting = %q, want empty", v)
		}
		must(t, "SetSetting", s.SetSetting(ctx, setting, "on"))
		_, v, err = s.SessionOrSetting(ctx, sessionA, setting)
		wantCode(t, "SessionOrSetting without a session", err, tandem.ENOTFOUND)
		if v != "on" {
			t.Errorf("SessionOrSetting without a session: setting = %q, want on", v)
		}
		_, _, err = s.EnsureSession(ctx, owned("U1"))
		must(t, "EnsureSession", err)
		got, v, err := s.SessionOrSetting(ctx, sessionA, setting)
		must(t, "SessionOrSetting", err)
		if d := gocmp.Diff(got, owned("U1"), diffOpts...); d != "" || v != "" {
			t.Errorf("SessionOrSetting of a stored session: setting %q, session (-got +want):\n%s", v, d)
		}
		_, _, err = s.SessionOrSetting(ctx, tandem.SessionKey{Team: "T1", Channel: "C1"}, setting)
		wantCode(t, "SessionOrSetting without a thread", err, tandem.EINVALID)
	})

	t.Run("EnsureCreatesThenKeeps", func(t *testing.T) {
		s := open(t)
		first := owned("U1")
		stored, created, err := s.EnsureSession(t.Context(), first)
		must(t, "EnsureSession", err)
		if !created {
			t.Error("EnsureSession of a new key: created = false")
		}
		if d := gocmp.Diff(stored, first, diffOpts...); d != "" {
			t.Errorf("EnsureSession stored (-got +want):\n%s", d)
		}
		got, err := s.Session(t.Context(), sessionA)
		must(t, "Session", err)
		if d := gocmp.Diff(got, first, diffOpts...); d != "" {
			t.Errorf("Session (-got +want):\n%s", d)
		}

		second := owned("U2")
		second.Env = nil
		stored, created, err = s.EnsureSession(t.Context(), second)
		must(t, "EnsureSession again", err)
		if created {
			t.Error("EnsureSession of an existing key: created = true")
		}
		if d := gocmp.Diff(stored, first, diffOpts...); d != "" {
			t.Errorf("EnsureSession of an existing key returned (-got +want):\n%s", d)
		}

		other := owned("U3")
		other.Key.ThreadTS = "1740830999.000200"
		_, created, err = s.EnsureSession(t.Context(), other)
		must(t, "EnsureSession other thread", err)
		if !created {
			t.Error("EnsureSession of another thread: created = false")
		}
	})

	t.Run("EnsureConcurrentFirstOwnerWins", func(t *testing.T) {
		s := open(t)
		const n = 50
		var mu sync.Mutex
		owners := map[string]int{}
		creators := 0
		var failed countGroup
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				stored, created, err := s.EnsureSession(context.Background(), owned(fmt.Sprintf("U%d", i)))
				if err != nil {
					failed.add(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				owners[stored.Owner]++
				if created {
					creators++
				}
			})
		}
		wg.Wait()
		failed.none(t, "EnsureSession")
		if creators != 1 || len(owners) != 1 {
			t.Errorf("%d callers created the session and callers saw %d owners; want 1 and 1", creators, len(owners))
		}
	})

	t.Run("AddEditor", func(t *testing.T) {
		s := open(t)
		err := s.AddEditor(t.Context(), sessionA, "U2")
		wantCode(t, "AddEditor to a missing session", err, tandem.ENOTFOUND)

		_, _, err = s.EnsureSession(t.Context(), owned("U1"))
		must(t, "EnsureSession", err)
		for _, u := range []string{"U2", "U1", "U3", "U2", "U3"} {
			must(t, "AddEditor "+u, s.AddEditor(t.Context(), sessionA, u))
		}
		got, err := s.Session(t.Context(), sessionA)
		must(t, "Session", err)
		if d := gocmp.Diff(got.Editors, []string{"U2", "U3"}); d != "" {
			t.Errorf("editors in order of first turn, owner not repeated (-got +want):\n%s", d)
		}
		if got.Owner != "U1" || !got.Persistent() {
			t.Errorf("AddEditor changed the session: owner %q, env %v", got.Owner, got.Env)
		}
	})

	t.Run("AddEditorConcurrent", func(t *testing.T) {
		s := open(t)
		_, _, err := s.EnsureSession(t.Context(), owned("U0"))
		must(t, "EnsureSession", err)
		const n = 20
		var failed countGroup
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() { failed.add(s.AddEditor(context.Background(), sessionA, fmt.Sprintf("U%d", 1+i%n))) })
		}
		wg.Wait()
		failed.none(t, "AddEditor")
		got, err := s.Session(t.Context(), sessionA)
		must(t, "Session", err)
		editors := slices.Clone(got.Editors)
		slices.Sort(editors)
		editors = slices.Compact(editors)
		if len(got.Editors) != n || len(editors) != n {
			t.Errorf("after %d users joined concurrently (each twice): %d editors, %d distinct; want %d and %d", n, len(got.Editors), len(editors), n, n)
		}
	})
}

func link(team, user string, provider tandem.ProviderID) tandem.Link {
	return tandem.Link{
		Team: team, User: user, Provider: provider,
		AccountID: "1234567-" + user, Login: "octo-" + user, LinkedAt: T0,
		Token: tandem.Token{
			AccessToken:  FakeAccessToken,
			RefreshToken: FakeRefreshToken,
			TokenType:    "bearer",
			Expiry:       T0.Add(8 * time.Hour),
		},
	}
}

func testLinks(t *testing.T, open func(t *testing.T) tandem.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		want := link("T1", "U1", tandem.GitHub)
		must(t, "SaveLink", s.SaveLink(t.Context(), want))
		got, err := s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "Link", err)
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("Link (-got +want):\n%s", d)
		}

		// A non-expiring token without refresh token (GitHub OAuth apps).
		plain := link("T1", "U2", tandem.GitHub)
		plain.Token = tandem.Token{AccessToken: FakeAccessToken2}
		must(t, "SaveLink", s.SaveLink(t.Context(), plain))
		got, err = s.Link(t.Context(), "T1", "U2", tandem.GitHub)
		must(t, "Link", err)
		if d := gocmp.Diff(got, plain, diffOpts...); d != "" {
			t.Errorf("Link of a token without refresh (-got +want):\n%s", d)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		must(t, "SaveLink", s.SaveLink(t.Context(), link("T1", "U1", tandem.GitHub)))
		for _, k := range []struct {
			team, user string
			p          tandem.ProviderID
		}{{"T1", "U1", tandem.GitLab}, {"T1", "U2", tandem.GitHub}, {"T2", "U1", tandem.GitHub}} {
			_, err := s.Link(t.Context(), k.team, k.user, k.p)
			wantCode(t, fmt.Sprintf("Link %s/%s/%s", k.team, k.user, k.p), err, tandem.ENOTFOUND)
		}
	})

	t.Run("ReplaceAndList", func(t *testing.T) {
		s := open(t)
		gh := link("T1", "U1", tandem.GitHub)
		gl := link("T1", "U1", tandem.GitLab)
		gl.Token.AccessToken = FakeAccessToken2
		for _, l := range []tandem.Link{
			gh, gl,
			link("T1", "U10", tandem.GitHub), // a user id that extends U1
			link("T2", "U1", tandem.Jira),    // the same user id in another team
			link("T1", "U", tandem.Google),   // a user id that U1 extends
		} {
			must(t, "SaveLink", s.SaveLink(t.Context(), l))
		}
		gh.Login, gh.Token.AccessToken = "octo-renamed", "gho_FAKE_storetest_access_replaced"
		must(t, "SaveLink replace", s.SaveLink(t.Context(), gh))

		got, err := s.Links(t.Context(), "T1", "U1")
		must(t, "Links", err)
		slices.SortFunc(got, func(a, b tandem.Link) int { return cmp.Compare(a.Provider, b.Provider) })
		if d := gocmp.Diff(got, []tandem.Link{gh, gl}, diffOpts...); d != "" {
			t.Errorf("Links T1/U1 (-got +want):\n%s", d)
		}

		none, err := s.Links(t.Context(), "T1", "U404")
		must(t, "Links of a user without links", err)
		if len(none) != 0 {
			t.Errorf("Links of a user without links = %d links, want none", len(none))
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		must(t, "SaveLink", s.SaveLink(t.Context(), link("T1", "U1", tandem.GitHub)))
		must(t, "SaveLink", s.SaveLink(t.Context(), link("T1", "U1", tandem.GitLab)))
		// A refresh swapped the token since the link was saved: the
		// deleted link names the token stored when it went, so a
		// disconnect revokes that one.
		swapped := tandem.Token{AccessToken: "gho_FAKE_swapped_at_delete", RefreshToken: "ghr_FAKE_swapped_at_delete", TokenType: "bearer"}
		must(t, "SwapToken", s.SwapToken(t.Context(), "T1", "U1", tandem.GitHub, link("T1", "U1", tandem.GitHub).Token.RefreshToken, swapped))
		gone, err := s.DeleteLink(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "DeleteLink", err)
		if gone.Token.AccessToken != swapped.AccessToken || gone.Token.RefreshToken != swapped.RefreshToken || gone.User != "U1" || gone.Provider != tandem.GitHub {
			t.Errorf("DeleteLink returned %s/%s with token %.12s…; want U1's GitHub link with the token stored when it went", gone.User, gone.Provider, gone.Token.AccessToken)
		}
		_, err = s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		wantCode(t, "Link after DeleteLink", err, tandem.ENOTFOUND)
		_, err = s.DeleteLink(t.Context(), "T1", "U1", tandem.GitHub)
		wantCode(t, "DeleteLink twice", err, tandem.ENOTFOUND)
		if _, err := s.Link(t.Context(), "T1", "U1", tandem.GitLab); err != nil {
			t.Errorf("DeleteLink removed another provider's link: %v", err)
		}
	})

	t.Run("NeedsReconnect", func(t *testing.T) {
		s := open(t)
		l := link("T1", "U1", tandem.GitHub)
		_, err := s.MarkNeedsReconnect(t.Context(), "T1", "U1", tandem.GitHub, l.Token)
		wantCode(t, "MarkNeedsReconnect without a link", err, tandem.ENOTFOUND)

		must(t, "SaveLink", s.SaveLink(t.Context(), l))
		marked, err := s.MarkNeedsReconnect(t.Context(), "T1", "U1", tandem.GitHub, l.Token)
		must(t, "MarkNeedsReconnect", err)
		if !marked {
			t.Error("MarkNeedsReconnect of a healthy link with its stored token = false, want true")
		}
		got, err := s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "Link", err)
		flagged := l
		flagged.NeedsReconnect = true
		if d := gocmp.Diff(got, flagged, diffOpts...); d != "" {
			t.Errorf("Link after MarkNeedsReconnect (-got +want):\n%s", d)
		}
		// Flagged already: the owner was told once, not again.
		marked, err = s.MarkNeedsReconnect(t.Context(), "T1", "U1", tandem.GitHub, l.Token)
		must(t, "MarkNeedsReconnect twice", err)
		if marked {
			t.Error("MarkNeedsReconnect of a flagged link = true, want false")
		}

		must(t, "SaveLink (reconnected)", s.SaveLink(t.Context(), l))
		got, err = s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "Link", err)
		if got.NeedsReconnect {
			t.Error("SaveLink did not clear NeedsReconnect")
		}
	})

	// Only a refusal of the token stored now marks a link: a relink (or a
	// refresh) stored since the refused token was read is left alone.
	t.Run("NeedsReconnectOfAStaleToken", func(t *testing.T) {
		old := link("T1", "U1", tandem.GitHub).Token
		for _, c := range []struct {
			name    string
			refused tandem.Token
		}{
			{"another access token", tandem.Token{AccessToken: FakeAccessToken2, RefreshToken: old.RefreshToken}},
			{"another refresh token", tandem.Token{AccessToken: old.AccessToken, RefreshToken: FakeRefreshToken2}},
			{"no refresh token", tandem.Token{AccessToken: old.AccessToken}},
			{"an empty token", tandem.Token{}},
		} {
			t.Run(c.name, func(t *testing.T) {
				s := open(t)
				l := link("T1", "U1", tandem.GitHub)
				must(t, "SaveLink", s.SaveLink(t.Context(), l))
				marked, err := s.MarkNeedsReconnect(t.Context(), "T1", "U1", tandem.GitHub, c.refused)
				wantCode(t, "MarkNeedsReconnect with a token that is not the stored one", err, tandem.ECONFLICT)
				if marked {
					t.Error("MarkNeedsReconnect with a token that is not the stored one reported the link marked")
				}
				got, err := s.Link(t.Context(), "T1", "U1", tandem.GitHub)
				must(t, "Link", err)
				if d := gocmp.Diff(got, l, diffOpts...); d != "" {
					t.Errorf("a stale token's MarkNeedsReconnect changed the link (-got +want):\n%s", d)
				}
			})
		}
	})

	t.Run("SetLinkSite", func(t *testing.T) {
		s := open(t)
		err := s.SetLinkSite(t.Context(), "T1", "U1", tandem.Jira, "acc-1", "s2", "Two")
		wantCode(t, "SetLinkSite without a link", err, tandem.ENOTFOUND)
		l := link("T1", "U1", tandem.Jira)
		must(t, "SaveLink", s.SaveLink(t.Context(), l))
		_, err = s.MarkNeedsReconnect(t.Context(), "T1", "U1", tandem.Jira, l.Token)
		must(t, "MarkNeedsReconnect", err)
		// A link relinked to another account since it was read keeps its site.
		err = s.SetLinkSite(t.Context(), "T1", "U1", tandem.Jira, l.AccountID+"-before", "s2", "Two")
		wantCode(t, "SetLinkSite for another account", err, tandem.ENOTFOUND)
		must(t, "SetLinkSite", s.SetLinkSite(t.Context(), "T1", "U1", tandem.Jira, l.AccountID, "s2", "Two"))
		got, err := s.Link(t.Context(), "T1", "U1", tandem.Jira)
		must(t, "Link", err)
		want := l
		want.Site, want.SiteName, want.NeedsReconnect = "s2", "Two", true
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("Link after SetLinkSite: only the site changes (-got +want):\n%s", d)
		}
	})

	t.Run("SwapToken", func(t *testing.T) {
		s := open(t)
		next := tandem.Token{AccessToken: FakeAccessToken2, RefreshToken: FakeRefreshToken2, TokenType: "bearer", Expiry: T0.Add(16 * time.Hour)}
		err := s.SwapToken(t.Context(), "T1", "U1", tandem.GitHub, FakeRefreshToken, next)
		wantCode(t, "SwapToken without a link", err, tandem.ENOTFOUND)

		l := link("T1", "U1", tandem.GitHub)
		must(t, "SaveLink", s.SaveLink(t.Context(), l))
		_, err = s.MarkNeedsReconnect(t.Context(), "T1", "U1", tandem.GitHub, l.Token)
		must(t, "MarkNeedsReconnect", err)

		stale := tandem.Token{AccessToken: "gho_FAKE_storetest_stale", RefreshToken: "ghr_FAKE_storetest_stale"}
		err = s.SwapToken(t.Context(), "T1", "U1", tandem.GitHub, "ghr_FAKE_storetest_not_the_current_one", stale)
		wantCode(t, "SwapToken with a stale refresh token", err, tandem.ECONFLICT)
		got, err := s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "Link", err)
		if d := gocmp.Diff(got.Token, l.Token); d != "" || !got.NeedsReconnect {
			t.Errorf("a lost SwapToken changed the link: needs reconnect %v, token (-got +want):\n%s", got.NeedsReconnect, d)
		}

		must(t, "SwapToken", s.SwapToken(t.Context(), "T1", "U1", tandem.GitHub, FakeRefreshToken, next))
		got, err = s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "Link", err)
		want := l
		want.Token = next
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("Link after SwapToken, NeedsReconnect cleared (-got +want):\n%s", d)
		}

		err = s.SwapToken(t.Context(), "T1", "U1", tandem.GitHub, FakeRefreshToken, stale)
		wantCode(t, "SwapToken with the refresh token just replaced", err, tandem.ECONFLICT)
	})

	t.Run("OneAccountOneUserPerTeam", func(t *testing.T) {
		s := open(t)
		first := link("T1", "U1", tandem.GitHub)
		must(t, "SaveLink", s.SaveLink(t.Context(), first))
		// U1 relinking the same account is a replacement, not a conflict.
		must(t, "SaveLink again by the same user", s.SaveLink(t.Context(), first))

		other := link("T1", "U2", tandem.GitHub)
		other.AccountID = first.AccountID
		if err := s.SaveLink(t.Context(), other); !errors.Is(err, tandem.ErrAccountLinkedElsewhere) {
			t.Fatalf("SaveLink of an account U1 holds, for U2: %v, want ErrAccountLinkedElsewhere", err)
		}
		if _, err := s.Link(t.Context(), "T1", "U2", tandem.GitHub); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("the refused link was stored: %v", err)
		}
		// The same account at another provider, or in another workspace, is
		// another account.
		otherProvider := other
		otherProvider.Provider = tandem.GitLab
		must(t, "SaveLink at another provider", s.SaveLink(t.Context(), otherProvider))
		otherTeam := other
		otherTeam.Team = "T2"
		must(t, "SaveLink in another team", s.SaveLink(t.Context(), otherTeam))
		// Once U1 lets go of the account, U2 may link it.
		_, err := s.DeleteLink(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "DeleteLink", err)
		must(t, "SaveLink after the first user let go", s.SaveLink(t.Context(), other))
	})

	t.Run("OneAccountConcurrent", func(t *testing.T) {
		s := open(t)
		const n = 12
		var won, lost, failed countGroup
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				l := link("T1", fmt.Sprintf("U%d", i), tandem.GitHub)
				l.AccountID = "shared-account"
				err := s.SaveLink(context.Background(), l)
				switch {
				case err == nil:
					won.add(nil)
				case errors.Is(err, tandem.ErrAccountLinkedElsewhere):
					lost.add(nil)
				default:
					failed.add(err)
				}
			})
		}
		wg.Wait()
		failed.none(t, "SaveLink")
		if won.n != 1 || lost.n != n-1 {
			t.Fatalf("%d users linked one account and %d were refused, want 1 and %d", won.n, lost.n, n-1)
		}
	})

	t.Run("SwapTokenConcurrent", func(t *testing.T) {
		s := open(t)
		must(t, "SaveLink", s.SaveLink(t.Context(), link("T1", "U1", tandem.GitHub)))
		const n = 20
		var won, lost, failed countGroup
		winner := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tok := tandem.Token{
					AccessToken:  fmt.Sprintf("gho_FAKE_storetest_access_r%d", i),
					RefreshToken: fmt.Sprintf("ghr_FAKE_storetest_refresh_r%d", i),
				}
				err := s.SwapToken(context.Background(), "T1", "U1", tandem.GitHub, FakeRefreshToken, tok)
				switch tandem.ErrorCode(err) {
				case "":
					won.add(nil)
					winner <- tok.RefreshToken
				case tandem.ECONFLICT:
					lost.add(nil)
				default:
					failed.add(err)
				}
			})
		}
		wg.Wait()
		failed.none(t, "SwapToken")
		if won.n != 1 || lost.n != n-1 {
			t.Fatalf("%d swaps won and %d lost, want 1 and %d", won.n, lost.n, n-1)
		}
		got, err := s.Link(t.Context(), "T1", "U1", tandem.GitHub)
		must(t, "Link", err)
		if w := <-winner; got.Token.RefreshToken != w {
			t.Error("the stored refresh token is not the winner's")
		}
	})
}

func testOAuthStates(t *testing.T, open func(t *testing.T) tandem.Store) {
	state := tandem.OAuthState{
		ID: FakeStateID, Provider: tandem.GitLab, Team: "T1", User: "U1",
		NonceHash: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
		Verifier:  FakeVerifier, Expires: T0.Add(10 * time.Minute), RerunTurn: "Ev1",
	}

	t.Run("SingleUse", func(t *testing.T) {
		s := open(t)
		_, err := s.TakeOAuthState(t.Context(), FakeStateID)
		wantCode(t, "TakeOAuthState of an unknown id", err, tandem.ENOTFOUND)

		must(t, "SaveOAuthState", s.SaveOAuthState(t.Context(), state))
		other := state
		other.ID, other.Verifier = FakeStateID+"-other", FakeVerifier+"-other"
		must(t, "SaveOAuthState other", s.SaveOAuthState(t.Context(), other))

		got, err := s.TakeOAuthState(t.Context(), FakeStateID)
		must(t, "TakeOAuthState", err)
		if d := gocmp.Diff(got, state, diffOpts...); d != "" {
			t.Errorf("TakeOAuthState (-got +want):\n%s", d)
		}
		_, err = s.TakeOAuthState(t.Context(), FakeStateID)
		wantCode(t, "TakeOAuthState twice", err, tandem.ENOTFOUND)

		got, err = s.TakeOAuthState(t.Context(), other.ID)
		must(t, "TakeOAuthState other", err)
		if got.Verifier != other.Verifier {
			t.Error("the other state's verifier changed")
		}
	})

	t.Run("ExpiredIsReturned", func(t *testing.T) {
		s := open(t)
		old := state
		old.Expires = T0.Add(-time.Hour)
		must(t, "SaveOAuthState", s.SaveOAuthState(t.Context(), old))
		got, err := s.TakeOAuthState(t.Context(), old.ID)
		must(t, "TakeOAuthState", err)
		if !got.Expired(T0) {
			t.Error("an expired state came back unexpired; the caller decides with Expired")
		}
	})

	t.Run("ConcurrentTake", func(t *testing.T) {
		s := open(t)
		must(t, "SaveOAuthState", s.SaveOAuthState(t.Context(), state))
		const n = 50
		var won, gone, failed countGroup
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := s.TakeOAuthState(context.Background(), FakeStateID)
				switch tandem.ErrorCode(err) {
				case "":
					won.add(nil)
				case tandem.ENOTFOUND:
					gone.add(nil)
				default:
					failed.add(err)
				}
			})
		}
		wg.Wait()
		failed.none(t, "TakeOAuthState")
		if won.n != 1 || gone.n != n-1 {
			t.Errorf("%d of %d concurrent takes succeeded and %d found nothing; want 1 and %d", won.n, n, gone.n, n-1)
		}
	})
}

func testAudit(t *testing.T, open func(t *testing.T) tandem.Store) {
	otherSession := tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1740830500.000300"}
	records := []tandem.AuditRecord{
		{Time: T0, Session: sessionA, TurnID: "Ev1", Actor: "U1", Effective: "U1", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK},
		{Time: T0.Add(1 * time.Minute), Session: sessionA, TurnID: "Ev2", Actor: "U2", Effective: "U1", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonPersistentOwner, Outcome: tandem.OutcomeOK},
		{Time: T0.Add(2 * time.Minute), Session: otherSession, Actor: "U3", Effective: "U3", Provider: tandem.Jira, Action: "link", Outcome: tandem.OutcomeOK, Detail: "site example.atlassian.net"},
		{Time: T0.Add(3 * time.Minute), Session: sessionA, TurnID: "Ev3", Actor: "U3", Effective: "U3", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonRefusedNotEditor, Outcome: tandem.OutcomeRefused},
		{Time: T0.Add(4 * time.Minute), Session: otherSession, Actor: "apikey:tdm_ab12", Effective: "U2", Provider: tandem.GitLab, Action: "resolve", Reason: tandem.ReasonAPIKeyCreator, Outcome: tandem.OutcomeExpired},
	}
	pick := func(idx ...int) []tandem.AuditRecord {
		var out []tandem.AuditRecord
		for _, i := range idx {
			out = append(out, records[i])
		}
		return out
	}

	s := open(t)
	got, err := s.Audit(t.Context(), tandem.AuditFilter{})
	must(t, "Audit of an empty store", err)
	if len(got) != 0 {
		t.Errorf("Audit of an empty store = %d records", len(got))
	}
	for _, r := range records {
		must(t, "AppendAudit", s.AppendAudit(t.Context(), r))
	}

	tests := []struct {
		name string
		f    tandem.AuditFilter
		want []tandem.AuditRecord
	}{
		{"All", tandem.AuditFilter{}, records},
		{"Session", tandem.AuditFilter{Session: &sessionA}, pick(0, 1, 3)},
		{"UserAsActorOrEffective", tandem.AuditFilter{User: "U2"}, pick(1, 4)},
		{"UserAsEffectiveOnly", tandem.AuditFilter{User: "U1"}, pick(0, 1)},
		{"SinceInclusive", tandem.AuditFilter{Since: T0.Add(3 * time.Minute)}, pick(3, 4)},
		{"LimitNewest", tandem.AuditFilter{Limit: 2}, pick(3, 4)},
		{"LimitLargerThanMatches", tandem.AuditFilter{Limit: 50, User: "U3"}, pick(2, 3)},
		{"Combined", tandem.AuditFilter{Session: &sessionA, User: "U1", Since: T0.Add(30 * time.Second), Limit: 5}, pick(1)},
		{"NoMatch", tandem.AuditFilter{User: "U404"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Audit(t.Context(), tt.f)
			must(t, "Audit", err)
			if d := gocmp.Diff(got, tt.want, diffOpts...); d != "" {
				t.Errorf("Audit (-got +want):\n%s", d)
			}
		})
	}

	t.Run("ZeroTimeIsStamped", func(t *testing.T) {
		s := open(t)
		must(t, "AppendAudit", s.AppendAudit(t.Context(), tandem.AuditRecord{Session: sessionA, Actor: "U1", Effective: "U1", Action: "unlink", Outcome: tandem.OutcomeOK}))
		got, err := s.Audit(t.Context(), tandem.AuditFilter{})
		must(t, "Audit", err)
		if len(got) != 1 || got[0].Time.IsZero() {
			t.Errorf("Audit = %+v, want one record with a time", got)
		}
	})
}

func testClosed(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	must(t, "Close", s.Close())
	ctx := t.Context()
	calls := map[string]func() error{
		"RecordTurn": func() error { _, err := s.RecordTurn(ctx, turn("Ev1", "1.1")); return err },
		"SetTurnState": func() error {
			return s.SetTurnState(ctx, "Ev1", tandem.TurnDone)
		},
		"TurnRecord":      func() error { _, err := s.TurnRecord(ctx, "Ev1"); return err },
		"UnfinishedTurns": func() error { _, err := s.UnfinishedTurns(ctx); return err },
		"NextTurn":        func() error { _, err := s.NextTurn(ctx, sessionA); return err },
		"Session":         func() error { _, err := s.Session(ctx, sessionA); return err },
		"EnsureSession": func() error {
			_, _, err := s.EnsureSession(ctx, tandem.Session{Key: sessionA, Owner: "U1"})
			return err
		},
		"AddEditor":  func() error { return s.AddEditor(ctx, sessionA, "U2") },
		"Link":       func() error { _, err := s.Link(ctx, "T1", "U1", tandem.GitHub); return err },
		"Links":      func() error { _, err := s.Links(ctx, "T1", "U1"); return err },
		"SaveLink":   func() error { return s.SaveLink(ctx, link("T1", "U1", tandem.GitHub)) },
		"DeleteLink": func() error { _, err := s.DeleteLink(ctx, "T1", "U1", tandem.GitHub); return err },
		"SwapToken":  func() error { return s.SwapToken(ctx, "T1", "U1", tandem.GitHub, "x", tandem.Token{}) },
		"MarkNeedsReconnect": func() error {
			_, err := s.MarkNeedsReconnect(ctx, "T1", "U1", tandem.GitHub, tandem.Token{})
			return err
		},
		"SaveOAuthState": func() error {
			return s.SaveOAuthState(ctx, tandem.OAuthState{ID: FakeStateID, Verifier: FakeVerifier})
		},
		"TakeOAuthState": func() error { _, err := s.TakeOAuthState(ctx, FakeStateID); return err },
		"AppendAudit":    func() error { return s.AppendAudit(ctx, tandem.AuditRecord{Actor: "U1"}) },
		"Audit":          func() error { _, err := s.Audit(ctx, tandem.AuditFilter{}); return err },
		"CreateSchedule": func() error {
			return s.CreateSchedule(ctx, schedule("sch_1", sessionA, "U1", 0, time.Hour), 5, "")
		},
		"Schedule":  func() error { _, err := s.Schedule(ctx, "sch_1"); return err },
		"Schedules": func() error { _, err := s.Schedules(ctx, tandem.ScheduleFilter{}); return err },
		"UpdateSchedule": func() error {
			_, err := s.UpdateSchedule(ctx, "sch_1", func(*tandem.Schedule) error { return nil })
			return err
		},
		"DeleteSchedule": func() error { return s.DeleteSchedule(ctx, "sch_1") },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s after Close succeeded, want an error", name)
		}
	}
}

// countGroup counts outcomes of concurrent calls and keeps their errors.
type countGroup struct {
	mu   sync.Mutex
	n    int
	errs []error
}

func (c *countGroup) add(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

func (c *countGroup) none(t *testing.T, what string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("%s: %v", what, err)
	}
}
