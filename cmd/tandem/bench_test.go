package main

// Performance benchmarks (issue 7). Each runs the real binary's run against
// the fake Slack (real Socket Mode over a WebSocket) and fake providers on
// loopback, with a real bbolt file, and reports its figures with
// b.ReportMetric. Nothing here asserts a time: docs/performance.md holds the
// figures, the goals and the commands that produced them.
//
//	BenchmarkAckLatency        envelope written -> ack read, at 200 events/s
//	BenchmarkTurnOverhead      one turn end to end vs the bare floor of its I/O
//	BenchmarkConcurrency       1,000 sessions against a provider with 200 ms latency
//	BenchmarkSlowProviderIsolation  a GitLab turn while GitHub is slow
//	BenchmarkStartupScale      start-up time and memory with 10k vs 1M sessions
//
// Knobs (environment): TANDEM_BENCH_ACK_DURATION (default 5s; 60s for the
// doc), TANDEM_BENCH_ACK_RATE (events/s, default 200), TANDEM_BENCH_SCALE=1
// (BenchmarkStartupScale at 1,000,000 sessions instead of 100,000),
// TANDEM_BENCH_LOG=path (keep the app's JSON log there).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/internal/paced"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
	bolt "go.etcd.io/bbolt"
)

const (
	benchAppToken  = "xapp-1-FAKEAPPTOKEN-bench-0000000001"
	benchBotToken  = "xoxb-FAKEBOTTOKEN-bench-0000000001"
	benchSecret    = "gh-FAKE-client-secret-bench"
	benchKey       = "YmVuY2gta2V5LWZvci10YW5kZW0tdGVzdHMtMzJCISE=" // 32 bytes
	benchChannel   = "C0BENCH"
	benchTeam      = "T0TANDEM" // the fake Slack's default team
	benchPRCommand = "list my open PRs"
	benchMRCommand = "list my open MRs"
)

// benchUser is a Slack member with linked GitHub and GitLab accounts.
type benchUser struct {
	slack, gh, gl string
	ghToken       string // a token the fake GitHub accepts, for the floors
	glToken       string // the same for the fake GitLab
}

type benchOptions struct {
	users       int
	concurrency int // TANDEM_CONCURRENCY; 0 keeps the default
}

// benchEnv is a Tandem installation on loopback, like the end-to-end
// harness's env but usable from a benchmark, with accounts linked by
// writing the store before start (no OAuth dance per user).
type benchEnv struct {
	tb     testing.TB
	slack  *fakeslack.Server
	gh     *fakegithub.Server
	gl     *fakegitlab.Server
	vars   map[string]string
	db     string
	dir    string
	public string
	users  []benchUser
	logs   *os.File

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

func benchFreePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func benchKeyring(tb testing.TB) *secrets.Keyring {
	tb.Helper()
	k, err := secrets.ParseKey(benchKey)
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := secrets.NewKeyring(k)
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

func newBenchEnv(tb testing.TB, o benchOptions) *benchEnv {
	tb.Helper()
	if o.users <= 0 {
		o.users = 20
	}
	var slackUsers []fakeslack.User
	var ghUsers []fakegithub.User
	var glUsers []fakegitlab.User
	var users []benchUser
	for i := range o.users {
		u := benchUser{slack: fmt.Sprintf("UB%05d", i), gh: fmt.Sprintf("bench%05d-gh", i), gl: fmt.Sprintf("bench%05d-gl", i)}
		users = append(users, u)
		slackUsers = append(slackUsers, fakeslack.User{ID: u.slack, Name: "bench" + strconv.Itoa(i), RealName: "Bench " + strconv.Itoa(i)})
		ghUsers = append(ghUsers, fakegithub.User{Login: u.gh})
		glUsers = append(glUsers, fakegitlab.User{Login: u.gl})
	}
	sl := fakeslack.New(fakeslack.Options{
		BotToken: benchBotToken, AppToken: benchAppToken, Users: slackUsers,
		Channels:     []fakeslack.Channel{{ID: benchChannel, Name: "bench", Creator: users[0].slack}},
		PingInterval: 200 * time.Millisecond,
		AckTimeout:   30 * time.Second,
	})
	if err := sl.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sl.Close)
	gh := fakegithub.New(fakegithub.Options{ClientID: "bench-client", ClientSecret: benchSecret, Users: ghUsers, NoRateLimit: true})
	gl := fakegitlab.New(fakegitlab.Options{ClientID: "bench-gl-client", ClientSecret: benchSecret, Users: glUsers, NoRateLimit: true})
	for _, f := range []interface {
		Start() error
		Close()
	}{gh, gl} {
		if err := f.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(f.Close)
	}
	dir := tb.TempDir()
	e := &benchEnv{tb: tb, slack: sl, gh: gh, gl: gl, db: filepath.Join(dir, "tandem.db"), dir: dir}
	// TANDEM_BENCH_DATABASE_URL measures the PostgreSQL store instead: each
	// benchmark gets a fresh schema in that database.
	var db app.DB
	var err error
	pgURL := ""
	if base := os.Getenv("TANDEM_BENCH_DATABASE_URL"); base != "" {
		tb.Setenv(pgtest.EnvURL, base)
		pgURL = pgtest.URL(tb)
		db, err = postgres.Open(context.Background(), pgURL, postgres.Options{Keyring: benchKeyring(tb)})
	} else {
		db, err = store.Open(e.db, store.Options{Keyring: benchKeyring(tb)})
	}
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	for i := range users {
		u := &users[i]
		gh.AddRepo(u.gh + "/tools")
		gh.AddPullRequest(u.gh+"/tools", u.gh, "Fix the thing "+u.gh+" found", false)
		gl.AddProject("bench/" + u.gl)
		gl.AddMergeRequest("bench/"+u.gl, u.gl, "MR by "+u.gl, false)
		ght, err := gh.MintToken(u.gh, "repo", "read:user")
		if err != nil {
			tb.Fatal(err)
		}
		glt, err := gl.MintToken(u.gl, "api", "read_user")
		if err != nil {
			tb.Fatal(err)
		}
		u.ghToken, u.glToken = ght.AccessToken, glt.AccessToken
		for _, l := range []tandem.Link{
			{Team: benchTeam, User: u.slack, Provider: tandem.GitHub, AccountID: u.gh, Login: u.gh, LinkedAt: time.Now(), Token: integrations.FromOAuth2(ght)},
			{Team: benchTeam, User: u.slack, Provider: tandem.GitLab, AccountID: u.gl, Login: u.gl, LinkedAt: time.Now(), Token: integrations.FromOAuth2(glt)},
		} {
			if err := db.SaveLink(ctx, l); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	e.users = users
	port := benchFreePort(tb)
	e.public = "http://127.0.0.1:" + port
	e.vars = map[string]string{
		"SLACK_APP_TOKEN":             benchAppToken,
		"SLACK_BOT_TOKEN":             benchBotToken,
		"TANDEM_SLACK_API_URL":        sl.APIURL(),
		"TANDEM_SLACK_CLIENT_ID":      "bench.slack",
		"TANDEM_SLACK_CLIENT_SECRET":  benchSecret,
		"TANDEM_DB":                   e.db,
		"TANDEM_ENCRYPTION_KEY":       benchKey,
		"TANDEM_PUBLIC_URL":           e.public,
		"TANDEM_HTTP_ADDR":            "127.0.0.1:" + port,
		"TANDEM_GITHUB_CLIENT_ID":     "bench-client",
		"TANDEM_GITHUB_CLIENT_SECRET": benchSecret,
		"TANDEM_GITHUB_URL":           gh.URL(),
		"TANDEM_GITLAB_CLIENT_ID":     "bench-gl-client",
		"TANDEM_GITLAB_CLIENT_SECRET": benchSecret,
		"TANDEM_GITLAB_URL":           gl.URL(),
		"TANDEM_LOG_FORMAT":           "json",
		"TANDEM_SLACK_PING_INTERVAL":  "5s",
	}
	if o.concurrency > 0 {
		e.vars["TANDEM_CONCURRENCY"] = strconv.Itoa(o.concurrency)
	}
	if pgURL != "" {
		e.vars["TANDEM_DATABASE_URL"] = pgURL
	}
	logPath := filepath.Join(dir, "tandem.log")
	if p := os.Getenv("TANDEM_BENCH_LOG"); p != "" {
		logPath = p // keep the app's log for analysis
	}
	if e.logs, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.logs.Close() })
	return e
}

// start runs the binary's run until stop and waits until it is connected
// to Slack and /readyz answers 200; it returns how long that took.
func (e *benchEnv) start() time.Duration {
	e.tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opened := e.slack.ConnectionsOpened()
	began := time.Now()
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return e.vars[k] }, io.Discard, e.logs)
	}()
	e.mu.Lock()
	e.cancel, e.done = cancel, done
	e.mu.Unlock()
	e.tb.Cleanup(e.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			e.tb.Fatalf("run ended early: %v\n%s", err, e.logTail())
		default:
		}
		if resp, err := http.Get(e.public + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && e.slack.ConnectionsOpened() > opened {
				return time.Since(began)
			}
		}
		if time.Now().After(deadline) {
			e.tb.Fatalf("the bot did not become ready\n%s", e.logTail())
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *benchEnv) stop() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.cancel, e.done = nil, nil
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			e.tb.Errorf("run returned %v", err)
		}
	case <-time.After(60 * time.Second):
		e.tb.Errorf("run did not stop")
	}
}

// logTail returns the last lines the app logged, for failure messages.
func (e *benchEnv) logTail() string {
	raw, _ := os.ReadFile(e.logs.Name())
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// mentionEvent is "@tandem text" by user starting a new thread, as the
// app_mention event Slack sends; ts is the new thread's root.
func (e *benchEnv) mentionEvent(user, text string) (ev map[string]any, ts string) {
	ts = e.slack.NextTS()
	return fakeslack.AppMentionEvent(benchChannel, user, "<@"+e.slack.BotUserID()+"> "+text, ts, ""), ts
}

// waitReplies waits until each thread in threads has a chat.postMessage
// reply, and returns when the fake Slack received each (Message.At), however
// long before this looked.
func (e *benchEnv) waitReplies(ctx context.Context, threads map[string]bool) (map[string]time.Time, error) {
	seen := make(map[string]time.Time, len(threads))
	if len(threads) == 0 {
		return seen, nil
	}
	_, err := e.slack.WaitForMessage(ctx, func(m fakeslack.Message) bool {
		if m.Method == "chat.postMessage" && threads[m.ThreadTS] && !busyNotice(m) {
			if _, dup := seen[m.ThreadTS]; !dup {
				seen[m.ThreadTS] = m.At
			}
		}
		return len(seen) == len(threads)
	})
	return seen, err
}

// busyNotice reports whether m is Tandem's notice that a turn waits in a
// deep backlog, which comes before the turn's reply.
func busyNotice(m fakeslack.Message) bool { return strings.HasPrefix(m.Text, "Busy: ") }

// ackStats is what the fake Slack saw of a batch of envelopes' acks.
type ackStats struct {
	lat        []time.Duration // write -> ack, of envelopes acked on their first delivery
	over3s     int             // of those, acked after Slack's 3-second deadline
	lost       int             // never acked: the connection they were written on was dropped
	reconnects int             // Socket Mode connections the bot opened meanwhile
}

// ackAll waits for the acks of envs (envelope id -> event id). An envelope
// written on a connection the bot then dropped is never acked; once acks
// stop coming after a reconnect, each such event is redelivered with
// retry_attempt 1, as Slack retries it, so that its turn still runs. Lost
// envelopes are counted, not timed.
func (e *benchEnv) ackAll(tb testing.TB, envs []string, eventOf map[string]string, opened int) ackStats {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	acked := make([]bool, len(envs))
	lat := make([]time.Duration, len(envs))
	n := 0
	for i, id := range envs {
		go func() {
			d, err := e.slack.WaitAck(ctx, id)
			if err == nil {
				mu.Lock()
				acked[i], lat[i] = true, d.AckAfter
				n++
				mu.Unlock()
			}
		}()
	}
	last, lastN := time.Now(), -1
	for {
		mu.Lock()
		done := n
		mu.Unlock()
		if done == len(envs) {
			break
		}
		if done != lastN {
			last, lastN = time.Now(), done
		}
		stalled := time.Since(last)
		if stalled > 10*time.Second && e.slack.ConnectionsOpened() > opened {
			break // the rest were lost with the dropped connection
		}
		if stalled > 2*time.Minute {
			tb.Fatalf("%d of %d envelopes acked, none for 2 minutes and no reconnect\n%s", done, len(envs), e.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	st := ackStats{reconnects: e.slack.ConnectionsOpened() - opened}
	var retry []string
	for i, ok := range acked {
		if !ok {
			retry = append(retry, eventOf[envs[i]])
			continue
		}
		st.lat = append(st.lat, lat[i])
		if lat[i] > 3*time.Second {
			st.over3s++
		}
	}
	st.lost = len(retry)
	var wg sync.WaitGroup
	for _, ev := range retry {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer rcancel()
			if _, err := e.slack.Redeliver(rctx, ev, 1); err != nil {
				tb.Errorf("redeliver %s: %v", ev, err)
			}
		}()
	}
	wg.Wait()
	return st
}

func (st ackStats) report(b *testing.B, runs []ackStats) {
	var lat []time.Duration
	over, lost, reconn, total := 0, 0, 0, 0
	for _, r := range runs {
		lat = append(lat, r.lat...)
		over += r.over3s
		lost += r.lost
		reconn += r.reconnects
		total += len(r.lat) + r.lost
	}
	b.ReportMetric(paced.Pct(lat, 50), "ack-p50-ms")
	b.ReportMetric(paced.Pct(lat, 99), "ack-p99-ms")
	b.ReportMetric(paced.Pct(lat, 100), "ack-max-ms")
	b.ReportMetric(100*float64(over+lost)/float64(max(total, 1)), "%late-or-lost")
	b.ReportMetric(float64(lost)/float64(len(runs)), "lost/run")
	b.ReportMetric(float64(reconn)/float64(len(runs)), "reconnects/run")
}

// checkReply fails unless thread's first reply says want.
func (e *benchEnv) checkReply(thread, want string) {
	e.tb.Helper()
	for _, m := range e.slack.Messages() {
		if m.Method == "chat.postMessage" && m.ThreadTS == thread && !busyNotice(m) {
			if !strings.Contains(plain(m), want) {
				e.tb.Fatalf("the reply in %s does not say %q:\n%s\nlogs:\n%s", thread, want, plain(m), e.logTail())
			}
			return
		}
	}
	e.tb.Fatalf("no reply in %s", thread)
}

func benchEnvDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a duration such as 60s", name, v)
	}
	return d
}

func benchEnvInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// BenchmarkAckLatency sends events at a fixed rate (open loop: the sender
// never waits for acks) and reports the time from the fake Slack writing
// each envelope to reading its ack, as Delivery.AckAfter records it. Each
// event is a turn, so each ack waits for its fsync'ed inbox write; the turns
// then run (a GitHub search, a reply) and compete for the same bbolt writer.
//
//	distinct: every event is a new message ("@tandem list my open PRs"), a new turn.
//	paired:   every message arrives twice, as app_mention and as
//	          message.channels (as Slack delivers a mention in a channel);
//	          the second is a duplicate and runs no turn.
//
// One iteration is one window of TANDEM_BENCH_ACK_DURATION (default 5s); use
// -benchtime=1x.
func BenchmarkAckLatency(b *testing.B) {
	window := benchEnvDuration(b, "TANDEM_BENCH_ACK_DURATION", 5*time.Second)
	rate := benchEnvInt(b, "TANDEM_BENCH_ACK_RATE", 200)
	for _, mode := range []string{"distinct", "paired"} {
		b.Run(mode, func(b *testing.B) {
			e := newBenchEnv(b, benchOptions{users: 20})
			e.start()
			var runs []ackStats
			var drain []time.Duration
			sent, turns := 0, 0
			for b.Loop() {
				st, n, t, d := e.ackWindow(b, mode, rate, window)
				runs = append(runs, st)
				sent += n
				turns += t
				drain = append(drain, d)
			}
			ackStats{}.report(b, runs)
			b.ReportMetric(float64(sent)/(window.Seconds()*float64(b.N)), "events/s")
			b.ReportMetric(float64(turns)/(window.Seconds()*float64(b.N)), "turns/s")
			b.ReportMetric(paced.Pct(drain, 50), "drain-after-window-ms")
		})
	}
}

// ackWindow sends rate events/s for window and waits for every ack and
// every turn's reply. It returns the acks, the events sent, the turns among
// them, and how long after the window the last reply came.
func (e *benchEnv) ackWindow(b *testing.B, mode string, rate int, window time.Duration) (ackStats, int, int, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), window+10*time.Minute)
	defer cancel()
	total := int(window.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	threads := map[string]bool{}
	envs := make([]string, 0, total)
	eventOf := make(map[string]string, total)
	opened := e.slack.ConnectionsOpened()
	start := time.Now()
	var ts string
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		u := e.users[i%len(e.users)]
		var ev map[string]any
		if mode == "paired" && i%2 == 1 {
			// The message.channels twin of the previous app_mention.
			ev = fakeslack.MessageEvent(benchChannel, e.users[(i-1)%len(e.users)].slack, "<@"+e.slack.BotUserID()+"> "+benchPRCommand, ts, "")
		} else {
			ev, ts = e.mentionEvent(u.slack, benchPRCommand)
			threads[ts] = true
		}
		envID, eventID, err := e.slack.DeliverEvent(ev)
		if err != nil {
			b.Fatal(err)
		}
		envs = append(envs, envID)
		eventOf[envID] = eventID
	}
	windowEnd := time.Now()
	st := e.ackAll(b, envs, eventOf, opened)
	seen, err := e.waitReplies(ctx, threads)
	if err != nil {
		b.Fatalf("%d of %d turns replied: %v\n%s", len(seen), len(threads), err, e.logTail())
	}
	last := windowEnd
	for _, t := range seen {
		if t.After(last) {
			last = t
		}
	}
	e.checkReply(ts, "ran as <@")
	return st, total, len(threads), last.Sub(windowEnd)
}

// BenchmarkTurnOverhead compares, in one run and interleaved, one turn end
// to end against the bare floor of the I/O it cannot avoid.
//
//	e2e:   "@tandem list my open PRs" (app_mention) written by the fake
//	       Slack -> the reply recorded by the fake Slack, zero-latency fakes.
//	floor: store.RecordTurn on a temporary bbolt file + one GitHub search
//	       (plain HTTP, the same query) + one chat.postMessage (slack-go),
//	       one after the other, nothing else.
//
// It reports the p50 and p99 of each and the ratio of the p50s.
func BenchmarkTurnOverhead(b *testing.B) {
	e := newBenchEnv(b, benchOptions{users: 4})
	tx0 := benchTxID(b, e.db)
	e.start()
	ctx := context.Background()
	floorDB, err := store.Open(filepath.Join(b.TempDir(), "floor.db"), store.Options{Keyring: benchKeyring(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer floorDB.Close()
	httpc := &http.Client{Timeout: 10 * time.Second}
	api := slack.New(benchBotToken, slack.OptionAPIURL(e.slack.APIURL()))
	var e2e, acked, floor, fRecord, fSearch, fPost []time.Duration
	i := 0
	for b.Loop() {
		u := e.users[i%len(e.users)]
		i++
		// End to end.
		ev, ts := e.mentionEvent(u.slack, benchPRCommand)
		t0 := time.Now()
		if _, err := e.slack.SendEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
		acked = append(acked, time.Since(t0))
		if _, err := e.waitReplies(ctx, map[string]bool{ts: true}); err != nil {
			b.Fatal(err)
		}
		e2e = append(e2e, time.Since(t0))
		// The floor.
		t0 = time.Now()
		turn := tandem.Turn{
			ID: fmt.Sprintf("EvFloor%09d", i), Session: tandem.SessionKey{Team: benchTeam, Channel: benchChannel, ThreadTS: ts},
			User: u.slack, Text: benchPRCommand, TS: ts + "1", ReceivedAt: time.Now(),
		}
		if _, err := floorDB.RecordTurn(ctx, turn); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		q := url.Values{"q": {"is:pr is:open author:" + u.gh}, "per_page": {"5"}}
		req, _ := http.NewRequest("GET", e.gh.APIURL()+"search/issues?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+u.ghToken)
		req.Header.Set("Accept", "application/vnd.github.v3+json")
		resp, err := httpc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Fix the thing") {
			b.Fatalf("floor search: %d %s", resp.StatusCode, body)
		}
		t2 := time.Now()
		if _, _, err := api.PostMessageContext(ctx, benchChannel, slack.MsgOptionText("floor reply", false), slack.MsgOptionTS(ts)); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		floor = append(floor, t3.Sub(t0))
		fRecord, fSearch, fPost = append(fRecord, t1.Sub(t0)), append(fSearch, t2.Sub(t1)), append(fPost, t3.Sub(t2))
	}
	b.StopTimer()
	e.checkReply(e.slack.Messages()[0].ThreadTS, "GitHub: bench")
	e.stop()
	// bbolt numbers its write transactions: the growth over the run is the
	// commits per turn (start-up's few, about 4, are spread over b.N).
	b.ReportMetric(float64(benchTxID(b, e.db)-tx0)/float64(len(e2e)), "commits/turn")
	b.ReportMetric(paced.Pct(e2e, 50), "e2e-p50-ms")
	b.ReportMetric(paced.Pct(e2e, 99), "e2e-p99-ms")
	b.ReportMetric(paced.Pct(acked, 50), "e2e-acked-p50-ms")
	b.ReportMetric(paced.Pct(floor, 50), "floor-p50-ms")
	b.ReportMetric(paced.Pct(floor, 99), "floor-p99-ms")
	b.ReportMetric(paced.Pct(e2e, 50)/paced.Pct(floor, 50), "ratio-p50")
	b.ReportMetric(paced.Pct(fRecord, 50), "floor-record-p50-ms")
	b.ReportMetric(paced.Pct(fSearch, 50), "floor-search-p50-ms")
	b.ReportMetric(paced.Pct(fPost, 50), "floor-post-p50-ms")
}

// benchTxID returns the id of the last committed write transaction of the
// bbolt file at path (which no process holds).
func benchTxID(tb testing.TB, path string) int {
	tb.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer bdb.Close()
	id := 0
	bdb.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id
}

// benchTimeWait counts loopback TCP connections to port in TIME_WAIT: each
// is a connection closed in the last minute (Linux; -1 elsewhere).
func benchTimeWait(port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		return -1
	}
	want := fmt.Sprintf(":%04X", p)
	n := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			if name == "/proc/net/tcp" {
				return -1
			}
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 3 && fields[3] == "06" && (strings.HasSuffix(fields[1], want) || strings.HasSuffix(fields[2], want)) {
				n++
			}
		}
		f.Close()
	}
	return n
}

func benchPort(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Port()
}

// BenchmarkConcurrency: 1,000 new sessions, one GitHub turn each, sent as
// fast as the bot acknowledges them, while every GitHub call takes 200 ms.
// The bound for C turns at once is C / 200 ms; it reports the throughput
// against it, each turn's latency (sent -> reply, so including the wait for
// its ack), the acks' latency, and another person's GitLab message sent
// right after the 1,000 (GitLab has no latency): how long a turn on a fast
// provider waits behind a slow provider's storm, and the CPU time the whole
// test process (bot, fakes, load) spent per turn. Sub-benchmarks vary
// TANDEM_CONCURRENCY (64 is serve's default; at 16 the slots, not the
// inbox, are the limit).
//
// After Tandem's run at C, durable-floor-concurrency=C and
// floor-concurrency=C run the same load against turnFloor
// (bench_floor_test.go) with C slots per provider instead of Tandem: what an
// app that keeps what it acknowledges, and one that keeps nothing, could do
// on this machine.
func BenchmarkConcurrency(b *testing.B) {
	const sessions = 1000
	const latency = 200 * time.Millisecond
	type app struct {
		name           string
		floor, durable bool
		conc           int
	}
	var apps []app
	for _, conc := range []int{16, 64, 256} {
		apps = append(apps, app{"concurrency", false, false, conc},
			app{"durable-floor-concurrency", true, true, conc}, app{"floor-concurrency", true, false, conc})
	}
	for _, a := range apps {
		conc := a.conc
		b.Run(fmt.Sprintf("%s=%d", a.name, conc), func(b *testing.B) {
			e := newBenchEnv(b, benchOptions{users: 50, concurrency: conc})
			var floor *turnFloor
			name := "bench"
			if a.floor {
				var log *groupLog
				if a.durable {
					log = fileLog(b, filepath.Join(b.TempDir(), "floor.log"))
				}
				floor = startTurnFloor(b, e, conc, log)
				name = "floor"
			} else {
				e.start()
			}
			ghPort := benchPort(e.gh.URL())
			var thr, lat, gl []float64
			var turnLat, glLat []time.Duration
			var closedConns, cpuPerTurn []float64
			var runs []ackStats
			for b.Loop() {
				e.gh.SetLatency(latency)
				cpu0 := benchCPUs([]int{os.Getpid()})
				tw0 := benchTimeWait(ghPort)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				threads := map[string]bool{}
				sentAt := map[string]time.Time{}
				began := time.Now()
				var envs []string
				eventOf := map[string]string{}
				opened := e.slack.ConnectionsOpened()
				for i := range sessions {
					ev, ts := e.mentionEvent(e.users[i%len(e.users)].slack, benchPRCommand)
					threads[ts] = true
					sentAt[ts] = time.Now()
					envID, eventID, err := e.slack.DeliverEvent(ev)
					if err != nil {
						b.Fatal(err)
					}
					envs = append(envs, envID)
					eventOf[envID] = eventID
				}
				// Another person's GitLab message right behind the GitHub
				// storm.
				glEv, glTS := e.mentionEvent(e.users[1].slack, benchMRCommand)
				glSent := time.Now()
				glEnv, glEvent, err := e.slack.DeliverEvent(glEv)
				if err != nil {
					b.Fatal(err)
				}
				envs = append(envs, glEnv)
				eventOf[glEnv] = glEvent
				runs = append(runs, e.ackAll(b, envs, eventOf, opened))
				glSeen := make(chan time.Duration, 1)
				go func() {
					if seen, err := e.waitReplies(ctx, map[string]bool{glTS: true}); err == nil {
						glSeen <- seen[glTS].Sub(glSent)
					}
					close(glSeen)
				}()
				seen, err := e.waitReplies(ctx, threads)
				if err != nil {
					b.Fatalf("%d of %d turns replied: %v\n%s", len(seen), sessions, err, e.logTail())
				}
				last := began
				for ts, t := range seen {
					turnLat = append(turnLat, t.Sub(sentAt[ts]))
					if t.After(last) {
						last = t
					}
				}
				d, ok := <-glSeen
				if !ok {
					b.Fatalf("the GitLab turn did not reply\n%s", e.logTail())
				}
				cancel()
				thr = append(thr, float64(sessions)/last.Sub(began).Seconds())
				lat = append(lat, last.Sub(began).Seconds())
				gl = append(gl, float64(d)/float64(time.Millisecond))
				glLat = append(glLat, d)
				closedConns = append(closedConns, float64(benchTimeWait(ghPort)-tw0))
				cpu := benchCPUs([]int{os.Getpid()}) - cpu0
				cpuPerTurn = append(cpuPerTurn, float64(cpu.Microseconds())/1000/(sessions+1))
				if floor != nil {
					floor.check(b)
				}
				e.checkReply(glTS, "GitLab: "+name)
				e.gh.SetLatency(0)
			}
			bound := float64(conc) / latency.Seconds()
			med := func(xs []float64) float64 { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
			b.ReportMetric(med(thr), "turns/s")
			b.ReportMetric(bound, "bound-turns/s")
			b.ReportMetric(med(thr)/bound, "of-bound")
			b.ReportMetric(med(lat), "all-done-s")
			b.ReportMetric(paced.Pct(turnLat, 50), "turn-p50-ms")
			b.ReportMetric(paced.Pct(turnLat, 99), "turn-p99-ms")
			ackStats{}.report(b, runs)
			b.ReportMetric(med(gl), "gitlab-behind-storm-ms")
			// Over the bursts of this run (-benchtime=Nx): with one burst,
			// the same figure as the median.
			b.ReportMetric(paced.Pct(glLat, 99), "gitlab-behind-storm-p99-ms")
			b.ReportMetric(med(closedConns), "gh-conns-closed")
			// The whole process (bot, fakes and load generator) per turn:
			// times the bound, what the bound would take of the cores.
			b.ReportMetric(med(cpuPerTurn), "process-cpu-ms/turn")
		})
	}
}

// BenchmarkSlowProviderIsolation: a GitLab turn (no latency) in one session
// while another person's GitHub turn waits 2 s on GitHub in another
// session; and the same GitLab turn with GitHub idle, as the baseline.
func BenchmarkSlowProviderIsolation(b *testing.B) {
	e := newBenchEnv(b, benchOptions{users: 4})
	e.start()
	ctx := context.Background()
	var alone, withSlow []time.Duration
	glTurn := func(user string) time.Duration {
		ev, ts := e.mentionEvent(user, benchMRCommand)
		t0 := time.Now()
		if _, err := e.slack.SendEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
		if _, err := e.waitReplies(ctx, map[string]bool{ts: true}); err != nil {
			b.Fatal(err)
		}
		e.checkReply(ts, "GitLab: bench")
		return time.Since(t0)
	}
	for b.Loop() {
		alone = append(alone, glTurn(e.users[1].slack))
		e.gh.SetLatency(2 * time.Second)
		ev, ghTS := e.mentionEvent(e.users[0].slack, benchPRCommand)
		if _, err := e.slack.SendEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the GitHub turn is now waiting on GitHub
		withSlow = append(withSlow, glTurn(e.users[1].slack))
		if _, err := e.waitReplies(ctx, map[string]bool{ghTS: true}); err != nil {
			b.Fatal(err)
		}
		e.gh.SetLatency(0)
	}
	b.ReportMetric(paced.Pct(alone, 50), "gitlab-alone-p50-ms")
	b.ReportMetric(paced.Pct(withSlow, 50), "gitlab-while-github-slow-p50-ms")
	b.ReportMetric(paced.Pct(withSlow, 100), "gitlab-while-github-slow-max-ms")
}

// ---- Start-up and memory with many stored sessions ----

// benchScaleKey is session i's key: 2,000 channels, threads in time order.
func benchScaleKey(i int) tandem.SessionKey {
	return tandem.SessionKey{Team: benchTeam, Channel: fmt.Sprintf("C%08d", i*7919%2000), ThreadTS: fmt.Sprintf("%d.%06d", 1700000000+i/10, i%1000000)}
}

// buildBenchScaleDB writes a Tandem database with sessions sessions and
// links links at path through the store's batched import (ImportSessions,
// ImportLinks), then checks that sessions and tokens read back through the
// store. Tokens are sealed with the keyring under the link's owner, in the
// form the store seals them; a mismatch fails the read-back check.
func buildBenchScaleDB(tb testing.TB, path string, sessions, links int) {
	tb.Helper()
	keys := benchKeyring(tb)
	db, err := store.Open(path, store.Options{Keyring: keys})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	users := max(links, 1)
	n, err := db.ImportSessions(ctx, func(put func(tandem.Session) error) error {
		for i := range sessions {
			s := tandem.Session{Key: benchScaleKey(i), Owner: fmt.Sprintf("U%08d", i*31%users),
				CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)}
			for e := range i % 3 {
				s.Editors = append(s.Editors, fmt.Sprintf("U%08d", (i*31+e+1)%users))
			}
			if err := put(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n != sessions {
		tb.Fatalf("imported %d sessions: %v", n, err)
	}
	link := func(j int) tandem.Link {
		return tandem.Link{Team: benchTeam, User: fmt.Sprintf("U%08d", j), Provider: tandem.GitHub, AccountID: strconv.Itoa(j),
			Login: fmt.Sprintf("user%08d", j), LinkedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Token: tandem.Token{AccessToken: fmt.Sprintf("gho_bench%030d", j), TokenType: "bearer"}}
	}
	n, err = db.ImportLinks(ctx, func(put func(tandem.Link, []byte) error) error {
		for j := range links {
			l := link(j)
			plain, err := json.Marshal(map[string]string{"access_token": l.Token.AccessToken, "token_type": l.Token.TokenType})
			if err != nil {
				return err
			}
			sealed, err := keys.Seal(plain, l.Team+"|"+l.User+"|"+string(l.Provider))
			if err != nil {
				return err
			}
			if err := put(l, sealed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n != links {
		tb.Fatalf("imported %d links: %v", n, err)
	}
	if s, err := db.Session(ctx, benchScaleKey(sessions-1)); err != nil || s.Owner == "" {
		tb.Fatalf("the imported sessions do not read back: %v", err)
	}
	for _, j := range []int{0, links / 2, links - 1} {
		want := link(j)
		got, err := db.Link(ctx, want.Team, want.User, want.Provider)
		if err != nil || got.Token.AccessToken != want.Token.AccessToken {
			tb.Fatalf("link %d does not read back through the store: %v", j, err)
		}
	}
}

// benchChildReport is what a child process running serve reports.
type benchChildReport struct {
	StartupMS  float64 `json:"startup_ms"` // run called -> /readyz 200
	ReadyzMS   float64 `json:"readyz_ms"`  // one /readyz probe once ready (p50 of 20)
	HeapMiB    float64 `json:"heap_mib"`   // Go heap in use after GC
	GoSysMiB   float64 `json:"go_sys_mib"` // memory the Go runtime got from the OS
	RSSMiB     float64 `json:"rss_mib"`    // VmRSS
	RSSAnonMiB float64 `json:"rss_anon_mib"`
	RSSFileMiB float64 `json:"rss_file_mib"` // mapped file pages resident: bbolt's mmap
	HWMMiB     float64 `json:"hwm_mib"`      // peak RSS
}

// TestBenchServeChild is not a test: BenchmarkStartupScale runs the test
// binary again with TANDEM_BENCH_CHILD=1 so that start-up and memory are
// measured in a fresh process that only runs serve.
func TestBenchServeChild(t *testing.T) {
	if os.Getenv("TANDEM_BENCH_CHILD") != "1" {
		t.Skip("the child process of BenchmarkStartupScale")
	}
	logf, err := os.Create(os.Getenv("TANDEM_BENCH_CHILD_LOG"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	readyz := "http://" + os.Getenv("TANDEM_HTTP_ADDR") + "/readyz"
	began := time.Now()
	go func() { done <- run(ctx, []string{"serve"}, os.Getenv, io.Discard, logf) }()
	var rep benchChildReport
	for {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		default:
		}
		if resp, err := http.Get(readyz); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				rep.StartupMS = float64(time.Since(began)) / float64(time.Millisecond)
				break
			}
		}
		if time.Since(began) > time.Minute {
			t.Fatal("not ready within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Second) // housekeeping's first pass runs at start
	var probes []time.Duration
	for range 20 {
		t0 := time.Now()
		resp, err := http.Get(readyz)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		probes = append(probes, time.Since(t0))
	}
	rep.ReadyzMS = paced.Pct(probes, 50)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	rep.GoSysMiB = float64(ms.Sys) / (1 << 20)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rep.RSSMiB = kb / 1024
		case "RssAnon:":
			rep.RSSAnonMiB = kb / 1024
		case "RssFile:":
			rep.RSSFileMiB = kb / 1024
		case "VmHWM:":
			rep.HWMMiB = kb / 1024
		}
	}
	out, _ := json.Marshal(rep)
	fmt.Printf("BENCHCHILD %s\n", out)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkStartupScale starts serve in a fresh process on a database
// holding N sessions and N/10 links, and reports run -> /readyz, one
// /readyz probe, and the process's memory once ready: 10,000 against
// 100,000 sessions, or against 1,000,000 with TANDEM_BENCH_SCALE=1. Each
// iteration is one start; use -benchtime=5x.
func BenchmarkStartupScale(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("TANDEM_BENCH_SCALE") == "1" {
		sizes = []int{10_000, 1_000_000}
	}
	e := newBenchEnv(b, benchOptions{users: 2})
	dbs := map[int]string{}
	for _, n := range sizes {
		path := filepath.Join(e.dir, fmt.Sprintf("scale-%d.db", n))
		t0 := time.Now()
		buildBenchScaleDB(b, path, n, n/10)
		fi, _ := os.Stat(path)
		b.Logf("built %d sessions + %d links in %s: %d MiB", n, n/10, time.Since(t0).Round(time.Millisecond), fi.Size()>>20)
		dbs[n] = path
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			var reps []benchChildReport
			for b.Loop() {
				port := benchFreePort(b)
				env := os.Environ()
				for k, v := range e.vars {
					switch k {
					case "TANDEM_DB":
						v = dbs[n]
					case "TANDEM_HTTP_ADDR":
						v = "127.0.0.1:" + port
					case "TANDEM_PUBLIC_URL":
						v = "http://127.0.0.1:" + port
					}
					env = append(env, k+"="+v)
				}
				logPath := filepath.Join(e.dir, "child.log")
				env = append(env, "TANDEM_BENCH_CHILD=1", "TANDEM_BENCH_CHILD_LOG="+logPath)
				cmd := exec.Command(exe, "-test.run=^TestBenchServeChild$", "-test.bench=^$", "-test.count=1")
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					logs, _ := os.ReadFile(logPath)
					b.Fatalf("child: %v\n%s\n%s", err, out, logs)
				}
				var rep benchChildReport
				found := false
				for _, line := range strings.Split(string(out), "\n") {
					if rest, ok := strings.CutPrefix(line, "BENCHCHILD "); ok {
						found = json.Unmarshal([]byte(rest), &rep) == nil
					}
				}
				if !found {
					b.Fatalf("no report from the child:\n%s", out)
				}
				reps = append(reps, rep)
			}
			med := func(f func(benchChildReport) float64) float64 {
				var xs []float64
				for _, r := range reps {
					xs = append(xs, f(r))
				}
				slices.Sort(xs)
				return xs[len(xs)/2]
			}
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.StartupMS }), "startup-ms")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.ReadyzMS }), "readyz-ms")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.HeapMiB }), "heap-MiB")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.GoSysMiB }), "gosys-MiB")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.RSSMiB }), "rss-MiB")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.RSSAnonMiB }), "rss-anon-MiB")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.RSSFileMiB }), "rss-file-MiB")
			b.ReportMetric(med(func(r benchChildReport) float64 { return r.HWMMiB }), "rss-peak-MiB")
		})
	}
}
