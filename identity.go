package tandem

// EffectiveUser applies the identity rules (docs/identity-rules.md) to a
// message turn: it returns whose credentials the turn of sender in s uses,
// and why. A refused turn returns "" with ReasonRefusedNotEditor.
func EffectiveUser(s Session, sender string) (user string, reason Reason) {
	if !s.Persistent() {
		return sender, ReasonSender
	}
	if s.HasEditor(sender) {
		return s.Owner, ReasonPersistentOwner
	}
	return "", ReasonRefusedNotEditor
}
