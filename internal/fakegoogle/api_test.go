package fakegoogle_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	drive "google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"
)

func googleError(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v, want *googleapi.Error", err)
	}
	return ge
}

func reason(ge *googleapi.Error) string {
	if len(ge.Errors) == 0 {
		return ""
	}
	return ge.Errors[0].Reason
}

func TestUserinfo(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	tests := []struct {
		scopes []string
		want   map[string]any
	}{
		{[]string{"openid"}, map[string]any{"sub": "110000000000000000001"}},
		{[]string{"openid", "email"}, map[string]any{
			"sub": "110000000000000000001", "email": alice, "email_verified": true, "hd": "example.test",
		}},
		{[]string{"openid", "email", "profile"}, map[string]any{
			"sub": "110000000000000000001", "email": alice, "email_verified": true, "hd": "example.test",
			"name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
			"picture": "https://lh3.googleusercontent.com/a/FAKE-alice=s96-c",
		}},
	}
	for _, tt := range tests {
		code, _, got := getJSON(t, mint(t, s, alice, tt.scopes...), s.APIURL()+"oauth2/v3/userinfo")
		if code != http.StatusOK {
			t.Fatalf("%v: status %d", tt.scopes, code)
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("%v: userinfo (-got +want):\n%s", tt.scopes, diff)
		}
	}
	code, hdr, body := getJSON(t, nil, s.APIURL()+"oauth2/v3/userinfo")
	if code != http.StatusUnauthorized || body["error_description"] != "Invalid Credentials" || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v", code, body)
	}
}

func TestCalendarEvents(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	london, _ := time.LoadLocation("Europe/London")
	day := time.Date(2025, 7, 4, 0, 0, 0, 0, london)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	late := s.AddEvent(alice, "Late review", at(16, 0), at(17, 0))
	standup := s.AddEvent(alice, "Standup", at(9, 30), at(9, 45))
	s.SetEventPlace(standup, "", "https://meet.google.com/abc-defg-hij")
	one := s.AddEvent(alice, "1:1", at(11, 0), at(11, 30))
	s.SetEventPlace(one, "Room 4", "")
	offsite := s.AddAllDayEvent(alice, "Offsite", day, 1)
	s.AddEvent(alice, "Yesterday", at(-20, 0), at(-19, 0))
	s.AddEvent(alice, "Tomorrow", at(33, 0), at(34, 0))
	s.AddEvent(bob, "Bob's meeting", at(10, 0), at(11, 0))
	ctx := context.Background()
	svc := calendarService(t, s, mint(t, s, alice, scopeCalendar))

	list := func() *calendar.EventsListCall {
		return svc.Events.List("primary").TimeMin(day.Format(time.RFC3339)).TimeMax(day.AddDate(0, 0, 1).Format(time.RFC3339)).
			SingleEvents(true).OrderBy("startTime").Context(ctx)
	}
	res, err := list().Do()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range res.Items {
		ids = append(ids, e.Id)
	}
	if diff := cmp.Diff(ids, []string{offsite, standup, one, late}); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
	if res.Kind != "calendar#events" || res.TimeZone != "Europe/London" || res.Summary != alice || res.NextPageToken != "" {
		t.Errorf("list %+v", res)
	}
	st := res.Items[1]
	if st.Summary != "Standup" || st.Start.DateTime != "2025-07-04T09:30:00+01:00" || st.End.DateTime != "2025-07-04T09:45:00+01:00" ||
		st.HangoutLink != "https://meet.google.com/abc-defg-hij" || st.Kind != "calendar#event" || st.Status != "confirmed" ||
		!strings.HasPrefix(st.HtmlLink, s.URL()+"/calendar/event?eid=") || st.Organizer.Email != alice {
		t.Errorf("standup %+v", st)
	}
	if all := res.Items[0]; all.Start.Date != "2025-07-04" || all.End.Date != "2025-07-05" || all.Start.DateTime != "" {
		t.Errorf("all-day event start %+v end %+v", all.Start, all.End)
	}
	if res.Items[2].Location != "Room 4" {
		t.Errorf("1:1 location %q", res.Items[2].Location)
	}
	resp, err := http.Get(st.HtmlLink)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("htmlLink: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// Pages, and a partial response.
	var pages [][]string
	err = list().MaxResults(3).Fields("nextPageToken", "items(id,summary)").Pages(ctx, func(p *calendar.Events) error {
		var page []string
		for _, e := range p.Items {
			page = append(page, e.Id)
			if e.Start != nil || e.HtmlLink != "" {
				t.Errorf("fields=items(id,summary) returned %+v", e)
			}
		}
		pages = append(pages, page)
		if p.TimeZone != "" {
			t.Errorf("fields left timeZone in")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pages, [][]string{{offsite, standup, one}, {late}}); diff != "" {
		t.Errorf("pages (-got +want):\n%s", diff)
	}

	bad := []struct {
		name   string
		call   *calendar.EventsListCall
		status int
		reason string
	}{
		{"startTime without singleEvents", svc.Events.List("primary").OrderBy("startTime"), 400, "badRequest"},
		{"empty range", svc.Events.List("primary").TimeMin("2025-07-04T10:00:00Z").TimeMax("2025-07-04T10:00:00Z"), 400, "timeRangeEmpty"},
		{"no offset", svc.Events.List("primary").TimeMin("2025-07-04T10:00:00"), 400, "badRequest"},
		{"bad field", svc.Events.List("primary").Fields("items(nope)"), 400, "invalidParameter"},
		{"another calendar", svc.Events.List(bob), 404, "notFound"},
		{"bad page token", svc.Events.List("primary").PageToken("xyz"), 400, "invalid"},
	}
	for _, b := range bad {
		_, err := b.call.Context(ctx).Do()
		if ge := googleError(t, err); ge.Code != b.status || reason(ge) != b.reason {
			t.Errorf("%s: %d %q, want %d %q", b.name, ge.Code, reason(ge), b.status, b.reason)
		}
	}

	other := calendarService(t, s, mint(t, s, alice, scopeDrive))
	_, err = other.Events.List("primary").Context(ctx).Do()
	if ge := googleError(t, err); ge.Code != 403 || reason(ge) != "insufficientPermissions" || ge.Message != "Request had insufficient authentication scopes." {
		t.Errorf("without a calendar scope: %v", err)
	}
}

func TestCalendarTimeZoneParameter(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	s.AddEvent(bob, "Call", time.Date(2025, 7, 4, 15, 0, 0, 0, time.UTC), time.Date(2025, 7, 4, 16, 0, 0, 0, time.UTC))
	res, err := calendarService(t, s, mint(t, s, bob, scopeCalendar)).Events.List("primary").TimeZone("Asia/Tokyo").Do()
	if err != nil {
		t.Fatal(err)
	}
	if res.TimeZone != "Asia/Tokyo" || res.Items[0].Start.DateTime != "2025-07-05T00:00:00+09:00" {
		t.Errorf("time zone %q, start %+v", res.TimeZone, res.Items[0].Start)
	}
}

func TestDriveFiles(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	roadmap := s.AddFile(alice, "Q3 roadmap", fakegoogle.MimeDocument, "Widgets get retries. The gadget team ships metrics.")
	notes := s.AddFile(alice, "Retro notes", fakegoogle.MimeDocument, "We talked about the roadmap and widgets.")
	quote := s.AddFile(alice, "Alice's plan", fakegoogle.MimeSpreadsheet, `Costs in C:\budget and widgets`)
	trashed := s.AddFile(alice, "Old roadmap", fakegoogle.MimeDocument, "widgets")
	s.TrashFile(trashed)
	bobs := s.AddFile(bob, "Bob's widgets", "application/pdf", "widgets everywhere")
	shared := s.AddFile(bob, "Shared widgets", fakegoogle.MimePresentation, "widgets for all")
	s.ShareFile(shared, alice)
	ctx := context.Background()
	svc := driveService(t, s, mint(t, s, alice, scopeDrive))
	const fields = "nextPageToken,files(id,name,mimeType,webViewLink,modifiedTime)"

	search := func(q string) []string {
		t.Helper()
		res, err := svc.Files.List().Q(q).Fields(fields).Context(ctx).Do()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var ids []string
		for _, f := range res.Files {
			ids = append(ids, f.Id)
		}
		return ids
	}
	tests := []struct {
		q    string
		want []string
	}{
		{"fullText contains 'widgets' and trashed = false", []string{shared, quote, notes, roadmap}},
		{"fullText contains 'roadmap' and trashed = false", []string{roadmap, notes}}, // the name weighs more
		{"fullText contains 'widgets metrics'", []string{roadmap}},
		{`fullText contains '"roadmap and widgets"'`, []string{notes}},
		{`fullText contains 'Alice\'s'`, []string{quote}},
		{`fullText contains 'C:\\budget'`, []string{quote}},
		{"fullText contains 'nothing-here'", nil},
		{"name contains 'Q3' and mimeType = 'application/vnd.google-apps.document'", []string{roadmap}},
		{"trashed = true", []string{trashed}},
		{"'bob@example.test' in owners", []string{shared}},
		{"not trashed = true and (name contains 'retro' or name contains 'shared')", []string{shared, notes}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(search(tt.q), tt.want); diff != "" {
			t.Errorf("%s (-got +want):\n%s", tt.q, diff)
		}
	}
	for _, id := range search("") {
		if id == bobs {
			t.Error("alice sees a file bob did not share")
		}
	}

	res, err := svc.Files.List().Q("name contains 'Q3'").Fields(fields).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if f.Name != "Q3 roadmap" || f.MimeType != fakegoogle.MimeDocument || f.WebViewLink != s.URL()+"/document/d/"+roadmap+"/edit?usp=drivesdk" || f.ModifiedTime == "" {
		t.Errorf("file %+v", f)
	}
	resp, err := http.Get(f.WebViewLink)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("webViewLink: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// Without fields, Drive answers the bare minimum.
	res, err = svc.Files.List().Q("name contains 'Q3'").Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Files[0]; f.Id != roadmap || f.Kind != "drive#file" || f.WebViewLink != "" || f.ModifiedTime != "" {
		t.Errorf("default fields gave %+v", f)
	}

	var pages []int
	err = svc.Files.List().Q("trashed = false").PageSize(2).OrderBy("name").Fields("nextPageToken,files(id)").Pages(ctx, func(l *drive.FileList) error {
		pages = append(pages, len(l.Files))
		return nil
	})
	if err != nil || !cmp.Equal(pages, []int{2, 2}) {
		t.Errorf("pages %v (%v), want [2 2]", pages, err)
	}

	bad := []struct {
		name   string
		call   *drive.FilesListCall
		status int
		reason string
	}{
		{"orderBy with fullText", svc.Files.List().Q("fullText contains 'x'").OrderBy("modifiedTime desc"), 403, "forbidden"},
		{"unescaped quote", svc.Files.List().Q("fullText contains 'Alice's'"), 400, "invalid"},
		{"bad escape", svc.Files.List().Q(`fullText contains 'C:\budget'`), 400, "invalid"},
		{"unknown field", svc.Files.List().Q("colour = 'red'"), 400, "invalid"},
		{"bad orderBy", svc.Files.List().OrderBy("size"), 400, "invalid"},
		{"bad fields", svc.Files.List().Fields("files(colour)"), 400, "invalidParameter"},
		{"page size", svc.Files.List().PageSize(1001), 400, "invalid"},
	}
	for _, b := range bad {
		_, err := b.call.Context(ctx).Do()
		if ge := googleError(t, err); ge.Code != b.status || reason(ge) != b.reason {
			t.Errorf("%s: %d %q, want %d %q", b.name, ge.Code, reason(ge), b.status, b.reason)
		}
	}

	_, err = driveService(t, s, mint(t, s, alice, "email")).Files.List().Context(ctx).Do()
	if ge := googleError(t, err); ge.Code != 403 || reason(ge) != "insufficientPermissions" {
		t.Errorf("without a drive scope: %v", err)
	}
}

func TestAPIUnauthenticated(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	ctx := context.Background()
	tok := mint(t, s, alice, allScopes...)
	s.ExpireAccessTokens(alice)
	_, err := calendarService(t, s, tok).Events.List("primary").Context(ctx).Do()
	ge := googleError(t, err)
	if ge.Code != 401 || reason(ge) != "authError" || !strings.HasPrefix(ge.Message, "Request had invalid authentication credentials.") ||
		!strings.Contains(ge.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("expired token: %v", err)
	}
	code, _, body := getJSON(t, nil, s.APIURL()+"drive/v3/files")
	if e, _ := body["error"].(map[string]any); code != 401 || e["status"] != "UNAUTHENTICATED" {
		t.Errorf("no token: %d %v", code, body)
	}
	refreshOnly := &oauth2.Token{AccessToken: tok.RefreshToken}
	if code, _, _ := getJSON(t, refreshOnly, s.APIURL()+"drive/v3/files"); code != 401 {
		t.Errorf("a refresh token as bearer: %d, want 401", code)
	}
	if code, _, _ := getJSON(t, mint(t, s, alice, allScopes...), s.APIURL()+"calendar/v3/nope"); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

func TestRateLimited(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	ctx := context.Background()
	tok := mint(t, s, alice, allScopes...)
	s.SetRateLimited(alice, time.Now().Add(time.Hour))
	_, err := calendarService(t, s, tok).Events.List("primary").Context(ctx).Do()
	if ge := googleError(t, err); ge.Code != 403 || reason(ge) != "rateLimitExceeded" || ge.Errors[0].Message != "Rate Limit Exceeded" {
		t.Errorf("calendar: %v", err)
	}
	_, err = driveService(t, s, tok).Files.List().Context(ctx).Do()
	if ge := googleError(t, err); ge.Code != 403 || reason(ge) != "userRateLimitExceeded" {
		t.Errorf("drive: %v", err)
	}
	if code, _, body := getJSON(t, tok, s.APIURL()+"oauth2/v3/userinfo"); code != 429 {
		t.Errorf("userinfo: %d %v", code, body)
	}
	if code, _, _ := getJSON(t, mint(t, s, bob, allScopes...), s.APIURL()+"oauth2/v3/userinfo"); code != 200 {
		t.Errorf("bob is limited too: %d", code)
	}
	s.SetRateLimited(alice, time.Time{})
	if _, err := calendarService(t, s, tok).Events.List("primary").Context(ctx).Do(); err != nil {
		t.Errorf("after the limit: %v", err)
	}
}

// Calendar allows 600 queries a minute per user.
func TestCalendarQuota(t *testing.T) {
	now := time.Date(2025, 7, 4, 12, 0, 0, 0, time.UTC)
	s := start(t, fakegoogle.Options{Now: func() time.Time { return now }})
	svc := calendarService(t, s, mint(t, s, alice, allScopes...))
	for i := range 600 {
		if _, err := svc.Events.List("primary").Fields("kind").Do(); err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
	}
	_, err := svc.Events.List("primary").Do()
	if ge := googleError(t, err); ge.Code != 429 || reason(ge) != "rateLimitExceeded" {
		t.Errorf("query 601: %v", err)
	}
}

func TestOutageAndLatency(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	ctx := context.Background()
	tok := mint(t, s, alice, allScopes...)
	svc := calendarService(t, s, tok)
	s.SetOutage(http.StatusServiceUnavailable)
	_, err := svc.Events.List("primary").Context(ctx).Do()
	if ge := googleError(t, err); ge.Code != 503 || reason(ge) != "backendError" {
		t.Errorf("503: %v", err)
	}
	s.SetOutage(http.StatusBadGateway)
	_, err = svc.Events.List("primary").Context(ctx).Do()
	if ge := googleError(t, err); ge.Code != 502 || !strings.Contains(ge.Body, "<html>") {
		t.Errorf("502: %v", err)
	}
	if code, _ := postForm(t, s.TokenURL(), url.Values{}); code != 502 {
		t.Errorf("token endpoint in an outage: %d", code)
	}
	s.SetOutage(0)
	s.SetLatency(time.Second)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := svc.Events.List("primary").Context(short).Do(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency: %v, want a deadline error", err)
	}
}

func TestRequestsRecorded(t *testing.T) {
	s := start(t, fakegoogle.Options{})
	tok := mint(t, s, alice, allScopes...)
	if _, err := driveService(t, s, tok).Files.List().Q("fullText contains 'x'").PageSize(5).Do(); err != nil {
		t.Fatal(err)
	}
	getJSON(t, nil, s.APIURL()+"oauth2/v3/userinfo")
	got := s.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests recorded, want 2", len(got))
	}
	r := got[0]
	if r.Method != "GET" || r.Path != "/drive/v3/files" || r.Query.Get("q") != "fullText contains 'x'" || r.Query.Get("pageSize") != "5" ||
		r.Token != tok.AccessToken || r.Login != alice {
		t.Errorf("request %+v", r)
	}
	if got[1].Login != "" || got[1].Token != "" {
		t.Errorf("anonymous request %+v", got[1])
	}
}

func TestDemoData(t *testing.T) {
	s := start(t, fakegoogle.Options{DemoData: true})
	ctx := context.Background()
	tok := mint(t, s, "alice@example.test", allScopes...)
	now := time.Now()
	res, err := calendarService(t, s, tok).Events.List("primary").TimeMin(now.Add(-24 * time.Hour).Format(time.RFC3339)).
		TimeMax(now.Add(9 * 24 * time.Hour).Format(time.RFC3339)).SingleEvents(true).OrderBy("startTime").Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) < 3 {
		t.Errorf("alice has %d meetings in the demo", len(res.Items))
	}
	files, err := driveService(t, s, tok).Files.List().Q("fullText contains 'widget' and trashed = false").Fields("files(name)").Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files.Files {
		names = append(names, f.Name)
	}
	if len(names) == 0 || strings.Contains(strings.Join(names, "|"), "Old roadmap") {
		t.Errorf("alice's widget documents: %q", names)
	}
	if len(fakegoogle.DemoUsers()) != 3 {
		t.Error("DemoUsers is not alice, bob and carol")
	}
}
