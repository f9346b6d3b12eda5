package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// The schedule's buttons act for its creator alone (a channel admin may
// pause or delete it, never run or resume it); Run now runs it at once as
// its creator and at most once every 5 minutes; /tandem schedules and the
// App Home list one's own schedules everywhere.
func TestScheduleButtonsSlashCommandAndAppHome(t *testing.T) {
	clk := useTestClock(t)
	e := newEnv(t)
	e.start()
	e.connect("UBOB", "bob-gh")
	e.connect("UCAROL", "carol-gh")
	root, _ := e.mention("UBOB", "every monday at 10:00 list my open PRs", "")
	card := e.reply(root, "Scheduled: list my open PRs")

	// Carol may neither run it nor, not being a channel admin, pause it.
	e.press("UCAROL", card, root, "schedule_run")
	e.privately("UCAROL", "Only <@UBOB> can run this schedule: it runs as them.")
	e.press("UCAROL", card, root, "schedule_pause")
	e.privately("UCAROL", "Only <@UBOB>, who made this schedule, or a channel admin can pause it.")

	// Bob runs it now: as Bob, once; a second press within 5 minutes is refused.
	e.press("UBOB", card, root, "schedule_run")
	e.reply(root, "scheduled by <@UBOB> · ran as <@UBOB> · GitHub: bob-gh")
	e.press("UBOB", card, root, "schedule_run")
	e.privately("UBOB", "at most once every 5 minutes")
	if got := strings.Join(e.searchLogins(), ","); got != "bob-gh" {
		t.Errorf("searches: %s; want bob-gh once", got)
	}

	// Dave, a workspace admin, pauses it; only Bob may resume it.
	e.press("UDAVE", card, root, "schedule_pause")
	e.reply(root, "<@UDAVE> paused the schedule `list my open PRs` of <@UBOB>")
	waitFor(t, "the card to offer Resume", func() bool { return strings.Contains(plain(e.latest(card)), "Resume") })
	card = e.latest(card)
	if !strings.Contains(plain(card), "*paused* (paused by <@UDAVE>)") {
		t.Errorf("the card after the pause:\n%s", plain(card))
	}
	e.press("UDAVE", card, root, "schedule_resume")
	e.privately("UDAVE", "Only <@UBOB> can resume this schedule")
	e.ask("UBOB", "schedules", root, "paused by <@UDAVE>")
	// Paused, it does not run at its time.
	clk.jumpTo(nextAt(clk.now(), time.UTC, 10, 0, func(d time.Weekday) bool { return d == time.Monday }).Add(time.Second))
	e.ask("UBOB", "schedules", root, "paused")
	if n := len(e.searchLogins()); n != 1 {
		t.Errorf("%d searches; a paused schedule ran", n)
	}

	// /tandem schedules lists Bob's own, with the buttons; the App Home too.
	e.mention("UBOB", "tomorrow at 8:15 list my open PRs", root)
	e.reply(root, "Once, on")
	ack, err := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "schedules", UserID: "UBOB", ChannelID: channel})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	json.Unmarshal(ack, &body)
	listed := plain(fakeslack.Message{Blocks: body.Blocks})
	for _, want := range []string{"Your schedules", "Every Monday at 10:00 Etc/UTC", "*paused*", "Once, on", "Resume", "Run now", "<#" + channel + ">"} {
		if !strings.Contains(listed, want) {
			t.Errorf("/tandem schedules lacks %q:\n%s", want, listed)
		}
	}
	if _, err := e.slack.SendEvent(ctxFor(t), e.slack.AppHomeOpenedEvent("UBOB")); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UBOB", "Every Monday at 10:00 Etc/UTC")
	if home := e.homeText("UCAROL"); strings.Contains(home, "Every Monday") {
		t.Errorf("Carol's App Home lists Bob's schedule:\n%s", home)
	}

	// Bob deletes the weekly one; it is gone from the thread's list.
	e.press("UBOB", card, root, "schedule_delete")
	e.reply(root, "<@UBOB> deleted the schedule")
	e.ask("UBOB", "schedules", root, "Once, on")
	if n := e.inThread(root, "Every Monday at 10:00"); n == 0 {
		t.Errorf("the thread never listed the weekly schedule")
	}
	e.stop()
	list := e.schedules()
	if len(list) != 1 || !strings.HasPrefix(list[0].Text, "list my open PRs") || list[0].At.IsZero() {
		t.Errorf("schedules after the delete: %+v; want only the one-off", list)
	}
	actions := map[string]int{}
	for _, r := range e.auditOf(root) {
		if strings.HasPrefix(r.Action, "schedule.") {
			actions[r.Action]++
		}
	}
	if fmt.Sprint(actions) != "map[schedule.create:2 schedule.delete:1 schedule.pause:1 schedule.run:1]" {
		t.Errorf("schedule audit: %v", actions)
	}
}

// A scheduled free-form request is planned by the model as its creator, and
// the change it proposes waits for the creator's own press.
func TestScheduledAgentTurnProposesAndWaitsForItsCreator(t *testing.T) {
	clk := useTestClock(t)
	e := newEnv(t)
	e.gh.AddRepo("acme/widgets")
	pr := e.gh.AddPullRequest("acme/widgets", "bob-gh", "Nightly flake", false)
	ref := fmt.Sprintf("acme/widgets#%d", pr)
	e.withModel(proposeThenAnswer("github_comment", `{"ref":"`+ref+`","text":"Still flaky tonight"}`, "I can note it."))
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UBOB", "every day at 17:30 note on the flaky PR how it went", "")
	e.reply(root, "free-form request: changes it proposes wait for your press")
	clk.jumpTo(nextAt(clk.now(), time.UTC, 17, 30, anyDay).Add(time.Second))
	card := e.reply(root, "Proposed changes")
	if !strings.Contains(plain(card), "made as <@UBOB> only if <@UBOB> presses") {
		t.Errorf("the card does not wait for Bob:\n%s", plain(card))
	}
	e.press("UALICE", card, root, "proposal_do")
	e.privately("UALICE", "Only <@UBOB> can confirm or cancel this")
	if n := len(e.gh.Comments()); n != 0 {
		t.Fatalf("%d comments before Bob pressed", n)
	}
	e.press("UBOB", card, root, "proposal_do")
	e.reply(root, "Changes made")
	if c := e.gh.Comments(); len(c) != 1 || c[0].AuthorLogin != "bob-gh" {
		t.Errorf("comments: %+v; want one by bob-gh", c)
	}
}

// latest is m as it now reads, after any chat.update of it.
func (e *env) latest(m fakeslack.Message) fakeslack.Message {
	for _, u := range e.slack.Messages() {
		if u.Method == "chat.update" && u.Channel == m.Channel && u.TS == m.TS {
			m.Text, m.Blocks = u.Text, u.Blocks
		}
	}
	return m
}
