package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// turnFloor is BenchmarkConcurrency's floor: the least an app can do to
// answer the same messages on the same client, fakes and cores. It runs in
// the test process, as run does there.
//
// It acknowledges each envelope as soon as slack-go hands it over, and then
// runs the message's turn on a pool of conc slots for its provider: one GET
// to the fake GitHub's search or the fake GitLab's merge requests with the
// sender's token, read but not decoded, then chat.postMessage in the
// thread. No store, no sessions, no audit, no identity check beyond the
// token map.
//
// Durable, it keeps what Tandem promises to keep and nothing more: each
// event's JSON is written to a log before its ack, and a line saying the
// turn is done after its reply (so that a restart would neither lose a turn
// nor answer it twice), every line pending at once sharing one write (see
// groupLog): on bbolt's machine a file it fsyncs, as Tandem's journal does;
// on PostgreSQL one multi-row insert in its own transaction. Not durable, it
// records nothing.
//
// Whatever Tandem takes beyond the durable floor is its own cost; whatever
// the durable floor misses of a goal, no app that keeps what it
// acknowledges meets on this machine.
type turnFloor struct {
	errs chan error // the first few turns that failed; the benchmark fails on any
}

// startTurnFloor connects a turnFloor to e's fake Slack with conc slots per
// provider, durable through log unless it is nil, and stops it when b ends.
func startTurnFloor(b *testing.B, e *benchEnv, conc int, log *groupLog) *turnFloor {
	b.Helper()
	tokens := map[string]benchUser{}
	for _, u := range e.users {
		tokens[u.slack] = u
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, 2*conc // a connection per slot kept, as Tandem keeps them
	httpc := &http.Client{Transport: tr, Timeout: time.Minute}
	api := slack.New(benchBotToken, slack.OptionAppLevelToken(benchAppToken),
		slack.OptionAPIURL(e.slack.APIURL()), slack.OptionHTTPClient(httpc))
	client := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	f := &turnFloor{errs: make(chan error, 16)}
	fail := func(err error) {
		select {
		case f.errs <- err:
		default:
		}
	}
	slots := map[string]chan struct{}{"GitHub": make(chan struct{}, conc), "GitLab": make(chan struct{}, conc)}
	turn := func(ev *slackevents.AppMentionEvent) {
		u, ok := tokens[ev.User]
		if !ok {
			fail(fmt.Errorf("floor: message from unknown user %s", ev.User))
			return
		}
		provider, endpoint, token, want := "GitHub", e.gh.APIURL()+"search/issues?"+url.Values{"q": {"is:pr is:open author:" + u.gh}, "per_page": {"5"}}.Encode(), u.ghToken, "Fix the thing "+u.gh
		if strings.HasSuffix(ev.Text, benchMRCommand) {
			provider, endpoint, token, want = "GitLab", e.gl.APIURL()+"merge_requests?state=opened&scope=created_by_me&per_page=5", u.glToken, "MR by "+u.gl
		}
		slot := slots[provider]
		slot <- struct{}{}
		defer func() { <-slot }()
		req, _ := http.NewRequestWithContext(ctx, "GET", endpoint, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpc.Do(req)
		if err != nil {
			fail(fmt.Errorf("floor: %s: %w", provider, err))
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			fail(fmt.Errorf("floor: %s answered %d: %.200s", provider, resp.StatusCode, body))
			return
		}
		if _, _, err := api.PostMessageContext(ctx, ev.Channel, slack.MsgOptionText(provider+": floor, ran as <@"+ev.User+">: "+want, false), slack.MsgOptionTS(ev.TimeStamp)); err != nil {
			fail(fmt.Errorf("floor: reply: %w", err))
			return
		}
		if log != nil {
			if err := log.append([]byte("done " + ev.EventTimeStamp)); err != nil {
				fail(err)
			}
		}
	}
	mention := func(data any) {
		if outer, ok := data.(slackevents.EventsAPIEvent); ok {
			if ev, ok := outer.InnerEvent.Data.(*slackevents.AppMentionEvent); ok {
				turn(ev)
			}
		}
	}
	serveSocket(ctx, client, func(evt socketmode.Event) {
		req := *evt.Request
		if log == nil {
			client.Ack(req) // at once, in the order Slack sent them
			go mention(evt.Data)
			return
		}
		go func() {
			if err := log.append(req.Payload); err != nil {
				fail(err) // not acknowledged: Slack would send it again
				return
			}
			client.Ack(req)
			mention(evt.Data)
		}()
	})
	if err := e.slack.WaitFor(ctx, func() bool { return e.slack.Connections() > 0 }); err != nil {
		b.Fatal(err)
	}
	return f
}

// check fails b if a turn failed.
func (f *turnFloor) check(b *testing.B) {
	b.Helper()
	select {
	case err := <-f.errs:
		b.Fatal(err)
	default:
	}
}

// groupLog is the durable floor's log: append returns once its line is
// durable, and the lines appended while earlier ones are being written go
// out together in the next write, up to parallel writes at once.
type groupLog struct {
	write    func(lines [][]byte) error
	parallel int

	mu      sync.Mutex
	pending [][]byte
	waiters []chan error
	writing int
}

// fileLog is a groupLog on a file at path: one write and one fsync for
// each group of lines, one group at a time, as Tandem's journal.
func fileLog(tb testing.TB, path string) *groupLog {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	var buf []byte
	return &groupLog{parallel: 1, write: func(lines [][]byte) error {
		buf = buf[:0]
		for _, l := range lines {
			buf = append(append(buf, l...), '\n')
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
		return f.Sync()
	}}
}

// pgLog is a groupLog in a table of the PostgreSQL database at dbURL: each
// group of lines is one insert, its own transaction, up to four at once on
// their own connections, as Tandem's appends.
func pgLog(b *testing.B, dbURL string) *groupLog {
	b.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE floor_log (id bigserial PRIMARY KEY, line text NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return &groupLog{parallel: 4, write: func(lines [][]byte) error {
		text := make([]string, len(lines))
		for i, l := range lines {
			text[i] = string(l)
		}
		_, err := pool.Exec(ctx, `INSERT INTO floor_log (line) SELECT unnest($1::text[])`, text)
		return err
	}}
}

// append makes line durable, sharing the write with every line appended
// meanwhile; it fails as that write did.
func (g *groupLog) append(line []byte) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.pending = append(g.pending, line)
	g.waiters = append(g.waiters, done)
	if g.writing < g.parallel {
		g.writing++
		go g.flush()
	}
	g.mu.Unlock()
	return <-done
}

// flush writes what is pending until nothing is.
func (g *groupLog) flush() {
	for {
		g.mu.Lock()
		if len(g.waiters) == 0 {
			g.writing--
			g.mu.Unlock()
			return
		}
		lines, waiters := g.pending, g.waiters
		g.pending, g.waiters = nil, nil
		g.mu.Unlock()
		err := g.write(lines)
		if err != nil {
			err = fmt.Errorf("floor: log: %w", err)
		}
		for _, w := range waiters {
			w <- err
		}
	}
}

// TestGroupLog checks the durable floor's log: every line appended is in
// the file once, appends made during a write share the next one, and each
// append returns its own write's outcome (so a failed write fails every
// append it carried, and none returns before its write).
func TestGroupLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "floor.log")
	log := fileLog(t, path)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			line := fmt.Sprintf("event %03d", i)
			if err := log.append([]byte(line)); err != nil {
				t.Error(err)
				return
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			if !strings.Contains(string(raw), line+"\n") {
				t.Errorf("append of %q returned before its line was in the file", line)
			}
		})
	}
	wg.Wait()
	raw, _ := os.ReadFile(path)
	if got := strings.Count(string(raw), "\n"); got != n {
		t.Fatalf("the file has %d lines, want %d", got, n)
	}

	// Each append answers with its own write's outcome, so it cannot have
	// returned before that write. Writes run one at a time (parallel 1),
	// each after the last, so writes needs no lock of its own.
	writes := 0
	entered, release := make(chan struct{}), make(chan struct{})
	failing := &groupLog{parallel: 1, write: func(lines [][]byte) error {
		writes++
		if writes == 1 {
			close(entered)
			<-release // the others pile up behind the first write
		}
		return errors.New("disk full")
	}}
	errs := make(chan error, 10)
	go func() { errs <- failing.append([]byte("first")) }()
	<-entered
	for range 9 {
		go func() { errs <- failing.append([]byte("later")) }()
	}
	for !func() bool { failing.mu.Lock(); defer failing.mu.Unlock(); return len(failing.waiters) == 9 }() {
		runtime.Gosched() // until all nine wait behind the first write
	}
	close(release)
	for range 10 {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("append: %v, want the write's error", err)
		}
	}
	if writes != 2 {
		t.Fatalf("%d writes for 10 appends, 9 of them made during the first: want 2", writes)
	}
}
