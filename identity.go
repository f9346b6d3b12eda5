package tandem

// EffectiveUser applies the identity rules (docs/identity-rules.md) to a
// message turn: it returns whose credentials the turn of sender in s uses,
// and why. In a persistent session, or one pending the owner's approval,
// only the owner and the editors may run turns; a refused turn returns ""
// with ReasonRefusedNotEditor.
func EffectiveUser(s Session, sender string) (user string, reason Reason) {
	switch {
	case (s.Persistent() || s.Pending != nil) && !s.HasEditor(sender):
		return "", ReasonRefusedNotEditor
	case s.Persistent():
		return s.Owner, ReasonPersistentOwner
	}
	return sender, ReasonSender
}
