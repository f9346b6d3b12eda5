package google_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

var (
	dayStart = time.Date(2025, 7, 3, 23, 0, 0, 0, time.UTC) // midnight in London
	dayEnd   = dayStart.Add(24 * time.Hour)
)

func TestMeetings(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/calendar/v3/calendars/primary/events", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, apiQuery(url.Values{
			"timeMin": {"2025-07-03T23:00:00Z"}, "timeMax": {"2025-07-04T23:00:00Z"},
			"singleEvents": {"true"}, "orderBy": {"startTime"}, "maxResults": {"10"},
			"fields": {"timeZone,nextPageToken,items(id,status,summary,htmlLink,start,end,location,hangoutLink)"},
		}))
		serveFile(t, w, http.StatusOK, "events.json")
	})
	got, total, err := p.Meetings(context.Background(), client, dayStart, dayEnd, 10)
	if err != nil {
		t.Fatal(err)
	}
	london, _ := time.LoadLocation("Europe/London")
	want := []tandem.Meeting{
		{Title: "Acme offsite", AllDay: true,
			URL:   "https://www.google.com/calendar/event?eid=NXFiM2wxYzZtaG4wdjJlOGs0cmo5dDdwMXMgYWxpY2VAYWNtZS5leGFtcGxl",
			Start: time.Date(2025, 7, 4, 0, 0, 0, 0, london), End: time.Date(2025, 7, 5, 0, 0, 0, 0, london)},
		{Title: "Widgets standup", Location: "https://meet.google.com/xkc-dqwz-jpm",
			URL:   "https://www.google.com/calendar/event?eid=MGM5dTJwaDFyajZrcDNlNXJiM2Q0bDhrN3FfMjAyNTA3MDRUMDgzMDAwWiBhbGljZUBhY21lLmV4YW1wbGU",
			Start: time.Date(2025, 7, 4, 8, 30, 0, 0, time.UTC), End: time.Date(2025, 7, 4, 8, 45, 0, 0, time.UTC)},
		{Title: "(No title)", Location: "Room 4, Acme HQ",
			URL:   "https://www.google.com/calendar/event?eid=N24xdjBkcTJoM205YjZlNGdrOHM1cjJsMGMgYWxpY2VAYWNtZS5leGFtcGxl",
			Start: time.Date(2025, 7, 4, 13, 0, 0, 0, time.UTC), End: time.Date(2025, 7, 4, 13, 30, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(got, want, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("meetings (-got +want):\n%s", diff)
	}
	if got[0].Start.Location().String() != "Europe/London" {
		t.Errorf("all-day start in %s, want the calendar's zone", got[0].Start.Location())
	}
	if total != 3 {
		t.Errorf("total %d, want 3", total)
	}
}

// eventsPage writes a page of n events numbered from first, with a next
// page token when next is set.
func eventsPage(w http.ResponseWriter, first, n int, next string) {
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"id":"ev%d","status":"confirmed","summary":"Meeting %d","htmlLink":"https://www.google.com/calendar/event?eid=%d","start":{"dateTime":"2025-07-04T09:00:00Z"},"end":{"dateTime":"2025-07-04T10:00:00Z"}}`, first+i, first+i, first+i))
	}
	tok := ""
	if next != "" {
		tok = `"nextPageToken":"` + next + `",`
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"timeZone":"UTC",%s"items":[%s]}`, tok, strings.Join(items, ","))
}

// Calendar reports no total: Meetings fills up to limit, then pages on
// through ids only to count.
func TestMeetingsPaginatesAndCounts(t *testing.T) {
	p, client, mux, _ := setup(t)
	var asked []url.Values
	mux.HandleFunc("/calendar/v3/calendars/primary/events", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked = append(asked, q)
		switch q.Get("pageToken") {
		case "":
			eventsPage(w, 1, 2, "page2") // Google may give short pages
		case "page2":
			eventsPage(w, 3, 2, "page3")
		case "page3":
			eventsPage(w, 5, 3, "")
		}
	})
	got, total, err := p.Meetings(context.Background(), client, dayStart, dayEnd, 3)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, m := range got {
		titles = append(titles, m.Title)
	}
	if diff := cmp.Diff(titles, []string{"Meeting 1", "Meeting 2", "Meeting 3"}); diff != "" || total != 7 {
		t.Errorf("total %d, meetings (-got +want):\n%s", total, diff)
	}
	if len(asked) != 3 {
		t.Fatalf("%d requests, want 3", len(asked))
	}
	if asked[0].Get("maxResults") != "3" || asked[1].Get("maxResults") != "2500" ||
		!strings.HasPrefix(asked[1].Get("fields"), "timeZone,") || asked[2].Get("fields") != "nextPageToken,items(id,status)" {
		t.Errorf("pages asked with %v", asked)
	}
	for _, q := range asked[1:] {
		if q.Get("timeMin") != "2025-07-03T23:00:00Z" || q.Get("orderBy") != "startTime" {
			t.Errorf("a later page lost the query: %v", q)
		}
	}
}

func TestMeetingsSkipsCancelled(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/calendar/v3/calendars/primary/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"timeZone":"UTC","items":[{"id":"a","status":"cancelled"},
			{"id":"b","status":"confirmed","summary":"Kept","start":{"dateTime":"2025-07-04T09:00:00Z"},"end":{"dateTime":"2025-07-04T10:00:00Z"}}]}`))
	})
	got, total, err := p.Meetings(context.Background(), client, dayStart, dayEnd, 0)
	if err != nil || len(got) != 1 || got[0].Title != "Kept" || total != 1 {
		t.Errorf("Meetings = %+v, %d, %v", got, total, err)
	}
}

func TestMeetingsRejectsPeriod(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	for _, period := range [][2]time.Time{{dayEnd, dayStart}, {dayStart, dayStart}, {{}, dayEnd}, {dayStart, {}}} {
		_, _, err := p.Meetings(context.Background(), client, period[0], period[1], 5)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("period %v: %v, want EINVALID", period, err)
		}
	}
}
