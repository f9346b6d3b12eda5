package handlers

// sessionSpecs are the session controls. Their grammar lives here with every
// other command, so help and "did you mean" know them; the bot carries them
// out, since they change the session rather than act at a provider.
func sessionSpecs() []spec {
	return []spec{
		{name: "session.set", example: "set KEEP_CREDENTIALS_PERSISTENT=true", help: "set a session variable (owner or channel admin; the owner must approve sharing their identity)", control: true,
			phrasings: []string{"set {assign}", "export {assign}"}},
		{name: "session.unset", example: "unset KEEP_CREDENTIALS_PERSISTENT", help: "remove a session variable (owner or channel admin)", control: true,
			phrasings: []string{"unset {var}"}},
		{name: "session.env", example: "env", help: "this session's variables", control: true,
			phrasings: []string{"env", "show env", "variables"}},
		{name: "session.editors", example: "editors", help: "who may run turns when the session is persistent", control: true,
			phrasings: []string{"editors", "list editors", "who are the editors"}},
		{name: "session.editors_add", example: "editors add @someone", help: "let someone run turns in a persistent session (owner or channel admin)", control: true,
			phrasings: []string{"editors add {user}", "add editor {user}", "add {user} to [the] editors"}},
		{name: "session.editors_remove", example: "editors remove @someone", help: "take someone off the editors list (owner or channel admin)", control: true,
			phrasings: []string{"editors remove {user}", "remove editor {user}", "remove {user} from [the] editors"}},
		{name: "session.audit", example: "audit", help: "the last identity records of this session (owner and channel admins)", control: true,
			phrasings: []string{"audit", "show audit", "audit log"}},
		{name: "session.show", example: "session", help: "who owns this session, its mode, its editors and what each has connected", control: true,
			phrasings: []string{"session", "show session", "session status", "readiness"}},
	}
}
