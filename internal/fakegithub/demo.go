package fakegithub

// DemoUsers returns the demo accounts: alice, bob and carol.
func DemoUsers() []User {
	return []User{
		{Login: "alice", ID: 1001, Name: "Alice Liddell", Email: "alice@example.com"},
		{Login: "bob", ID: 1002, Name: "Bob Marley", Email: "bob@example.com"},
		{Login: "carol", ID: 1003, Name: "Carol Danvers", Email: "carol@example.com"},
	}
}

// seedDemo fills the server with a small organisation, acme, whose members
// are the configured users, and some work in progress. Called by New.
func (s *Server) seedDemo() {
	logins := make([]string, 0, len(s.order))
	for _, k := range s.order {
		logins = append(logins, s.users[k].Login)
	}
	for len(logins) < 3 {
		logins = append(logins, DemoUsers()[len(logins)].Login)
	}
	a, b, c := logins[0], logins[1], logins[2]
	const widgets, gadgets = "acme/widgets", "acme/gadgets"
	for _, l := range logins {
		s.AddCollaborator(widgets, l)
		s.AddCollaborator(gadgets, l)
	}
	s.AddFile(widgets, "README.md", []byte("# widgets\n\nAcme's widgets.\n"))
	s.AddFile(widgets, "docs/runbook.md", []byte("# Runbook\n\nRestart the widget service.\n"))
	s.AddPrivateRepo(a+"/notes", a)
	s.AddFile(a+"/notes", "todo.md", []byte("- review bob's pull request\n"))

	p1 := s.AddPullRequest(widgets, a, "Add retry to the widget client", false)
	s.AddCheckRun(widgets, p1, "build", "completed", "success")
	s.AddCheckRun(widgets, p1, "test", "completed", "failure")
	s.RequestReview(widgets, p1, b)
	s.AddPullRequest(widgets, a, "WIP: widget metrics", true)
	p3 := s.AddPullRequest(gadgets, a, "Fix gadget rounding", false)
	s.AddCheckRun(gadgets, p3, "build", "completed", "success")
	s.AddReview(gadgets, p3, c, "APPROVED", "Looks good.")

	p4 := s.AddPullRequest(widgets, b, "Bump Go to 1.26", false)
	s.AddCheckRun(widgets, p4, "build", "in_progress", "")
	s.RequestReview(widgets, p4, a)
	p5 := s.AddPullRequest(gadgets, c, "Gadget docs", false)
	s.AddReview(gadgets, p5, b, "CHANGES_REQUESTED", "Please add an example.")

	s.AddIssue(widgets, b, "Widget client leaks connections", a)
	s.AddIssue(widgets, a, "Document the retry policy", a)
	s.AddIssue(gadgets, c, "Gadgets round half away from zero", b)
}
