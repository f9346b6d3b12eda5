package storecopy_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
	"github.com/tandembot/tandem/store/storecopy"
	"github.com/tandembot/tandem/store/storetest"
)

// Both stores can be copied from and into.
var (
	_ storecopy.Target = (*store.DB)(nil)
	_ storecopy.Target = (*postgres.DB)(nil)
)

// target is a store Copy can write to, read back through tandem.Store.
type target interface {
	tandem.Store
	storecopy.Target
}

var T0 = storetest.T0

func keys(t testing.TB) *secrets.Keyring {
	t.Helper()
	k := make([]byte, secrets.KeySize)
	for i := range k {
		k[i] = byte(i * 13)
	}
	ring, err := secrets.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// ticker is a clock that moves one second each time it is read, so every
// recorded turn has its own recording time.
type ticker struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ticker) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newBolt(t *testing.T) *store.DB {
	t.Helper()
	clk := &ticker{t: T0}
	db, err := store.Open(filepath.Join(t.TempDir(), "tandem.db"), store.Options{Keyring: keys(t), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(t.Context(), url, postgres.Options{Keyring: keys(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	sessA = tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100"}
	sessB = tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1740830500.000200"}
)

// seeded is what seed wrote, to compare a copy with.
type seeded struct {
	users    [][2]string // team, user
	states   []tandem.OAuthState
	expired  tandem.OAuthState
	turnIDs  []string
	settings map[string]string
}

// seed writes records of every kind, in every shape the stores keep,
// through the tandem.Store contract.
func seed(t *testing.T, s tandem.Store) seeded {
	t.Helper()
	ctx := t.Context()
	out := seeded{settings: map[string]string{"channel/T1/C1/persistent": "on", "default/provider": "github"}}
	for name, value := range out.settings {
		must(t, s.SetSetting(ctx, name, value))
	}

	must(t, s.SaveAPIKey(ctx, tandem.APIKey{Prefix: "tdm_aaaa1111", Hash: secrets.Hash("tdm_aaaa1111_FAKE"), Name: "ci", Team: "T1", Creator: "U1",
		CreatedAt: T0, Expires: T0.Add(90 * 24 * time.Hour), LastUsed: T0.Add(time.Hour)}))
	// An operator made this one for U9 and revoked it before U9 allowed it.
	must(t, s.SaveAPIKey(ctx, tandem.APIKey{Prefix: "tdm_bbbb2222", Hash: secrets.Hash("tdm_bbbb2222_FAKE"), Name: "old", Team: "T2", Creator: "U9",
		CreatedAt: T0, Revoked: T0.Add(2 * time.Hour), Pending: true}))

	must(t, s.CreateSchedule(ctx, tandem.Schedule{ID: "sch_1", Session: sessA, Creator: "U1", Text: "prs",
		Cron: "0 9 * * 1-5", Zone: "Europe/Berlin", ZoneFromSlack: true, CreatedAt: T0, Next: T0.Add(20 * time.Hour),
		LastRun: T0.Add(-4 * time.Hour), Gap: tandem.GitHub}, 10, ""))
	must(t, s.CreateSchedule(ctx, tandem.Schedule{ID: "sch_2", Session: sessB, Creator: "U9", Text: "issues",
		Zone: "America/New_York", At: T0.Add(time.Hour), CreatedAt: T0.Add(time.Minute),
		Paused: true, PausedWhy: "its creator left the workspace"}, 10, ""))

	_, _, err := s.EnsureSession(ctx, tandem.Session{Key: sessA, Owner: "U1", CreatedAt: T0, Editors: []string{"U2", "U3"},
		Env:     map[string]string{tandem.EnvKeepCredentialsPersistent: "true", "REPO": "tandembot/tandem"},
		Pending: &tandem.PendingChange{Name: "REPO", Value: "other/repo", RequestedBy: "U2", RequestedAt: T0.Add(time.Minute)}})
	must(t, err)
	_, _, err = s.EnsureSession(ctx, tandem.Session{Key: sessB, Owner: "U9", CreatedAt: T0.Add(time.Hour)})
	must(t, err)

	must(t, s.SaveLink(ctx, tandem.Link{Team: "T1", User: "U1", Provider: tandem.GitHub, AccountID: "583231", Login: "octo-U1", LinkedAt: T0,
		Token: tandem.Token{AccessToken: storetest.FakeAccessToken, RefreshToken: storetest.FakeRefreshToken, TokenType: "bearer", Expiry: T0.Add(8 * time.Hour)}}))
	must(t, s.SaveLink(ctx, tandem.Link{Team: "T1", User: "U1", Provider: tandem.GitLab, AccountID: "77", Login: "gl-U1", LinkedAt: T0,
		Token: tandem.Token{AccessToken: storetest.FakeAccessToken2}}))
	must(t, s.SaveLink(ctx, tandem.Link{Team: "T1", User: "U2", Provider: tandem.Jira, AccountID: "acc-2", Login: "u2@example.com", LinkedAt: T0,
		Site: "cloud-1", SiteName: "Example", Sites: []tandem.Site{{ID: "cloud-1", Name: "Example", URL: "https://example.atlassian.net"}, {ID: "cloud-2", Name: "Other", URL: "https://other.atlassian.net"}},
		Token: tandem.Token{AccessToken: "jira_FAKE_access", RefreshToken: "jira_FAKE_refresh", Expiry: T0.Add(time.Hour)}}))
	_, err = s.MarkNeedsReconnect(ctx, "T1", "U2", tandem.Jira, tandem.Token{AccessToken: "jira_FAKE_access", RefreshToken: "jira_FAKE_refresh"})
	must(t, err)
	out.users = [][2]string{{"T1", "U1"}, {"T1", "U2"}}

	out.states = []tandem.OAuthState{
		{ID: storetest.FakeStateID, Provider: tandem.GitLab, Team: "T1", User: "U1", NonceHash: secrets.Hash("n1"), Verifier: storetest.FakeVerifier, Expires: T0.Add(10 * time.Minute), RerunTurn: "Ev3"},
		{ID: storetest.FakeStateID + "-b", Provider: tandem.Google, Team: "T1", User: "U3", NonceHash: secrets.Hash("n2"), Verifier: storetest.FakeVerifier + "-b", Expires: T0.Add(5 * time.Minute)},
	}
	out.expired = tandem.OAuthState{ID: storetest.FakeStateID + "-old", Provider: tandem.GitHub, Team: "T1", User: "U4", Verifier: "v-old", Expires: T0.Add(-time.Minute)}
	for _, st := range append(out.states, out.expired) {
		must(t, s.SaveOAuthState(ctx, st))
	}

	turns := []tandem.Turn{
		{ID: "Ev1", Session: sessA, User: "U1", Text: "prs", TS: "1740830400.000100", ReceivedAt: T0},
		{ID: "Ev2", Session: sessA, User: "U2", Text: "issues", TS: "1740830401.000100", ReceivedAt: T0.Add(time.Second)},
		{ID: "Ev3", Session: sessA, User: "U3", Text: "calendar", TS: "1740830402.000100", ReceivedAt: T0.Add(2 * time.Second)},
		{ID: "rerun:Ev3", Session: sessA, User: "U3", Text: "calendar", TS: "1740830402.000100", ReceivedAt: T0.Add(time.Minute), Rerun: true},
		{ID: "home:U1:1", Session: sessB, User: "U1", Text: "whoami", ReceivedAt: T0.Add(2 * time.Minute)},
		{ID: "api:tdm_aaaa1111:1", Session: sessB, User: "U1", Text: "prs", ReceivedAt: T0.Add(3 * time.Minute), APIKey: "tdm_aaaa1111", APIKeyName: "ci"},
		{ID: "schedule:sch_1:1", Session: sessA, User: "U1", Text: "prs", ReceivedAt: T0.Add(4 * time.Minute), Schedule: "sch_1"},
	}
	for _, tr := range turns {
		dup, err := s.RecordTurn(ctx, tr)
		must(t, err)
		if dup {
			t.Fatalf("seed: %s is a duplicate", tr.ID)
		}
		out.turnIDs = append(out.turnIDs, tr.ID)
	}
	for _, step := range []struct {
		id    string
		state tandem.TurnState
	}{
		{"Ev2", tandem.TurnRunning},
		{"Ev3", tandem.TurnRunning}, {"Ev3", tandem.TurnPending}, {"Ev3", tandem.TurnRunning}, {"Ev3", tandem.TurnDone},
		{"Ev1", tandem.TurnDone}, {"Ev1", tandem.TurnPending}, // reopened: keeps its place
		{"home:U1:1", tandem.TurnDone},
	} {
		must(t, s.SetTurnState(ctx, step.id, step.state))
	}

	for i, r := range []tandem.AuditRecord{
		{Session: sessA, TurnID: "Ev1", Actor: "U1", Effective: "U1", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK},
		{Session: sessA, TurnID: "Ev2", Actor: "U2", Effective: "U1", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonPersistentOwner, Outcome: tandem.OutcomeOK},
		{Session: sessB, Actor: "U3", Effective: "U3", Provider: tandem.Jira, Action: "link", Outcome: tandem.OutcomeOK, Detail: "site example.atlassian.net"},
		{Session: sessA, TurnID: "Ev3", Actor: "U3", Effective: "U3", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonRefusedNotEditor, Outcome: tandem.OutcomeRefused},
		{Session: sessB, Actor: "apikey:tdm_aaaa1111", Effective: "U1", Provider: tandem.GitLab, Action: "resolve", Reason: tandem.ReasonAPIKeyCreator, Outcome: tandem.OutcomeExpired},
	} {
		// Times out of order on purpose: the trail keeps append order.
		r.Time = T0.Add(time.Duration(10-i) * time.Minute)
		must(t, s.AppendAudit(ctx, r))
	}

	if ok, err := s.Lease(ctx, "session/"+sessA.String(), "replica-1", time.Hour); err != nil || !ok {
		t.Fatalf("seed lease: %v, %v", ok, err)
	}
	return out
}

var diffOpts = []gocmp.Option{cmpopts.EquateEmpty()}

// sameContents reads everything back from src and dst through tandem.Store
// and reports differences. It takes the OAuth states from dst.
func sameContents(t *testing.T, src, dst tandem.Store, seed seeded) {
	t.Helper()
	ctx := t.Context()

	for name, want := range seed.settings {
		if got, err := dst.Setting(ctx, name); err != nil || got != want {
			t.Errorf("setting %s in the copy = %q, %v; want %q", name, got, err, want)
		}
	}

	wantKeys, err := src.APIKeys(ctx, "", "")
	must(t, err)
	gotKeys, err := dst.APIKeys(ctx, "", "")
	must(t, err)
	if d := gocmp.Diff(gotKeys, wantKeys, diffOpts...); d != "" || len(gotKeys) != 2 {
		t.Errorf("API keys in the copy (-got +want):\n%s", d)
	}

	wantSchedules, err := src.Schedules(ctx, tandem.ScheduleFilter{})
	must(t, err)
	gotSchedules, err := dst.Schedules(ctx, tandem.ScheduleFilter{})
	must(t, err)
	if d := gocmp.Diff(gotSchedules, wantSchedules, diffOpts...); d != "" || len(gotSchedules) != 2 {
		t.Errorf("schedules in the copy (-got +want):\n%s", d)
	}

	sessions := func(s tandem.Store) []tandem.Session {
		var out []tandem.Session
		must(t, s.Sessions(ctx, func(ss tandem.Session) error { out = append(out, ss); return nil }))
		return out
	}
	if d := gocmp.Diff(sessions(dst), sessions(src), diffOpts...); d != "" {
		t.Errorf("sessions in the copy (-got +want):\n%s", d)
	}

	for _, u := range seed.users {
		want, err := src.Links(ctx, u[0], u[1])
		must(t, err)
		got, err := dst.Links(ctx, u[0], u[1])
		if err != nil {
			t.Errorf("Links %s/%s in the copy: %v", u[0], u[1], err)
			continue
		}
		// Tokens included: the copy opens what the source sealed.
		if d := gocmp.Diff(got, want, diffOpts...); d != "" || len(got) == 0 {
			t.Errorf("links of %s/%s in the copy (-got +want):\n%s", u[0], u[1], d)
		}
	}

	for _, id := range seed.turnIDs {
		want, err := src.TurnRecord(ctx, id)
		must(t, err)
		got, err := dst.TurnRecord(ctx, id)
		if err != nil {
			t.Errorf("turn %s in the copy: %v", id, err)
			continue
		}
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("turn %s in the copy (-got +want):\n%s", id, d)
		}
	}
	wantOpen, err := src.UnfinishedTurns(ctx)
	must(t, err)
	gotOpen, err := dst.UnfinishedTurns(ctx)
	must(t, err)
	if d := gocmp.Diff(gotOpen, wantOpen, diffOpts...); d != "" || len(gotOpen) != 5 {
		t.Errorf("unfinished turns in the copy, in recording order (-got +want):\n%s", d)
	}
	// Each session's next turn is the same: the copy's index holds them.
	for _, r := range wantOpen {
		want, err := src.NextTurn(ctx, r.Turn.Session)
		must(t, err)
		got, err := dst.NextTurn(ctx, r.Turn.Session)
		if d := gocmp.Diff(got, want, diffOpts...); err != nil || d != "" {
			t.Errorf("next turn of %s in the copy (%v) (-got +want):\n%s", r.Turn.Session, err, d)
		}
	}
	// The copy still deduplicates: a redelivered message, a rerun again.
	for _, tr := range []tandem.Turn{
		{ID: "Ev1-redelivered", Session: sessA, TS: "1740830400.000100"},
		{ID: "Ev9", Session: sessA, TS: "1740830402.000100"}, // Ev3's message, done
		{ID: "rerun:Ev3", Session: sessA, TS: "1740830402.000100", Rerun: true},
	} {
		if dup, err := dst.RecordTurn(ctx, tr); err != nil || !dup {
			t.Errorf("RecordTurn %s in the copy: duplicate %v, %v; want a duplicate", tr.ID, dup, err)
		}
	}

	wantAudit, err := src.Audit(ctx, tandem.AuditFilter{})
	must(t, err)
	gotAudit, err := dst.Audit(ctx, tandem.AuditFilter{})
	must(t, err)
	if d := gocmp.Diff(gotAudit, wantAudit, diffOpts...); d != "" || len(gotAudit) != 5 {
		t.Errorf("audit in the copy, in append order (-got +want):\n%s", d)
	}
	gotLast, err := dst.Audit(ctx, tandem.AuditFilter{Limit: 2})
	must(t, err)
	if d := gocmp.Diff(gotLast, wantAudit[3:], diffOpts...); d != "" {
		t.Errorf("newest audit records in the copy (-got +want):\n%s", d)
	}

	for _, want := range seed.states {
		got, err := dst.TakeOAuthState(ctx, want.ID)
		if err != nil {
			t.Errorf("OAuth state %s in the copy: %v", want.ID, err)
			continue
		}
		if d := gocmp.Diff(got, want, diffOpts...); d != "" {
			t.Errorf("OAuth state in the copy (-got +want):\n%s", d)
		}
	}
	if _, err := dst.TakeOAuthState(ctx, seed.expired.ID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("an expired OAuth state was copied: %v", err)
	}

	// Leases are not copied: another owner takes the source's lease at once.
	if ok, err := dst.Lease(ctx, "session/"+sessA.String(), "replica-2", time.Minute); err != nil || !ok {
		t.Errorf("the source's lease was copied: Lease by another owner = %v, %v", ok, err)
	}
}

func wantReport(t *testing.T, r storecopy.Report) {
	t.Helper()
	want := map[string]storecopy.Count{
		storecopy.KindSettings:    {Kind: storecopy.KindSettings, Source: 2, Copied: 2, Target: 2},
		storecopy.KindAPIKeys:     {Kind: storecopy.KindAPIKeys, Source: 2, Copied: 2, Target: 2},
		storecopy.KindSchedules:   {Kind: storecopy.KindSchedules, Source: 2, Copied: 2, Target: 2},
		storecopy.KindSessions:    {Kind: storecopy.KindSessions, Source: 2, Copied: 2, Target: 2},
		storecopy.KindLinks:       {Kind: storecopy.KindLinks, Source: 3, Copied: 3, Target: 3},
		storecopy.KindOAuthStates: {Kind: storecopy.KindOAuthStates, Source: 3, Skipped: 1, Copied: 2, Target: 2},
		storecopy.KindTurns:       {Kind: storecopy.KindTurns, Source: 7, Copied: 7, Target: 7},
		storecopy.KindAudit:       {Kind: storecopy.KindAudit, Source: 5, Copied: 5, Target: 5},
	}
	if len(r.Counts) != len(storecopy.Kinds) {
		t.Errorf("the report has %d kinds, want %d:\n%s", len(r.Counts), len(storecopy.Kinds), r)
	}
	for _, kind := range storecopy.Kinds {
		if d := gocmp.Diff(r.Count(kind), want[kind]); d != "" {
			t.Errorf("report of %s (-got +want):\n%s", kind, d)
		}
	}
}

func copyOpts() storecopy.Options {
	return storecopy.Options{Now: func() time.Time { return T0 }}
}

// sealedLinks returns every link's sealed token, by owner.
func sealedLinks(t *testing.T, e storecopy.Exporter) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	must(t, e.ExportLinks(t.Context(), func(l tandem.Link, sealed []byte) error {
		out[l.Team+"/"+l.User+"/"+string(l.Provider)] = sealed
		return nil
	}))
	return out
}

func testCopy(t *testing.T, newTarget func(t *testing.T) target) {
	src := newBolt(t)
	seeded := seed(t, src)
	dst := newTarget(t)
	report, err := storecopy.Copy(t.Context(), src, dst, copyOpts())
	if err != nil {
		t.Fatalf("Copy: %v\n%s", err, report)
	}
	t.Logf("report:\n%s", report)
	wantReport(t, report)
	// Sealed values travel as they are, never opened and sealed again.
	if d := gocmp.Diff(sealedLinks(t, dst), sealedLinks(t, src)); d != "" {
		t.Errorf("sealed tokens changed on the way (-got +want):\n%s", d)
	}
	sameContents(t, src, dst, seeded)
}

func TestCopyBoltToBolt(t *testing.T) {
	testCopy(t, func(t *testing.T) target { return newBolt(t) })
}

func TestCopyBoltToPostgres(t *testing.T) {
	pgtest.BaseURL(t)
	testCopy(t, func(t *testing.T) target { return newPostgres(t) })
}

func TestCopyPostgresToBolt(t *testing.T) {
	pgtest.BaseURL(t)
	src := newBolt(t)
	seeded := seed(t, src)
	pg := newPostgres(t)
	if _, err := storecopy.Copy(t.Context(), src, pg, copyOpts()); err != nil {
		t.Fatal(err)
	}
	back := newBolt(t)
	report, err := storecopy.Copy(t.Context(), pg, back, copyOpts())
	if err != nil {
		t.Fatalf("Copy back: %v\n%s", err, report)
	}
	// The expired state was not in PostgreSQL to begin with.
	if c := report.Count(storecopy.KindOAuthStates); c.Source != 2 || c.Skipped != 0 || c.Target != 2 {
		t.Errorf("OAuth states copied back: %+v", c)
	}
	sameContents(t, src, back, seeded)
}

func TestCopyEmpty(t *testing.T) {
	report, err := storecopy.Copy(t.Context(), newBolt(t), newBolt(t), storecopy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range report.Counts {
		if c != (storecopy.Count{Kind: c.Kind}) {
			t.Errorf("copy of an empty store: %+v", c)
		}
	}
}

func testRefuseNonEmpty(t *testing.T, newTarget func(t *testing.T) target) {
	ctx := t.Context()
	src := newBolt(t)
	seeded := seed(t, src)
	dst := newTarget(t)
	if _, err := storecopy.Copy(ctx, src, dst, copyOpts()); err != nil {
		t.Fatal(err)
	}
	must(t, dst.SetSetting(ctx, "only/in/target", "1"))

	report, err := storecopy.Copy(ctx, src, dst, copyOpts())
	if tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("Copy into a non-empty target: %v, want code %q", err, tandem.ECONFLICT)
	}
	t.Logf("refusal: %s", tandem.ErrorMessage(err))
	if len(report.Counts) != 0 {
		t.Errorf("a refused copy reports copying: %+v", report)
	}
	if v, err := dst.Setting(ctx, "only/in/target"); err != nil || v != "1" {
		t.Errorf("a refused copy changed the target: %q, %v", v, err)
	}

	opts := copyOpts()
	opts.Force = true
	report, err = storecopy.Copy(ctx, src, dst, opts)
	if err != nil {
		t.Fatalf("Copy with Force: %v\n%s", err, report)
	}
	// Everything was copied once more, and the target's own records are
	// gone.
	if report.Replaced == 0 {
		t.Error("a forced copy into a non-empty target reports replacing nothing")
	}
	wantReport(t, report)
	if _, err := dst.Setting(ctx, "only/in/target"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("a forced copy kept the target's own setting: %v", err)
	}
	sameContents(t, src, dst, seeded)
}

func TestCopyRefusesNonEmptyBolt(t *testing.T) {
	testRefuseNonEmpty(t, func(t *testing.T) target { return newBolt(t) })
}

func TestCopyRefusesNonEmptyPostgres(t *testing.T) {
	pgtest.BaseURL(t)
	testRefuseNonEmpty(t, func(t *testing.T) target { return newPostgres(t) })
}

// lossy drops one audit record on the way but reports storing it, like a
// broken store would.
type lossy struct{ target }

func (l lossy) ImportAudit(ctx context.Context, each func(put func(tandem.AuditRecord) error) error) (int, error) {
	n := 0
	_, err := l.target.ImportAudit(ctx, func(put func(tandem.AuditRecord) error) error {
		return each(func(r tandem.AuditRecord) error {
			n++
			if n == 2 {
				return nil
			}
			return put(r)
		})
	})
	return n, err
}

func TestCopyVerifiesCounts(t *testing.T) {
	src := newBolt(t)
	seed(t, src)
	report, err := storecopy.Copy(t.Context(), src, lossy{newBolt(t)}, copyOpts())
	var mismatch *storecopy.MismatchError
	if !errors.As(err, &mismatch) || mismatch.Kind != storecopy.KindAudit {
		t.Fatalf("Copy into a store that lost an audit record: %v, want a *MismatchError for %s", err, storecopy.KindAudit)
	}
	if mismatch.Want != 5 || mismatch.Target != 4 {
		t.Errorf("mismatch = %+v, want 5 to copy and 4 in the target", mismatch)
	}
	if c := report.Count(storecopy.KindAudit); c.Source != 5 || c.Target != 4 {
		t.Errorf("report of audit = %+v", c)
	}
	t.Log(err)
}

// failing fails to import links, to check the error names the kind.
type failing struct{ target }

var errBroken = errors.New("disk on fire")

func (f failing) ImportLinks(context.Context, func(put func(tandem.Link, []byte) error) error) (int, error) {
	return 0, errBroken
}

func TestCopyFailureNamesKind(t *testing.T) {
	src := newBolt(t)
	seed(t, src)
	report, err := storecopy.Copy(t.Context(), src, failing{newBolt(t)}, copyOpts())
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "copy links") {
		t.Errorf("Copy with a failing import: %v, want the store's error naming links", err)
	}
	if got := len(report.Counts); got != 5 {
		t.Errorf("the report of a copy that failed at links has %d kinds, want 5 (settings to links)", got)
	}
}

// bulk fills s through its importer with more records of each kind than
// one page or batch holds.
func bulk(t *testing.T, s storecopy.Importer, n int) {
	t.Helper()
	ctx := t.Context()
	_, err := s.ImportSessions(ctx, func(put func(tandem.Session) error) error {
		for i := range n {
			key := tandem.SessionKey{Team: "T1", Channel: "C" + strconv.Itoa(i%7), ThreadTS: fmt.Sprintf("1740830400.%06d", i)}
			if err := put(tandem.Session{Key: key, Owner: "U1", CreatedAt: T0}); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	_, err = s.ImportTurns(ctx, func(put func(tandem.TurnRecord, time.Time) error) error {
		for i := range n {
			// Ids in the reverse of recording order, so id order is not it.
			tr := tandem.Turn{ID: fmt.Sprintf("Ev%06d", n-i), Session: sessA, User: "U1", Text: "prs", TS: fmt.Sprintf("1740830400.%06d", i), ReceivedAt: T0}
			state := tandem.TurnDone
			if i%100 == 0 {
				state = tandem.TurnPending
			}
			if err := put(tandem.TurnRecord{Turn: tr, State: state, Attempts: i % 3}, T0.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	_, err = s.ImportAudit(ctx, func(put func(tandem.AuditRecord) error) error {
		for i := range n {
			if err := put(tandem.AuditRecord{Time: T0.Add(time.Duration(n-i) * time.Second), Actor: "U" + strconv.Itoa(i), Effective: "U1", Action: "resolve", Outcome: tandem.OutcomeOK}); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
}

func TestCopyManyRecords(t *testing.T) {
	pgtest.BaseURL(t)
	const n = 1234 // over PostgreSQL's pages and batches (500) and bbolt's batches (1000)
	src := newBolt(t)
	bulk(t, src, n)
	pg := newPostgres(t)
	back := newBolt(t)
	ctx := t.Context()
	for _, step := range []struct {
		name     string
		from     storecopy.Exporter
		to       target
		original tandem.Store
	}{{"bbolt to PostgreSQL", src, pg, src}, {"PostgreSQL to bbolt", pg, back, src}} {
		report, err := storecopy.Copy(ctx, step.from, step.to, copyOpts())
		if err != nil {
			t.Fatalf("%s: %v\n%s", step.name, err, report)
		}
		for _, kind := range []string{storecopy.KindSessions, storecopy.KindTurns, storecopy.KindAudit} {
			if c := report.Count(kind); c.Source != n || c.Target != n {
				t.Errorf("%s: %+v, want %d", step.name, c, n)
			}
		}
		wantOpen, _ := step.original.UnfinishedTurns(ctx)
		gotOpen, err := step.to.UnfinishedTurns(ctx)
		if d := gocmp.Diff(gotOpen, wantOpen); err != nil || d != "" || len(gotOpen) != 13 {
			t.Errorf("%s: unfinished turns (%v) (-got +want):\n%s", step.name, err, d)
		}
		wantAudit, _ := step.original.Audit(ctx, tandem.AuditFilter{})
		gotAudit, err := step.to.Audit(ctx, tandem.AuditFilter{})
		if d := gocmp.Diff(gotAudit, wantAudit); err != nil || d != "" {
			t.Errorf("%s: audit (%v) (-got +want):\n%s", step.name, err, d)
		}
		var got, want []tandem.SessionKey
		must(t, step.original.Sessions(ctx, func(s tandem.Session) error { want = append(want, s.Key); return nil }))
		must(t, step.to.Sessions(ctx, func(s tandem.Session) error { got = append(got, s.Key); return nil }))
		if d := gocmp.Diff(got, want); d != "" {
			t.Errorf("%s: sessions, in key order (-got +want):\n%s", step.name, d)
		}
	}
}

func TestCopyRefusesSameStore(t *testing.T) {
	pgtest.BaseURL(t)
	ctx := t.Context()
	url := pgtest.URL(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(ctx, url, postgres.Options{Keyring: keys(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	// Two handles on one schema, as an operator who typed one URL twice
	// would get.
	a, b := open(), open()
	seed(t, a)
	_, err := storecopy.Copy(ctx, a, b, storecopy.Options{Force: true, Now: copyOpts().Now})
	if tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("a forced Copy of a store onto itself: %v, want code %q", err, tandem.EINVALID)
	}
	if got, err := b.Audit(ctx, tandem.AuditFilter{}); err != nil || len(got) != 5 {
		t.Errorf("after the refused copy the store holds %d audit records (%v), want 5", len(got), err)
	}
	if _, err := b.Setting(ctx, "channel/T1/C1/persistent"); err != nil {
		t.Errorf("after the refused copy: %v", err)
	}
}
