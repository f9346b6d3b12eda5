package main

import (
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// TestReplicasOnPostgres runs three tandem serve processes on one
// PostgreSQL database and one Slack app. The fake Slack spreads envelopes
// at random over their connections and redelivers unacknowledged ones;
// one replica is killed with SIGKILL in the middle of the load. Every
// message is answered under its own sender's identity, no change reaches
// GitHub twice, each session's changes happen in message order, an OAuth
// flow started on one replica completes on another, and refreshes and
// takeovers are shared.
func TestReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three bot processes; run without -short")
	}
	dbURL := pgtest.URL(t)
	e := newEnvWith(t, func(o *fakeslack.Options) { o.RandomDispatch = true; o.Seed = 42 })
	e.useUnlimitedGitHub()
	issue := e.addFaultRepo()
	e.slack.AutoRedeliver(true, 2*time.Second)
	e.vars["TANDEM_DATABASE_URL"] = dbURL
	e.vars["TANDEM_LEASE_TTL"] = "2s"
	e.vars["TANDEM_SHUTDOWN_TIMEOUT"] = "2s"
	addrs := []string{hostPort(e.public), "127.0.0.1:" + freePort(t), "127.0.0.1:" + freePort(t)}
	t.Cleanup(func() {
		if t.Failed() {
			os.WriteFile(filepath.Join(os.TempDir(), "replicas-failure.log"), []byte(e.logs.String()), 0o600)
			t.Logf("replica logs written to %s", filepath.Join(os.TempDir(), "replicas-failure.log"))
		}
	})
	var procs []*faultProc
	for _, a := range addrs {
		procs = append(procs, e.startProc(a))
	}

	// Alice and Bob start linking on replica 1 and finish on replica 2 (the
	// callback lands on another replica, as behind a load balancer).
	for _, who := range []struct{ user, login string }{{"UALICE", "alice-gh"}, {"UBOB", "bob-gh"}, {"UCAROL", "carol-gh"}} {
		link := e.connectLink(who.user, tandem.GitHub)
		browser := e.browser(who.login)
		inner := browser.CheckRedirect
		browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasSuffix(req.URL.Path, "/callback") {
				req.URL.Host = addrs[1]
			}
			return inner(req, via)
		}
		if status, page := open(t, browser, link); status != 200 || !strings.Contains(page, "GitHub account "+who.login+" is now linked") {
			t.Fatalf("cross-replica connect for %s: %d %s", who.login, status, page)
		}
	}

	e.gh.SetLatency(100 * time.Millisecond) // so turns are in flight at the kill
	// Load: 8 sessions; each message a comment with a per-session sequence
	// number, or a read; senders rotate.
	users := []struct{ id, login string }{{"UALICE", "alice-gh"}, {"UBOB", "bob-gh"}, {"UCAROL", "carol-gh"}}
	r := rand.New(rand.NewSource(9))
	type sent struct {
		msg        faultMsg
		login, uid string
	}
	var msgs []sent
	roots := make([]string, 8)
	seq := make([]int, 8)
	killed := false
	for i := 0; i < 120; i++ {
		s := r.Intn(len(roots))
		u := users[r.Intn(len(users))]
		text, uid := "list my open PRs", ""
		if r.Intn(2) == 0 {
			seq[s]++
			// One word, so that interruptedNotices (uidRe) finds it in a notice.
			uid = fmt.Sprintf("dead-%dx%03d", s, seq[s])
			text = "comment on " + issue + " " + uid
		}
		m, err := e.deliver(u.id, text, roots[s])
		if err != nil {
			t.Fatal(err)
		}
		if roots[s] == "" {
			roots[s] = m.thread
		}
		msgs = append(msgs, sent{m, u.login, uid})
		if i%10 == 9 {
			e.slack.Redeliver(ctxFor(t), m.events[0], 1) // an explicit duplicate too
		}
		if i == 60 && !killed {
			procs[2].kill()
			killed = true
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Everything settles on the two survivors. Slack gives up on an event
	// after three redeliveries; every event a replica acknowledged must be
	// answered.
	waitLong(t, 90*time.Second, "every delivery settled", func() bool {
		st := e.slack.EventStatuses()
		for _, s := range msgs {
			if !s.msg.settled(st) {
				return false
			}
		}
		return true
	})
	st := e.slack.EventStatuses()
	unacked := 0
	for _, s := range msgs {
		if !s.msg.acked(st) {
			unacked++
		}
	}
	waitLong(t, 90*time.Second, "every acknowledged message answered", func() bool {
		replies := e.replies()
		comments := e.commentsByBody()
		notices, _ := interruptedNotices(replies)
		for _, s := range msgs {
			if !s.msg.acked(st) {
				continue
			}
			if s.uid != "" {
				if comments[s.uid] == 0 && notices[s.uid] == 0 {
					return false
				}
				continue
			}
			if len(replies[s.msg.thread]) == 0 {
				return false
			}
		}
		return true
	})

	comments := e.gh.Comments()
	perSession := map[string][]string{}
	count := map[string]int{}
	for _, c := range comments {
		body := strings.TrimSpace(c.Body)
		count[body]++
		if s, _, ok := strings.Cut(strings.TrimPrefix(body, "dead-"), "x"); ok {
			perSession[s] = append(perSession[s], body)
		}
	}
	for body, n := range count {
		if n > 1 {
			t.Errorf("change %s reached GitHub %d times", body, n)
		}
	}
	for s, bodies := range perSession {
		for i := 1; i < len(bodies); i++ {
			if bodies[i] < bodies[i-1] {
				t.Errorf("session %s: changes out of order: %v", s, bodies)
				break
			}
		}
	}
	// Every comment was written by its message's sender.
	byUID := map[string]string{}
	for _, s := range msgs {
		if s.uid != "" {
			byUID[s.uid] = s.login
		}
	}
	for _, c := range comments {
		if want := byUID[strings.TrimSpace(c.Body)]; want != "" && c.AuthorLogin != want {
			t.Errorf("comment %s written as %s, want its sender %s", c.Body, c.AuthorLogin, want)
		}
	}
	for i, p := range procs {
		logs := p.logs.String()
		if !strings.Contains(logs, `backend="postgres`) && !strings.Contains(logs, "backend=\"postgres") && !strings.Contains(logs, "postgres postgres://") {
			t.Errorf("replica %d did not run on PostgreSQL", i+1)
		}
		if n := strings.Count(logs, "turn recorded"); n == 0 {
			t.Errorf("replica %d recorded no turn: the envelopes were not spread", i+1)
		}
		p.checkRaces()
	}
	_, interrupted := interruptedNotices(e.replies())
	if unacked > len(msgs)/10 {
		t.Errorf("%d of %d messages were never acknowledged", unacked, len(msgs))
	}
	t.Logf("%d messages (%d never acknowledged: Slack gave up on them) over %d sessions, %d comments, %d interrupted notices after killing one of 3 replicas", len(msgs), unacked, len(roots), len(comments), interrupted)
}
