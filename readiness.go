package tandem

// EditorReadiness says, for one editor of a session, how their accounts
// stand for the providers the session has needed.
type EditorReadiness struct {
	User           string       `json:"user"`
	Owner          bool         `json:"owner,omitempty"`
	Connected      []ProviderID `json:"connected"`
	NeedsReconnect []ProviderID `json:"needs_reconnect"`
	Missing        []ProviderID `json:"missing"`
}

// Ready reports whether the editor can run every provider the session used.
func (e EditorReadiness) Ready() bool { return len(e.NeedsReconnect) == 0 && len(e.Missing) == 0 }

// SessionReadiness is a session's readiness for per-message credentials:
// whether each editor can act as themselves on what the session has used.
type SessionReadiness struct {
	Session    SessionKey        `json:"session"`
	Owner      string            `json:"owner"`
	Persistent bool              `json:"persistent"`
	Pending    bool              `json:"pending,omitempty"`
	Used       []ProviderID      `json:"used"`
	Editors    []EditorReadiness `json:"editors"`
}

// Ready reports whether every editor is ready.
func (r SessionReadiness) Ready() bool {
	for _, e := range r.Editors {
		if !e.Ready() {
			return false
		}
	}
	return true
}

// Readiness computes a session's readiness from the providers its turns
// used and each editor's links (keyed by Slack user).
func Readiness(s Session, used []ProviderID, links map[string][]Link) SessionReadiness {
	r := SessionReadiness{Session: s.Key, Owner: s.Owner, Persistent: s.Persistent(), Pending: s.Pending != nil, Used: used}
	for _, user := range append([]string{s.Owner}, s.Editors...) {
		e := EditorReadiness{User: user, Owner: user == s.Owner}
		for _, p := range used {
			state := LinkMissing
			for _, l := range links[user] {
				if l.Provider == p {
					state = LinkConnected
					if l.NeedsReconnect {
						state = LinkNeedsReconnect
					}
				}
			}
			switch state {
			case LinkConnected:
				e.Connected = append(e.Connected, p)
			case LinkNeedsReconnect:
				e.NeedsReconnect = append(e.NeedsReconnect, p)
			default:
				e.Missing = append(e.Missing, p)
			}
		}
		r.Editors = append(r.Editors, e)
	}
	return r
}

// TryMessage is a harmless message that shows which identity a provider
// uses, for people checking their setup.
var TryMessage = map[ProviderID]string{
	GitHub: "list my open PRs",
	GitLab: "list my open MRs",
	Jira:   "my jira issues",
	Google: "my meetings today",
}
