package main

// Fault tests (issue 7 "Faults"): the real binary against the fake Slack and
// fake providers while things go wrong. docs/reliability.md describes each
// test, how to run it and what was observed.
//
//   - TestCrashKill9UnderLoad: kill -9 of the bot process at random moments
//     during sustained load, at least 20 times.
//   - TestSocketDropsLoseAndRepeatNothing: dropped WebSockets, disconnect
//     requests, missing pings and redeliveries during load.
//   - TestSlackRateLimit*: chat.postMessage answering 429 with Retry-After.
//   - TestProviderOutage*: a provider answering 500s, or hanging.
//   - TestShutdown*: SIGTERM while a slow turn runs and others are queued.
//
// The crash and shutdown tests run tandem as a child process: the test binary
// re-executes itself with TANDEM_TEST_CHILD=1 (see TestMain in main_test.go),
// so a SIGKILL really ends a process holding the bbolt file and the socket.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

const (
	// faultTeam is the fake Slack's workspace id (fakeslack's default).
	faultTeam = "T0TANDEM"
	// faultRepo is where the mutating turns of the fault tests comment.
	faultRepo = "acme/tools"
	// interruptedTitle starts the notice the bot posts, after a restart,
	// for a mutating turn that was cut off while running.
	interruptedTitle = "Interrupted: this request may or may not have been carried out"
)

// ---------------------------------------------------------------------------
// The bot as a child process.

// faultProc is one run of tandem serve in a child process.
type faultProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string      // its TANDEM_HTTP_ADDR
	logs *syncBuffer // its stdout and stderr (also copied to env.logs)
	done chan struct{}
}

// startProc runs "tandem serve" as a child process listening on addr
// (host:port), with e.vars as its environment, and waits until it is ready:
// /readyz answers 200 and the fake Slack accepted a new Socket Mode
// connection.
func (e *env) startProc(addr string) *faultProc {
	t := e.t
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProc{t: t, addr: addr, logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(exe, "serve")
	p.cmd.Env = childEnv(e.vars, addr)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = io.MultiWriter(p.logs, e.logs)
	opened := e.slack.ConnectionsOpened()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	client := &http.Client{Timeout: time.Second}
	waitLong(t, 30*time.Second, "the bot process to be ready", func() bool {
		if p.exited() {
			t.Fatalf("the bot process ended while starting (%s):\n%s", p.cmd.ProcessState, p.logs)
		}
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && e.slack.ConnectionsOpened() > opened
	})
	return p
}

// childEnv is the environment of a child: the test's own without any
// TANDEM_ or SLACK_ variable, then vars, with TANDEM_HTTP_ADDR set to addr.
func childEnv(vars map[string]string, addr string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TANDEM_") || strings.HasPrefix(k, "SLACK_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range vars {
		if k == "TANDEM_HTTP_ADDR" {
			v = addr
		}
		env = append(env, k+"="+v)
	}
	return append(env, childEnvVar+"=1")
}

func (p *faultProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, as kill -9 does, and reaps the process.
func (p *faultProc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// signal sends sig to the process (SIGSTOP and SIGCONT stall it and let it
// go on); it fails the test when the process is gone.
func (p *faultProc) signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// terminate sends SIGTERM and waits at most within for the process to exit.
// It returns the exit status, and false (after a SIGKILL) when the process
// did not exit in time.
func (p *faultProc) terminate(within time.Duration) (int, bool) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(within):
		p.kill()
		return -1, false
	}
}

// checkRaces fails the test if the race detector reported in the child
// (the child is built with -race too when the tests are).
func (p *faultProc) checkRaces() {
	p.t.Helper()
	if logs := p.logs.String(); strings.Contains(logs, "WARNING: DATA RACE") {
		p.t.Errorf("the race detector reported in the bot process:\n%s", logs)
	}
}

// hostPort is the host:port of an http URL.
func hostPort(u string) string { return strings.TrimPrefix(u, "http://") }

// waitLong is waitFor with a chosen timeout. The timeout only bounds how
// long a broken build takes to fail; nothing asserts on durations.
func waitLong(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Fixtures and load.

// useUnlimitedGitHub replaces the fake GitHub by one that does not apply
// GitHub's search rate limit (30 a minute per user), so that a sustained
// load of reads gets real answers rather than "Rate limited". Call it
// before the bot starts.
func (e *env) useUnlimitedGitHub() {
	t := e.t
	var users []fakegithub.User
	for _, p := range people {
		users = append(users, fakegithub.User{Login: p.login, Name: p.name})
	}
	gh := fakegithub.New(fakegithub.Options{
		ClientID: "e2e-client", ClientSecret: testClientSecret,
		RedirectURL: e.public + "/oauth/github/callback", Users: users, NoRateLimit: true,
	})
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	for _, p := range people {
		gh.AddRepo(p.login + "/tools")
		gh.AddPullRequest(p.login+"/tools", p.login, "Fix the thing "+p.name+" found", false)
		gh.AddPullRequest(p.login+"/tools", p.login, "Draft by "+p.name, true)
	}
	e.gh = gh
	e.vars["TANDEM_GITHUB_URL"] = gh.URL()
}

// addFaultRepo creates faultRepo, where everyone may comment, with one issue
// assigned to Alice, and returns the issue's reference (acme/tools#N).
func (e *env) addFaultRepo() string {
	e.gh.AddRepo(faultRepo)
	for _, p := range people {
		e.gh.AddCollaborator(faultRepo, p.login)
	}
	n := e.gh.AddIssue(faultRepo, "bob-gh", "Tracking issue for the fault tests", "alice-gh")
	return fmt.Sprintf("%s#%d", faultRepo, n)
}

// faultMsg is one message a fault test sent, as Slack sends a mention: an
// app_mention and a message.channels event for one ts.
type faultMsg struct {
	user, text string
	ts         string
	thread     string // the thread its reply goes to (ts for a new thread)
	newThread  bool
	uid        string // a mutating turn's comment body, unique in the test
	events     [2]string
	whileDown  bool // sent while no bot process was running
}

// deliver sends user's "@tandem text" in threadTS ("" starts a thread)
// without waiting for acknowledgements: the fake queues the envelopes when
// no connection is open and (with AutoRedeliver) redelivers them until
// they are acknowledged.
func (e *env) deliver(user, text, threadTS string) (faultMsg, error) {
	ts := e.slack.NextTS()
	full := "<@" + e.slack.BotUserID() + "> " + text
	m := faultMsg{user: user, text: text, ts: ts, thread: threadTS}
	if threadTS == "" {
		m.thread, m.newThread = ts, true
	}
	_, id1, err := e.slack.DeliverEvent(fakeslack.AppMentionEvent(channel, user, full, ts, threadTS))
	if err != nil {
		return m, err
	}
	_, id2, err := e.slack.DeliverEvent(fakeslack.MessageEvent(channel, user, full, ts, threadTS))
	if err != nil {
		return m, err
	}
	m.events = [2]string{id1, id2}
	return m, nil
}

// acked reports whether the bot acknowledged either event of m.
func (m faultMsg) acked(st map[string]fakeslack.EventStatus) bool {
	return st[m.events[0]].Acked || st[m.events[1]].Acked
}

// settled reports whether the fake is done delivering m: every envelope
// that carried one of its events (first sends, automatic redeliveries and
// Redeliver calls) was acknowledged, or redelivery gave up on it.
func (m faultMsg) settled(st map[string]fakeslack.EventStatus) bool {
	return st[m.events[0]].OpenChains == 0 && st[m.events[1]].OpenChains == 0
}

// replies indexes the bot's visible replies (chat.postMessage in a thread)
// by thread, as text a person reads.
func (e *env) replies() map[string][]string {
	out := map[string][]string{}
	for _, m := range e.slack.Messages() {
		if m.Method == "chat.postMessage" && m.ThreadTS != "" {
			out[m.ThreadTS] = append(out[m.ThreadTS], plain(m))
		}
	}
	return out
}

// commentsByBody counts the comments the fake GitHub recorded, by body.
func (e *env) commentsByBody() map[string]int {
	out := map[string]int{}
	for _, c := range e.gh.Comments() {
		out[strings.TrimSpace(c.Body)]++
	}
	return out
}

// uidRe finds the unique ids of mutating turns in the bot's notices.
var uidRe = regexp.MustCompile(`\b(?:crash|sock|shut|dead|outage)-[0-9a-z]+\b`)

// interruptedNotices counts the "Interrupted" notices by the unique id of
// the request they name.
func interruptedNotices(replies map[string][]string) (map[string]int, int) {
	out, total := map[string]int{}, 0
	for _, texts := range replies {
		for _, s := range texts {
			if !strings.Contains(s, interruptedTitle) {
				continue
			}
			total++
			for _, uid := range uidRe.FindAllString(s, -1) {
				out[uid]++
			}
		}
	}
	return out, total
}

// countIn counts the texts containing every one of wants.
func countIn(texts []string, wants ...string) int {
	n := 0
next:
	for _, s := range texts {
		for _, w := range wants {
			if !strings.Contains(s, w) {
				continue next
			}
		}
		n++
	}
	return n
}

// ---------------------------------------------------------------------------
// The database of a stopped bot.

// storeWant is what a fault test created and must find intact in the store.
type storeWant struct {
	links    map[[2]string]string // {slack user, provider} -> provider login
	keys     map[string]string    // whole API key -> its name
	sessions []string             // thread ts of sessions that must exist
}

func testKeyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	k, err := secrets.ParseKey(testEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// monotonic are the buckets whose record counts never go down in these
// tests (nothing is old enough to be pruned).
var monotonic = []string{"turns", "turn_dedupe", "turns_by_time", "sessions", "links", "audit", "api_keys"}

// checkStore opens the database of a stopped bot, first with bbolt alone
// for its consistency check, then with store.Open, and checks that nothing
// created is lost or unreadable: every link decrypts to its login, every
// API key is found by its hash, every session exists, and no bucket holds
// fewer records than at the previous check. It returns the counts.
func (e *env) checkStore(w storeWant, prev map[string]int) map[string]int {
	t := e.t
	t.Helper()
	bdb, err := bolt.Open(e.db, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Errorf("bbolt cannot open the database of the stopped bot: %v", err)
		return prev
	}
	_ = bdb.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt consistency check: %v", err)
		}
		return nil
	})
	bdb.Close()

	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(t), Timeout: 2 * time.Second})
	if err != nil {
		t.Errorf("store.Open after the bot stopped: %v", err)
		return prev
	}
	defer db.Close()
	ctx := context.Background()
	counts, err := db.Counts()
	if err != nil {
		t.Errorf("counts: %v", err)
		return prev
	}
	for _, b := range monotonic {
		if counts[b] < prev[b] {
			t.Errorf("bucket %s lost records: %d, was %d", b, counts[b], prev[b])
		}
	}
	if counts["links"] != len(w.links) {
		t.Errorf("%d links in the store, want %d", counts["links"], len(w.links))
	}
	for k, login := range w.links {
		l, err := db.Link(ctx, faultTeam, k[0], tandem.ProviderID(k[1]))
		switch {
		case err != nil:
			t.Errorf("link of %s to %s: %v", k[0], k[1], err)
		case l.Login != login || l.Token.AccessToken == "":
			t.Errorf("link of %s to %s: login %q (want %q), token decrypted: %v", k[0], k[1], l.Login, login, l.Token.AccessToken != "")
		}
	}
	if counts["api_keys"] != len(w.keys) {
		t.Errorf("%d API keys in the store, want %d", counts["api_keys"], len(w.keys))
	}
	for key, name := range w.keys {
		sum := sha256.Sum256([]byte(key))
		rec, err := db.APIKeyByHash(ctx, hex.EncodeToString(sum[:]))
		if err != nil || rec.Name != name || !rec.Revoked.IsZero() {
			t.Errorf("API key %s: %+v, %v", name, rec, err)
		}
	}
	for _, ts := range w.sessions {
		if _, err := db.Session(ctx, tandem.SessionKey{Team: faultTeam, Channel: channel, ThreadTS: ts}); err != nil {
			t.Errorf("session %s: %v", ts, err)
		}
	}
	return counts
}

// ---------------------------------------------------------------------------
// 1. Crash: kill -9 during sustained load.

// crashCycles is how many times the crash test kills the bot.
const crashCycles = 30

// TestCrashKill9UnderLoad kills the bot process with SIGKILL at random
// moments while several people keep talking to it in several sessions, and
// restarts it each time. Afterwards every acknowledged event was processed:
// reads replied, each comment was made exactly once or its thread says it
// was interrupted, no comment was made twice, and the store lost or garbled
// nothing (checked after every kill).
func TestCrashKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skipf("-short: skipping the crash test (it kills and restarts the bot %d times under load, 20-60 s); run without -short", crashCycles)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	e := newEnv(t)
	e.useUnlimitedGitHub()
	ref := e.addFaultRepo()
	// Slack's own deadline: an envelope not acknowledged within 3 s is sent
	// again with retry_attempt 1, 2, 3, then dropped.
	e.slack.AutoRedeliver(true, 3*time.Second)
	// The default TANDEM_LEASE_TTL (30 s): a killed process cannot release
	// its session leases, and the long sessions only run between kills if
	// a restart does not wait for them (TestCrashRestartDoesNotWaitOutDeadLeases).

	p := e.startProc(hostPort(e.public))
	want := storeWant{links: map[[2]string]string{}, keys: map[string]string{}}
	for _, ps := range people {
		e.connect(ps.slack, ps.login)
		want.links[[2]string{ps.slack, string(tandem.GitHub)}] = ps.login
	}
	for _, ps := range people[:2] {
		e.connectTo(ps.slack, tandem.GitLab, ps.gitlab)
		want.links[[2]string{ps.slack, string(tandem.GitLab)}] = ps.gitlab
	}
	want.keys[e.createKey("UALICE", "crash-ci")] = "crash-ci"
	want.keys[e.createKey("UBOB", "crash-ops")] = "crash-ops"
	var sessions []string
	for _, ps := range people {
		root, _ := e.mention(ps.slack, "whoami", "")
		e.reply(root, "Identities for this thread")
		sessions = append(sessions, root)
	}
	want.sessions = sessions

	// The load: every 20-50 ms one message from a random person, mixing
	// reads and comments, in the four long sessions and in new threads.
	var (
		mu     sync.Mutex
		msgs   []faultMsg
		down   atomic.Bool
		stop   = make(chan struct{})
		loaded = make(chan struct{})
	)
	loadSeed := rng.Uint64()
	var halting sync.Once
	halt := func() {
		halting.Do(func() { close(stop) })
		<-loaded
	}
	t.Cleanup(halt) // before the fakes close, if the test ends early
	go func() {
		defer close(loaded)
		r := rand.New(rand.NewPCG(loadSeed, 2))
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			user := people[r.IntN(len(people))].slack
			text, thread, uid := "list my open PRs", "", ""
			switch k := r.IntN(10); {
			case k < 3: // a read in a new thread
			case k < 5:
				thread = sessions[r.IntN(len(sessions))]
			case k < 9:
				thread = sessions[r.IntN(len(sessions))]
				fallthrough
			default:
				uid = fmt.Sprintf("crash-%05d", n)
				text = "comment on " + ref + " " + uid
			}
			wasDown := down.Load()
			m, err := e.deliver(user, text, thread)
			if err != nil {
				t.Errorf("deliver: %v", err)
				return
			}
			m.uid, m.whileDown = uid, wasDown && down.Load()
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
			time.Sleep(time.Duration(20+r.IntN(31)) * time.Millisecond)
		}
	}()

	// Kill and restart, at least 20 times, checking the store each time.
	counts := map[string]int{}
	queuedWhileDown := 0
	for cycle := 1; cycle <= crashCycles; cycle++ {
		time.Sleep(time.Duration(50+rng.IntN(451)) * time.Millisecond)
		p.kill()
		down.Store(true)
		p.checkRaces()
		counts = e.checkStore(want, counts)
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		queuedWhileDown += e.slack.QueuedEnvelopes()
		down.Store(false)
		p = e.startProc("127.0.0.1:" + freePort(t))
	}
	halt()

	// The final run: wait until the fake is done delivering and the bot is
	// done with what it acknowledged, then a quiet period for late doubles.
	mu.Lock()
	all := slices.Clone(msgs)
	mu.Unlock()
	check := func() (pending, fatal []string) {
		st := e.slack.EventStatuses()
		replies := e.replies()
		comments := e.commentsByBody()
		notices, _ := interruptedNotices(replies)
		readsWanted := map[[2]string]int{}
		for _, m := range all {
			if !m.settled(st) {
				pending = append(pending, fmt.Sprintf("message %s (%q) still being delivered", m.ts, m.text))
				continue
			}
			if m.uid != "" && comments[m.uid] > 1 {
				fatal = append(fatal, fmt.Sprintf("%q was carried out %d times", m.text, comments[m.uid]))
			}
			if !m.acked(st) {
				continue
			}
			switch {
			case m.uid != "":
				if comments[m.uid] != 1 && notices[m.uid] == 0 {
					pending = append(pending, fmt.Sprintf("acknowledged %q: %d comments and no Interrupted notice", m.text, comments[m.uid]))
				}
			case m.newThread:
				if len(replies[m.thread]) == 0 {
					pending = append(pending, fmt.Sprintf("acknowledged read %s by %s: no reply in its thread", m.ts, m.user))
				}
			default:
				readsWanted[[2]string{m.thread, m.user}]++
			}
		}
		for k, n := range readsWanted {
			if got := countIn(replies[k[0]], "ran as <@"+k[1]+"> · GitHub", "open pull requests"); got < n {
				pending = append(pending, fmt.Sprintf("session %s: %d acknowledged reads by %s, %d replies", k[0], n, k[1], got))
			}
		}
		return pending, fatal
	}
	// Generous: on a loaded machine the last process may have hundreds of
	// envelopes and turns to work through. Then the problems are listed.
	deadline := time.Now().Add(120 * time.Second)
	for pending, _ := check(); len(pending) > 0 && time.Now().Before(deadline); pending, _ = check() {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a late second run would show now
	pending, fatal := check()
	for i, pr := range append(fatal, pending...) {
		if i == 30 {
			t.Errorf("... and %d more", len(fatal)+len(pending)-30)
			break
		}
		t.Error(pr)
	}

	// A clean stop, then the whole store.
	if code, ok := p.terminate(30 * time.Second); !ok || code != 0 {
		t.Errorf("the final SIGTERM: exited %v, status %d; want a clean exit 0", ok, code)
	}
	p.checkRaces()
	st := e.slack.EventStatuses()
	replies := e.replies()
	for _, m := range all {
		// A turn that ran has a session; an Interrupted notice alone does
		// not make one (the turn may have been cut off before it started
		// its session).
		if m.newThread && m.acked(st) && len(replies[m.thread]) > countIn(replies[m.thread], interruptedTitle) {
			want.sessions = append(want.sessions, m.thread)
		}
	}
	e.checkStore(want, counts)
	e.checkTurnsAndAudit(all, st)

	// What happened, for docs/reliability.md.
	acked, gaveUp, whileDown, whileDownAcked, muts, reads := 0, 0, 0, 0, 0, 0
	for _, m := range all {
		if m.acked(st) {
			acked++
		} else {
			gaveUp++
		}
		if m.whileDown {
			whileDown++
			if m.acked(st) {
				whileDownAcked++
			}
		}
		if m.uid != "" {
			muts++
		} else {
			reads++
		}
	}
	if whileDown == 0 || queuedWhileDown == 0 {
		t.Errorf("no message was sent while the bot was down (%d) or queued by the fake (%d): the test did not exercise queueing", whileDown, queuedWhileDown)
	}
	if whileDownAcked == 0 {
		t.Errorf("none of the %d messages sent while the bot was down was delivered after a restart", whileDown)
	}
	_, notices := interruptedNotices(replies)
	total, commented := 0, 0
	for _, texts := range replies {
		total += len(texts)
	}
	comments := e.commentsByBody()
	twice := 0
	for _, m := range all {
		switch {
		case m.uid == "":
		case comments[m.uid] == 1:
			commented++
		case comments[m.uid] > 1:
			twice++
		}
	}
	redeliveries, gaveUpChains := 0, 0
	for _, r := range e.slack.Redeliveries() {
		if r.GaveUp {
			gaveUpChains++
		} else {
			redeliveries++
		}
	}
	delays := e.slack.AckDelays()
	t.Logf("crash: acknowledgement delays (write to ack) over %d envelopes: p50 %s, p90 %s, p99 %s, max %s",
		len(delays), faultPct(delays, 50), faultPct(delays, 90), faultPct(delays, 99), faultPct(delays, 100))
	t.Logf("crash: %d kill -9 cycles, %d connections opened; %d messages (%d reads, %d comments; %d events); %d acknowledged, %d never acknowledged (fake gave up on %d chains); %d sent while the bot was down (%d envelopes queued), %d of them delivered after a restart; %d automatic redeliveries; %d visible replies, %d Interrupted notices, %d comments made exactly once, %d made more than once",
		crashCycles, e.slack.ConnectionsOpened(), len(all), reads, muts, 2*len(all), acked, gaveUp, gaveUpChains,
		whileDown, queuedWhileDown, whileDownAcked, redeliveries, total, notices, commented, twice)
}

// faultPct is the p-th percentile of ds, rounded for reading.
func faultPct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i].Round(time.Millisecond)
}

// checkTurnsAndAudit checks, in the store of the stopped bot, that every
// acknowledged message has a finished turn, nothing is left unfinished, and
// every comment made at GitHub has the audit record of the turn that made
// it.
func (e *env) checkTurnsAndAudit(msgs []faultMsg, st map[string]fakeslack.EventStatus) {
	t := e.t
	t.Helper()
	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(t), Timeout: 2 * time.Second})
	if err != nil {
		t.Errorf("store.Open: %v", err)
		return
	}
	defer db.Close()
	ctx := context.Background()
	if open, err := db.UnfinishedTurns(ctx); err != nil || len(open) != 0 {
		t.Errorf("after the quiet period and a clean stop, %d turns are unfinished (%v)", len(open), err)
	}
	audit, err := db.Audit(ctx, tandem.AuditFilter{})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	resolved := map[string]bool{}
	links := 0
	for _, r := range audit {
		if r.Action == "resolve" {
			resolved[r.TurnID] = true
		}
		if r.Action == "link" {
			links++
		}
	}
	if links < 6 {
		t.Errorf("%d link audit records, want 6 (the links made before the load)", links)
	}
	comments := e.commentsByBody()
	lost := 0
	for _, m := range msgs {
		if !m.acked(st) {
			continue
		}
		found := false
		for _, id := range m.events {
			if rec, err := db.TurnRecord(ctx, id); err == nil {
				found = true
				if rec.State != tandem.TurnDone {
					t.Errorf("turn %s (%q) is %s", id, m.text, rec.State)
				}
			}
		}
		if !found {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged message %s (%q) has no turn in the store", m.ts, m.text)
			}
		}
		if m.uid != "" && comments[m.uid] > 0 && !resolved[m.events[0]] && !resolved[m.events[1]] {
			t.Errorf("%q was carried out but its audit record is missing", m.text)
		}
	}
	if lost > 10 {
		t.Errorf("... %d acknowledged messages without a turn in all", lost)
	}
}

// TestCrashRestartDoesNotWaitOutDeadLeases: the bot is killed while a
// session's turn runs, holding the session's lease. With the bbolt store only
// one process can have the database open, so after a restart that lease is
// certainly stale (the store keeps bbolt leases in memory): the interrupted
// read must run again at once, while the dead process's lease would still
// have held, not when it runs out.
func TestCrashRestartDoesNotWaitOutDeadLeases(t *testing.T) {
	e := newEnv(t)
	e.vars["TANDEM_LEASE_TTL"] = "10s" // the default is 30s; shorter, so a failure is quick
	p := e.startProc(hostPort(e.public))
	e.connect("UALICE", "alice-gh")
	root, _ := e.mention("UALICE", "whoami", "")
	e.reply(root, "Identities for this thread")

	e.gh.SetLatency(5 * time.Second)
	mark := len(p.logs.String())
	e.mention("UALICE", "list my open PRs", root)
	waitLong(t, 20*time.Second, "the turn to call GitHub", func() bool {
		return strings.Contains(p.logs.String()[mark:], `"msg":"credentials resolved"`)
	})
	p.kill()
	// The lease was taken when the turn started, before the kill, so it
	// would expire by kill time + TTL at the latest.
	owner, expires := "the killed process", time.Now().Add(10*time.Second)
	e.gh.SetLatency(0)
	p = e.startProc("127.0.0.1:" + freePort(t))
	ready := time.Now()
	var repliedWhileLeased bool
	var after time.Duration // for the message only
	waitLong(t, 40*time.Second, "the interrupted read to run again", func() bool {
		if len(e.attributions(root)) > 0 {
			repliedWhileLeased, after = time.Now().Before(expires), time.Since(ready)
			return true
		}
		return false
	})
	if !repliedWhileLeased {
		t.Errorf("after the restart the session waited for the dead process's lease (owner %s, TTL %s) to expire before running its turn: it replied %s after the bot was ready again; with the default TANDEM_LEASE_TTL every session active at a crash stalls up to 30 s",
			owner, e.vars["TANDEM_LEASE_TTL"], after.Round(100*time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond)
	if got := e.attributions(root); len(got) != 1 {
		t.Errorf("%d replies to the interrupted read, want 1", len(got))
	}
}

// ---------------------------------------------------------------------------
// 2. Socket drops.

// TestSocketDropsLoseAndRepeatNothing: while messages keep arriving, the
// fake Slack drops the WebSocket, asks the bot to reconnect ("warning",
// "refresh_requested"), stops pinging, and redelivers envelopes with
// retry_attempt 1 to 3. Each message gets exactly one reply and each
// comment is made exactly once.
func TestSocketDropsLoseAndRepeatNothing(t *testing.T) {
	e := newEnv(t)
	e.useUnlimitedGitHub()
	ref := e.addFaultRepo()
	e.vars["TANDEM_SLACK_PING_INTERVAL"] = "1s" // the fake pings every 200 ms
	e.slack.AutoRedeliver(true, time.Second)
	e.start()
	for _, p := range people {
		e.connect(p.slack, p.login)
	}

	const total = 160
	var (
		mu     sync.Mutex
		msgs   []faultMsg
		stop   = make(chan struct{})
		loaded = make(chan struct{})
	)
	t.Cleanup(func() { // before the fakes close, if the test ends early
		close(stop)
		<-loaded
	})
	go func() {
		defer close(loaded)
		for i := range total {
			select {
			case <-stop:
				return
			default:
			}
			user := people[i%len(people)].slack
			text, uid := "list my open PRs", ""
			if i%5 >= 2 {
				uid = fmt.Sprintf("sock-%04d", i)
				text = "comment on " + ref + " " + uid
			}
			m, err := e.deliver(user, text, "")
			if err != nil {
				t.Errorf("deliver: %v", err)
				return
			}
			m.uid = uid
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
			time.Sleep(60 * time.Millisecond)
		}
	}()

	var redelivered sync.WaitGroup
	var slowAcks atomic.Int64
	faults := 0
	reconnect := func(what string, opened int) {
		t.Helper()
		waitLong(t, 20*time.Second, "a new connection after "+what, func() bool { return e.slack.ConnectionsOpened() > opened })
	}
	for round := 0; round < 3; round++ {
		opened := e.slack.ConnectionsOpened()
		time.Sleep(400 * time.Millisecond)
		if e.slack.DropConnections() > 0 {
			faults++
			reconnect("a dropped connection", opened)
		}
		for _, reason := range []string{"warning", "refresh_requested"} {
			time.Sleep(300 * time.Millisecond)
			opened = e.slack.ConnectionsOpened()
			if e.slack.Disconnect(reason) > 0 {
				faults++
				reconnect("disconnect "+reason, opened)
			}
		}
		opened = e.slack.ConnectionsOpened()
		e.slack.StopPinging(true)
		reconnect("pings stopped", opened)
		time.Sleep(time.Second)
		e.slack.StopPinging(false)
		faults++
		// Slack redelivers what it thinks was not acknowledged; here,
		// messages already handled, with each retry_attempt.
		mu.Lock()
		sent := slices.Clone(msgs)
		mu.Unlock()
		for attempt := 1; attempt <= 3 && len(sent) > 0; attempt++ {
			m := sent[(round*7+attempt*13)%len(sent)]
			redelivered.Add(1)
			go func() {
				defer redelivered.Done()
				// Its own ack may be lost to the next fault; then an
				// automatic redelivery of it is acknowledged instead,
				// which the settled check below waits for.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := e.slack.Redeliver(ctx, m.events[attempt%2], attempt); err != nil {
					slowAcks.Add(1)
				}
			}()
		}
	}
	<-loaded
	redelivered.Wait()

	mu.Lock()
	all := slices.Clone(msgs)
	mu.Unlock()
	waitLong(t, 45*time.Second, "every message to be delivered and answered", func() bool {
		st := e.slack.EventStatuses()
		replies := e.replies()
		comments := e.commentsByBody()
		for _, m := range all {
			if !m.settled(st) {
				return false
			}
			if m.acked(st) && (len(replies[m.thread]) == 0 || (m.uid != "" && comments[m.uid] == 0)) {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second) // late doubles would arrive now

	st := e.slack.EventStatuses()
	replies := e.replies()
	comments := e.commentsByBody()
	acked, neverAcked := 0, 0
	for _, m := range all {
		if m.uid != "" && comments[m.uid] > 1 {
			t.Errorf("%q was carried out %d times", m.text, comments[m.uid])
		}
		if !m.acked(st) {
			neverAcked++
			continue
		}
		acked++
		got := replies[m.thread]
		want := "open pull requests"
		if m.uid != "" {
			want = "Commented on " + ref
		}
		switch {
		case len(got) != 1:
			t.Errorf("%q (%s) got %d replies, want exactly 1: %q", m.text, m.ts, len(got), got)
		case !strings.Contains(got[0], want):
			t.Errorf("%q (%s) got %q, want a reply containing %q", m.text, m.ts, got[0], want)
		}
		if m.uid != "" && comments[m.uid] != 1 {
			t.Errorf("%q was carried out %d times, want 1", m.text, comments[m.uid])
		}
	}
	if neverAcked > 0 {
		t.Errorf("%d of %d messages were never acknowledged (the fake gave up redelivering them)", neverAcked, len(all))
	}
	attempts := map[int]int{}
	auto := 0
	for _, r := range e.slack.Redeliveries() {
		if r.Auto {
			auto++
		}
		if !r.GaveUp {
			attempts[r.Attempt]++
		}
	}
	for a := 1; a <= 3; a++ {
		if attempts[a] == 0 {
			t.Errorf("no envelope was redelivered with retry_attempt %d", a)
		}
	}
	if opened := e.slack.ConnectionsOpened(); opened < 1+faults {
		t.Errorf("%d connections opened for %d faults: the bot did not reconnect after each", opened, faults)
	}
	dups := strings.Count(e.logs.String(), `"msg":"duplicate delivery ignored"`)
	t.Logf("socket: %d faults (3 rounds of drop, disconnect warning, disconnect refresh_requested, stopped pings), %d connections opened; %d messages (%d events), %d acknowledged, each answered once; %d redeliveries (%d automatic; by retry_attempt %v; %d explicit ones acknowledged through a later automatic one); %d duplicate deliveries ignored",
		faults, e.slack.ConnectionsOpened(), len(all), 2*len(all), acked, len(e.slack.Redeliveries()), auto, attempts, slowAcks.Load(), dups)
}

// ---------------------------------------------------------------------------
// 3. Slack rate limits.

// rateLimitedCalls is how many chat.postMessage calls the fake answered
// 429: calls minus messages it recorded.
func (e *env) rateLimitedCalls() int {
	return e.slack.Calls("chat.postMessage") - e.count(func(m fakeslack.Message) bool { return m.Method == "chat.postMessage" })
}

// attributions lists, in order, whose identity the GitHub replies in thread
// name ("UALICE", …).
func (e *env) attributions(thread string) []string {
	var out []string
	re := regexp.MustCompile(`ran as <@([A-Z0-9]+)> · GitHub`)
	for _, s := range e.replies()[thread] {
		if m := re.FindStringSubmatch(s); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// TestSlackRateLimitDelaysRepliesInOrder: chat.postMessage answers 429 with
// Retry-After. Every reply is still posted, after the wait, in order within
// its thread; and a thread waiting out a 429 does not hold up the others.
//
// The fake's limit is per Web API method, not per channel as Slack's
// chat.postMessage limit is: a 429 set with RateLimit is consumed by
// whichever call comes next, in any thread.
func TestSlackRateLimitDelaysRepliesInOrder(t *testing.T) {
	e := newEnv(t)
	e.start()
	trio := []string{"UALICE", "UBOB", "UCAROL"}
	for _, p := range people[:3] {
		e.connect(p.slack, p.login)
	}
	var roots []string
	for _, u := range trio {
		root, _ := e.mention(u, "help", "")
		e.reply(root, "Tandem runs every message")
		roots = append(roots, root)
	}

	// Six 429s in a row while nine turns in three threads reply.
	limited := e.rateLimitedCalls()
	e.slack.RateLimit("chat.postMessage", 6, time.Second)
	var want [3][]string
	for turn := range 3 {
		for th := range 3 {
			u := trio[(th+turn)%3]
			want[th] = append(want[th], u)
			e.mention(u, "list my open PRs", roots[th])
		}
	}
	waitLong(t, 30*time.Second, "nine replies", func() bool {
		n := 0
		for _, r := range roots {
			n += len(e.attributions(r))
		}
		return n == 9
	})
	for th, root := range roots {
		if got := e.attributions(root); !slices.Equal(got, want[th]) {
			t.Errorf("thread %d: replies ran as %v, want %v in the order asked", th, got, want[th])
		}
	}
	if n := e.rateLimitedCalls() - limited; n != 6 {
		t.Errorf("%d calls were answered 429, want all 6", n)
	}
	if !strings.Contains(e.logs.String(), `"msg":"slack rate limited; waiting"`) {
		t.Error("the bot did not log waiting out the rate limit")
	}

	// One 429 with a long Retry-After for the first thread's reply: the
	// other threads' replies are posted while it waits.
	calls := e.slack.Calls("chat.postMessage")
	e.slack.RateLimit("chat.postMessage", 1, 3*time.Second)
	e.mention("UALICE", "list my open PRs", roots[0])
	waitFor(t, "the first thread's reply to be answered 429", func() bool { return e.slack.Calls("chat.postMessage") > calls })
	e.mention("UBOB", "list my open PRs", roots[1])
	e.mention("UCAROL", "list my open PRs", roots[2])
	waitLong(t, 30*time.Second, "the three replies", func() bool {
		return len(e.attributions(roots[0])) == 4 && len(e.attributions(roots[1])) == 4 && len(e.attributions(roots[2])) == 4
	})
	pos := map[string]int{}
	for i, m := range e.slack.Messages() {
		if m.Method == "chat.postMessage" && slices.Contains(roots, m.ThreadTS) {
			pos[m.ThreadTS] = i // the last reply of each thread
		}
	}
	if pos[roots[1]] > pos[roots[0]] || pos[roots[2]] > pos[roots[0]] {
		t.Errorf("other threads' replies waited for the rate-limited one (positions %v)", pos)
	}
	t.Logf("rate limit: 7 answers 429 (6 x Retry-After 1s, 1 x 3s); 12 replies, all posted, in order in each thread; two threads answered while the third waited")
}

// TestSlackRateLimitSustainedKeepsTheReply: Slack answers 429 six times in a
// row for one reply (a busy channel: Slack's chat.postMessage limit is about
// one message a second per channel, so a burst of replies in one channel
// gets 429 after 429). The reply must still be posted once Slack accepts it.
func TestSlackRateLimitSustainedKeepsTheReply(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	root, _ := e.mention("UALICE", "help", "")
	e.reply(root, "Tandem runs every message")
	e.slack.RateLimit("chat.postMessage", 6, time.Second)
	_, turn := e.mention("UALICE", "list my open PRs", root)
	waitLong(t, 30*time.Second, "the reply, or the bot giving up on it", func() bool {
		return len(e.attributions(root)) > 0 || strings.Contains(e.logs.String(), `"msg":"turn done","turn":"`+turn+`"`)
	})
	if got := e.attributions(root); len(got) > 0 {
		time.Sleep(500 * time.Millisecond)
		if got = e.attributions(root); !slices.Equal(got, []string{"UALICE"}) {
			t.Errorf("replies ran as %v, want one reply as Alice", got)
		}
		if n := e.rateLimitedCalls(); n != 6 {
			t.Errorf("%d calls answered 429, want 6", n)
		}
		return
	}
	var gaveUp string
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"post reply"`) {
			gaveUp = line
		}
	}
	e.stop()
	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(t), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec, err := db.TurnRecord(context.Background(), turn)
	t.Errorf("after %d answers 429 in a row the reply was dropped, and the turn is %s (%v) so no restart posts it; the bot logged: %s",
		e.rateLimitedCalls(), rec.State, err, gaveUp)
}

// ---------------------------------------------------------------------------
// 4. Provider outage.

// TestProviderOutageFailsFastAndRecovers: GitHub answers 500, then hangs
// for 30 s. GitHub turns fail with a message naming the problem, reads are
// retried once and changes never; a GitLab turn in another session is not
// held up; and once GitHub is back the next turn works without a restart.
func TestProviderOutageFailsFastAndRecovers(t *testing.T) {
	e := newEnv(t)
	// The bot's bound on each provider call (app/config.go, default 10s).
	e.vars["TANDEM_PROVIDER_TIMEOUT"] = "2s"
	ref := e.addFaultRepo()
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connectTo("UALICE", tandem.GitLab, "alice-gl")
	e.connect("UBOB", "bob-gh")
	e.connectTo("UBOB", tandem.GitLab, "bob-gl")
	reads, _ := e.mention("UALICE", "help", "")
	changes, _ := e.mention("UALICE", "help", "")
	gitlab, _ := e.mention("UBOB", "help", "")
	for _, r := range []string{reads, changes, gitlab} {
		e.reply(r, "Tandem runs every message")
	}
	commentPosts := func() int {
		n := 0
		for _, r := range e.gh.Requests() {
			if r.Method == "POST" && strings.HasSuffix(r.Path, "/comments") {
				n++
			}
		}
		return n
	}
	count := func(thread string, wants ...string) int { return countIn(e.replies()[thread], wants...) }

	// GitHub answers 500.
	e.gh.SetOutage(500)
	posts := commentPosts()
	e.mention("UALICE", "list my open PRs", reads)
	e.mention("UALICE", "comment on "+ref+" outage-500", changes)
	e.mention("UBOB", "list my open MRs", gitlab)
	e.reply(gitlab, "ran as <@UBOB> · GitLab: bob-gl")
	r := e.reply(reads, "The provider is not answering")
	if !strings.Contains(plain(r), "GitHub is unavailable (HTTP 500)") {
		t.Errorf("the read's reply does not say what failed: %s", plain(r))
	}
	r = e.reply(changes, "The provider is not answering")
	if !strings.Contains(plain(r), "GitHub is unavailable (HTTP 500)") {
		t.Errorf("the comment's reply does not say what failed: %s", plain(r))
	}
	if n := commentPosts() - posts; n != 1 {
		t.Errorf("GitHub saw the comment %d times during the outage, want 1 (a change is never retried)", n)
	}
	e.gh.SetOutage(0)
	e.mention("UALICE", "list my open PRs", reads)
	e.reply(reads, "2 open pull requests")

	// GitHub hangs: every request waits 30 s before it is answered.
	e.gh.SetLatency(30 * time.Second)
	hangStart := time.Now()
	hangOver := make(chan struct{})
	hang := time.AfterFunc(30*time.Second, func() { close(hangOver) })
	defer hang.Stop()
	hanging := func() bool {
		select {
		case <-hangOver:
			return false
		default:
			return true
		}
	}
	readsBefore := count(reads, "The provider is not answering")
	changesBefore := count(changes, "The provider is not answering")
	gitlabBefore := count(gitlab, "ran as <@UBOB> · GitLab")
	e.mention("UALICE", "list my open PRs", reads)
	e.mention("UALICE", "comment on "+ref+" outage-hang", changes)
	e.mention("UBOB", "list my open MRs", gitlab)
	waitLong(t, 25*time.Second, "the GitLab reply", func() bool { return count(gitlab, "ran as <@UBOB> · GitLab") > gitlabBefore })
	if count(reads, "The provider is not answering") > readsBefore || count(changes, "The provider is not answering") > changesBefore || !hanging() {
		t.Errorf("the GitLab turn was held up by the GitHub turns")
	}
	var readLate, changeLate, readDone, changeDone bool
	var readAfter, changeAfter time.Duration // measured for docs/reliability.md, not asserted
	waitLong(t, 45*time.Second, "the GitHub turns to fail", func() bool {
		if !readDone && count(reads, "The provider is not answering") > readsBefore {
			readDone, readLate, readAfter = true, !hanging(), time.Since(hangStart)
		}
		if !changeDone && count(changes, "The provider is not answering") > changesBefore {
			changeDone, changeLate, changeAfter = true, !hanging(), time.Since(hangStart)
		}
		return readDone && changeDone
	})
	t.Logf("outage: with TANDEM_PROVIDER_TIMEOUT=%q and GitHub hanging 30 s, the read failed after %s (one retry), the comment after %s (no retry)",
		e.vars["TANDEM_PROVIDER_TIMEOUT"], readAfter.Round(100*time.Millisecond), changeAfter.Round(100*time.Millisecond))
	if readLate || changeLate {
		t.Errorf("a GitHub turn replied only after the 30 s hang was over (read late: %v, comment late: %v): turns do not fail fast", readLate, changeLate)
	}
	if n := count(reads, "GitHub did not answer in time"); n != 1 {
		t.Errorf("%d replies say GitHub did not answer in time, want 1: %q", n, e.replies()[reads])
	}
	if n := e.commentsByBody()["outage-hang"]; n != 0 {
		t.Errorf("the comment given up on was made %d times", n)
	}
	e.gh.SetLatency(0)
	before := count(reads, "2 open pull requests")
	e.mention("UALICE", "list my open PRs", reads)
	waitLong(t, 20*time.Second, "a normal reply after the hang", func() bool { return count(reads, "2 open pull requests") > before })
}

// ---------------------------------------------------------------------------
// 5. Graceful shutdown.

// TestShutdownSIGTERMFinishesRunningTurn: SIGTERM arrives while two slow
// turns run (in two sessions) and two more wait behind one of them. The
// running turns finish and reply, the waiting ones do not start, the process
// exits 0 leaving a store that opens at once, and after a restart the
// waiting turns run exactly once, in order.
func TestShutdownSIGTERMFinishesRunningTurn(t *testing.T) {
	e := newEnv(t)
	e.vars["TANDEM_SHUTDOWN_TIMEOUT"] = "20s"
	ref := e.addFaultRepo()
	p := e.startProc(hostPort(e.public))
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	rootA, _ := e.mention("UALICE", "whoami", "")
	e.reply(rootA, "Identities for this thread")
	rootB, _ := e.mention("UBOB", "whoami", "")
	e.reply(rootB, "Identities for this thread")

	e.gh.SetLatency(2 * time.Second)
	mark := len(p.logs.String())
	e.mention("UALICE", "list my open PRs", rootA)               // running
	e.mention("UBOB", "list my open PRs", rootB)                 // running
	e.mention("UBOB", "comment on "+ref+" shut-queued", rootA)   // queued
	_, queued2 := e.mention("UALICE", "my github issues", rootA) // queued
	waitLong(t, 20*time.Second, "both slow turns to call GitHub", func() bool {
		return strings.Count(p.logs.String()[mark:], `"msg":"credentials resolved"`) >= 2
	})
	code, ok := p.terminate(40 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("after SIGTERM the process exited %v with status %d, want 0\n%s", ok, code, p.logs)
	}
	p.checkRaces()
	if got := e.attributions(rootA); !slices.Equal(got, []string{"UALICE"}) {
		t.Errorf("session A after the stop: replies as %v, want only Alice's running turn", got)
	}
	if got := e.attributions(rootB); !slices.Equal(got, []string{"UBOB"}) {
		t.Errorf("session B after the stop: replies as %v, want Bob's running turn", got)
	}
	if n := e.commentsByBody()["shut-queued"]; n != 0 {
		t.Errorf("a queued comment was carried out during the shutdown (%d)", n)
	}
	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(t), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("the store does not open right after the exit: %v", err)
	}
	open, err := db.UnfinishedTurns(context.Background())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range open {
		left = append(left, fmt.Sprintf("%s %s attempts=%d", r.Turn.Text, r.State, r.Attempts))
		if r.State != tandem.TurnPending || r.Attempts != 0 {
			t.Errorf("turn %q was started: %s, %d attempts", r.Turn.Text, r.State, r.Attempts)
		}
	}
	if len(open) != 2 || open[1].Turn.ID != queued2 {
		t.Errorf("unfinished after the stop: %v, want the two queued turns in order", left)
	}

	e.gh.SetLatency(0)
	p = e.startProc("127.0.0.1:" + freePort(t))
	waitLong(t, 20*time.Second, "the queued turns to run after the restart", func() bool {
		return len(e.attributions(rootA)) >= 3
	})
	time.Sleep(time.Second) // a second run of anything would show now
	if got := e.attributions(rootA); !slices.Equal(got, []string{"UALICE", "UBOB", "UALICE"}) {
		t.Errorf("session A after the restart: replies as %v, want Alice, Bob, Alice (each once, in order)", got)
	}
	texts := e.replies()[rootA]
	if countIn(texts, "open pull requests") != 1 || countIn(texts, "Commented on "+ref) != 1 || countIn(texts, "open GitHub issue") != 1 {
		t.Errorf("session A replies: %q", texts)
	}
	if n := e.commentsByBody()["shut-queued"]; n != 1 {
		t.Errorf("the queued comment was made %d times, want 1", n)
	}
	if got := e.attributions(rootB); len(got) != 1 {
		t.Errorf("session B: %d replies after the restart, want 1", len(got))
	}
	if code, ok := p.terminate(30 * time.Second); !ok || code != 0 {
		t.Errorf("the second SIGTERM: exited %v with status %d", ok, code)
	}
}

// TestShutdownStartsNoTurnWaitingForASlot: with TANDEM_CONCURRENCY=1, a
// turn of another session waits for the only slot while a slow turn runs.
// SIGTERM must not start it when the slot frees during the drain; it runs
// once after the restart.
func TestShutdownStartsNoTurnWaitingForASlot(t *testing.T) {
	e := newEnv(t)
	e.vars["TANDEM_SHUTDOWN_TIMEOUT"] = "20s"
	e.vars["TANDEM_CONCURRENCY"] = "1"
	ref := e.addFaultRepo()
	p := e.startProc(hostPort(e.public))
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	rootA, _ := e.mention("UALICE", "whoami", "")
	e.reply(rootA, "Identities for this thread")
	rootB, _ := e.mention("UBOB", "whoami", "")
	e.reply(rootB, "Identities for this thread")

	e.gh.SetLatency(2 * time.Second)
	mark := len(p.logs.String())
	e.mention("UALICE", "list my open PRs", rootA) // holds the only slot
	waitLong(t, 20*time.Second, "the slow turn to call GitHub", func() bool {
		return strings.Contains(p.logs.String()[mark:], `"msg":"credentials resolved"`)
	})
	e.mention("UBOB", "comment on "+ref+" shut-slot", rootB) // waits for the slot
	time.Sleep(300 * time.Millisecond)
	code, ok := p.terminate(40 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("after SIGTERM the process exited %v with status %d, want 0\n%s", ok, code, p.logs)
	}
	if got := e.attributions(rootA); len(got) != 1 {
		t.Errorf("the running turn replied %d times, want 1", len(got))
	}
	if n, got := e.commentsByBody()["shut-slot"], e.attributions(rootB); n != 0 || len(got) != 0 {
		t.Errorf("the turn waiting for a slot was started during the shutdown: %d comments, replies as %v", n, got)
	}
	e.gh.SetLatency(0)
	p = e.startProc("127.0.0.1:" + freePort(t))
	e.reply(rootB, "Commented on "+ref)
	time.Sleep(500 * time.Millisecond)
	if n := e.commentsByBody()["shut-slot"]; n != 1 {
		t.Errorf("after the restart the comment was made %d times, want 1", n)
	}
	if code, ok := p.terminate(30 * time.Second); !ok || code != 0 {
		t.Errorf("the second SIGTERM: exited %v with status %d", ok, code)
	}
}

// TestShutdownDeadlineLeavesTurnsForRestart: SIGTERM while turns wait on a
// provider longer than TANDEM_SHUTDOWN_TIMEOUT. The process still exits 0 at
// the deadline; after a restart the read runs again and replies once, and
// the cut-off comment is not repeated: its thread says it was interrupted.
func TestShutdownDeadlineLeavesTurnsForRestart(t *testing.T) {
	e := newEnv(t)
	e.vars["TANDEM_SHUTDOWN_TIMEOUT"] = "500ms"
	ref := e.addFaultRepo()
	p := e.startProc(hostPort(e.public))
	e.connect("UALICE", "alice-gh")
	read, _ := e.mention("UALICE", "whoami", "")
	change, _ := e.mention("UALICE", "whoami", "")
	e.reply(read, "Identities for this thread")
	e.reply(change, "Identities for this thread")

	e.gh.SetLatency(10 * time.Second)
	mark := len(p.logs.String())
	e.mention("UALICE", "list my open PRs", read)
	e.mention("UALICE", "comment on "+ref+" dead-cut", change)
	waitLong(t, 20*time.Second, "both turns to call GitHub", func() bool {
		return strings.Count(p.logs.String()[mark:], `"msg":"credentials resolved"`) >= 2
	})
	time.Sleep(200 * time.Millisecond) // the requests are now waiting on GitHub
	code, ok := p.terminate(30 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("after SIGTERM past the deadline the process exited %v with status %d, want 0\n%s", ok, code, p.logs)
	}
	p.checkRaces()
	if n := len(e.replies()[read]) + len(e.replies()[change]); n != 2 {
		t.Errorf("%d replies after the stop, want only the two whoami replies", n)
	}
	e.gh.SetLatency(0)
	p = e.startProc("127.0.0.1:" + freePort(t))
	e.reply(read, "2 open pull requests")
	e.reply(change, interruptedTitle)
	time.Sleep(time.Second)
	if n := countIn(e.replies()[read], "open pull requests"); n != 1 {
		t.Errorf("the resumed read replied %d times, want 1", n)
	}
	notices, _ := interruptedNotices(e.replies())
	if notices["dead-cut"] != 1 {
		t.Errorf("the interrupted comment has %d notices, want 1", notices["dead-cut"])
	}
	if n := e.commentsByBody()["dead-cut"]; n != 0 {
		t.Errorf("the comment cut off before GitHub answered was made %d times", n)
	}
	if code, ok := p.terminate(30 * time.Second); !ok || code != 0 {
		t.Errorf("the second SIGTERM: exited %v with status %d", ok, code)
	}
}
