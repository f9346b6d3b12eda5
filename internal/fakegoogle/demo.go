package fakegoogle

import "time"

// DemoUsers returns the demo accounts: alice, bob and carol at
// example.test.
func DemoUsers() []User {
	return []User{
		{Email: "alice@example.test", Sub: "110000000000000001001", Name: "Alice Liddell", TimeZone: "Europe/London"},
		{Email: "bob@example.test", Sub: "110000000000000001002", Name: "Bob Marley", TimeZone: "America/New_York"},
		{Email: "carol@example.test", Sub: "110000000000000001003", Name: "Carol Danvers", TimeZone: "UTC"},
	}
}

// seedDemo gives the configured users (the first three) meetings today and
// tomorrow in their own time zones, and a few documents, some shared.
// Called by New.
func (s *Server) seedDemo() {
	s.mu.Lock()
	emails := make([]string, 0, len(s.order))
	for _, k := range s.order {
		emails = append(emails, s.users[k].Email)
	}
	s.mu.Unlock()
	for len(emails) < 3 {
		emails = append(emails, DemoUsers()[len(emails)].Email)
	}
	a, b, c := emails[0], emails[1], emails[2]

	at := func(login string, day, hour, minute int) time.Time {
		s.mu.Lock()
		loc := zone(s.ensureUser(login).TimeZone)
		s.mu.Unlock()
		y, m, d := s.now().In(loc).Date()
		return time.Date(y, m, d+day, hour, minute, 0, 0, loc)
	}
	standup := func(login string) {
		id := s.AddEvent(login, "Widgets standup", at(login, 0, 9, 30), at(login, 0, 9, 45))
		s.SetEventPlace(id, "", "https://meet.google.com/fak-estn-dup")
	}
	standup(a)
	standup(b)
	one := s.AddEvent(a, "1:1 Alice / Bob", at(a, 0, 14, 0), at(a, 0, 14, 30))
	s.SetEventPlace(one, "Room 4, Acme HQ", "")
	s.AddEvent(a, "Sprint planning", at(a, 1, 10, 0), at(a, 1, 11, 0))
	s.AddAllDayEvent(a, "Acme offsite", at(a, 7, 12, 0), 2)
	s.AddEvent(b, "Release review", at(b, 0, 16, 0), at(b, 0, 17, 0))
	s.AddEvent(c, "Gadget pricing workshop", at(c, 1, 13, 0), at(c, 1, 15, 0))

	s.AddFile(a, "Q3 roadmap", MimeDocument, "Widgets: add retry to the client, ship metrics. Gadgets: fix rounding.")
	s.AddFile(a, "Budget 2025", MimeSpreadsheet, "Team budget: travel, hardware, widgets licences.")
	runbook := s.AddFile(a, "Runbook: widget service", MimeDocument, "Restart the widget service. Page the on-call engineer if retries fail.")
	s.ShareFile(runbook, b)
	old := s.AddFile(a, "Old roadmap", MimeDocument, "Roadmap for widgets, superseded.")
	s.TrashFile(old)
	s.AddFile(b, "Onboarding notes", MimeDocument, "Welcome to Acme. Read the widget runbook first.")
	pricing := s.AddFile(c, "Gadget pricing", MimeSpreadsheet, "Gadget prices round half away from zero.")
	s.ShareFile(pricing, a)
	s.AddFile(c, "Architecture.pdf", "application/pdf", "Widget service architecture: clients, retries, metrics.")
}
