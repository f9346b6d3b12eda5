package fakegoogle

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "time/tzdata" // calendars have IANA time zones, on any machine
)

// event is one event of a user's primary calendar.
type event struct {
	id       string
	owner    string // user key
	title    string
	location string
	meet     string // Google Meet link
	start    time.Time
	end      time.Time // exclusive; for all-day events the next day's midnight
	allDay   bool
	created  time.Time
	updated  time.Time
}

// AddEvent adds a meeting from start to end to the primary calendar of
// login (an email; an unknown one is added as a user) and returns its id.
// It panics when end is before start.
func (s *Server) AddEvent(login, title string, start, end time.Time) string {
	if end.Before(start) {
		panic("fakegoogle: AddEvent: end before start")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addEvent(login, &event{title: title, start: start, end: end})
}

// AddAllDayEvent adds an event lasting days whole days (at least 1), from
// the date of first in the calendar's time zone, to login's primary
// calendar and returns its id.
func (s *Server) AddAllDayEvent(login, title string, first time.Time, days int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := zone(s.ensureUser(login).TimeZone)
	y, m, d := first.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	return s.addEvent(login, &event{title: title, start: start, end: start.AddDate(0, 0, max(days, 1)), allDay: true})
}

// SetEventPlace sets where event id happens: a location and a Google Meet
// link, either of which may be "". It does nothing for an unknown id.
func (s *Server) SetEventPlace(id, location, meetLink string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, evs := range s.events {
		for _, e := range evs {
			if e.id == id {
				e.location, e.meet = location, meetLink
				e.updated = s.now()
			}
		}
	}
}

func (s *Server) addEvent(login string, e *event) string {
	u := s.ensureUser(login)
	e.owner = key(u.Email)
	e.id = fmt.Sprintf("fakeev%020d", s.next()) // base32hex, as Google's ids
	e.created = s.now()
	e.updated = e.created
	s.events[e.owner] = append(s.events[e.owner], e)
	return e.id
}

// zone loads an IANA time zone, UTC when it is unknown.
func zone(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}

// rfc3339Millis is how Google writes creation and update times.
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

func stampMillis(t time.Time) string { return t.UTC().Format(rfc3339Millis) }

var eventSchema = schema{
	"kind": nil, "etag": nil, "id": nil, "status": nil, "htmlLink": nil, "created": nil, "updated": nil,
	"summary": nil, "description": nil, "location": nil, "creator": nil, "organizer": nil,
	"start": nil, "end": nil, "endTimeUnspecified": nil, "iCalUID": nil, "sequence": nil,
	"attendees": nil, "hangoutLink": nil, "conferenceData": nil, "reminders": nil, "eventType": nil,
	"recurringEventId": nil, "originalStartTime": nil, "transparency": nil, "visibility": nil,
}

var eventsSchema = schema{
	"kind": nil, "etag": nil, "summary": nil, "description": nil, "updated": nil, "timeZone": nil,
	"accessRole": nil, "defaultReminders": nil, "nextPageToken": nil, "nextSyncToken": nil,
	"items": eventSchema,
}

// listEvents serves GET /calendar/v3/calendars/{calendarId}/events for the
// caller's own calendar ("primary" or their email): the events that end
// after timeMin and start before timeMax.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, c caller) {
	if id := r.PathValue("calendarId"); id != "primary" && key(id) != c.key {
		apiError(w, http.StatusNotFound, "Not Found", "", errItem{Domain: "global", Reason: "notFound"})
		return
	}
	q := r.URL.Query()
	var from, to time.Time
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"timeMin", &from}, {"timeMax", &to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				badRequest(w, "Bad Request", "badRequest", "")
				return
			}
			*p.into = t
		}
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		badRequest(w, "The specified time range is empty.", "timeRangeEmpty", "timeMax")
		return
	}
	single := q.Get("singleEvents") == "true"
	orderBy := q.Get("orderBy")
	switch {
	case orderBy == "startTime" && !single:
		badRequest(w, "The requested ordering is not available for the particular query.", "badRequest", "")
		return
	case orderBy != "" && orderBy != "startTime" && orderBy != "updated":
		badRequest(w, "Invalid Value", "invalid", "orderBy")
		return
	}
	pageSize := 250
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			badRequest(w, "Invalid Value", "invalid", "maxResults")
			return
		}
		pageSize = min(n, 2500)
	}
	loc := zone(c.user.TimeZone)
	if tz := q.Get("timeZone"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			badRequest(w, "Invalid time zone definition for time zone.", "invalid", "timeZone")
			return
		}
		loc = l
	}
	fingerprint := pageFingerprint(c.key, q, "timeMin", "timeMax", "singleEvents", "orderBy")
	offset, ok := pageOffset(q.Get("pageToken"), fingerprint)
	if !ok {
		badRequest(w, "Invalid Value", "invalid", "pageToken")
		return
	}

	var found []*event
	updated := time.Time{}
	for _, e := range s.events[c.key] {
		updated = later(updated, e.updated)
		if (from.IsZero() || e.end.After(from)) && (to.IsZero() || e.start.Before(to)) {
			found = append(found, e)
		}
	}
	slices.SortFunc(found, func(a, b *event) int {
		switch orderBy {
		case "startTime":
			if n := a.start.Compare(b.start); n != 0 {
				return n
			}
		case "updated":
			if n := a.updated.Compare(b.updated); n != 0 {
				return n
			}
		}
		return cmp.Compare(a.id, b.id)
	})
	if updated.IsZero() {
		updated = s.now()
	}
	items := []map[string]any{}
	for _, e := range found[min(offset, len(found)):min(offset+pageSize, len(found))] {
		items = append(items, s.eventJSON(e, c.user, loc))
	}
	out := map[string]any{
		"kind":             "calendar#events",
		"etag":             etag(c.key, updated),
		"summary":          c.user.Email,
		"description":      "",
		"updated":          stampMillis(updated),
		"timeZone":         loc.String(),
		"accessRole":       "owner",
		"defaultReminders": []map[string]any{{"method": "popup", "minutes": 10}},
		"items":            items,
	}
	if offset+pageSize < len(found) {
		out["nextPageToken"] = pageToken(offset+pageSize, fingerprint)
	}
	v, ok := selectFields(w, q.Get("fields"), "", eventsSchema, out)
	if ok {
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Server) eventJSON(e *event, u *User, loc *time.Location) map[string]any {
	eid := base64.RawURLEncoding.EncodeToString([]byte(e.id + " " + u.Email))
	o := map[string]any{
		"kind":      "calendar#event",
		"etag":      etag(e.id, e.updated),
		"id":        e.id,
		"status":    "confirmed",
		"htmlLink":  s.URL() + "/calendar/event?eid=" + eid,
		"created":   stampMillis(e.created),
		"updated":   stampMillis(e.updated),
		"summary":   e.title,
		"creator":   map[string]any{"email": u.Email, "self": true},
		"organizer": map[string]any{"email": u.Email, "self": true},
		"iCalUID":   e.id + "@google.com",
		"sequence":  0,
		"reminders": map[string]any{"useDefault": true},
		"eventType": "default",
	}
	if e.allDay {
		o["start"] = map[string]any{"date": e.start.Format(time.DateOnly)}
		o["end"] = map[string]any{"date": e.end.Format(time.DateOnly)}
		o["transparency"] = "transparent"
	} else {
		o["start"] = map[string]any{"dateTime": e.start.In(loc).Format(time.RFC3339), "timeZone": u.TimeZone}
		o["end"] = map[string]any{"dateTime": e.end.In(loc).Format(time.RFC3339), "timeZone": u.TimeZone}
	}
	if e.title == "" {
		delete(o, "summary") // Google leaves an untitled event's summary out
	}
	if e.location != "" {
		o["location"] = e.location
	}
	if e.meet != "" {
		o["hangoutLink"] = e.meet
		o["conferenceData"] = map[string]any{
			"entryPoints": []map[string]any{{
				"entryPointType": "video", "uri": e.meet, "label": strings.TrimPrefix(e.meet, "https://"),
			}},
			"conferenceSolution": map[string]any{"key": map[string]any{"type": "hangoutsMeet"}, "name": "Google Meet"},
			"conferenceId":       e.meet[strings.LastIndex(e.meet, "/")+1:],
		}
	}
	return o
}

// etag is a quoted number, as Calendar's are.
func etag(id string, t time.Time) string {
	sum := sha256.Sum256([]byte(id + "\x00" + t.UTC().Format(time.RFC3339Nano)))
	return fmt.Sprintf("%q", strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>12, 10))
}

// pageFingerprint ties a page token to the query it continues.
func pageFingerprint(owner string, q map[string][]string, params ...string) string {
	h := sha256.New()
	h.Write([]byte(owner))
	for _, p := range params {
		h.Write([]byte("\x00" + strings.Join(q[p], "\x01")))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

func pageToken(offset int, fingerprint string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + fingerprint))
}

// pageOffset decodes a page token made for the same query; "" is offset 0.
func pageOffset(tok, fingerprint string) (int, bool) {
	if tok == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	n, fp, ok := strings.Cut(string(b), ":")
	offset, err := strconv.Atoi(n)
	return offset, ok && err == nil && offset >= 0 && fp == fingerprint
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
