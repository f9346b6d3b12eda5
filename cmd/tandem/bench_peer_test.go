package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// The durable peer of BenchmarkOverload: the smallest Socket Mode app that
// keeps what it acknowledges, as a Bolt app writing each event to a log
// would. It runs as its own process (this test binary, re-executed with
// benchPeerEnvVar=1) so that it competes for the same cores as tandem serve.
const (
	benchPeerEnvVar  = "TANDEM_BENCH_PEER"
	benchPeerFileVar = "TANDEM_BENCH_PEER_FILE"
	benchPeerAPIVar  = "TANDEM_BENCH_PEER_API_URL"
	benchPeerApp     = "xapp-1-FAKEAPPTOKEN-peer-0000000001"
	benchPeerBot     = "xoxb-FAKEBOTTOKEN-peer-0000000001"
)

// runBenchPeer is the peer process: slack-go's socketmode client against
// the Web API at $TANDEM_BENCH_PEER_API_URL, and one loop that, for each
// events_api envelope, appends the event_callback JSON to
// $TANDEM_BENCH_PEER_FILE, fsyncs the file and only then acknowledges. It
// returns the process's exit status: 0 on SIGINT/SIGTERM, 1 if the file
// cannot be opened, written or synced, or the client ends on its own.
func runBenchPeer() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := os.OpenFile(os.Getenv(benchPeerFileVar), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		return 1
	}
	defer f.Close()
	api := slack.New(os.Getenv("SLACK_BOT_TOKEN"), slack.OptionAppLevelToken(os.Getenv("SLACK_APP_TOKEN")),
		slack.OptionAPIURL(os.Getenv(benchPeerAPIVar)))
	client := socketmode.New(api)
	ended := make(chan error, 1)
	go func() { ended <- client.RunContext(ctx) }()
	var line []byte
	for {
		select {
		case <-ctx.Done():
			return 0
		case err := <-ended:
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintln(os.Stderr, "peer: socket mode ended:", err)
			return 1
		case evt := <-client.Events:
			if evt.Type != socketmode.EventTypeEventsAPI || evt.Request == nil {
				continue
			}
			line = append(append(line[:0], evt.Request.Payload...), '\n')
			if _, err := f.Write(line); err != nil {
				fmt.Fprintln(os.Stderr, "peer: write:", err)
				return 1
			}
			if err := f.Sync(); err != nil {
				fmt.Fprintln(os.Stderr, "peer: sync:", err)
				return 1
			}
			client.Ack(*evt.Request)
		}
	}
}

// benchPeer is a running peer process and the fake Slack (its own app)
// it is connected to.
type benchPeer struct {
	slack *fakeslack.Server
	env   *benchEnv // only tb, slack and logs: for ackAll
	pid   int
	file  string
}

// startBenchPeer starts a second fake Slack with users' Slack members in
// benchChannel, and the peer process connected to it, and waits until it is
// connected. The process is interrupted when the benchmark ends.
func startBenchPeer(tb testing.TB, users []benchUser) *benchPeer {
	tb.Helper()
	var members []fakeslack.User
	for i, u := range users {
		members = append(members, fakeslack.User{ID: u.slack, Name: "peer" + strconv.Itoa(i)})
	}
	sl := fakeslack.New(fakeslack.Options{
		BotToken: benchPeerBot, AppToken: benchPeerApp, AppID: "A0PEER", Users: members,
		Channels:     []fakeslack.Channel{{ID: benchChannel, Name: "bench"}},
		PingInterval: 200 * time.Millisecond, AckTimeout: 30 * time.Second,
	})
	if err := sl.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sl.Close)
	dir := tb.TempDir()
	logs, err := os.Create(filepath.Join(dir, "peer.log"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { logs.Close() })
	p := &benchPeer{slack: sl, env: &benchEnv{tb: tb, slack: sl, logs: logs}, file: filepath.Join(dir, "events.jsonl")}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "TANDEM_") && !strings.HasPrefix(k, "SLACK_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(exe, "bench-peer")
	cmd.Env = append(env, benchPeerEnvVar+"=1", benchPeerFileVar+"="+p.file, benchPeerAPIVar+"="+sl.APIURL(),
		"SLACK_APP_TOKEN="+benchPeerApp, "SLACK_BOT_TOKEN="+benchPeerBot)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p.pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for sl.Connections() == 0 {
		select {
		case <-exited:
			tb.Fatalf("the peer process ended while starting\n%s", p.env.logTail())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the peer did not connect\n%s", p.env.logTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return p
}

// mentionEvent is the peer's copy of benchEnv.mentionEvent: a new thread
// "@peer list my open PRs" by user.
func (p *benchPeer) mentionEvent(user string) map[string]any {
	return fakeslack.AppMentionEvent(benchChannel, user, "<@"+p.slack.BotUserID()+"> "+benchPRCommand, p.slack.NextTS(), "")
}

// events counts the lines the peer wrote: one per envelope it acknowledged.
func (p *benchPeer) events(tb testing.TB) int {
	tb.Helper()
	raw, err := os.ReadFile(p.file)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Count(string(raw), "\n")
}
