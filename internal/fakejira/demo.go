package fakejira

// Cloud ids of the demo sites.
const (
	DemoAcme = "8f1c3d2e-5b7a-4c9e-9d1f-2a6b4c8e0f13"
	DemoLabs = "c2a94e71-0d3b-4f68-a5c2-7e19b3d60a84"
)

// DemoSites returns the demo sites, acme and acme-labs, whose pages the
// fake serves.
func DemoSites() []Site {
	return []Site{
		{CloudID: DemoAcme, Name: "acme"},
		{CloudID: DemoLabs, Name: "acme-labs"},
	}
}

// DemoUsers returns the demo accounts: alice (on both demo sites), bob
// (acme only) and carol (both).
func DemoUsers() []User {
	return []User{
		{Email: "alice@example.test", Name: "Alice Liddell", Sites: []string{DemoAcme, DemoLabs}},
		{Email: "bob@example.test", Name: "Bob Marley", Sites: []string{DemoAcme}},
		{Email: "carol@example.test", Name: "Carol Danvers", Sites: []string{DemoAcme, DemoLabs}},
	}
}

// seedDemo fills the demo sites with projects and work in progress for the
// first three configured users. Called by New.
func (s *Server) seedDemo() {
	var logins []string
	for _, k := range s.order {
		logins = append(logins, s.users[k].Email)
	}
	for len(logins) < 3 {
		logins = append(logins, DemoUsers()[len(logins)].Email)
	}
	a, b, c := logins[0], logins[1], logins[2]
	for _, l := range logins {
		s.AddSiteUser(DemoAcme, l)
	}
	s.AddSiteUser(DemoLabs, a)
	s.AddSiteUser(DemoLabs, c)

	s.AddProject(DemoAcme, "OPS", "Operations")
	s.AddProject(DemoAcme, "WEB", "Website")
	s.AddProject(DemoLabs, "LAB", "Research")

	s.AddIssue(DemoAcme, Issue{Project: "OPS", Summary: "Rotate the database credentials", Assignee: a, Reporter: b,
		Description: "The current credentials were shared in a ticket.\nRotate them and update the vault."})
	s.AddIssue(DemoAcme, Issue{Project: "OPS", Summary: "Widget service restarts at midnight", Type: "Bug", Status: "In Progress", Assignee: a, Reporter: c})
	s.AddIssue(DemoAcme, Issue{Project: "WEB", Summary: "Update the pricing page", Type: "Story", Status: "In Review", Assignee: a})
	s.AddIssue(DemoAcme, Issue{Project: "OPS", Summary: "Archive last year's logs", Status: "Done", Assignee: a})
	s.AddIssue(DemoAcme, Issue{Project: "OPS", Summary: "Renew the TLS certificate", Assignee: b, Reporter: a})
	s.AddIssue(DemoAcme, Issue{Project: "WEB", Summary: "Broken link in the footer", Type: "Bug", Assignee: c})
	s.AddIssue(DemoLabs, Issue{Project: "LAB", Summary: "Benchmark the new parser", Status: "In Progress", Assignee: a})
	s.AddIssue(DemoLabs, Issue{Project: "LAB", Summary: "Write up the experiment", Assignee: c})
}
