package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"github.com/tandembot/tandem/internal/fakejira"
	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/internal/identitymodel"
	"github.com/tandembot/tandem/store/postgres/pgtest"
	"github.com/tandembot/tandem/turns"
	"pgregory.net/rapid"
)

// TestIdentityModel applies random sequences of what people do (messages,
// connects, relinks, disconnects, revocations, mode switches, approvals,
// editors, API keys, standups, schedules and their due runs, re-runs after
// connecting by any path:
// the failed message's button, /connect, the App Home or the DM that says a
// link died; restarts) to the
// real binary's run with the fake Slack and the fake providers, and to the
// reference model in internal/identitymodel, and checks after every step
// that each provider request carried exactly the model's account, that
// every reply names the model's identity, and that Connect buttons reach
// only that identity. rapid shrinks a failure to its shortest sequence.
//
// TANDEM_MODEL_STEPS sets the total number of steps (default 1000),
// TANDEM_MODEL_SEED replays a seed, and TANDEM_MODEL_OPS (a comma-separated
// list of operations, such as "stall,message,control") draws only those,
// to aim a run at one part of the rule.
func TestIdentityModel(t *testing.T) {
	bboltSteps, pgSteps := 1000, 300
	if v, err := strconv.Atoi(os.Getenv("TANDEM_MODEL_STEPS")); err == nil && v > 0 {
		bboltSteps, pgSteps = v, v
	}
	seed := rand.Uint64()
	if v, err := strconv.ParseUint(os.Getenv("TANDEM_MODEL_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Run("bbolt", func(t *testing.T) { checkModel(t, modelBackend{}, bboltSteps, seed) })
	t.Run("postgres", func(t *testing.T) {
		pgtest.BaseURL(t) // fails in CI, and says how to run it elsewhere, without a database
		checkModel(t, modelBackend{postgres: true, replicas: 3}, pgSteps, seed)
	})
}

// modelBackend is what the binary runs on: one process on a bbolt file, or
// replicas on one PostgreSQL database, each a child process that can be
// killed with SIGKILL.
type modelBackend struct {
	postgres bool
	replicas int
}

// checkModel runs about steps steps of random sequences against backend.
func checkModel(t *testing.T, backend modelBackend, steps int, seed uint64) {
	// A check draws about perCheck actions, but some are skipped (nothing
	// to approve, no button to press): about 40 run, so steps/40 checks
	// make at least steps steps, which the test then counts and reports.
	const perCheck = 100
	checks := max(1, steps/40)
	for name, v := range map[string]string{"rapid.checks": strconv.Itoa(checks), "rapid.steps": strconv.Itoa(perCheck), "rapid.seed": strconv.FormatUint(seed, 10), "rapid.nofailfile": "true"} {
		if err := flag.Set(name, v); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	t.Logf("%s: seed %d, %d checks of about %d steps (replay with TANDEM_MODEL_SEED=%d)", t.Name(), seed, checks, perCheck, seed)
	start := time.Now()
	total := 0
	ops := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		r := newModelRun(t, rt, backend, ops)
		defer r.close()
		r.run()
		total += r.steps
		if testing.Verbose() {
			t.Logf("%s: %d steps so far, %s", t.Name(), total, time.Since(start).Round(time.Second))
		}
	})
	var mix []string
	for _, name := range slices.Sorted(maps.Keys(ops)) {
		mix = append(mix, fmt.Sprintf("%s %d", name, ops[name]))
	}
	t.Logf("%s: %d steps in %s (%s)", t.Name(), total, time.Since(start).Round(time.Millisecond), strings.Join(mix, ", "))
}

// The model's people: Slack ids. Channel admins: dave, a workspace admin,
// and alice, who created the channel.
var modelUsers = []string{"UALICE", "UBOB", "UCAROL", "UDAVE", "UERIN"}

// The read command of each provider.
var modelReads = map[tandem.ProviderID]string{
	tandem.GitHub: "list my open PRs",
	tandem.GitLab: "list my open MRs",
	tandem.Jira:   "my jira issues",
	tandem.Google: "my meetings today",
}

// Where the model's changes go: an issue, a merge request and a Jira issue
// everyone may comment on (Google has no change command).
const (
	modelIssue = "acme/tools#1"
	modelMR    = "acme/shared!1"
	modelJira  = "OPS-5"
)

// modelChange is a change at p that leaves body where the fake records its
// author, or "" when p has no change command.
func modelChange(p tandem.ProviderID, body string) string {
	switch p {
	case tandem.GitHub:
		return "comment on " + modelIssue + " " + body
	case tandem.GitLab:
		return "comment on " + modelMR + " " + body
	case tandem.Jira:
		return "comment on " + modelJira + " " + body
	}
	return ""
}

// account is the login of user's main (alt=false) or second account at p.
func account(user string, p tandem.ProviderID, alt bool) string {
	name := strings.ToLower(strings.TrimPrefix(user, "U"))
	if alt {
		name += "2"
	}
	switch p {
	case tandem.GitHub:
		return name + "-gh"
	case tandem.GitLab:
		return name + "-gl"
	}
	return name + "@example.test"
}

// modelRun is one rapid check: a fresh installation, one session thread.
type modelRun struct {
	t       *testing.T
	rt      *rapid.T
	e       *env
	backend modelBackend
	procs   []*faultProc // the running binaries
	addrs   []string     // their HTTP addresses; the first is TANDEM_PUBLIC_URL's
	m       *identitymodel.Model
	root    string // the thread's ts
	steps   int
	// stepLog is every step of this check, which close writes down when
	// the check fails: rapid shows only a replay's steps, and a failure
	// that depends on timing may not fail again in the replay.
	stepLog []string
	op      string                         // the operation being applied
	agent   bool                           // the step's turn is an agent turn
	ops     map[string]int                 // steps per operation, across checks
	keys    map[string]string              // API key of each creator
	linked  map[tandem.ProviderID][]string // every login ever linked, for revocations
	// buttons is each sender's latest Connect link offered with a re-run.
	buttons map[string]rerunButton
	// bodies are the change bodies of the model's messages (by
	// Expect.Msg), for the change a re-run makes.
	bodies map[int]string
	// usedLinks are the connect links already opened (a link works once).
	usedLinks map[string]bool
	seen      map[tandem.ProviderID]int // provider requests already checked
	msgs      int                       // fake Slack messages already checked
	audits    int                       // the session's audit records already checked
	// clk is every replica's clock; schedules are the check's schedules.
	clk       *testClock
	schedules []*modelSchedule
	// dayStart is the fake Slack's first message since the last day
	// passed: links offered before it have expired.
	dayStart int
	// between, when set, is what the fake model does between an agent
	// turn's two reads (agentReadsRelinked).
	between atomic.Pointer[func()]
}

type rerunButton struct {
	p   tandem.ProviderID
	url string
}

func newModelRun(t *testing.T, rt *rapid.T, backend modelBackend, ops map[string]int) *modelRun {
	e := newEnvWith(t, func(o *fakeslack.Options) {
		if backend.replicas > 1 {
			// Envelopes, slash commands and presses reach any replica.
			o.RandomDispatch, o.Seed = true, rapid.Uint64().Draw(rt, "dispatch")
		}
	})
	e.useUnlimitedGitHub()
	if issue := e.addFaultRepo(); issue != modelIssue {
		t.Fatalf("the model's issue is %s, want %s", issue, modelIssue)
	}
	e.gl.AddProject("acme/shared")
	e.gl.AddMergeRequest("acme/shared", "alice-gl", "Shared MR", false)
	if key := e.jira.AddIssue(jiraSite, fakejira.Issue{Project: "OPS", Summary: "Shared task", Assignee: "alice@example.test"}); key != modelJira {
		t.Fatalf("the model's Jira issue is %s, want %s", key, modelJira)
	}
	for _, u := range modelUsers {
		if u == "UERIN" {
			e.slack.AddUser(fakeslack.User{ID: u, Name: "erin", RealName: "erin"})
		}
		for _, alt := range []bool{false, true} {
			if u != "UERIN" && !alt {
				continue // the harness made the main accounts of the first four
			}
			e.gh.AddUser(fakegithub.User{Login: account(u, tandem.GitHub, alt)})
			e.gl.AddUser(fakegitlab.User{Login: account(u, tandem.GitLab, alt)})
			e.jira.AddUser(fakejira.User{Email: account(u, tandem.Jira, alt), Sites: []string{jiraSite}})
			e.google.AddUser(fakegoogle.User{Email: account(u, tandem.Google, alt)})
		}
		for _, alt := range []bool{false, true} {
			e.gh.AddCollaborator(faultRepo, account(u, tandem.GitHub, alt))
			e.gl.AddMember("acme/shared", account(u, tandem.GitLab, alt))
		}
	}
	r := &modelRun{t: t, rt: rt, e: e, backend: backend, ops: ops, m: identitymodel.New(), keys: map[string]string{},
		linked: map[tandem.ProviderID][]string{}, buttons: map[string]rerunButton{}, seen: map[tandem.ProviderID]int{},
		bodies: map[int]string{}, usedLinks: map[string]bool{}}
	e.vars["TANDEM_SHUTDOWN_TIMEOUT"] = "5s"
	// A day passes at once for schedules; a run a day late still runs.
	r.clk = useTestClock(t)
	r.clk.shareWith(e)
	e.vars["TANDEM_SCHEDULE_GRACE"] = "25h"
	llm := fakellm.NewOpenAI(t, fakellm.Options{Key: testLLMKey, Script: func(c fakellm.Conversation) fakellm.Reply {
		var between func()
		if f := r.between.Load(); f != nil {
			between = *f
		}
		return modelScript(c, between)
	}})
	e.vars["TANDEM_LLM_URL"], e.vars["TANDEM_LLM_API_KEY"], e.vars["TANDEM_LLM_MODEL"] = llm.BaseURL(), testLLMKey, "fake-model-1"
	if backend.postgres {
		e.vars["TANDEM_DATABASE_URL"] = pgtest.URL(t)
		e.vars["TANDEM_LEASE_TTL"] = modelLeaseTTL.String()
	}
	r.addrs = []string{hostPort(e.public)}
	for len(r.addrs) < max(1, backend.replicas) {
		r.addrs = append(r.addrs, "127.0.0.1:"+freePort(t))
	}
	for _, a := range r.addrs {
		r.procs = append(r.procs, e.startProc(a))
	}
	return r
}

func (r *modelRun) close() {
	if r.rt.Failed() {
		// What the binaries logged tells why; the error lines go in the
		// test's output, everything to a file.
		// Each failing attempt has its own file, whose first lines are
		// the steps, and its steps go in the test's own output too.
		logs := r.e.logs.String()
		steps := strings.Join(r.stepLog, "\n")
		path := "(not written)"
		if f, err := os.CreateTemp("", "identity-model-failure-*.log"); err == nil {
			f.WriteString(steps + "\n\n" + logs)
			f.Close()
			path = f.Name()
		}
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
				r.rt.Logf("log: %s", line)
			}
		}
		r.t.Logf("a failing check's steps (the binaries' logs follow them in %s):\n%s", path, steps)
	}
	for _, p := range r.procs {
		p.kill()
		p.checkRaces()
	}
	r.e.slack.Close()
	r.e.gh.Close()
	r.e.gl.Close()
	r.e.jira.Close()
	r.e.google.Close()
}

func (r *modelRun) run() {
	rt := r.rt
	user := rapid.SampledFrom(modelUsers)
	// Half the draws are GitHub: identity bugs need several steps at one
	// provider, which four equally likely providers make rare.
	provider := rapid.OneOf(rapid.Just(tandem.GitHub), rapid.SampledFrom(tandem.Providers))
	// Where a person connects from besides a failed message's button (the
	// "rerun" action): each re-runs the messages waiting for that link.
	connectVia := rapid.SampledFrom([]string{viaSlash, viaHome, viaDM})
	// The first message makes the session.
	r.op = "message"
	r.message(user.Draw(rt, "owner"), provider.Draw(rt, "provider"), false)
	actions := map[string]func(*rapid.T){
		"message": func(rt *rapid.T) {
			r.message(r.ownerOr(rt, user), provider.Draw(rt, "provider"), rapid.Bool().Draw(rt, "change"))
		},
		"connect": func(rt *rapid.T) {
			r.connect(r.ownerOr(rt, user), provider.Draw(rt, "provider"), rapid.Bool().Draw(rt, "alt"), connectVia.Draw(rt, "via"))
		},
		"rerun":      func(rt *rapid.T) { r.rerun(user.Draw(rt, "user")) },
		"disconnect": func(rt *rapid.T) { r.disconnect(user.Draw(rt, "user"), provider.Draw(rt, "provider")) },
		"revoke":     func(rt *rapid.T) { r.revoke(provider.Draw(rt, "provider")) },
		"expire": func(rt *rapid.T) {
			r.expire(rapid.SampledFrom([]tandem.ProviderID{tandem.GitLab, tandem.Jira, tandem.Google}).Draw(rt, "provider"), rapid.Bool().Draw(rt, "refuseRefresh"))
		},
		"persistent": func(rt *rapid.T) { r.control(r.ownerOr(rt, user), "set KEEP_CREDENTIALS_PERSISTENT=true") },
		"relink":     func(rt *rapid.T) { r.relink(r.ownerOr(rt, user), provider.Draw(rt, "provider")) },
		"relinkDuringRefresh": func(rt *rapid.T) {
			r.relinkDuringRefresh(r.ownerOr(rt, user), rapid.Bool().Draw(rt, "revokeOld"))
		},
		"agentReadsRelinked": func(rt *rapid.T) { r.agentReadsRelinked(r.ownerOr(rt, user)) },
		"unset":              func(rt *rapid.T) { r.control(user.Draw(rt, "actor"), "unset KEEP_CREDENTIALS_PERSISTENT") },
		"approve":            func(rt *rapid.T) { r.consent(rapid.Bool().Draw(rt, "approve")) },
		"approveOld":         func(rt *rapid.T) { r.consentOld(rapid.Bool().Draw(rt, "approve")) },
		"settingsAfterWrite": func(rt *rapid.T) {
			r.settingsAfterWrite(r.ownerOr(rt, user), user.Draw(rt, "writer"), provider.Draw(rt, "provider"))
		},
		"settingsDuringTurn": func(rt *rapid.T) {
			r.settingsDuringTurn(user.Draw(rt, "actor"))
		},
		"editorsAdd": func(rt *rapid.T) {
			r.control(user.Draw(rt, "actor"), "editors add <@"+user.Draw(rt, "who")+">")
		},
		"editorsRemove": func(rt *rapid.T) {
			r.control(user.Draw(rt, "actor"), "editors remove <@"+user.Draw(rt, "who")+">")
		},
		"approveEditor": func(rt *rapid.T) { r.editorConsent(rapid.Bool().Draw(rt, "approve")) },
		"apiKey":        func(rt *rapid.T) { r.apiTurn(user.Draw(rt, "creator"), provider.Draw(rt, "provider")) },
		"operatorKey": func(rt *rapid.T) {
			r.operatorKey(user.Draw(rt, "person"), user.Draw(rt, "presser"), provider.Draw(rt, "provider"), rapid.Bool().Draw(rt, "allow"))
		},
		"apiKeyRevokedWhileQueued": func(rt *rapid.T) {
			// Leaving the channel is drawn less often: its step waits out
			// the 5 s in which Slack's word at the call still holds.
			r.apiKeyRevokedWhileQueued(user.Draw(rt, "creator"), rapid.IntRange(0, 3).Draw(rt, "leavesChannel") == 0)
		},
		"standup":   func(rt *rapid.T) { r.standup(user.Draw(rt, "sender")) },
		"session":   func(rt *rapid.T) { r.session(user.Draw(rt, "asker")) },
		"restart":   func(rt *rapid.T) { r.restart(rapid.IntRange(0, len(r.procs)-1).Draw(rt, "replica")) },
		"agentRead": func(rt *rapid.T) { r.agentRead(r.ownerOr(rt, user), provider.Draw(rt, "provider")) },
		"agentChange": func(rt *rapid.T) {
			sender := r.ownerOr(rt, user)
			presser := sender
			if rapid.IntRange(0, 3).Draw(rt, "pressByOther") == 0 {
				presser = user.Draw(rt, "presser")
			}
			r.agentChange(sender, presser)
		},
		"scheduleCreate": func(rt *rapid.T) {
			r.scheduleCreate(user.Draw(rt, "creator"), provider.Draw(rt, "provider"), rapid.Bool().Draw(rt, "change"))
		},
		"scheduleDue": func(rt *rapid.T) { r.scheduleDue() },
		"scheduleCreatorLeft": func(rt *rapid.T) {
			r.scheduleCreatorLeft(rapid.IntRange(0, modelMaxSchedules-1).Draw(rt, "schedule"))
		},
		"ownerLeft": func(rt *rapid.T) {
			r.ownerLeft(user.Draw(rt, "sender"), provider.Draw(rt, "provider"), rapid.Bool().Draw(rt, "leftChannel"))
		},
		"kill": func(rt *rapid.T) {
			r.killDuringTurn(rapid.IntRange(0, len(r.procs)-1).Draw(rt, "replica"), r.ownerOr(rt, user), rapid.Bool().Draw(rt, "change"))
		},
	}
	if len(r.procs) > 1 {
		// A stall past the session lease: only replicas share leases.
		actions["stall"] = func(rt *rapid.T) {
			// Before the turn starts (it waits out the reorder window,
			// 300 ms), or while its request waits at the slowed GitHub.
			delay := time.Duration(rapid.SampledFrom([]int{0, 100, 400, 500}).Draw(rt, "delayMs")) * time.Millisecond
			r.stallDuringTurn(r.ownerOr(rt, user), rapid.Bool().Draw(rt, "change"), delay, rapid.Bool().Draw(rt, "removeSender"))
		}
	}
	if only := os.Getenv("TANDEM_MODEL_OPS"); only != "" {
		keep := strings.Split(only, ",")
		for name := range actions {
			if !slices.Contains(keep, name) {
				delete(actions, name)
			}
		}
	}
	for name, f := range actions {
		actions[name] = func(rt *rapid.T) { r.op = name; f(rt) }
	}
	actions[""] = func(*rapid.T) {}
	rt.Repeat(actions)
}

// step starts a step: it notes what the fakes had seen so far.
func (r *modelRun) step(what string) {
	r.steps++
	r.ops[r.op]++
	r.rt.Logf("step %d: %s", r.steps, what)
	r.stepLog = append(r.stepLog, fmt.Sprintf("step %d: %s", r.steps, what))
	for _, p := range tandem.Providers {
		r.seen[p] = len(r.e.requests(p))
	}
	r.msgs = len(r.e.slack.Messages())
	r.audits = len(r.auditRecords())
}

// checkRequests fails unless every request that reached a provider since
// the step began carried one of the allowed logins of that provider.
func (r *modelRun) checkRequests(allowed map[tandem.ProviderID]string) {
	for _, p := range tandem.Providers {
		reqs := r.e.requests(p)
		for _, q := range reqs[r.seen[p]:] {
			r.e.remember(q.token)
			if q.token == "" {
				continue
			}
			want, ok := allowed[p]
			if !ok {
				r.rt.Fatalf("%s received %s with %s's token, but the model allows no %s request in this step%s", p.Name(), q.path, q.login, p.Name(), r.lastComments(p))
			}
			if q.login != want {
				r.rt.Fatalf("%s received %s with %s's token, want %s%s", p.Name(), q.path, q.login, want, r.lastComments(p))
			}
		}
	}
}

// lastComments lists the last comments GitHub has, for a failure at p: a
// change's body names the step that asked for it.
func (r *modelRun) lastComments(p tandem.ProviderID) string {
	if p != tandem.GitHub {
		return ""
	}
	cs := r.e.gh.Comments()
	out := "; GitHub's last comments:"
	for _, c := range cs[max(0, len(cs)-3):] {
		out += fmt.Sprintf(" %q by %s;", strings.TrimSpace(c.Body), c.AuthorLogin)
	}
	return out
}

// checkButtons fails if a Connect link made in this step went to anyone but
// who ("" allows none).
func (r *modelRun) checkButtons(who string) {
	var allowed []string
	if who != "" {
		allowed = []string{who}
	}
	r.checkButtonsTo(allowed)
}

// checkButtonsTo fails if a Connect link made in this step went to anyone
// not in allowed.
func (r *modelRun) checkButtonsTo(allowed []string) {
	for _, m := range r.e.slack.Messages()[r.msgs:] {
		if !strings.Contains(string(m.Blocks), "/connect/") {
			continue
		}
		to := m.User
		if !m.Ephemeral && strings.HasPrefix(m.Channel, "D") {
			to = strings.TrimPrefix(m.Channel, "D")
		}
		if m.Method == "views.publish" {
			to = m.User
		}
		if !slices.Contains(allowed, to) {
			r.rt.Fatalf("a Connect link went to %s (%s in %s), want only %q", to, m.Method, m.Channel, allowed)
		}
	}
}

// threadPost waits for a new visible post in the thread containing every
// one of wants, and returns it.
func (r *modelRun) threadPost(wants ...string) fakeslack.Message {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	from := r.msgs
	m, err := r.e.slack.WaitForMessage(ctx, func(m fakeslack.Message) bool {
		if m.Method != "chat.postMessage" || m.ThreadTS != r.root || r.index(m) < from {
			return false
		}
		text := plain(m)
		for _, w := range wants {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		var seen []string
		for _, m := range r.e.slack.Messages()[from:] {
			seen = append(seen, m.Method+" "+m.Channel+": "+strings.ReplaceAll(plain(m), "\n", " | "))
		}
		r.rt.Fatalf("no post in the thread containing %q; since the step began:\n%s", wants, strings.Join(seen, "\n"))
	}
	return m
}

// index is m's position among the fake's messages.
func (r *modelRun) index(m fakeslack.Message) int {
	for i, x := range r.e.slack.Messages() {
		if x.TS == m.TS && x.Channel == m.Channel && x.Method == m.Method {
			return i
		}
	}
	return -1
}

// say posts text as user in the thread (starting it when there is none).
func (r *modelRun) say(user, text string) {
	ts := r.e.slack.NextTS()
	full := "<@" + r.e.slack.BotUserID() + "> " + text
	if _, err := r.e.slack.SendEvent(ctxFor(r.t), fakeslack.AppMentionEvent(channel, user, full, ts, r.root)); err != nil {
		r.rt.Fatalf("deliver: %v", err)
	}
	if r.root == "" {
		r.root = ts
	}
}

// expectTurn waits for the reply the model predicts for a turn of sender
// at p and checks what the providers received.
func (r *modelRun) expectTurn(sender string, p tandem.ProviderID, want identitymodel.Expect) {
	name := p.Name()
	switch want.Outcome {
	case identitymodel.Refused:
		r.threadPost("not on its editors list")
		r.checkRequests(nil)
		r.checkButtons("")
		if r.agent {
			p = "" // an agent turn is refused before any provider is chosen
		}
		r.checkAudit(sender, p, want)
		return
	case identitymodel.OK:
		r.threadPost("ran as <@"+want.User+">", name+": "+want.Login)
		r.checkRequests(map[tandem.ProviderID]string{p: want.Login})
	case identitymodel.NotConfigured:
		r.threadPost(name+" credentials not configured", "ran as <@"+want.User+"> · "+name+": not connected")
		r.checkRequests(nil)
	case identitymodel.Expired:
		r.threadPost(name+" credentials expired or revoked", "ran as <@"+want.User+"> · "+name+": needs reconnect")
		l, _ := r.m.Link(want.User, p)
		r.checkRequests(map[tandem.ProviderID]string{p: l.Login})
	}
	r.checkButtons(want.User)
	r.checkAudit(sender, p, want)
	if want.Outcome == identitymodel.NotConfigured || want.Outcome == identitymodel.Expired {
		if want.User == sender {
			r.rememberButton(sender, p)
		} else {
			delete(r.buttons, sender)
		}
	}
}

// checkAudit fails unless the audit records the step's turn added for
// the session say what the model says: the resolutions of actor's turn
// name the model's identity and the row (reason) of the table that gave
// it, with an outcome that fits the model's.
func (r *modelRun) checkAudit(actor string, p tandem.ProviderID, want identitymodel.Expect) {
	var resolves []tandem.AuditRecord
	recs := r.auditUntil(func(recs []tandem.AuditRecord) bool {
		resolves = nil
		for _, rec := range recs[min(r.audits, len(recs)):] {
			// Another person's turn of an earlier step (a refused standup)
			// may land its records in this step's window: only actor's
			// count here.
			if rec.Action == "resolve" && rec.Provider == p && (p != "" || strings.HasPrefix(rec.Actor, actor)) {
				resolves = append(resolves, rec)
			}
		}
		return len(resolves) > 0
	})
	if len(resolves) == 0 {
		r.rt.Fatalf("no audit record of the turn's resolution at %s (records since the step: %+v)", p.Name(), recs[min(r.audits, len(recs)):])
	}
	for _, rec := range resolves {
		outcomes := map[identitymodel.Outcome][]tandem.Outcome{
			identitymodel.OK:            {tandem.OutcomeOK},
			identitymodel.NotConfigured: {tandem.OutcomeNotConfigured},
			identitymodel.Expired:       {tandem.OutcomeExpired, tandem.OutcomeOK}, // ok when the provider's 401 came after the resolution
			identitymodel.Refused:       {tandem.OutcomeRefused},
		}[want.Outcome]
		if !strings.HasPrefix(rec.Actor, actor) || rec.Effective != want.User || rec.Reason != want.Reason || !slices.Contains(outcomes, rec.Outcome) {
			r.rt.Fatalf("audit: actor %s as %q, reason %s, outcome %s; the model says actor %s as %q, reason %s, outcome one of %v",
				rec.Actor, rec.Effective, rec.Reason, rec.Outcome, actor, want.User, want.Reason, outcomes)
		}
	}
}

// auditUntil reads the session's audit trail (auditRecords) until done
// says it holds what the step waits for, or ten seconds pass, and returns
// the last read. A turn's audit records are written in the commit that
// marks it done, just after its reply is posted (its reply is not delayed
// by the write); nothing reaches Slack at that commit, so the trail is read
// again until it shows it.
func (r *modelRun) auditUntil(done func([]tandem.AuditRecord) bool) []tandem.AuditRecord {
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := r.auditRecords()
		if done(recs) || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// auditRecords reads the session's audit trail the way an operator does,
// with tandem audit (through the admin socket of the running binary, or
// from PostgreSQL), and notes how many records it has seen.
func (r *modelRun) auditRecords() []tandem.AuditRecord {
	if r.root == "" {
		return nil
	}
	var out, errs bytes.Buffer
	key := tandem.SessionKey{Team: faultTeam, Channel: channel, ThreadTS: r.root}.String()
	if err := run(ctxFor(r.t), []string{"audit", "--session", key, "--json"}, r.e.getenv, &out, &errs); err != nil {
		r.rt.Fatalf("tandem audit: %v\n%s", err, errs.String())
	}
	var recs []tandem.AuditRecord
	dec := json.NewDecoder(&out)
	for dec.More() {
		var rec tandem.AuditRecord
		if err := dec.Decode(&rec); err != nil {
			r.rt.Fatalf("tandem audit --json: %v", err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// rememberButton keeps the sender's private Connect link of this step.
func (r *modelRun) rememberButton(sender string, p tandem.ProviderID) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	from := r.msgs
	m, err := r.e.slack.WaitForMessage(ctx, func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == sender && r.index(m) >= from && strings.Contains(string(m.Blocks), "/connect/"+string(p))
	})
	if err != nil {
		r.rt.Fatalf("no private Connect link for %s: %v", sender, err)
	}
	r.buttons[sender] = rerunButton{p: p, url: buttonURL(r.t, m.Blocks, "/connect/"+string(p))}
}

// message sends sender's read at p, or a change when change is set and p
// has one, and checks the turn against the model.
func (r *modelRun) message(sender string, p tandem.ProviderID, change bool) {
	text := modelReads[p]
	body := ""
	if change && p != tandem.Google {
		body = fmt.Sprintf("model-change-%d", r.steps+1)
		text = modelChange(p, body)
	}
	r.step(fmt.Sprintf("%s: %s", sender, text))
	want := r.m.Message(sender, p)
	r.bodies[want.Msg] = body
	r.say(sender, text)
	r.expectTurn(sender, p, want)
	r.checkChange(p, body, want)
}

// ownerLeft is a message of sender at p while the session's owner is
// deactivated in Slack or, leftChannel, no longer in the session's channel
// (back again when the step ends): an editor of a persistent session, who
// would act as the owner, is refused and reaches no provider; any other
// message runs as the model says.
func (r *modelRun) ownerLeft(sender string, p tandem.ProviderID, leftChannel bool) {
	owner := r.m.Owner
	where, refusal := "the workspace", "left the workspace: nothing runs as them any more"
	// Someone not in a channel cannot post in it: the owner's own message
	// is sent while they are deactivated instead.
	if leftChannel && sender != owner {
		where, refusal = "the channel", "is no longer in this channel: nothing runs as them here"
		var stay []string
		for _, u := range append([]string{r.e.slack.BotUserID()}, modelUsers...) {
			if u != owner {
				stay = append(stay, u)
			}
		}
		r.e.slack.AddChannel(fakeslack.Channel{ID: channel, Name: "shared", Creator: "UALICE", Members: stay})
		defer r.e.slack.AddChannel(fakeslack.Channel{ID: channel, Name: "shared", Creator: "UALICE"})
	} else {
		if !r.e.slack.SetDeleted(owner, true) {
			r.rt.Fatalf("the fake Slack does not know the owner %s", owner)
		}
		defer r.e.slack.SetDeleted(owner, false)
	}
	if user, reason := r.m.Identity(sender); reason != tandem.ReasonPersistentOwner || user == sender {
		r.op = "ownerLeft: a message that does not act as the owner"
		r.message(sender, p, false)
		return
	}
	text := modelReads[p]
	r.step(fmt.Sprintf("%s: %s, while the owner %s left %s", sender, text, owner, where))
	r.m.Wrote(sender)
	r.say(sender, text)
	r.threadPost(refusal)
	r.checkRequests(nil)
	r.checkButtons("")
	// The audit says the turn was refused, acting as nobody.
	r.checkAudit(sender, p, identitymodel.Expect{Outcome: identitymodel.Refused, Reason: tandem.ReasonPersistentOwner})
}

// checkChange fails unless the change body reached p exactly once, as the
// model's login, when the turn ran, and never otherwise.
func (r *modelRun) checkChange(p tandem.ProviderID, body string, want identitymodel.Expect) {
	if body == "" {
		return
	}
	var authors []string
	switch p {
	case tandem.GitHub:
		for _, c := range r.e.gh.Comments() {
			if strings.TrimSpace(c.Body) == body {
				authors = append(authors, c.AuthorLogin)
			}
		}
	case tandem.GitLab:
		for _, n := range r.e.gl.Notes() {
			if strings.TrimSpace(n.Body) == body {
				authors = append(authors, n.AuthorLogin)
			}
		}
	case tandem.Jira:
		for _, c := range r.e.jira.Comments() {
			if strings.TrimSpace(c.Body) == body {
				authors = append(authors, c.Login)
			}
		}
	}
	switch {
	case want.Outcome == identitymodel.OK && (len(authors) != 1 || authors[0] != want.Login):
		r.rt.Fatalf("change %s at %s made by %v, want once by %s", body, p.Name(), authors, want.Login)
	case want.Outcome != identitymodel.OK && len(authors) > 0:
		r.rt.Fatalf("change %s at %s made by %v, but the model refuses the turn", body, p.Name(), authors)
	}
}

// The paths a person connects through, besides a failed message's button.
const (
	viaSlash = "/connect"
	viaHome  = "the App Home"
	viaDM    = "the DM's Reconnect" // of a link that died; /connect when there is none
)

// connect links user's account at p through via, Sign in with Slack and
// the provider, as a person does, and checks the re-runs of the messages
// that waited for it.
func (r *modelRun) connect(user string, p tandem.ProviderID, alt bool, via string) {
	login := account(user, p, alt)
	u := ""
	if via == viaDM {
		if u = r.dmLink(user, p); u == "" {
			via = viaSlash
		}
	}
	r.step(fmt.Sprintf("%s connects %s as %s through %s", user, p.Name(), login, via))
	r.ops["connect through "+via]++
	switch via {
	case viaSlash:
		ack, err := r.e.slack.SendSlashCommand(ctxFor(r.t), fakeslack.SlashCommand{Command: "/connect", Text: string(p), UserID: user, ChannelID: channel})
		if err != nil {
			r.rt.Fatalf("/connect: %v", err)
		}
		u = buttonURL(r.t, ack, "/connect/"+string(p))
	case viaHome:
		u = r.homeLink(user, p)
	}
	reruns := r.m.Connect(user, p, login)
	r.openLink(user, p, login, u)
	r.noteLinked(p, login)
	r.expectReruns(user, p, login, reruns)
}

// homeLink opens user's App Home and returns the Connect link it shows for
// p.
func (r *modelRun) homeLink(user string, p tandem.ProviderID) string {
	from := len(r.e.slack.Views())
	if _, err := r.e.slack.SendEvent(ctxFor(r.t), r.e.slack.AppHomeOpenedEvent(user)); err != nil {
		r.rt.Fatalf("app_home_opened: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, v := range r.e.slack.Views()[from:] {
			if v.Method == "views.publish" && v.User == user && strings.Contains(string(v.View), "/connect/"+string(p)) {
				if u := buttonURL(r.t, v.View, "/connect/"+string(p)); !r.usedLinks[u] {
					return u
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.rt.Fatalf("no App Home with a Connect %s link for %s", p.Name(), user)
	return ""
}

// dmLink is the newest unused Reconnect link of p that a DM to user
// offered when their link died, or "". A link from before a day passed
// (scheduleDue) has expired and counts as none.
func (r *modelRun) dmLink(user string, p tandem.ProviderID) string {
	msgs := r.e.slack.Messages()
	for i := len(msgs) - 1; i >= r.dayStart; i-- {
		m := msgs[i]
		if m.Method != "chat.postMessage" || m.Channel != "D"+user || !strings.Contains(plain(m), "Reconnect "+p.Name()) {
			continue
		}
		if u := buttonURL(r.t, m.Blocks, "/connect/"+string(p)); !r.usedLinks[u] {
			return u
		}
	}
	return ""
}

// expectReruns waits for the re-runs the model says user's link of login
// at p causes, in order, and checks that each ran once, as that login, or
// told the sender to send it again; and that nothing else ran.
func (r *modelRun) expectReruns(user string, p tandem.ProviderID, login string, reruns []identitymodel.Rerun) {
	var wants [][]string
	runs := 0
	for _, rr := range reruns {
		r.rt.Logf("the link re-runs message %d (runs: %v)", rr.Msg, rr.Run)
		if rr.Run {
			r.ops["re-run ran"]++
			runs++
			wants = append(wants, []string{"ran as <@" + user + ">", p.Name() + ": " + rr.Expect.Login})
		} else {
			r.ops["re-run refused"]++
			wants = append(wants, []string{"send it again"})
		}
	}
	r.threadPostsInOrder(wants)
	r.checkRequests(map[tandem.ProviderID]string{p: login})
	r.checkButtons(user)
	var rerunResolves []tandem.AuditRecord
	r.auditUntil(func(recs []tandem.AuditRecord) bool {
		rerunResolves = nil
		for _, rec := range recs[min(r.audits, len(recs)):] {
			if rec.Action == "resolve" && strings.Contains(rec.TurnID, "/rerun/") {
				rerunResolves = append(rerunResolves, rec)
			}
		}
		return len(rerunResolves) >= len(reruns)
	})
	if len(rerunResolves) != len(reruns) {
		r.rt.Fatalf("%d re-runs resolved an identity, the model says %d: %+v", len(rerunResolves), len(reruns), rerunResolves)
	}
	ran := 0
	for _, rec := range rerunResolves {
		if rec.Outcome == tandem.OutcomeRefused {
			continue
		}
		ran++
		if rec.Actor != user || rec.Effective != user || rec.Reason != tandem.ReasonSender || rec.Provider != p || rec.Outcome != tandem.OutcomeOK {
			r.rt.Fatalf("audit of a re-run: actor %s as %q at %s, reason %s, outcome %s; want %s as themselves at %s, sender, ok", rec.Actor, rec.Effective, rec.Provider, rec.Reason, rec.Outcome, user, p)
		}
	}
	if ran != runs {
		r.rt.Fatalf("%d re-runs ran, the model says %d", ran, runs)
	}
	for _, rr := range reruns {
		want := rr.Expect
		if !rr.Run {
			want = identitymodel.Expect{Outcome: identitymodel.Refused}
		}
		r.checkChange(p, r.bodies[rr.Msg], want)
	}
}

// threadPostsInOrder waits for new visible posts in the thread, one per
// element of wants, in that order, each containing every string of its
// element.
func (r *modelRun) threadPostsInOrder(wants [][]string) {
	if len(wants) == 0 {
		return
	}
	from := r.msgs
	matched := 0
	var posts []string
	ok := func() bool {
		matched, posts = 0, nil
		for _, m := range r.e.slack.Messages()[from:] {
			if m.Method != "chat.postMessage" || m.ThreadTS != r.root {
				continue
			}
			text := plain(m)
			posts = append(posts, strings.ReplaceAll(text, "\n", " | "))
			if matched < len(wants) && containsAll(text, wants[matched]) {
				matched++
			}
		}
		return matched == len(wants)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.rt.Fatalf("%d of %d re-run replies in the thread, want %q; posts since the step began:\n%s", matched, len(wants), wants, strings.Join(posts, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(text string, wants []string) bool {
	for _, w := range wants {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

func (r *modelRun) openLink(user string, p tandem.ProviderID, login, u string) {
	r.usedLinks[u] = true
	status, page := open(r.t, r.e.browserAs(user, login), u)
	if status != 200 || !strings.Contains(page, p.Name()+" account "+login+" is now linked") {
		r.rt.Fatalf("connect %s to %s: %d %s", login, p, status, page)
	}
}

func (r *modelRun) noteLinked(p tandem.ProviderID, login string) {
	if !slices.Contains(r.linked[p], login) {
		r.linked[p] = append(r.linked[p], login)
	}
}

// ownerOr draws the session's owner half the time, anyone otherwise: the
// owner's actions are the ones that share an identity.
func (r *modelRun) ownerOr(rt *rapid.T, user *rapid.Generator[string]) string {
	if rapid.Bool().Draw(rt, "owner") && r.m.Owner != "" {
		return r.m.Owner
	}
	return user.Draw(rt, "user")
}

// relink connects user's other account at p, where user is linked.
func (r *modelRun) relink(user string, p tandem.ProviderID) {
	l, ok := r.m.Link(user, p)
	if !ok {
		r.rt.Skip("not linked")
	}
	r.connect(user, p, l.Login == account(user, p, false), viaSlash)
}

// relinkDuringRefresh sends sender's GitLab read while the access token of
// the account it runs as has expired, holds the turn's refresh at GitLab,
// and meanwhile relinks that identity's person to their other GitLab
// account through /connect (and, with revokeOld, revokes the old grant,
// so that the refresh is refused); then lets the refresh go. The turn
// must stop as relinked, and no request of it may leave with the new
// account's token: every request with it must be the connect flow's own
// look-up of the account (GET /api/v4/user, which the fake records as
// /user).
func (r *modelRun) relinkDuringRefresh(sender string, revokeOld bool) {
	p := tandem.GitLab
	user, l, alt := r.relinkable(sender)
	r.step(fmt.Sprintf("%s: %s, while %s relinks GitLab as %s during the turn's refresh (old grant revoked: %v)", sender, modelReads[p], user, alt, revokeOld))
	r.e.gl.ExpireAccessTokens(l.Login)
	reached, release := r.e.gl.HoldRefreshes()
	defer release()
	want := r.m.MessageRelinked(sender, p, func() {
		r.say(sender, modelReads[p])
		select {
		case <-reached:
		case <-time.After(10 * time.Second):
			r.rt.Fatalf("the turn's token refresh never reached GitLab")
		}
		r.relinkMidTurn(user, p, alt)
		if revokeOld {
			r.revokeAt(p, l.Login)
			r.m.Revoke(p, l.Login)
		}
		release()
	})
	if want.Outcome != identitymodel.Relinked {
		r.rt.Fatalf("the model says %+v for a message it was told runs", want)
	}
	reply := plain(r.threadPost(p.Name()))
	r.checkRelinkedRequests(l.Login, alt)
	if !strings.Contains(reply, "changed to another account") || !strings.Contains(reply, "as "+alt) {
		r.rt.Fatalf("the turn's reply %q does not say that the link changed to %s", reply, alt)
	}
	r.checkButtons(user)
	want.Outcome = identitymodel.OK // the resolution itself succeeded, as the old account
	r.checkAudit(sender, p, want)
}

// relinkable is what a relink in the middle of sender's GitLab turn
// works on: the person whose identity the turn uses, their GitLab link,
// and their other GitLab account. It skips the step when the turn would
// not reach GitLab, or when a relink would re-run a waiting message.
func (r *modelRun) relinkable(sender string) (user string, l identitymodel.Link, alt string) {
	p := tandem.GitLab
	user, reason := r.m.Identity(sender)
	if reason == tandem.ReasonRefusedNotEditor || !r.m.Runs(sender, p) {
		r.rt.Skip("the turn would not reach GitLab")
	}
	if r.m.Waiting(user, p) {
		r.rt.Skip("the relink would re-run waiting messages")
	}
	l, _ = r.m.Link(user, p)
	return user, l, account(user, p, l.Login == account(user, p, false))
}

// relinkMidTurn links user's other account alt at p through /connect
// while a turn of theirs runs: the relink re-runs nothing (the callers
// skip when a message waits).
func (r *modelRun) relinkMidTurn(user string, p tandem.ProviderID, alt string) {
	ack, err := r.e.slack.SendSlashCommand(ctxFor(r.t), fakeslack.SlashCommand{Command: "/connect", Text: string(p), UserID: user, ChannelID: channel})
	if err != nil {
		r.rt.Fatalf("/connect: %v", err)
	}
	if reruns := r.m.Connect(user, p, alt); len(reruns) > 0 {
		r.rt.Fatalf("the model re-runs %d messages on a relink it was told none wait for", len(reruns))
	}
	r.openLink(user, p, alt, buttonURL(r.t, ack, "/connect/"+string(p)))
	r.noteLinked(p, alt)
}

// checkRelinkedRequests fails unless what reached GitLab in the step left
// with old's token (the turn, which started as old) or, with alt's, only
// for the connect flow's own look-up of the account (GET /api/v4/user,
// which the fake records as /user), and nothing reached another provider.
// It returns how many requests left with old's token.
func (r *modelRun) checkRelinkedRequests(old, alt string) int {
	n := 0
	for _, q := range r.e.requests(tandem.GitLab)[r.seen[tandem.GitLab]:] {
		r.e.remember(q.token)
		switch {
		case q.login == alt && q.path != "/user":
			r.rt.Fatalf("GitLab received %s with %s's token, the account linked while the turn ran as %s", q.path, alt, old)
		case q.login != alt && q.login != old && q.token != "":
			r.rt.Fatalf("GitLab received %s with %s's token, want %s (the turn) or %s (the connect flow)", q.path, q.login, old, alt)
		case q.login == old:
			n++
		}
	}
	for _, o := range tandem.Providers {
		if o != tandem.GitLab && len(r.e.requests(o)) > r.seen[o] {
			r.rt.Fatalf("%s received a request in a step that uses only GitLab", o.Name())
		}
	}
	return n
}

// rerun connects from user's latest private Connect button, offered with
// a failed message, which re-runs that message and every other of user's
// waiting for that provider, if the session still gives each the identity
// it was sent with (a message re-run already, through another path, does
// not run again).
func (r *modelRun) rerun(user string) {
	b, ok := r.buttons[user]
	if !ok {
		r.rt.Skip("no Connect button with a re-run")
	}
	delete(r.buttons, user)
	if r.usedLinks[b.url] {
		r.rt.Skip("the button's link was used")
	}
	login := account(user, b.p, false)
	r.step(fmt.Sprintf("%s connects %s as %s from the button of a failed message", user, b.p.Name(), login))
	reruns := r.m.Connect(user, b.p, login)
	r.openLink(user, b.p, login, b.url)
	r.noteLinked(b.p, login)
	r.expectReruns(user, b.p, login, reruns)
}

func (r *modelRun) disconnect(user string, p tandem.ProviderID) {
	r.step(fmt.Sprintf("%s disconnects %s", user, p.Name()))
	if _, err := r.e.slack.SendSlashCommand(ctxFor(r.t), fakeslack.SlashCommand{Command: "/disconnect", Text: string(p), UserID: user, ChannelID: channel}); err != nil {
		r.rt.Fatalf("/disconnect: %v", err)
	}
	l, had := r.m.Link(user, p)
	r.m.Disconnect(user, p)
	allowed := map[tandem.ProviderID]string{}
	if had {
		allowed[p] = l.Login // the revocation of its grant
	}
	r.checkRequests(allowed)
}

// revoke revokes, at the provider, the grant of any account ever linked.
func (r *modelRun) revoke(p tandem.ProviderID) {
	if len(r.linked[p]) == 0 {
		r.rt.Skip("nothing linked at " + p.Name())
	}
	login := rapid.SampledFrom(r.linked[p]).Draw(r.rt, "login")
	r.step(fmt.Sprintf("%s revokes %s's grant", p.Name(), login))
	r.revokeAt(p, login)
	r.m.Revoke(p, login)
}

// revokeAt revokes login's grant at the fake of p.
func (r *modelRun) revokeAt(p tandem.ProviderID, login string) {
	switch p {
	case tandem.GitHub:
		r.e.gh.RevokeGrant(login)
	case tandem.GitLab:
		r.e.gl.RevokeGrant(login)
	case tandem.Jira:
		r.e.jira.RevokeGrant(login)
	case tandem.Google:
		r.e.google.RevokeGrant(login)
	}
}

// expire makes the provider expire the access tokens of an account ever
// linked before the expiry Tandem recorded (GitLab, Jira and Google issue
// expiring tokens with refresh tokens; the model's GitHub app does not).
// The next use refreshes and goes on as the same account, so the model does
// not change; with refuseRefresh the grant is revoked too, the refresh is
// refused, and the link needs reconnecting at its next use.
func (r *modelRun) expire(p tandem.ProviderID, refuseRefresh bool) {
	if len(r.linked[p]) == 0 {
		r.rt.Skip("nothing linked at " + p.Name())
	}
	login := rapid.SampledFrom(r.linked[p]).Draw(r.rt, "login")
	what := "expires"
	if refuseRefresh {
		what = "expires and will refuse to refresh"
	}
	r.step(fmt.Sprintf("%s %s %s's access tokens", p.Name(), what, login))
	switch p {
	case tandem.GitLab:
		r.e.gl.ExpireAccessTokens(login)
	case tandem.Jira:
		r.e.jira.ExpireAccessTokens(login)
	case tandem.Google:
		r.e.google.ExpireAccessTokens(login)
	}
	if refuseRefresh {
		r.revokeAt(p, login)
		r.m.Revoke(p, login)
	}
}

func isAdmin(user string) bool { return user == "UDAVE" || user == "UALICE" }

// control sends a session control and checks the answer the model gives.
func (r *modelRun) control(actor, text string) {
	r.step(actor + ": " + text)
	admin := isAdmin(actor)
	r.m.Wrote(actor)
	owner := r.m.Owner
	var ok bool
	var wants []string
	switch {
	case strings.HasPrefix(text, "set "):
		was := r.m.Mode
		ok = r.m.SetPersistent(actor, admin)
		switch {
		case ok && was == identitymodel.Persistent:
			wants = []string{"already persistent"}
		case ok && actor == owner && r.m.Mode == identitymodel.Pending:
			wants = []string{"Confirm who may act as you"}
		case ok && actor == owner:
			wants = []string{"every turn now runs as the owner"}
		case ok:
			wants = []string{"Waiting for the owner's approval"}
		}
	case strings.HasPrefix(text, "unset "):
		was := r.m.Mode
		ok = r.m.Unset(actor, admin)
		if ok && was == identitymodel.PerMessage {
			wants = []string{"already runs every message as its sender"}
		} else if ok {
			wants = []string{"every turn runs as its sender"}
		}
	case strings.HasPrefix(text, "editors add "):
		who := mentioned(strings.TrimPrefix(text, "editors add "))
		wasEditor := r.m.Editors[who] || who == owner
		ok = r.m.EditorsAdd(actor, admin, who)
		switch {
		case ok && r.m.PendingEditors[who]:
			wants = []string{"waits for <@" + owner + ">'s approval"}
		case ok && wasEditor:
			wants = []string{"<@" + who + ">"}
		case ok:
			wants = []string{"added <@" + who + ">"}
		}
	case strings.HasPrefix(text, "editors remove "):
		who := mentioned(strings.TrimPrefix(text, "editors remove "))
		if who == owner {
			ok = actor == owner || admin
			if ok {
				wants = []string{"always an editor"}
			}
			break
		}
		ok = r.m.EditorsRemove(actor, admin, who)
		if ok {
			wants = []string{"removed <@" + who + ">"}
		}
	}
	if !ok {
		wants = []string{"Only <@" + owner + ">"}
	}
	r.say(actor, text)
	r.threadPost(wants...)
	r.checkRequests(nil)
	r.checkButtons("")
}

// consent is the owner's press on the newest request to share their
// identity (Approve or Decline).
func (r *modelRun) consent(approve bool) {
	if r.m.Mode != identitymodel.Pending {
		r.rt.Skip("nothing pending")
	}
	owner := r.m.Owner
	dm := r.newestDM(owner, "to turn on KEEP_CREDENTIALS_PERSISTENT")
	action := "consent_decline"
	if approve {
		action = "consent_approve"
	}
	r.step(fmt.Sprintf("%s presses %s", owner, action))
	r.pressValue(owner, dm, action, r.buttonValue(dm, action))
	if approve {
		r.m.Approve()
		r.threadPost("every turn now runs as the owner")
	} else {
		r.m.Decline()
		r.threadPost("The owner declined")
	}
	r.checkRequests(nil)
}

// editorConsent is the owner's press on the newest request to add an
// editor that a channel admin made.
func (r *modelRun) editorConsent(approve bool) {
	var who string
	for _, u := range modelUsers {
		if r.m.PendingEditors[u] {
			who = u
		}
	}
	if who == "" {
		r.rt.Skip("no editor waits for the owner")
	}
	owner := r.m.Owner
	dm := r.newestDM(owner, "act as you in")
	var value string
	if m := regexp.MustCompile(`"value":"([^"]*/` + who + `)"`).FindStringSubmatch(string(dm.Blocks)); m != nil {
		value = m[1]
	}
	if !strings.HasSuffix(value, "/"+who) {
		// The newest request names another editor: press that one's.
		r.rt.Skip("the newest editor request is for someone else")
	}
	action := "editor_decline"
	if approve {
		action = "editor_approve"
	}
	r.step(fmt.Sprintf("%s presses %s for %s", owner, action, who))
	r.pressValue(owner, dm, action, value)
	if approve {
		r.m.ApproveEditor(who)
		r.threadPost("approved <@" + who + ">")
	} else {
		r.m.DeclineEditor(who)
		r.threadPost("declined <@" + who + ">")
	}
	r.checkRequests(nil)
}

// consentOld is the owner's press on the message of a request to share
// their identity that a later request replaced: it answers nothing (the
// later request may show other editors), and says so in the message.
func (r *modelRun) consentOld(approve bool) {
	owner := r.m.Owner
	var asks []fakeslack.Message
	for _, m := range r.e.slack.Messages() {
		if m.Method == "chat.postMessage" && m.Channel == "D"+owner && strings.Contains(plain(m), "to turn on KEEP_CREDENTIALS_PERSISTENT") {
			asks = append(asks, m)
		}
	}
	if len(asks) < 2 {
		r.rt.Skip("no request was replaced")
	}
	dm := asks[rapid.IntRange(0, len(asks)-2).Draw(r.rt, "older")]
	action := "consent_decline"
	if approve {
		action = "consent_approve"
	}
	r.step(fmt.Sprintf("%s presses %s on a replaced request (%s)", owner, action, dm.TS))
	r.pressValue(owner, dm, action, r.buttonValue(dm, action))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The fake offers every message once, in order: i is m's position.
	// (The DM may have been answered before, with an update of the same
	// TS: only one made since the step began counts.)
	i := -1
	if _, err := r.e.slack.WaitForMessage(ctx, func(m fakeslack.Message) bool {
		i++
		return i >= r.msgs && m.Method == "chat.update" && m.TS == dm.TS && strings.Contains(plain(m), "Nothing changed")
	}); err != nil {
		r.rt.Fatalf("the press on a replaced request was not answered with \"Nothing changed\": %v", err)
	}
	r.checkRequests(nil)
}

// settingsDuringTurn is a message of a sender whose search reaches GitHub
// (drawn among them), whose turn is still running,
// its GitHub search held, when actor turns persistent mode on in the
// session settings modal, which acts outside the session's turns. The
// turn keeps the identity it started with; its sender joins the editors
// only if the session still runs each message as its sender when the turn
// ends (identitymodel.MessageAcross), which later steps check.
func (r *modelRun) settingsDuringTurn(actor string) {
	var senders []string
	for _, u := range modelUsers {
		if u != r.m.Owner && r.m.Runs(u, tandem.GitHub) {
			senders = append(senders, u)
		}
	}
	if r.m.Mode != identitymodel.PerMessage || len(senders) == 0 {
		r.rt.Skip("the race needs a per-message session and a sender whose search reaches GitHub")
	}
	sender := rapid.SampledFrom(senders).Draw(r.rt, "sender")
	text := modelReads[tandem.GitHub]
	r.step(fmt.Sprintf("%s: %s, and %s turns persistent mode on in the settings modal while it runs", sender, text, actor))
	r.settle()
	meta := r.openSettings(actor)
	answered, release := r.e.gh.HoldSearches()
	defer release()
	owner, admin := r.m.Owner, isAdmin(actor)
	allowed := false
	want := r.m.MessageAcross(sender, tandem.GitHub, func() { allowed = r.m.SavePersistent(actor, admin) })
	r.say(sender, text)
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		r.rt.Fatalf("%s's search never reached GitHub", sender)
	}
	// The turn's sender joins the editors only when the turn ends, so the
	// list the modal showed is still the stored one.
	r.saveSettings(actor, meta, allowed, actor == owner, identitymodel.PerMessage)
	release()
	r.expectTurn(sender, tandem.GitHub, want)
}

// settingsAfterWrite is actor opening Session settings, writer's message
// in the thread, and then actor's Save of persistent mode in the modal
// opened before it. When the owner saves and the message made its writer
// an editor, the Save is refused in the modal: the owner would share
// their identity with someone the modal did not show.
func (r *modelRun) settingsAfterWrite(actor, writer string, p tandem.ProviderID) {
	r.step(actor + " opens Session settings")
	// Earlier turns write their senders as editors just after their
	// replies: the modal must show the list the model has.
	r.settle()
	meta := r.openSettings(actor)
	before := maps.Clone(r.m.Editors)
	r.message(writer, p, false)
	owner, was := r.m.Owner, r.m.Mode
	r.step(actor + " saves persistent mode in the modal opened before " + writer + "'s message")
	if actor == owner && was != identitymodel.Persistent && !maps.Equal(before, r.m.Editors) {
		ack := r.submitSettings(actor, meta)
		if !strings.Contains(ack, "The editors changed since you opened this") {
			r.rt.Fatalf("the owner's Save after %s joined the editors was not refused: %s", writer, ack)
		}
		r.checkRequests(nil)
		return
	}
	allowed := r.m.SavePersistent(actor, isAdmin(actor))
	r.saveSettings(actor, meta, allowed, actor == owner, was)
	r.checkRequests(nil)
}

// openSettings opens the Session settings modal as user from the thread's
// first message and returns its private metadata.
func (r *modelRun) openSettings(user string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, meta, err := openSettingsModal(ctx, r.e.slack, fakeslack.ShortcutSpec{UserID: user, ChannelID: channel, MessageTS: r.root, ThreadTS: r.root, MessageUser: r.m.Owner})
	if err != nil {
		r.rt.Fatal(err)
	}
	return meta
}

// submitSettings submits, as user, the Session settings modal whose
// private metadata is meta with persistent mode chosen, and returns the
// acknowledgement.
func (r *modelRun) submitSettings(user, meta string) string {
	ack, err := submitPersistent(ctxFor(r.t), r.e.slack, user, meta)
	if err != nil {
		r.rt.Fatalf("submit Session settings: %v", err)
	}
	return ack
}

// saveSettings submits persistent mode as actor and checks what follows,
// given whether the model allowed it, whether actor owns the session and
// the mode before.
func (r *modelRun) saveSettings(actor, meta string, allowed, owner bool, was identitymodel.Mode) {
	ack := r.submitSettings(actor, meta)
	switch {
	case !allowed:
		if !strings.Contains(ack, "Only the session owner or a channel admin") {
			r.rt.Fatalf("%s's submission was not refused in the modal: %s", actor, ack)
		}
	case was == identitymodel.Persistent:
		r.threadPost("already persistent")
	case owner:
		r.threadPost("every turn now runs as the owner")
	default:
		r.threadPost("Waiting for the owner's approval")
	}
}

// buttonValue is the value of the button action in m.
func (r *modelRun) buttonValue(m fakeslack.Message, action string) string {
	v, err := findButtonValue(m.Blocks, action)
	if err != nil {
		r.rt.Fatal(err)
	}
	return v
}

func (r *modelRun) newestDM(user, containing string) fakeslack.Message {
	msgs := r.e.slack.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Channel == "D"+user && strings.Contains(plain(msgs[i]), containing) {
			return msgs[i]
		}
	}
	r.rt.Fatalf("no DM to %s containing %q", user, containing)
	return fakeslack.Message{}
}

func (r *modelRun) pressValue(user string, dm fakeslack.Message, action, value string) {
	payload := r.e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: user, ChannelID: dm.Channel, MessageTS: dm.TS, ActionID: action, Value: value})
	if _, err := r.e.slack.SendInteraction(ctxFor(r.t), payload); err != nil {
		r.rt.Fatalf("press %s: %v", action, err)
	}
}

// apiTurn runs a read through creator's API key in the thread.
// keyOf is creator's API key, made with /tandem apikey create the first
// time.
func (r *modelRun) keyOf(creator string) string {
	key, ok := r.keys[creator]
	if !ok {
		ack, err := r.e.slack.SendSlashCommand(ctxFor(r.t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey create model", UserID: creator, ChannelID: channel})
		if err != nil {
			r.rt.Fatalf("/tandem apikey create: %v", err)
		}
		key = keyRe.FindString(string(ack))
		if key == "" {
			r.rt.Fatalf("no key in %s", ack)
		}
		r.e.remember(key)
		r.keys[creator] = key
	}
	return key
}

func (r *modelRun) apiTurn(creator string, p tandem.ProviderID) {
	key := r.keyOf(creator)
	r.step(fmt.Sprintf("API key of %s: %s", creator, modelReads[p]))
	r.checkAPITurn(key, creator, p)
}

// checkAPITurn posts a read at p with key, creator's, and checks it
// against the model.
func (r *modelRun) checkAPITurn(key, creator string, p tandem.ProviderID) {
	want := r.m.APITurn(creator, p)
	code, err := r.apiMessage(key, modelReads[p])
	if err != nil {
		r.rt.Fatalf("API: %v", err)
	}
	switch want.Outcome {
	case identitymodel.OK:
		if code != "" {
			r.rt.Fatalf("API turn of %s's key: %s, want ok as %s", creator, code, want.Login)
		}
		r.checkRequests(map[tandem.ProviderID]string{p: want.Login})
	case identitymodel.NotConfigured:
		if code != "credentials_not_configured" {
			r.rt.Fatalf("API turn of %s's key: %q, want credentials_not_configured", creator, code)
		}
		r.checkRequests(nil)
	case identitymodel.Expired:
		if code != "credentials_expired" {
			r.rt.Fatalf("API turn of %s's key: %q, want credentials_expired", creator, code)
		}
		l, _ := r.m.Link(creator, p)
		r.checkRequests(map[tandem.ProviderID]string{p: l.Login})
	}
	r.checkButtons(creator)
	r.checkAudit("apikey:", p, want)
}

// operatorKey: an operator makes an API key for person (tandem apikey
// create --user, through the running server when it answers). Until
// person allows it, a read with it is refused (key_pending) and reaches
// no provider, and presser's press of Allow (or /tandem apikey approve)
// changes nothing unless presser is person. Then person allows it, and it
// acts as person as the model says; or person declines, and it is revoked.
func (r *modelRun) operatorKey(person, presser string, p tandem.ProviderID, allow bool) {
	name := fmt.Sprintf("op-%d", r.steps+1)
	r.step(fmt.Sprintf("an operator makes API key %s for %s; %s tries to allow it; %s %s it; then %s", name, person, presser, person, map[bool]string{true: "allows", false: "declines"}[allow], modelReads[p]))
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(r.t), []string{"apikey", "create", "--user", person, "--name", name}, r.e.getenv, &stdout, &stderr); err != nil {
		r.rt.Fatalf("tandem apikey create --user %s: %v\n%s", person, err, stderr.String())
	}
	key := strings.TrimSpace(stdout.String())
	r.e.remember(key)
	prefix := key[:len("tdm_")+8]
	pending := func(after string) {
		code, err := r.apiMessage(key, modelReads[p])
		if err != nil || code != "key_pending" {
			r.rt.Fatalf("the operator's key for %s %s: %q, %v; want key_pending", person, after, code, err)
		}
		r.checkRequests(nil)
	}
	pending("before anyone allowed it")
	// Allow and Decline on the direct message Tandem sent person, when the
	// command reached a running server; else the command person types.
	var dm *fakeslack.Message
	if strings.Contains(stderr.String(), "by direct message") {
		m, err := r.e.slack.WaitForMessage(ctxFor(r.t), func(m fakeslack.Message) bool {
			return m.Channel == "D"+person && strings.Contains(plain(m), prefix) && strings.Contains(plain(m), "An operator made an API key")
		})
		if err != nil {
			r.rt.Fatalf("%s was not asked to allow %s: %v", person, prefix, err)
		}
		dm = &m
	}
	answer := func(user string, allow bool) {
		if dm != nil {
			action := map[bool]string{true: "apikey_allow", false: "apikey_decline"}[allow]
			r.pressValue(user, *dm, action, prefix)
			return
		}
		verb := map[bool]string{true: "approve", false: "revoke"}[allow]
		if _, err := r.e.slack.SendSlashCommand(ctxFor(r.t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey " + verb + " " + prefix, UserID: user, ChannelID: channel}); err != nil {
			r.rt.Fatalf("/tandem apikey %s: %v", verb, err)
		}
	}
	if presser != person {
		answer(presser, true)
		if dm != nil {
			// A press is answered after its ack: wait for the refusal.
			r.waitLogged(`"msg":"key approval refused"`, `"key":"`+prefix+`"`, `"user":"`+presser+`"`)
		}
		pending("after " + presser + " tried to allow it")
	}
	answer(person, allow)
	if dm != nil {
		want := map[bool]string{true: "Allowed: API key `" + prefix, false: "Declined: API key `" + prefix}[allow]
		if _, err := r.e.slack.WaitForMessage(ctxFor(r.t), func(m fakeslack.Message) bool {
			return m.Method == "chat.update" && m.Channel == "D"+person && strings.Contains(plain(m), want)
		}); err != nil {
			r.rt.Fatalf("%s's press did not answer %q: %v", person, want, err)
		}
	}
	if !allow {
		// A revoked key counts as a refused one: after several in a
		// window the address is slowed down (too_many_attempts), which
		// refuses it as well.
		code, err := r.apiMessage(key, modelReads[p])
		if err != nil || code != "key_revoked" && code != "too_many_attempts" {
			r.rt.Fatalf("the operator's key %s declined: %q, %v; want key_revoked", person, code, err)
		}
		r.checkRequests(nil)
		return
	}
	r.checkAPITurn(key, person, p)
}

// waitLogged waits until a running binary logged a line holding each of
// parts.
func (r *modelRun) waitLogged(parts ...string) {
	has := func(logs string) bool {
		for _, line := range strings.Split(logs, "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		for _, p := range r.procs {
			if has(p.logs.String()) {
				return
			}
		}
		if has(r.e.logs.String()) {
			return
		}
		if time.Now().After(deadline) {
			r.rt.Fatalf("no binary logged a line with %q", parts)
		}
	}
}

// apiMessage posts text into the model's thread through the HTTP API
// with key, and returns the error code of the answer ("" when it is ok).
func (r *modelRun) apiMessage(key, text string) (string, error) {
	body, _ := json.Marshal(map[string]string{"channel": channel, "thread_ts": r.root, "text": text})
	req, _ := http.NewRequest(http.MethodPost, r.e.public+"/api/v1/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		OK    bool `json:"ok"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("decode the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	switch {
	case out.Error != nil:
		return out.Error.Code, nil
	case !out.OK:
		return "not ok, without an error", nil
	}
	return "", nil
}

// apiKeyRevokedWhileQueued holds a message's GitHub search, so that its
// session is busy, sends an API request of creator's key into the thread
// (it waits behind the message), revokes the key with /tandem apikey
// revoke once the request is recorded (or, leavesChannel, takes creator
// out of the channel), and lets the search go. The message runs as the
// model says; the API turn must then be refused (403 forbidden, or
// channel_not_allowed), with nothing of it reaching GitHub and no
// resolution of it audited: revoking a key withdraws the consent it
// carried, also for the requests already waiting, and a key acts only in
// conversations its creator is in when its turn runs.
func (r *modelRun) apiKeyRevokedWhileQueued(creator string, leavesChannel bool) {
	var senders []string
	for _, u := range modelUsers {
		if r.m.Runs(u, tandem.GitHub) {
			senders = append(senders, u)
		}
	}
	if len(senders) == 0 {
		r.rt.Skip("a busy session needs a message whose search reaches GitHub")
	}
	sender := rapid.SampledFrom(senders).Draw(r.rt, "sender")
	key := r.keyOf(creator)
	text := modelReads[tandem.GitHub]
	r.step(fmt.Sprintf("%s: %s, held at GitHub; meanwhile an API request of %s's key waits behind it, and %s revokes the key", sender, text, creator, creator))
	r.settle()
	answered, release := r.e.gh.HoldSearches()
	defer release()
	want := r.m.Message(sender, tandem.GitHub)
	r.say(sender, text)
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		r.rt.Fatalf("%s's search never reached GitHub", sender)
	}
	from := r.e.logs.Len()
	code := make(chan string, 1)
	go func() {
		got, err := r.apiMessage(key, text)
		switch {
		case err != nil:
			got = "request failed: " + err.Error()
		case got == "":
			got = "ok"
		}
		code <- got
	}()
	prefix := key[:strings.Index(key[4:], "_")+4]
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.e.logs.From(from), `"api_key":"`+prefix+`"`); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.rt.Fatalf("the API request of %s's key (%s) was never recorded", creator, prefix)
		}
	}
	wantCode := "forbidden"
	if leavesChannel {
		// Slack's word that the creator is a member holds for 5 s after
		// the call asked (turns.creatorFresh): the turn is let go after
		// that, so that it asks again.
		recorded := time.Now() // after the call asked Slack
		defer r.e.slack.AddChannel(fakeslack.Channel{ID: channel, Name: "shared", Creator: "UALICE"})
		wait := time.Until(recorded.Add(5*time.Second + 100*time.Millisecond))
		wantCode = "channel_not_allowed"
		var stay []string
		for _, u := range append([]string{r.e.slack.BotUserID()}, modelUsers...) {
			if u != creator {
				stay = append(stay, u)
			}
		}
		r.e.slack.AddChannel(fakeslack.Channel{ID: channel, Name: "shared", Creator: "UALICE", Members: stay})
		time.Sleep(wait)
	} else {
		ack, err := r.e.slack.SendSlashCommand(ctxFor(r.t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey revoke " + prefix, UserID: creator, ChannelID: channel})
		if err != nil || !strings.Contains(strings.ToLower(string(ack)), "revoked") {
			r.rt.Fatalf("/tandem apikey revoke %s: %s, %v", prefix, ack, err)
		}
		delete(r.keys, creator)
	}
	release()
	r.expectTurn(sender, tandem.GitHub, want) // checks every request of the step: none as anyone else
	select {
	case got := <-code:
		if got != wantCode {
			r.rt.Fatalf("the waiting API request of a key revoked meanwhile (or whose creator left the channel: %v) answered %q, want %s", leavesChannel, got, wantCode)
		}
	case <-time.After(30 * time.Second):
		r.rt.Fatalf("the waiting API request of a key revoked meanwhile never answered")
	}
	searches := 0
	for _, q := range r.e.requests(tandem.GitHub)[r.seen[tandem.GitHub]:] {
		if strings.HasPrefix(q.path, "/search/") {
			searches++
		}
	}
	if want.Outcome == identitymodel.OK && searches != 1 || want.Outcome != identitymodel.OK && searches != 0 {
		r.rt.Fatalf("GitHub received %d searches in a step whose only turn that may search is %s's (%v)", searches, sender, want.Outcome)
	}
	for _, rec := range r.auditRecords()[r.audits:] {
		if strings.HasPrefix(rec.Actor, "apikey:") && rec.Action == "resolve" {
			r.rt.Fatalf("the revoked key's waiting turn resolved %s's credentials: %+v", creator, rec)
		}
	}
}

// standup asks for the sender's standup, which uses every provider.
func (r *modelRun) standup(sender string) {
	r.step(sender + ": standup")
	r.m.Wrote(sender)
	user, reason := r.m.Identity(sender)
	r.say(sender, "standup")
	if reason == tandem.ReasonRefusedNotEditor {
		r.threadPost("not on its editors list")
		r.checkRequests(nil)
		r.checkButtons("")
		return
	}
	allowed := map[tandem.ProviderID]string{}
	wants := map[tandem.ProviderID]identitymodel.Expect{}
	missing := false
	for _, p := range tandem.Providers {
		l, ok := r.m.Link(user, p)
		if ok {
			allowed[p] = l.Login
		}
		missing = missing || !ok || l.Dead
		wants[p] = r.m.Use(user, p, reason)
	}
	r.threadPost("ran as <@" + user + ">")
	if missing {
		// The Connect buttons for what the identity lacks come after the
		// reply, privately, to that identity.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		from := r.msgs
		if _, err := r.e.slack.WaitForMessage(ctx, func(m fakeslack.Message) bool {
			return m.Method == "chat.postEphemeral" && r.index(m) >= from && strings.Contains(plain(m), "Connect the rest")
		}); err != nil {
			r.rt.Fatalf("no Connect buttons for what %s lacks: %v", user, err)
		}
	}
	r.checkRequests(allowed)
	r.checkButtons(user)
	for _, p := range tandem.Providers {
		r.checkAudit(sender, p, wants[p])
	}
}

// session asks @tandem session: the report names the identity turns use,
// and Connect offers go only to people whose own accounts turns use: the
// owner in a persistent session (and only when someone who may act asks),
// otherwise the owner and editors, each for their own.
func (r *modelRun) session(asker string) {
	r.step(asker + ": session")
	r.m.Wrote(asker)
	r.say(asker, "session")
	owner := r.m.Owner
	var allowed []string
	if r.m.Mode == identitymodel.Persistent {
		r.threadPost("Owner: <@"+owner+">", "persistent: every turn runs as <@"+owner+">")
		if _, reason := r.m.Identity(asker); reason != tandem.ReasonRefusedNotEditor {
			allowed = []string{owner}
		}
	} else {
		r.threadPost("Owner: <@"+owner+">", "per-message: every message runs as its sender")
		allowed = append([]string{owner}, slices.Collect(maps.Keys(r.m.Editors))...)
	}
	r.checkRequests(nil)
	r.checkButtonsTo(allowed)
}

// restart stops a replica with SIGTERM, as an orchestrator does, and
// starts it again; nothing is running between steps.
func (r *modelRun) restart(i int) {
	r.step(fmt.Sprintf("SIGTERM replica %d and start it again", i+1))
	if code, ok := r.procs[i].terminate(30 * time.Second); !ok || code != 0 {
		r.rt.Fatalf("replica %d after SIGTERM: exit %d, in time %v", i+1, code, ok)
	}
	r.procs[i] = r.e.startProc(r.addrs[i])
}

// killDuringTurn sends sender's message at GitHub while GitHub is slow, and
// kills replica i with SIGKILL as soon as Slack has the acknowledgement, so
// that the kill usually lands while the turn runs. On one process the
// restarted binary finishes the turn; with replicas, a surviving one takes
// it over when its lease runs out, and the killed one comes back after.
// Either way the turn must run as the model says: a read is answered, a
// change is made at most once, as the model's login, or reported as
// interrupted.
func (r *modelRun) killDuringTurn(i int, sender string, change bool) {
	text := modelReads[tandem.GitHub]
	body := ""
	if change {
		body = fmt.Sprintf("model-change-%d", r.steps+1)
		text = modelChange(tandem.GitHub, body)
	}
	r.step(fmt.Sprintf("%s: %s, and replica %d killed during the turn", sender, text, i+1))
	r.settle()
	want := r.m.Message(sender, tandem.GitHub)
	r.bodies[want.Msg] = body
	r.e.gh.SetLatency(300 * time.Millisecond)
	r.say(sender, text)
	r.procs[i].kill()
	r.e.gh.SetLatency(0)
	if len(r.procs) == 1 {
		r.procs[i] = r.e.startProc(r.addrs[i])
	}
	interrupted := false
	if change {
		// A change cut off while running is not run again: the restarted
		// binary says it may or may not have been carried out. That holds
		// whatever the turn would have met (it cannot know how far it got).
		post := r.threadPost()
		interrupted = strings.Contains(plain(post), interruptedTitle)
		// The killed binary's comment may still be in GitHub's latency:
		// it lands in this step, and is checked as this step's.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.e.gh.WaitIdle(ctx); err != nil {
			r.rt.Fatalf("GitHub still answers a request 10 s after the kill: %v", err)
		}
	}
	if interrupted {
		r.checkCutOff(sender, want)
	} else {
		r.expectTurn(sender, tandem.GitHub, want)
	}
	if len(r.procs) > 1 {
		r.procs[i] = r.e.startProc(r.addrs[i])
	}
	if !interrupted {
		r.checkChange(tandem.GitHub, body, want)
		return
	}
	// Made once as the model's login, or not at all.
	for _, c := range r.e.gh.Comments() {
		if strings.TrimSpace(c.Body) == body && (want.Outcome != identitymodel.OK || c.AuthorLogin != want.Login) {
			r.rt.Fatalf("interrupted change %s made as %s; the model says %+v", body, c.AuthorLogin, want)
		}
	}
}

// checkCutOff checks a GitHub turn of sender that a kill or a stall may
// have cut off, whose result may never come: what reached GitHub carried
// the model's account, and Connect links went only to the model's identity
// (the cut may land after the turn offered one). A wait for a connect the
// turn did not record before it was cut off never comes, and nothing
// promised it: the model forgets it.
func (r *modelRun) checkCutOff(sender string, want identitymodel.Expect) {
	r.checkGitHubAs(want)
	if r.m.Waiting(sender, tandem.GitHub) && !r.recordedWait(sender) {
		r.m.Forget(sender, want.Msg)
	}
}

// checkGitHubAs fails unless what reached GitHub in the step carried the
// account want gives, and Connect links went only to want's identity.
func (r *modelRun) checkGitHubAs(want identitymodel.Expect) {
	allowed := map[tandem.ProviderID]string{}
	switch want.Outcome {
	case identitymodel.OK:
		allowed[tandem.GitHub] = want.Login
	case identitymodel.Expired:
		l, _ := r.m.Link(want.User, tandem.GitHub)
		allowed[tandem.GitHub] = l.Login
	}
	r.checkRequests(allowed)
	r.checkButtons(want.User)
}

// modelLeaseTTL is TANDEM_LEASE_TTL with replicas: short, so that a
// killed or stalled replica's sessions are taken over within a step.
const modelLeaseTTL = 2 * time.Second

// turnLeftToLeaseHolder is what a replica logs when it leaves a turn to
// the replica that took its session over (bot.runTurn).
const turnLeftToLeaseHolder = "turn left to the session's new lease holder"

// stallDuringTurn sends sender's message at GitHub while GitHub is slow,
// and stops the replica that recorded it (SIGSTOP) delay after that, for
// twice the session lease's time to live, then lets it go on (SIGCONT): a
// stall, not a crash. Another replica takes the session over when the
// lease runs out. The stalled one, going on, must not make a change its
// taker may be making: a change is made at most once, as the model's
// login, and the thread gets its result, the interrupted notice (the
// taker found it running), or both; a read may be answered by both, each
// time as the model's identity. With removeSender (for a sender who is
// not the owner), the owner removes the sender from the editors once
// another replica has finished the turn, while the stalled one is still
// stopped: what the stalled one writes when it goes on (its done step
// would add a per-message session's sender as an editor) must not put
// them back.
func (r *modelRun) stallDuringTurn(sender string, change bool, delay time.Duration, removeSender bool) {
	text := modelReads[tandem.GitHub]
	body := ""
	if change {
		body = fmt.Sprintf("model-change-%d", r.steps+1)
		text = modelChange(tandem.GitHub, body)
	}
	if removeSender && sender != r.m.Owner && (r.m.Editors[sender] || r.m.PendingEditors[sender]) {
		// Only a sender who is no editor yet becomes one at the end of
		// their turn, which the stalled replica may write late.
		r.control(r.m.Owner, "editors remove <@"+sender+">")
	}
	r.step(fmt.Sprintf("%s: %s, and the replica that records it stalled %s later", sender, text, delay))
	r.settle()
	want := r.m.Message(sender, tandem.GitHub)
	r.bodies[want.Msg] = body
	// recordedSince is the last turn a replica logged recording in its
	// log past offset from: only the new part is read, every millisecond.
	recordedSince := func(p *faultProc, from int) string {
		id := ""
		for _, line := range strings.Split(p.logs.From(from), "\n") {
			var l struct{ Msg, Turn string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "turn recorded" {
				id = l.Turn
			}
		}
		return id
	}
	before := make([]int, len(r.procs))
	for j, p := range r.procs {
		before[j] = p.logs.Len()
	}
	r.e.gh.SetLatency(300 * time.Millisecond)
	r.say(sender, text)
	stalled, turnID := -1, ""
	for deadline := time.Now().Add(5 * time.Second); stalled < 0; time.Sleep(time.Millisecond) {
		for j, p := range r.procs {
			if id := recordedSince(p, before[j]); id != "" {
				stalled, turnID = j, id
			}
		}
		if time.Now().After(deadline) {
			r.rt.Fatalf("no replica logged recording the message")
		}
	}
	time.Sleep(delay)
	r.procs[stalled].signal(syscall.SIGSTOP)
	stopped := time.Now()
	// ended reports whether p logged one of msgs for the turn.
	ended := func(p *faultProc, msgs ...string) bool {
		for _, m := range msgs {
			if strings.Contains(p.logs.String(), `"msg":"`+m+`","turn":"`+turnID+`"`) {
				return true
			}
		}
		return false
	}
	removal := ""
	if removeSender && sender != r.m.Owner {
		// Once another replica finished the turn: the stalled one may
		// still write its end.
		removal = r.removeWhileStalled(sender, func() bool {
			for j, p := range r.procs {
				if j != stalled && ended(p, "turn done", "turn interrupted") {
					return true
				}
			}
			return false
		})
	}
	time.Sleep(time.Until(stopped.Add(2 * modelLeaseTTL)))
	r.procs[stalled].signal(syscall.SIGCONT)
	r.e.gh.SetLatency(0)
	// The stalled replica goes on with what it was running; the step ends
	// when it has no session left to run (and every turn is settled).
	for deadline := time.Now().Add(10 * time.Second); openSessions(r.rt, r.addrs[stalled]) > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.rt.Fatalf("replica %d still runs a session 10 s after its stall", stalled+1)
		}
	}
	r.settle()
	// What the stall led to, for the run's summary.
	takers := 0
	for j, p := range r.procs {
		if j != stalled && ended(p, "turn done", "turn interrupted") {
			takers++
		}
	}
	switch {
	case takers == 0:
		r.ops["stall: not taken over"]++
	case ended(r.procs[stalled], turnLeftToLeaseHolder):
		r.ops["stall: taken over, the stalled replica left the change"]++
	case ended(r.procs[stalled], "turn done"):
		r.ops["stall: taken over, the stalled replica finished too"]++
	default:
		r.ops["stall: taken over"]++
	}

	// Every post of the step in the thread is the turn's result, as the
	// model's identity, or the interrupted notice.
	ranAs := "ran as <@" + want.User + ">"
	result := map[identitymodel.Outcome][]string{
		identitymodel.OK:            {ranAs, "GitHub: " + want.Login},
		identitymodel.NotConfigured: {"GitHub credentials not configured", ranAs, "GitHub: not connected"},
		identitymodel.Expired:       {"GitHub credentials expired or revoked", ranAs, "GitHub: needs reconnect"},
		identitymodel.Refused:       {"not on its editors list"},
	}[want.Outcome]
	isResult := func(text string) bool {
		for _, w := range result {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	}
	results, interrupted := 0, 0
	for _, m := range r.e.slack.Messages()[r.msgs:] {
		if m.Method != "chat.postMessage" || m.ThreadTS != r.root {
			continue
		}
		switch text := plain(m); {
		case removal != "" && strings.Contains(text, removal):
			// The owner's removal during the stall.
		case strings.Contains(text, interruptedTitle):
			interrupted++
		case isResult(text):
			results++
		default:
			r.rt.Fatalf("a post in the thread during the stall is neither the turn's result (with %q) nor the interrupted notice: %q", result, text)
		}
	}
	switch {
	case interrupted > 1 || interrupted == 1 && !change:
		r.rt.Fatalf("%d interrupted notices for a turn that changes %v; want at most one, for a change", interrupted, change)
	case change && results > 1 && (want.Outcome == identitymodel.OK || want.Outcome == identitymodel.Expired):
		// A change that resolved credentials was marked running before
		// it left: a second runner finds it so and says it was
		// interrupted. One refused before that is answered like a read.
		r.rt.Fatalf("a change answered %d times; want once", results)
	case results+interrupted == 0:
		r.rt.Fatalf("no reply to the turn in the thread")
	}
	if results == 0 {
		r.checkCutOff(sender, want)
	} else {
		r.checkGitHubAs(want)
		r.checkAudit(sender, tandem.GitHub, want)
		if want.Outcome == identitymodel.NotConfigured || want.Outcome == identitymodel.Expired {
			if want.User == sender {
				r.rememberButton(sender, tandem.GitHub)
			} else {
				delete(r.buttons, sender)
			}
		}
	}
	// Made once as the model's login, or (interrupted) at most once.
	var authors []string
	for _, c := range r.e.gh.Comments() {
		if body != "" && strings.TrimSpace(c.Body) == body {
			authors = append(authors, c.AuthorLogin)
		}
	}
	switch {
	case len(authors) > 1:
		r.rt.Fatalf("change %s made %d times (%v) across a stalled replica and its taker; want at most once", body, len(authors), authors)
	case len(authors) == 1 && (want.Outcome != identitymodel.OK || authors[0] != want.Login):
		r.rt.Fatalf("change %s made as %s; the model says %+v", body, authors[0], want)
	case change && want.Outcome == identitymodel.OK && interrupted == 0 && len(authors) != 1:
		r.rt.Fatalf("change %s answered as made but made %d times", body, len(authors))
	}
	if removal != "" {
		// The session as the owner sees it lists no removed editor.
		r.msgs = len(r.e.slack.Messages())
		r.say(r.m.Owner, "session")
		if m := r.threadPost("Owner: <@" + r.m.Owner + ">"); strings.Contains(plain(m), "<@"+sender+">") {
			r.rt.Fatalf("after the owner removed %s during the stall, the session still lists them: %q", sender, plain(m))
		}
	}
}

// removeWhileStalled has the owner remove sender from the session's
// editors, once taken reports that a replica finished sender's turn
// (within the lease's time to live and a few seconds), while replica
// stalled is stopped. It returns what the owner is answered, or "" when
// the turn was not finished in time (nothing is removed then).
func (r *modelRun) removeWhileStalled(sender string, taken func() bool) string {
	for deadline := time.Now().Add(modelLeaseTTL + 5*time.Second); !taken(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.ops["stall: not finished in time to remove its sender"]++
			return ""
		}
	}
	owner := r.m.Owner
	r.m.Wrote(owner)
	if !r.m.EditorsRemove(owner, isAdmin(owner), sender) {
		r.rt.Fatalf("the model refuses the owner's removal of %s", sender)
	}
	// Slack may send the event to the stopped replica's connection, which
	// does not acknowledge it: it is sent again, as Slack does with the
	// same message under another event id, until a replica that runs
	// acknowledges it (the stopped one finds it recorded when it wakes).
	ts := r.e.slack.NextTS()
	ev := fakeslack.AppMentionEvent(channel, owner, "<@"+r.e.slack.BotUserID()+"> editors remove <@"+sender+">", ts, r.root)
	for try := 0; ; try++ {
		env, _, err := r.e.slack.DeliverEvent(ev)
		if err != nil {
			r.rt.Fatalf("deliver: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = r.e.slack.WaitAck(ctx, env)
		cancel()
		if err == nil {
			break
		}
		if try == 20 {
			r.rt.Fatalf("the owner's removal was not acknowledged in 20 deliveries: %v", err)
		}
	}
	answer := "removed <@" + sender + ">"
	r.threadPost(answer)
	r.ops["stall: its sender removed while stalled"]++
	return answer
}

// openSessions reads, from the /metrics of the replica at addr, how many
// sessions it has queued or running.
func openSessions(rt *rapid.T, addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		rt.Fatalf("metrics of %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "tandem_open_sessions") {
			fields := strings.Fields(line)
			n, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err != nil {
				rt.Fatalf("metrics of %s: %q", addr, line)
			}
			return int(n)
		}
	}
	rt.Fatalf("metrics of %s lack tandem_open_sessions", addr)
	return 0
}

// settle waits until every turn the binaries logged as begun is logged as
// done or interrupted. A turn begins with the line that records it (or
// claims a schedule's run, or re-runs it after a link), or, for one a
// restarted binary found in its journal or inbox, with its first audit or
// credentials line. A turn is marked done just after its reply, and a kill
// in between would run a read of an earlier step again (by design: a crash
// re-posts a reply rather than lose it), which the kill step's checks
// would count as its own. After ten seconds it goes on regardless.
func (r *modelRun) settle() {
	begins := []string{"turn recorded", "scheduled run claimed", "turn re-run after a link",
		"running an interrupted turn again", "audit", "credentials resolved"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		open, done := map[string]string{}, map[string]bool{}
		for _, line := range strings.Split(r.e.logs.String(), "\n") {
			var l struct{ Msg, Turn string }
			if json.Unmarshal([]byte(line), &l) != nil || l.Turn == "" {
				continue
			}
			switch {
			case (l.Msg == "scheduled run claimed" || l.Msg == "turn recorded") && done[l.Turn]:
				// The inbox's poll may pick a claimed run (or a
				// recorded turn) up and finish it before the replica
				// that claimed (recorded) it writes this line; an id is
				// claimed (recorded) once.
			case slices.Contains(begins, l.Msg):
				open[l.Turn] = l.Msg
			case l.Msg == "turn done" || l.Msg == "turn interrupted" || l.Msg == turnLeftToLeaseHolder:
				delete(open, l.Turn)
				done[l.Turn] = true
			}
		}
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Logf("step %d: going on with turns logged as begun and not done: %v", r.steps, open)
			for _, line := range strings.Split(r.e.logs.String(), "\n") {
				for id := range open {
					if strings.Contains(line, id) {
						r.t.Logf("  %s", line)
					}
				}
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recordedWait reports whether a turn of sender recorded, in this step,
// that it waits for them to connect.
func (r *modelRun) recordedWait(sender string) bool {
	recs := r.auditRecords()
	for _, rec := range recs[min(r.audits, len(recs)):] {
		if rec.Action == turns.ActionAwaitConnect && rec.Actor == sender {
			return true
		}
	}
	return false
}

// mentioned is the user id of a "<@U…>" mention.
func mentioned(s string) string { return strings.TrimSuffix(strings.TrimPrefix(s, "<@"), ">") }
