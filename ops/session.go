package ops

// sessionControls are the session controls. Their grammar lives here with
// every other operation, so help and "did you mean" know them; the turn
// engine carries them out, since they change the session rather than act
// at a provider.
func sessionControls() []Spec {
	assign := []Arg{{Name: "assign", Kind: Assignment, Description: "the variable and its new value, as NAME=value"}}
	variable := []Arg{{Name: "var", Kind: Variable, Description: "the variable to remove"}}
	user := []Arg{{Name: "user", Kind: User, Description: "the person, mentioned"}}
	return []Spec{
		{Name: "session.set", Example: "set KEEP_CREDENTIALS_PERSISTENT=true", Summary: "set a session variable (owner or channel admin; the owner must approve sharing their identity)", Control: true,
			Args: assign, Phrasings: []string{"set {assign}", "export {assign}"}},
		{Name: "session.unset", Example: "unset KEEP_CREDENTIALS_PERSISTENT", Summary: "remove a session variable (owner or channel admin)", Control: true,
			Args: variable, Phrasings: []string{"unset {var}"}},
		{Name: "session.env", Example: "env", Summary: "this session's variables", Control: true,
			Phrasings: []string{"env", "show env", "variables"}},
		{Name: "session.editors", Example: "editors", Summary: "who may run turns when the session is persistent", Control: true,
			Phrasings: []string{"editors", "list editors", "who are the editors"}},
		{Name: "session.editors_add", Example: "editors add @someone", Summary: "let someone run turns in a persistent session (owner or channel admin)", Control: true,
			Args: user, Phrasings: []string{"editors add {user}", "add editor {user}", "add {user} to [the] editors"}},
		{Name: "session.editors_remove", Example: "editors remove @someone", Summary: "take someone off the editors list (owner or channel admin)", Control: true,
			Args: user, Phrasings: []string{"editors remove {user}", "remove editor {user}", "remove {user} from [the] editors"}},
		{Name: "session.audit", Example: "audit", Summary: "the last identity records of this session (owner and channel admins)", Control: true,
			Phrasings: []string{"audit", "show audit", "audit log"}},
		{Name: "schedule.create", Example: "every weekday at 9:00 standup", Summary: "run a command by itself in this thread at the times given, always as you (in your Slack time zone unless you name one; `on 2026-12-24 at 16:00 …` runs once)", Control: true,
			Args: []Arg{{Name: "when", Kind: Text, Description: "the days and time, then the command"}}, Phrasings: []string{"every {when}", "on {when}", "tomorrow {when}"}},
		{Name: "schedule.list", Example: "schedules", Summary: "this thread's schedules (`/tandem schedules`: yours everywhere)", Control: true,
			Phrasings: []string{"schedules", "list schedules", "show schedules"}},
		{Name: "session.show", Example: "session", Summary: "who owns this session, its mode, its editors and what each has connected", Control: true,
			Phrasings: []string{"session", "show session", "session status", "readiness"}},
	}
}
