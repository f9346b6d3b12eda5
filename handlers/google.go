package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

func googleSpecs() []spec {
	g := tandem.Google
	return []spec{
		{
			name: "google.meetings_today", example: "my meetings today", help: "today's events on your primary Google calendar", provider: g,
			phrasings: []string{"[list|show] [my] meetings [for] today", "(what's|what is) on my calendar [today]", "my calendar [today]"},
			run:       meetings(false),
		},
		{
			name: "google.meetings_week", example: "my meetings this week", help: "this week's events on your primary calendar", provider: g,
			phrasings: []string{"[list|show] [my] meetings [for] this week", "my calendar this week"},
			run:       meetings(true),
		},
		{
			name: "google.find_docs", example: "find docs about quarterly plan", help: "search your Google Drive", provider: g,
			phrasings: []string{"(find|search) [for] (docs|documents|files) [about|on|for|with] {text}", "search drive for {text}"},
			run:       findDocs,
		},
	}
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

func meetings(week bool) func(context.Context, Request) (tandem.Reply, error) {
	return func(ctx context.Context, r Request) (tandem.Reply, error) {
		ml, err := ability[tandem.MeetingLister](r, "read calendars")
		if err != nil {
			return tandem.Reply{}, err
		}
		from, to := dayBounds(now().UTC(), week)
		ms, total, err := ml.Meetings(ctx, r.Creds.Client, from, to, 20)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("handlers: meetings: %w", err)
		}
		when := "today"
		if week {
			when = "this week"
		}
		reply := tandem.Reply{Title: countTitle(total, len(ms), "meeting "+when, "meetings "+when), Total: total}
		for _, m := range ms {
			reply.Items = append(reply.Items, tandem.Item{Text: meetingLine(m, week), Note: escape(m.Location)})
		}
		return reply, nil
	}
}

// meetingLine shows a meeting's time in the reader's own time zone (Slack's
// date formatting) and its title linked to the event. The time stays outside
// the link: Slack does not format inside a link's label.
func meetingLine(m tandem.Meeting, week bool) string {
	title := escape(m.Title)
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

func findDocs(ctx context.Context, r Request) (tandem.Reply, error) {
	ds, err := ability[tandem.DocumentSearcher](r, "search documents")
	if err != nil {
		return tandem.Reply{}, err
	}
	words := strings.TrimSpace(r.Command.Args["text"])
	docs, total, err := ds.SearchDocuments(ctx, r.Creds.Client, words, listLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: find documents: %w", err)
	}
	reply := tandem.Reply{Title: countTitle(total, len(docs), "document matches “"+words+"”", "documents match “"+words+"”"), Total: total}
	for _, d := range docs {
		reply.Items = append(reply.Items, tandem.Item{Text: escape(d.Title), URL: d.URL, Note: d.Kind})
	}
	return reply, nil
}
