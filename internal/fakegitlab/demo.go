package fakegitlab

// DemoUsers returns the demo accounts: alice, bob and carol.
func DemoUsers() []User {
	return []User{
		{Login: "alice", ID: 2001, Name: "Alice Liddell", Email: "alice@example.com"},
		{Login: "bob", ID: 2002, Name: "Bob Marley", Email: "bob@example.com"},
		{Login: "carol", ID: 2003, Name: "Carol Danvers", Email: "carol@example.com"},
	}
}

// seedDemo fills the server with a group, acme, whose members are the
// configured users, a private project, and some work in progress. Called by
// New.
func (s *Server) seedDemo() {
	logins := make([]string, 0, len(s.order))
	for _, k := range s.order {
		logins = append(logins, s.users[k].Login)
	}
	for len(logins) < 3 {
		logins = append(logins, DemoUsers()[len(logins)].Login)
	}
	a, b, c := logins[0], logins[1], logins[2]
	const widgets, gadgets = "acme/widgets", "acme/platform/gadgets"
	for _, l := range logins {
		s.AddMember(widgets, l)
		s.AddMember(gadgets, l)
	}
	s.AddPrivateProject(a+"/notes", a)
	s.AddIssue(a+"/notes", a, "Review bob's merge request", a)

	m1 := s.AddMergeRequest(widgets, a, "Add retry to the widget client", false)
	s.RequestReview(widgets, m1, b)
	s.AddMergeRequest(widgets, a, "Widget metrics", true)
	m3 := s.AddMergeRequest(gadgets, a, "Fix gadget rounding", false)
	s.RequestReview(gadgets, m3, c)

	m4 := s.AddMergeRequest(widgets, b, "Bump Go to 1.26", false)
	s.RequestReview(widgets, m4, a)
	s.AddMergeRequest(gadgets, c, "Gadget docs", false)

	s.AddIssue(widgets, b, "Widget client leaks connections", a)
	s.AddIssue(widgets, a, "Document the retry policy", a)
	s.AddIssue(gadgets, c, "Gadgets round half away from zero", b)
}
