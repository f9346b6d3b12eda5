package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/paced"
)

// BenchmarkOverload (issue 20) measures Socket Mode acknowledgement latency
// above what Tandem can serve, with tandem serve as its own process(es),
// against a durable peer in the same run: a minimal slack-go Socket Mode
// app (bench_peer_test.go), also its own process, that fsyncs each event to
// a file before acknowledging it, connected to a second fake Slack (its own
// app).
//
// Load: new threads "@tandem list my open PRs" (a GitHub search and a reply
// each, the fake GitHub without a search rate limit), open loop at
// TANDEM_BENCH_OVERLOAD_RATE events/s (default 600) for
// TANDEM_BENCH_OVERLOAD_DURATION (default 30s). The peer gets the same rate
// from its own sender, each of its events half an interval after one of
// Tandem's, so neither sender waits behind the other's socket.
//
//	bbolt       one tandem serve process on a bbolt file
//	postgres-1  one process on PostgreSQL (TANDEM_BENCH_DATABASE_URL)
//	postgres-3  three processes sharing the database and the Slack app
//
// One iteration is one window, then the wait for every ack and every
// reply; use -benchtime=1x (or 3x). Acks are timed by the fake Slack from
// writing the envelope to reading its ack (Delivery.AckAfter), so a sender
// blocked on a full socket counts against the app being written to. An
// envelope is lost when it was never acked and its connection was dropped
// (ackAll); it is then redelivered with retry_attempt 1 so its turn still
// runs, and is not timed. Slack's own redelivery after 3 s is off: late
// acks are counted instead, so the load stays the one chosen.
//
// TANDEM_BENCH_OVERLOAD_PEER=off leaves the peer out: Tandem then has the
// cores without a second app's load on them, which is how it runs in
// production; the ratio to the peer is measured only with the peer on.
//
// TANDEM_BENCH_OVERLOAD_APP=floor runs the durable turnFloor
// (bench_floor_test.go) in this process instead of tandem serve, on a file
// it fsyncs (bbolt) or in the database (postgres-1; postgres-3 does not
// run): the same load, with what any app that keeps what it acknowledges
// must do and nothing else. Its figures are named floor-… instead of
// tandem-…, and it reports no CPU or memory of its own.
func BenchmarkOverload(b *testing.B) {
	window := benchEnvDuration(b, "TANDEM_BENCH_OVERLOAD_DURATION", 30*time.Second)
	rate := benchEnvInt(b, "TANDEM_BENCH_OVERLOAD_RATE", 600)
	pg := os.Getenv("TANDEM_BENCH_DATABASE_URL")
	withPeer := true
	switch v := os.Getenv("TANDEM_BENCH_OVERLOAD_PEER"); v {
	case "", "on":
	case "off":
		withPeer = false
	default:
		b.Fatalf("TANDEM_BENCH_OVERLOAD_PEER=%q: want on or off", v)
	}
	app := os.Getenv("TANDEM_BENCH_OVERLOAD_APP")
	switch app {
	case "":
		app = "tandem"
	case "tandem", "floor":
	default:
		b.Fatalf("TANDEM_BENCH_OVERLOAD_APP=%q: want tandem or floor", app)
	}
	cases := []struct {
		name      string
		processes int
		pg        bool
	}{{"bbolt", 1, false}, {"postgres-1", 1, true}, {"postgres-3", 3, true}}
	for _, c := range cases {
		if c.pg && pg == "" || app == "floor" && c.processes > 1 {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			if !c.pg {
				b.Setenv("TANDEM_BENCH_DATABASE_URL", "")
			}
			e := newBenchEnv(b, benchOptions{users: 20})
			var floor *turnFloor
			serves := c.processes // tandem serve processes to start
			if app == "floor" {
				var log *groupLog
				if c.pg {
					log = pgLog(b, e.vars["TANDEM_DATABASE_URL"])
				} else {
					log = fileLog(b, filepath.Join(b.TempDir(), "floor.log"))
				}
				floor, serves = startTurnFloor(b, e, 64, log), 0
			}
			var pids []int
			for i := range serves {
				addr := e.vars["TANDEM_HTTP_ADDR"]
				if i > 0 {
					addr = "127.0.0.1:" + benchFreePort(b)
				}
				before := benchServeChildren(b)
				e.startReplicaProcess(b, addr)
				for _, pid := range benchServeChildren(b) {
					if !slices.Contains(before, pid) {
						pids = append(pids, pid)
					}
				}
			}
			if len(pids) != serves {
				b.Fatalf("found %d tandem serve processes (%v), want %d", len(pids), pids, serves)
			}
			var peer *benchPeer
			if withPeer {
				peer = startBenchPeer(b, e.users)
			}
			var runs []overloadRun
			for b.Loop() {
				runs = append(runs, e.overloadWindow(b, peer, pids, rate, window))
				if floor != nil {
					floor.check(b)
				}
			}
			reportOverload(b, app, runs)
		})
	}
}

// overloadRun is what one window measured.
type overloadRun struct {
	tandem, peer           ackStats
	tandemSent, peerSent   int
	sending                time.Duration // the senders' time: window, or more if they fell behind
	turns                  int           // threads that got their reply
	oneReply               int           // threads with exactly one reply, their author's
	drain                  time.Duration // window end -> the last thread's reply
	rssPeakSum, rssPeakMax float64       // MiB, tandem processes, sampled every 100 ms in the window and drain
	rssAfterSum            float64       // MiB, tandem processes, 5 s after the drain
	// anonPeakSum and anonAfterSum are the same for RssAnon: memory that
	// is not the mapped database file.
	anonPeakSum, anonAfterSum float64
	peerRSSPeak               float64 // MiB
	// cpu is the tandem processes' CPU time (user and system) from the
	// window's start to the last reply: per turn, the figure that the
	// shared cores' noise does not move.
	cpu time.Duration
}

// overloadWindow sends rate events/s to Tandem and to the peer (unless it
// is nil) for window, waits for every ack and every reply, and checks that
// each thread got exactly one reply, to its own author's request.
func (e *benchEnv) overloadWindow(b *testing.B, peer *benchPeer, pids []int, rate int, window time.Duration) overloadRun {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), window+15*time.Minute)
	defer cancel()
	total := int(window.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)

	var run overloadRun
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			sum, most, anon := 0.0, 0.0, 0.0
			for _, pid := range pids {
				r := benchRSS(pid)
				sum += r
				most = max(most, r)
				anon += benchAnon(pid)
			}
			run.rssPeakSum, run.rssPeakMax = max(run.rssPeakSum, sum), max(run.rssPeakMax, most)
			run.anonPeakSum = max(run.anonPeakSum, anon)
			if peer != nil {
				run.peerRSSPeak = max(run.peerRSSPeak, benchRSS(peer.pid))
			}
			select {
			case <-t.C:
			case <-sampleCtx.Done():
				return
			}
		}
	}()

	threads := make(map[string]bool, total)
	userOf := make(map[string]benchUser, total)
	envs := make([]string, 0, total)
	eventOf := make(map[string]string, total)
	peerEnvs := make([]string, 0, total)
	peerEventOf := make(map[string]string, total)
	opened, peerOpened := e.slack.ConnectionsOpened(), 0
	if peer != nil {
		peerOpened = peer.slack.ConnectionsOpened()
	}
	var tandemErr, peerErr error
	var wg sync.WaitGroup
	cpu0 := benchCPUs(pids)
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range total {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			u := e.users[i%len(e.users)]
			ev, ts := e.mentionEvent(u.slack, benchPRCommand)
			envID, eventID, err := e.slack.DeliverEvent(ev)
			if err != nil {
				tandemErr = err
				return
			}
			threads[ts], userOf[ts] = true, u
			envs = append(envs, envID)
			eventOf[envID] = eventID
		}
	}()
	sendToPeer := func() {
		defer wg.Done()
		for i := range total {
			if d := time.Until(start.Add(time.Duration(i)*interval + interval/2)); d > 0 {
				time.Sleep(d)
			}
			envID, eventID, err := peer.slack.DeliverEvent(peer.mentionEvent(e.users[i%len(e.users)].slack))
			if err != nil {
				peerErr = err
				return
			}
			peerEnvs = append(peerEnvs, envID)
			peerEventOf[envID] = eventID
		}
	}
	if peer != nil {
		wg.Add(1)
		go sendToPeer()
	}
	wg.Wait()
	windowEnd := time.Now()
	run.sending = windowEnd.Sub(start)
	if tandemErr != nil || peerErr != nil {
		b.Fatalf("sending: tandem %v, peer %v", tandemErr, peerErr)
	}
	run.tandemSent, run.peerSent = len(envs), len(peerEnvs)

	type replies struct {
		seen map[string]time.Time
		err  error
	}
	replied := make(chan replies, 1)
	go func() {
		seen, err := e.waitReplies(ctx, threads)
		replied <- replies{seen, err}
	}()
	run.tandem = e.ackAll(b, envs, eventOf, opened)
	if peer != nil {
		run.peer = peer.env.ackAll(b, peerEnvs, peerEventOf, peerOpened)
	}
	r := <-replied
	run.cpu = benchCPUs(pids) - cpu0
	stopSampling()
	<-sampled
	if r.err != nil {
		b.Fatalf("%d of %d threads got a reply: %v\n%s", len(r.seen), len(threads), r.err, e.logTail())
	}
	run.turns = len(r.seen)
	last := windowEnd
	for _, t := range r.seen {
		if t.After(last) {
			last = t
		}
	}
	run.drain = last.Sub(windowEnd)

	// 5 s of quiet: the memory the processes keep, and time for a doubled
	// reply (a redelivered or re-claimed turn run twice) to show.
	time.Sleep(5 * time.Second)
	for _, pid := range pids {
		run.rssAfterSum += benchRSS(pid)
		run.anonAfterSum += benchAnon(pid)
	}
	run.oneReply = e.checkOneReplyEach(b, threads, userOf)
	if peer == nil {
		return run
	}
	if n := peer.events(b); n < run.peerSent {
		b.Fatalf("the peer acknowledged %d events but wrote %d", run.peerSent, n)
	}
	return run
}

// checkOneReplyEach fails unless each thread has exactly one reply in it,
// and that reply ran its author's request ("ran as <@author>", their PR);
// it returns how many threads passed, which is all of them.
func (e *benchEnv) checkOneReplyEach(b *testing.B, threads map[string]bool, userOf map[string]benchUser) int {
	b.Helper()
	count := make(map[string]int, len(threads))
	var wrong []string
	for _, m := range e.slack.Messages() {
		if m.Method != "chat.postMessage" || !threads[m.ThreadTS] || busyNotice(m) {
			continue
		}
		count[m.ThreadTS]++
		u := userOf[m.ThreadTS]
		if text := plain(m); !strings.Contains(text, "ran as <@"+u.slack+">") || !strings.Contains(text, "Fix the thing "+u.gh) {
			wrong = append(wrong, m.ThreadTS+": "+text)
		}
	}
	var missing, doubled []string
	for ts := range threads {
		switch n := count[ts]; {
		case n == 0:
			missing = append(missing, ts)
		case n > 1:
			doubled = append(doubled, fmt.Sprintf("%s (%d)", ts, n))
		}
	}
	if len(missing)+len(doubled)+len(wrong) > 0 {
		slices.Sort(missing)
		slices.Sort(doubled)
		b.Fatalf("of %d threads, %d have no reply %v, %d more than one %v, %d replies are not their author's %q\n%s",
			len(threads), len(missing), head(missing), len(doubled), head(doubled), len(wrong), head(wrong), e.logTail())
	}
	return len(threads)
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// reportOverload reports runs, naming the figures of the app under load
// (tandem or floor) after it.
func reportOverload(b *testing.B, app string, runs []overloadRun) {
	var tandem, peer []ackStats
	var drain []time.Duration
	var rssPeakSum, rssPeakMax, peerRSS, anonPeak float64
	var rssAfter, anonAfter []float64
	turns, oneReply, sent, peerSent := 0, 0, 0, 0
	var sending, cpu time.Duration
	for _, r := range runs {
		cpu += r.cpu
		tandem, peer = append(tandem, r.tandem), append(peer, r.peer)
		drain = append(drain, r.drain)
		rssPeakSum, rssPeakMax, peerRSS = max(rssPeakSum, r.rssPeakSum), max(rssPeakMax, r.rssPeakMax), max(peerRSS, r.peerRSSPeak)
		rssAfter = append(rssAfter, r.rssAfterSum)
		anonPeak = max(anonPeak, r.anonPeakSum)
		anonAfter = append(anonAfter, r.anonAfterSum)
		turns += r.turns
		oneReply += r.oneReply
		sent += r.tandemSent
		peerSent += r.peerSent
		sending += r.sending
	}
	n := float64(len(runs))
	pool := func(runs []ackStats) (lat []time.Duration, over, lost, reconn int) {
		for _, r := range runs {
			lat = append(lat, r.lat...)
			over += r.over3s
			lost += r.lost
			reconn += r.reconnects
		}
		return
	}
	lat, over, lost, reconn := pool(tandem)
	plat, pover, plost, preconn := pool(peer)
	b.ReportMetric(paced.Pct(lat, 50), app+"-ack-p50-ms")
	b.ReportMetric(paced.Pct(lat, 99), app+"-ack-p99-ms")
	b.ReportMetric(paced.Pct(lat, 100), app+"-ack-max-ms")
	b.ReportMetric(float64(over)/n, app+"-acked-after-3s/run")
	b.ReportMetric(float64(lost)/n, app+"-lost/run")
	b.ReportMetric(float64(reconn)/n, app+"-reconnects/run")
	if peerSent > 0 {
		b.ReportMetric(paced.Pct(plat, 50), "peer-ack-p50-ms")
		b.ReportMetric(paced.Pct(plat, 99), "peer-ack-p99-ms")
		b.ReportMetric(paced.Pct(plat, 100), "peer-ack-max-ms")
		b.ReportMetric(float64(pover)/n, "peer-acked-after-3s/run")
		b.ReportMetric(float64(plost+preconn)/n, "peer-lost+reconnects/run")
		b.ReportMetric(paced.Pct(lat, 50)/max(paced.Pct(plat, 50), 1e-3), "ratio-ack-p50-"+app+"/peer")
		b.ReportMetric(float64(peerSent)/sending.Seconds(), "peer-sent/s")
		b.ReportMetric(peerRSS, "peer-rss-peak-MiB")
	}
	b.ReportMetric(float64(sent)/sending.Seconds(), app+"-sent/s")
	b.ReportMetric(float64(turns)/n, "turns/run")
	b.ReportMetric(float64(oneReply)/n, "threads-one-reply/run") // a missing, doubled or wrong reply fails the run
	b.ReportMetric(paced.Pct(drain, 50)/1000, "drain-s")
	if app != "tandem" {
		return // the floor runs in this process, beside the fakes and the load
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(max(turns, 1)), app+"-cpu-ms/turn")
	b.ReportMetric(rssPeakSum, app+"-rss-peak-sum-MiB")
	b.ReportMetric(rssPeakMax, app+"-rss-peak-max-MiB")
	slices.Sort(rssAfter)
	b.ReportMetric(rssAfter[len(rssAfter)/2], app+"-rss-5s-after-sum-MiB")
	slices.Sort(anonAfter)
	b.ReportMetric(anonPeak, app+"-anon-peak-sum-MiB")
	b.ReportMetric(anonAfter[len(anonAfter)/2], app+"-anon-5s-after-sum-MiB")
}

// benchRSS is VmRSS of process pid in MiB, 0 if it cannot be read.
func benchRSS(pid int) float64 { return benchStatus(pid, "VmRSS:") }

// benchAnon is RssAnon of process pid in MiB: its resident memory without
// mapped files (bbolt's file is mapped, and its pages count in VmRSS).
func benchAnon(pid int) float64 { return benchStatus(pid, "RssAnon:") }

// benchCPUs is the CPU time (user and system) processes pids have used,
// from /proc/<pid>/stat in clock ticks of 10 ms (Linux's USER_HZ); 0 for a
// process it cannot read.
func benchCPUs(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces and
		// parentheses), from the state (field 3): utime and stime are
		// fields 14 and 15.
		end := strings.LastIndexByte(string(raw), ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(string(raw)[end+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		sum += time.Duration(u+st) * 10 * time.Millisecond
	}
	return sum
}

// benchStatus is the field of /proc/<pid>/status in MiB (0 if unread).
func benchStatus(pid int, field string) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// benchServeChildren lists the pids of this process's children running
// "<this binary> serve", as startReplicaProcess starts them (Linux /proc).
func benchServeChildren(tb testing.TB) []int {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		tb.Fatal(err)
	}
	var pids []int
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); len(args) == 2 && args[0] == exe && args[1] == "serve" {
			pid, _ := strconv.Atoi(filepath.Base(d))
			pids = append(pids, pid)
		}
	}
	return pids
}
