package main

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
// message is acknowledged by some replica (the test redelivers whatever
// Slack gave up on) and answered under its own sender's identity; every
// read reaches GitHub with its sender's token and every comment is written
// as its sender; no change reaches GitHub twice, each session's changes
// happen in message order, an OAuth flow started on one replica completes
// on another, and refreshes and takeovers are shared.
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

	// Everything settles on the two survivors. The fake Slack, like Slack,
	// gives up on an event after its third automatic redelivery; whatever
	// it gave up on before a replica acknowledged it is redelivered here
	// again, until a replica does: every message must be taken in, and the
	// test fails if one is still unacknowledged after 90 seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var all []faultMsg
	for _, s := range msgs {
		all = append(all, s.msg)
	}
	redelivered, late := e.redeliverUntilAcked(ctx, all)

	// Every message is answered in its thread under its sender's identity.
	// Replies do not say which message they answer, so they are matched per
	// thread and sender: at least as many answers to reads (and to
	// comments) attributed to the sender as the sender sent reads (and
	// comments) there. A comment cut off by the kill may be answered by an
	// "Interrupted" notice that names it instead.
	type key struct{ thread, user string }
	reads, changes := map[key]int{}, map[key][]string{}
	for _, s := range msgs {
		k := key{s.msg.thread, s.msg.user}
		if s.uid == "" {
			reads[k]++
		} else {
			changes[k] = append(changes[k], s.uid)
		}
	}
	unanswered := func() []string {
		replies := e.replies()
		comments := e.commentsByBody()
		notices, _ := interruptedNotices(replies)
		var out []string
		for k, n := range reads {
			login := loginOf(k.user)
			if got := countIn(replies[k.thread], "open pull request", "ran as <@"+k.user+">", "GitHub: "+login); got < n {
				out = append(out, fmt.Sprintf("thread %s: %d of %s's %d reads answered as %s", k.thread, got, k.user, n, login))
			}
		}
		for k, uids := range changes {
			login := loginOf(k.user)
			answered := countIn(replies[k.thread], "Commented on "+issue, "ran as <@"+k.user+">", "GitHub: "+login)
			for _, uid := range uids {
				switch {
				case notices[uid] > 0:
					answered++
				case comments[uid] == 0:
					out = append(out, fmt.Sprintf("thread %s: %s's comment %s neither reached GitHub nor has an Interrupted notice", k.thread, k.user, uid))
				}
			}
			if answered < len(uids) {
				out = append(out, fmt.Sprintf("thread %s: %d of %s's %d comments answered as %s", k.thread, answered, k.user, len(uids), login))
			}
		}
		slices.Sort(out)
		return out
	}
	if err := e.slack.WaitFor(ctx, func() bool { return len(unanswered()) == 0 }); err != nil {
		t.Fatalf("not every message was answered (%v):\n%s", err, strings.Join(unanswered(), "\n"))
	}

	// Every answer to a read lists its sender's own pull requests, and only
	// theirs, in a thread where the sender asked.
	for thread, texts := range e.replies() {
		for _, text := range texts {
			if !strings.Contains(text, "open pull request") {
				continue
			}
			var who []string
			for _, p := range people {
				if strings.Contains(text, "ran as <@"+p.slack+">") {
					who = append(who, p.slack)
				}
			}
			if len(who) != 1 {
				t.Errorf("thread %s: an answer to a read names %d senders (%v), want 1:\n%s", thread, len(who), who, text)
				continue
			}
			if reads[key{thread, who[0]}] == 0 {
				t.Errorf("thread %s: an answer to a read of %s, who sent no read there:\n%s", thread, who[0], text)
			}
			for _, p := range people {
				if got, want := strings.Contains(text, "Fix the thing "+p.name+" found"), p.slack == who[0]; got != want {
					t.Errorf("thread %s: an answer to %s's read lists %s's pull request: %v, want %v:\n%s", thread, who[0], p.name, got, want, text)
				}
			}
		}
	}

	// Every read reached the fake GitHub with its sender's own token: each
	// search asked for its token's own account and carried a live token
	// (the answers above list only the sender's pull requests), and each
	// sender's token searched at least as often as the sender sent reads.
	readsBy := map[string]int{}
	for _, s := range msgs {
		if s.uid == "" {
			readsBy[s.login]++
		}
	}
	searchesBy := map[string]int{}
	tokenOf := map[string]string{}
	for _, r := range e.gh.Requests() {
		if r.Path != "/search/issues" {
			continue
		}
		// A search asks for its token's own account (author:@me): whose
		// turn it was shows in each person's count of searches below.
		switch q := r.Query.Get("q"); {
		case !strings.Contains(q, "author:@me"):
			t.Errorf("a search %q does not ask for its token's own account", q)
			continue
		case r.Login == "":
			t.Errorf("a search carried a token the fake GitHub never issued")
			continue
		case e.gh.Revoked(r.Token):
			t.Errorf("a search by %s carried a revoked token", r.Login)
		}
		if prev, ok := tokenOf[r.Login]; ok && prev != r.Token {
			t.Errorf("%s's searches carried two different tokens", r.Login)
		}
		tokenOf[r.Login] = r.Token
		searchesBy[r.Login]++
	}
	for login, n := range readsBy {
		if searchesBy[login] < n {
			t.Errorf("%s sent %d reads, but the fake GitHub saw %d searches with %s's token", login, n, searchesBy[login], login)
		}
	}

	comments := e.gh.Comments()
	perSession := map[string][]string{}
	count := map[string]int{}
	// A message the test had to redeliver reached the replicas only after
	// Slack gave up on it, behind later messages of its session: its
	// change is left out of the order check (but not the others).
	lateUID := map[string]bool{}
	for _, s := range msgs {
		if s.uid != "" && late[s.msg.ts] {
			lateUID[s.uid] = true
		}
	}
	for _, c := range comments {
		body := strings.TrimSpace(c.Body)
		count[body]++
		if s, _, ok := strings.Cut(strings.TrimPrefix(body, "dead-"), "x"); ok && !lateUID[body] {
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
	searches := 0
	for _, n := range searchesBy {
		searches += n
	}
	_, interrupted := interruptedNotices(e.replies())
	t.Logf("%d messages (%d reads, %d searches at GitHub) over %d sessions, %d comments, %d interrupted notices, %d explicit redeliveries of events Slack gave up on, after killing one of 3 replicas",
		len(msgs), len(msgs)-len(byUID), searches, len(roots), len(comments), interrupted, redelivered)
}

// loginOf is the GitHub login of the person with Slack id user.
func loginOf(user string) string {
	for _, p := range people {
		if p.slack == user {
			return p.login
		}
	}
	return ""
}

// redeliverUntilAcked waits until the fake Slack is done delivering every
// message of msgs (acknowledged, or automatic redelivery gave up), then
// redelivers each message none of whose envelopes was acknowledged (one
// Redeliver with retry_attempt 1, which the fake follows with its automatic
// redeliveries), and repeats until every message is acknowledged. It fails
// the test when ctx ends first, and returns how many redeliveries it
// started, and the ts of each message it redelivered.
func (e *env) redeliverUntilAcked(ctx context.Context, msgs []faultMsg) (int, map[string]bool) {
	t := e.t
	t.Helper()
	started, late := 0, map[string]bool{}
	settled := func() bool {
		st := e.slack.EventStatuses()
		for _, m := range msgs {
			if !m.settled(st) {
				return false
			}
		}
		return true
	}
	for {
		if err := e.slack.WaitFor(ctx, settled); err != nil {
			st := e.slack.EventStatuses()
			var open []string
			for _, m := range msgs {
				if !m.acked(st) {
					open = append(open, fmt.Sprintf("%s's %q in thread %s", m.user, m.text, m.thread))
				}
			}
			t.Fatalf("%d messages not acknowledged by any replica (%v):\n%s", len(open), err, strings.Join(open, "\n"))
		}
		st := e.slack.EventStatuses()
		var lost []faultMsg
		for _, m := range msgs {
			if !m.acked(st) {
				lost = append(lost, m)
			}
		}
		if len(lost) == 0 {
			return started, late
		}
		for _, m := range lost {
			id, before := m.events[0], st[m.events[0]].Envelopes
			// Redeliver waits for the acknowledgement of its own envelope,
			// while an automatic redelivery of it may be the one a replica
			// acknowledges: the next round reads the outcome from the
			// event's status instead.
			go e.slack.Redeliver(ctx, id, 1)
			registered := func() bool { return e.slack.EventStatuses()[id].Envelopes > before }
			if err := e.slack.WaitFor(ctx, registered); err != nil {
				t.Fatalf("redelivering %s's %q: %v", m.user, m.text, err)
			}
			started++
			late[m.ts] = true
		}
	}
}
