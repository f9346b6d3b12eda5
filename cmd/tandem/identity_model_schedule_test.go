package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/internal/identitymodel"
)

// modelSchedule is a schedule the model test made: it runs a read, or a
// change with body, at p as its creator.
type modelSchedule struct {
	id      string
	creator string
	p       tandem.ProviderID
	body    string
	// gap is set when the creator was told, by DM, that a run stopped for
	// want of their link, and no run has worked since.
	gap bool
	// authors are the accounts that made the change so far.
	authors []string
}

// modelMaxSchedules bounds the schedules of one check, so a day's runs
// stay a few turns.
const modelMaxSchedules = 3

var scheduleIDRe = regexp.MustCompile(`sch_[0-9a-f]{12}`)

// scheduleCreate makes creator's daily schedule of a read at p, or of a
// change there: anyone who may post may make one, and it always acts as
// them. Nobody's account is used to make it.
func (r *modelRun) scheduleCreate(creator string, p tandem.ProviderID, change bool) {
	if len(r.schedules) >= modelMaxSchedules {
		return
	}
	text, body := modelReads[p], ""
	if change && p != tandem.Google {
		body = fmt.Sprintf("sched-change-%d", r.steps+1)
		text = modelChange(p, body)
	}
	// The clock runs on with real time between the day's jumps
	// (scheduleDue), so the schedule's hour is twelve hours away from now:
	// a check never lasts long enough to reach it by itself.
	at := fmt.Sprintf("every day at %02d:00 ", (r.clk.now().UTC().Hour()+12)%24)
	r.step(fmt.Sprintf("%s: %s%s", creator, at, text))
	r.m.Wrote(creator)
	r.say(creator, at+text)
	m := r.threadPost("Scheduled: ", "runs as <@"+creator+">")
	id := scheduleIDRe.FindString(string(m.Blocks))
	if id == "" {
		r.rt.Fatalf("no schedule id in the confirmation: %s", m.Blocks)
	}
	r.checkRequests(nil)
	r.checkButtons("")
	r.schedules = append(r.schedules, &modelSchedule{id: id, creator: creator, p: p, body: body})
}

// scheduleDue moves every replica's clock a day on, so that each schedule
// is due once: each run acts as its creator by the model, whatever the
// session's mode, exactly once across the replicas; a run that lacks the
// creator's link makes no request, leaves a note, and DMs the creator
// once per gap.
func (r *modelRun) scheduleDue() { r.scheduleDueWhileGone("") }

// scheduleCreatorLeft deactivates the creator of one of the schedules in
// the fake Slack for a day: each schedule of theirs must not run as them
// (no request, no resolution audited) and is paused, said once in the
// thread; the others run as scheduleDue says. The paused ones leave the
// model (nobody resumes them).
func (r *modelRun) scheduleCreatorLeft(pick int) {
	if len(r.schedules) == 0 {
		return
	}
	gone := r.schedules[pick%len(r.schedules)].creator
	if !r.e.slack.SetDeleted(gone, true) {
		r.rt.Fatalf("the fake Slack does not know %s", gone)
	}
	defer r.e.slack.SetDeleted(gone, false)
	r.scheduleDueWhileGone(gone)
}

// scheduleDueWhileGone is scheduleDue while gone ("" for nobody) has left
// the workspace.
func (r *modelRun) scheduleDueWhileGone(gone string) {
	if len(r.schedules) == 0 {
		return
	}
	var paused []*modelSchedule
	running := r.schedules[:0:0]
	for _, s := range r.schedules {
		if s.creator == gone {
			paused = append(paused, s)
		} else {
			running = append(running, s)
		}
	}
	if gone == "" {
		r.step(fmt.Sprintf("a day passes: %d schedules run", len(r.schedules)))
	} else {
		r.step(fmt.Sprintf("a day passes while %s has left the workspace: %d schedules run, %d of theirs pause", gone, len(running), len(paused)))
	}
	r.schedules = running
	defer func() {
		// The paused schedules made no request and resolved nobody, and
		// each said once that it is paused.
		r.threadPosts("left the workspace", len(paused))
		for _, a := range r.auditRecords()[r.audits:] {
			for _, s := range paused {
				if a.Action == "resolve" && a.Actor == "schedule:"+s.id {
					r.rt.Fatalf("schedule %s of %s, who left, resolved credentials: %+v", s.id, gone, a)
				}
			}
		}
	}()
	wants := map[*modelSchedule]identitymodel.Expect{}
	posts := map[string]int{}
	dms := map[string]int{}
	allowed := map[tandem.ProviderID][]string{}
	var creators []string
	for _, s := range r.schedules {
		before, _ := r.m.Link(s.creator, s.p)
		want := r.m.ScheduledRun(s.creator, s.p)
		wants[s] = want
		name := s.p.Name()
		switch want.Outcome {
		case identitymodel.OK:
			posts[fmt.Sprintf("scheduled by <@%s> · ran as <@%s> · %s: %s", s.creator, s.creator, name, want.Login)]++
			allowed[s.p] = append(allowed[s.p], want.Login)
		case identitymodel.NotConfigured:
			posts[fmt.Sprintf("%s credentials not configured for <@%s>", name, s.creator)]++
		case identitymodel.Expired:
			posts[fmt.Sprintf("%s credentials expired or revoked for <@%s>", name, s.creator)]++
			l, _ := r.m.Link(s.creator, s.p)
			allowed[s.p] = append(allowed[s.p], l.Login)
		}
		if want.Outcome != identitymodel.OK && !s.gap {
			dms[s.creator]++
			creators = append(creators, s.creator)
		}
		if want.Outcome == identitymodel.Expired && !before.Dead {
			// This run finds the link revoked: its owner gets the DM
			// with Reconnect that anyone's first use of a dead link
			// brings, whether or not the schedule's gap is new.
			creators = append(creators, s.creator)
		}
	}
	// A day is far past the re-run window: no message waits any more.
	r.m.TimePassed()
	r.buttons = map[string]rerunButton{}
	r.clk.jumpTo(r.clk.now().Add(24 * time.Hour))
	r.dayStart = len(r.e.slack.Messages())

	for text, n := range posts {
		r.threadPosts(text, n)
	}
	// Every run's records, with its DM, are written when it is done.
	var recs []tandem.AuditRecord
	r.auditUntil(func(all []tandem.AuditRecord) bool {
		recs = all[min(r.audits, len(all)):]
		for _, s := range r.schedules {
			if !slices.ContainsFunc(recs, func(a tandem.AuditRecord) bool {
				return a.Action == "resolve" && a.Actor == "schedule:"+s.id
			}) {
				return false
			}
		}
		return true
	})
	for _, s := range r.schedules {
		want := wants[s]
		n := 0
		for _, a := range recs {
			if a.Action != "resolve" || a.Actor != "schedule:"+s.id {
				continue
			}
			n++
			ok := map[identitymodel.Outcome][]tandem.Outcome{
				identitymodel.OK:            {tandem.OutcomeOK},
				identitymodel.NotConfigured: {tandem.OutcomeNotConfigured},
				identitymodel.Expired:       {tandem.OutcomeExpired, tandem.OutcomeOK},
			}[want.Outcome]
			if a.Effective != s.creator || a.Reason != tandem.ReasonScheduleCreator || a.Provider != s.p || !slices.Contains(ok, a.Outcome) {
				r.rt.Fatalf("audit of schedule %s: %+v; the model says %s at %s, schedule_creator, one of %v", s.id, a, s.creator, s.p, ok)
			}
		}
		if n != 1 {
			r.rt.Fatalf("schedule %s resolved %d times in a day; want exactly once across the replicas", s.id, n)
		}
		if want.Outcome == identitymodel.OK && s.body != "" {
			s.authors = append(s.authors, want.Login)
		}
		r.checkScheduledChange(s)
		s.gap = want.Outcome != identitymodel.OK
	}
	r.checkRequestsAmong(allowed)
	// A scheduled change writes its audit records before it reaches the
	// provider, so its DM may still be on its way: wait for it, then check
	// that no other came.
	for _, user := range modelUsers {
		n := dms[user]
		count := func() int {
			return r.countSince(func(m fakeslack.Message) bool {
				return m.Channel == "D"+user && strings.Contains(plain(m), "Your schedule did not run")
			})
		}
		deadline := time.Now().Add(10 * time.Second)
		for count() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := count(); got != n {
			r.rt.Fatalf("%s got %d DMs about schedules that did not run; want %d (one per schedule per gap)", user, got, n)
		}
	}
	r.checkButtonsTo(creators)
}

// threadPosts waits until the thread has n new posts containing want.
func (r *modelRun) threadPosts(want string, n int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.countSince(func(m fakeslack.Message) bool {
			return m.Method == "chat.postMessage" && m.ThreadTS == r.root && strings.Contains(plain(m), want)
		})
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			var seen []string
			for _, m := range r.e.slack.Messages()[r.msgs:] {
				seen = append(seen, m.Method+" "+m.Channel+": "+strings.ReplaceAll(plain(m), "\n", " | "))
			}
			r.rt.Fatalf("%d posts in the thread containing %q, want %d; since the step began:\n%s", got, want, n, strings.Join(seen, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countSince counts the fake Slack's messages since the step began that
// match.
func (r *modelRun) countSince(match func(fakeslack.Message) bool) int {
	n := 0
	for _, m := range r.e.slack.Messages()[r.msgs:] {
		if match(m) {
			n++
		}
	}
	return n
}

// checkRequestsAmong fails unless every request that reached a provider
// since the step began carried one of the allowed logins of that provider.
func (r *modelRun) checkRequestsAmong(allowed map[tandem.ProviderID][]string) {
	for _, p := range tandem.Providers {
		for _, q := range r.e.requests(p)[r.seen[p]:] {
			r.e.remember(q.token)
			if q.token != "" && !slices.Contains(allowed[p], q.login) {
				r.rt.Fatalf("%s received %s with %s's token; the model allows only %v", p.Name(), q.path, q.login, allowed[p])
			}
		}
	}
}

// checkScheduledChange fails unless the schedule's change was made once
// per run that worked, by the model's account each time.
func (r *modelRun) checkScheduledChange(s *modelSchedule) {
	if s.body == "" {
		return
	}
	var authors []string
	switch s.p {
	case tandem.GitHub:
		for _, c := range r.e.gh.Comments() {
			if strings.TrimSpace(c.Body) == s.body {
				authors = append(authors, c.AuthorLogin)
			}
		}
	case tandem.GitLab:
		for _, n := range r.e.gl.Notes() {
			if strings.TrimSpace(n.Body) == s.body {
				authors = append(authors, n.AuthorLogin)
			}
		}
	case tandem.Jira:
		for _, c := range r.e.jira.Comments() {
			if strings.TrimSpace(c.Body) == s.body {
				authors = append(authors, c.Login)
			}
		}
	}
	if !slices.Equal(authors, s.authors) {
		r.rt.Fatalf("schedule %s's change %s at %s made by %v; the model says %v", s.id, s.body, s.p.Name(), authors, s.authors)
	}
}
