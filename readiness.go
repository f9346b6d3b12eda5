package tandem

// EditorReadiness says, for one editor of a session, how the accounts their
// turns use stand for the providers the session has needed.
type EditorReadiness struct {
	User  string `json:"user"`
	Owner bool   `json:"owner,omitempty"`
	// ActsAs is the owner when the session is persistent and this editor's
	// turns run as the owner. Their own links play no part there, so
	// Connected, NeedsReconnect and Missing stay empty: the owner's entry
	// says what those turns have.
	ActsAs         string       `json:"acts_as,omitempty"`
	Connected      []ProviderID `json:"connected"`
	NeedsReconnect []ProviderID `json:"needs_reconnect"`
	Missing        []ProviderID `json:"missing"`
}

// Ready reports whether the editor has nothing to connect: their own links
// cover every provider the session used, or their turns run as the owner.
func (e EditorReadiness) Ready() bool { return len(e.NeedsReconnect) == 0 && len(e.Missing) == 0 }

// SessionReadiness is a session's readiness: whether the identities its
// turns run as can act on what the session has used. Per-message (and
// pending the owner's approval) that is each editor's own; persistent it is
// the owner's alone.
type SessionReadiness struct {
	Session    SessionKey        `json:"session"`
	Owner      string            `json:"owner"`
	Persistent bool              `json:"persistent"`
	Pending    bool              `json:"pending,omitempty"`
	Used       []ProviderID      `json:"used"`
	Editors    []EditorReadiness `json:"editors"`
}

// Ready reports whether every identity the session's turns run as is
// ready; in a persistent session, whether the owner is.
func (r SessionReadiness) Ready() bool {
	for _, e := range r.Editors {
		if !e.Ready() {
			return false
		}
	}
	return true
}

// OwnerReadiness returns the owner's entry; its User is empty if the
// editors list lacks the owner (never, for a report built by Readiness).
func (r SessionReadiness) OwnerReadiness() EditorReadiness {
	for _, e := range r.Editors {
		if e.Owner {
			return e
		}
	}
	return EditorReadiness{}
}

// Readiness computes a session's readiness from the providers its turns
// used and the links (keyed by Slack user) of the owner and, unless the
// session is persistent, of each editor.
func Readiness(s Session, used []ProviderID, links map[string][]Link) SessionReadiness {
	r := SessionReadiness{Session: s.Key, Owner: s.Owner, Persistent: s.Persistent(), Pending: s.Pending != nil, Used: used}
	for _, user := range append([]string{s.Owner}, s.Editors...) {
		e := EditorReadiness{User: user, Owner: user == s.Owner}
		if as, reason := EffectiveUser(s, user); reason == ReasonPersistentOwner && as != user {
			e.ActsAs = as
			r.Editors = append(r.Editors, e)
			continue
		}
		for _, st := range LinkStates(links[user], used) {
			switch st.State {
			case LinkConnected:
				e.Connected = append(e.Connected, st.Provider)
			case LinkNeedsReconnect:
				e.NeedsReconnect = append(e.NeedsReconnect, st.Provider)
			default:
				e.Missing = append(e.Missing, st.Provider)
			}
		}
		r.Editors = append(r.Editors, e)
	}
	return r
}
