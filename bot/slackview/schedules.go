package slackview

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/tandembot/tandem"
)

// The schedule buttons; each carries the schedule's id as its value.
const (
	ActionSchedulePause  = "schedule_pause"
	ActionScheduleResume = "schedule_resume"
	ActionScheduleDelete = "schedule_delete"
	ActionScheduleRun    = "schedule_run"
)

// ScheduleStopped is the direct message to a schedule's creator whose run
// did not happen for want of their link at p, and its button's label.
func ScheduleStopped(s tandem.Schedule, p tandem.ProviderID, expired bool, thread string) (tandem.Reply, string) {
	state, label := "credentials not configured", "Connect "
	if expired {
		state, label = "credentials expired or revoked", "Reconnect "
	}
	return tandem.Reply{
		Title: fmt.Sprintf("Your schedule did not run: %s %s", p.Name(), state),
		Text: fmt.Sprintf("Your schedule `%s` in %s runs as you, and your %s account is not usable, so it did not run. Connect it and the schedule runs again at its next time; you will not be told again until it works.",
			escape(s.Text), thread, p.Name()),
	}, label + p.Name()
}

// SchedulePaused says that a schedule paused by itself, and why.
func SchedulePaused(s tandem.Schedule) tandem.Reply {
	return tandem.Reply{
		Title: "Schedule paused",
		Text: fmt.Sprintf("The schedule `%s` (%s) is paused: %s. It ran as <@%s> and never runs as anyone else; a channel admin can delete it from `@tandem schedules` in its thread, or an operator with `tandem schedules delete %s`.",
			escape(s.Text), s.ID, s.PausedWhy, s.Creator, s.ID),
	}
}

// ThreadRef names a session's thread for a list: its channel, as Slack
// renders a channel mention.
func ThreadRef(key tandem.SessionKey) string {
	if len(key.Channel) > 0 && key.Channel[0] == 'D' {
		return "a direct message"
	}
	return fmt.Sprintf("<#%s>", key.Channel)
}

// List is a titled list of entries, each a reply of its own (title, text
// and buttons), with one attribution line at the end; empty is shown when
// there is no entry; an empty title shows none. Slack takes at most 50 blocks: past that the rest are
// counted, not shown.
func List(title string, entries []tandem.Reply, empty, attr string) []slack.Block {
	var blocks []slack.Block
	if title != "" {
		blocks = append(blocks, Section("*"+escape(title)+"*"))
	}
	if len(entries) == 0 {
		blocks = append(blocks, Section(empty))
	}
	for i, e := range entries {
		if len(blocks) > 46 {
			blocks = append(blocks, Section(fmt.Sprintf("…and %d more.", len(entries)-i)))
			break
		}
		blocks = append(blocks, Section("*"+escape(e.Title)+"*\n"+e.Text))
		if len(e.Buttons) > 0 {
			blocks = append(blocks, buttons(e.Buttons))
		}
	}
	if attr != "" {
		blocks = append(blocks, slack.NewContextBlock("attribution", slack.NewTextBlockObject(slack.MarkdownType, attr, false, false)))
	}
	return blocks
}

// HomeSchedules heads the App Home's Schedules section.
func HomeSchedules() []slack.Block {
	return []slack.Block{
		slack.NewDividerBlock(),
		slack.NewHeaderBlock(plain("Schedules")),
		Section("Commands that run by themselves in a thread, each time as *you*. Make one in a thread: `@tandem every weekday at 9:00 standup`."),
	}
}
