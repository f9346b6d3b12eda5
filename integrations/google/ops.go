package google

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// Operations are what people can ask of Google, as they ask it.
var Operations = []ops.Spec{
	{
		Name: "google.meetings_today", Example: "my meetings today", Summary: "today's events on your primary Google calendar", Provider: tandem.Google,
		Phrasings: []string{"[list|show] [my] meetings [for] today", "(what's|what is) on my calendar [today]", "my calendar [today]"},
		Standup:   "Today's meetings",
		Run:       meetings(false),
	},
	{
		Name: "google.meetings_week", Example: "my meetings this week", Summary: "this week's events on your primary calendar", Provider: tandem.Google,
		Phrasings: []string{"[list|show] [my] meetings [for] this week", "my calendar this week"},
		Run:       meetings(true),
	},
	{
		Name: "google.find_docs", Example: "find docs about quarterly plan", Summary: "search your Google Drive", Provider: tandem.Google,
		Phrasings: []string{"(find|search) [for] (docs|documents|files) [about|on|for|with] {text}", "search drive for {text}"},
		Args:      []ops.Arg{{Name: "text", Kind: ops.Text, Description: "the words to search for"}},
		Run:       findDocs,
	},
}

// now is the clock the calendar commands use; tests replace it.
var now = time.Now

// dayBounds returns the start of today and of tomorrow (or of next week's
// Monday) in loc.
func dayBounds(t time.Time, week bool) (time.Time, time.Time) {
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	if !week {
		return start, start.AddDate(0, 0, 1)
	}
	offset := (int(start.Weekday()) + 6) % 7 // days since Monday
	monday := start.AddDate(0, 0, -offset)
	return monday, monday.AddDate(0, 0, 7)
}

func meetings(week bool) func(context.Context, ops.Request) (tandem.Reply, error) {
	return func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
		p, err := ops.Ability[*Provider](r, "read calendars")
		if err != nil {
			return tandem.Reply{}, err
		}
		from, to := dayBounds(now().UTC(), week)
		ms, total, err := p.Meetings(ctx, r.Creds.Client, from, to, 20)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("google: meetings: %w", err)
		}
		when := "today"
		if week {
			when = "this week"
		}
		reply := tandem.Reply{Title: ops.CountTitle(total, len(ms), "meeting "+when, "meetings "+when), Total: total}
		for _, m := range ms {
			reply.Items = append(reply.Items, tandem.Item{Text: meetingLine(m, week), Note: ops.Escape(m.Location)})
		}
		return reply, nil
	}
}

// meetingLine shows a meeting's time in the reader's own time zone (Slack's
// date formatting) and its title linked to the event. The time stays outside
// the link: Slack does not format inside a link's label.
func meetingLine(m tandem.Meeting, week bool) string {
	title := ops.Escape(m.Title)
	if m.URL != "" {
		title = "<" + m.URL + "|" + strings.ReplaceAll(title, "|", "¦") + ">"
	}
	if m.AllDay {
		return title + " (all day " + m.Start.Format("Mon 2 Jan") + ")"
	}
	format := "{time}"
	if week {
		format = "{date_short_pretty} {time}"
	}
	return fmt.Sprintf("<!date^%d^%s|%s> %s", m.Start.Unix(), format, m.Start.UTC().Format("Mon 15:04 UTC"), title)
}

func findDocs(ctx context.Context, r ops.Request) (tandem.Reply, error) {
	p, err := ops.Ability[*Provider](r, "search documents")
	if err != nil {
		return tandem.Reply{}, err
	}
	words := strings.TrimSpace(r.Arg("text"))
	docs, total, err := p.SearchDocuments(ctx, r.Creds.Client, words, ops.ListLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("google: find documents: %w", err)
	}
	reply := tandem.Reply{Title: ops.CountTitle(total, len(docs), "document matches “"+words+"”", "documents match “"+words+"”"), Total: total}
	for _, d := range docs {
		reply.Items = append(reply.Items, tandem.Item{Text: ops.Escape(d.Title), URL: d.URL, Note: d.Kind})
	}
	return reply, nil
}
