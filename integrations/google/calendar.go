package google

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tandembot/tandem"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"
)

const (
	// maxEventsPage is the largest page Calendar's events.list gives.
	maxEventsPage = 2500
	// countCap bounds how far Meetings and SearchDocuments page on only to
	// count: neither API reports a total, so they count ids.
	countCap = 1000
	// defaultLimit is how many items a listing shows when limit is 0 or
	// less.
	defaultLimit = 30
)

// Partial responses: only what Meeting needs, and ids alone to count.
const (
	eventFields      = "timeZone,nextPageToken,items(id,status,summary,htmlLink,start,end,location,hangoutLink)"
	eventCountFields = "nextPageToken,items(id,status)"
)

// calendarService returns the Calendar client acting through client, which
// carries the token.
func (p *Provider) calendarService(ctx context.Context, client *http.Client) (*calendar.Service, error) {
	if p.apiErr != nil {
		return nil, p.apiErr
	}
	svc, err := calendar.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(p.cfg.APIURL+"calendar/v3/"))
	if err != nil {
		return nil, fmt.Errorf("google: calendar client: %w", err)
	}
	svc.UserAgent = userAgent
	return svc, nil
}

// Meetings returns up to limit (30 when limit is 0 or less) of the events
// of the primary calendar that end after from and start before to, in
// start order, with their total count (counted up to 1000), as the
// account client carries sees them. Recurring events come as their single
// occurrences; an all-day event starts at midnight in the calendar's time
// zone. A period that is empty or not set gives EINVALID; see mapError for
// Google's refusals.
func (p *Provider) Meetings(ctx context.Context, client *http.Client, from, to time.Time, limit int) ([]tandem.Meeting, int, error) {
	if from.IsZero() || to.IsZero() || !to.After(from) {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "The end of the period must come after its start.")
	}
	if limit <= 0 {
		limit = defaultLimit
	}
	svc, err := p.calendarService(ctx, client)
	if err != nil {
		return nil, 0, err
	}
	call := svc.Events.List("primary").
		TimeMin(from.Format(time.RFC3339)).TimeMax(to.Format(time.RFC3339)).
		SingleEvents(true).OrderBy("startTime").
		MaxResults(int64(min(limit, maxEventsPage))).Fields(eventFields).Context(ctx)
	var meetings []tandem.Meeting
	total := 0
	for {
		res, err := call.Do()
		if err != nil {
			return nil, 0, mapError("list meetings", "its calendar", err)
		}
		loc := time.UTC
		if l, err := time.LoadLocation(res.TimeZone); err == nil && res.TimeZone != "" {
			loc = l
		}
		for _, e := range res.Items {
			if e.Status == "cancelled" {
				continue
			}
			total++
			if len(meetings) == limit {
				continue
			}
			m, err := meeting(e, loc)
			if err != nil {
				return nil, 0, fmt.Errorf("google: list meetings: %w", err)
			}
			meetings = append(meetings, m)
		}
		if res.NextPageToken == "" || total >= countCap {
			return meetings, min(total, countCap), nil
		}
		call.PageToken(res.NextPageToken).MaxResults(maxEventsPage)
		if len(meetings) == limit {
			call.Fields(eventCountFields)
		}
	}
}

// meeting turns an event into a Meeting. A date-only start or end is an
// all-day event's, midnight in loc, the calendar's zone. The location is
// the event's own, else its Google Meet link.
func meeting(e *calendar.Event, loc *time.Location) (tandem.Meeting, error) {
	m := tandem.Meeting{Title: e.Summary, URL: e.HtmlLink, Location: e.Location}
	if m.Title == "" {
		m.Title = "(No title)" // as Google Calendar shows an untitled event
	}
	if m.Location == "" {
		m.Location = e.HangoutLink
	}
	var err error
	if m.Start, m.AllDay, err = when(e.Start, loc); err != nil {
		return tandem.Meeting{}, fmt.Errorf("event %s start: %w", e.Id, err)
	}
	if e.End == nil {
		m.End = m.Start
	} else if m.End, _, err = when(e.End, loc); err != nil {
		return tandem.Meeting{}, fmt.Errorf("event %s end: %w", e.Id, err)
	}
	return m, nil
}

func when(t *calendar.EventDateTime, loc *time.Location) (time.Time, bool, error) {
	switch {
	case t == nil:
		return time.Time{}, false, fmt.Errorf("missing")
	case t.DateTime != "":
		v, err := time.Parse(time.RFC3339, t.DateTime)
		return v, false, err
	case t.Date != "":
		v, err := time.ParseInLocation(time.DateOnly, t.Date, loc)
		return v, true, err
	}
	return time.Time{}, false, fmt.Errorf("neither date nor dateTime")
}
