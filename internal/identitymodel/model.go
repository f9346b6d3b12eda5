// Package identitymodel is the identity rule (docs/identity-rules.md) as a
// small pure state machine: given the operations people perform on one
// session thread and their accounts, it says for every turn whose identity
// must reach a provider, with which account, or that the turn is refused or
// not configured. It knows nothing of Slack, stores or HTTP; the model test
// in cmd/tandem applies the same operations to the real binary and compares.
package identitymodel

import (
	"slices"

	"github.com/tandembot/tandem"
)

// Mode is a session's credential mode.
type Mode int

// The modes of a session.
const (
	PerMessage Mode = iota
	Pending         // persistent mode requested, waiting for the owner
	Persistent
)

// Outcome is how a turn ends, as the rule decides it.
type Outcome int

// Outcomes of a turn.
const (
	OK            Outcome = iota // ran with Login of User
	NotConfigured                // User has no link for the provider
	Expired                      // User's link needs reconnecting
	Refused                      // the sender may not run turns here
	Relinked                     // User's link went to another account while the turn ran: it stopped
)

// Account is one provider account, and whether the provider still accepts
// the grant Tandem holds for it.
type Account struct {
	Login   string
	Revoked bool // revoked at the provider; the next use marks the link dead
}

// Link is a user's link to a provider.
type Link struct {
	Login string
	Dead  bool // needs reconnect
}

// Expect is the model's answer for one turn at one provider.
type Expect struct {
	Outcome Outcome
	User    string // whose identity: the sender, the owner, the key's creator
	Login   string // the account that must carry every request, when OK
	Reason  tandem.Reason
	// Msg numbers the message (1, 2, …, by Message) a turn answers, so a
	// caller can tell which message a re-run replays.
	Msg int
}

// Model is one session thread and everyone's links.
type Model struct {
	Owner   string
	Mode    Mode
	Editors map[string]bool // may act as the owner in persistent mode (the owner always may)
	// PendingEditors were added by someone other than the owner in a
	// persistent or pending session: they wait for the owner's approval.
	PendingEditors map[string]bool
	// Shown is the editors list the owner's approval request showed, and
	// the editors the owner added or approved while it waited; an approval
	// covers exactly it.
	Shown []string
	links map[string]map[tandem.ProviderID]Link
	// revoked are the accounts whose grant their provider no longer
	// accepts (Jira's and Google's logins are both emails).
	revoked map[account]bool
	// waiting are each sender's messages that failed because the sender's
	// own link was missing or dead, oldest first: the sender's next
	// connect of that provider, by any path, runs them again, once.
	waiting map[string][]failedTurn
	msgs    int // messages so far
}

type failedTurn struct {
	msg      int
	provider tandem.ProviderID
	reason   tandem.Reason // the row that gave the sender's identity
}

// Rerun is the re-run of one waiting message after its sender connected.
type Rerun struct {
	Msg int // the message it replays (Expect.Msg of its first run)
	// Run is false when the session's mode no longer gives the message the
	// identity it was sent with: nothing runs, and the sender is told to
	// send it again.
	Run    bool
	Expect Expect // what the re-run meets, when Run
}

// New returns an empty world: no session yet, nobody linked.
func New() *Model {
	return &Model{
		Editors: map[string]bool{}, PendingEditors: map[string]bool{},
		links: map[string]map[tandem.ProviderID]Link{}, revoked: map[account]bool{},
		waiting: map[string][]failedTurn{},
	}
}

// Link returns user's link to p and whether there is one.
func (m *Model) Link(user string, p tandem.ProviderID) (Link, bool) {
	l, ok := m.links[user][p]
	return l, ok
}

// Started reports whether the thread has a session (someone wrote in it).
func (m *Model) Started() bool { return m.Owner != "" }

// mayAct reports whether sender may run turns in a persistent or pending
// session.
func (m *Model) mayAct(sender string) bool { return sender == m.Owner || m.Editors[sender] }

// identity applies the table to a message of sender.
func (m *Model) identity(sender string) (string, tandem.Reason) {
	switch {
	case m.Mode == PerMessage:
		return sender, tandem.ReasonSender
	case !m.mayAct(sender):
		return "", tandem.ReasonRefusedNotEditor
	case m.Mode == Persistent:
		return m.Owner, tandem.ReasonPersistentOwner
	}
	return sender, tandem.ReasonSender // pending: the owner and editors still act as themselves
}

// Wrote is any message of sender in the thread: the first one makes the
// session and its owner, and in a per-message session whoever writes
// becomes an editor.
func (m *Model) Wrote(sender string) {
	if m.Owner == "" {
		m.Owner = sender
	}
	if m.Mode == PerMessage && sender != m.Owner {
		m.Editors[sender] = true
	}
}

// Identity is whose identity a turn of sender uses now, and why.
func (m *Model) Identity(sender string) (string, tandem.Reason) { return m.identity(sender) }

// Message is a message of sender in the thread that needs provider p.
func (m *Model) Message(sender string, p tandem.ProviderID) Expect {
	m.Wrote(sender)
	user, reason := m.identity(sender)
	if reason == tandem.ReasonRefusedNotEditor {
		return Expect{Outcome: Refused, Reason: reason}
	}
	m.msgs++
	e := m.use(user, p, reason)
	e.Msg = m.msgs
	if (e.Outcome == NotConfigured || e.Outcome == Expired) && user == sender {
		// Only the sender's own link is waited for: a persistent session's
		// editor cannot connect the owner's account.
		m.waiting[sender] = append(m.waiting[sender], failedTurn{msg: m.msgs, provider: p, reason: reason})
	}
	return e
}

// MessageAcross is a message of sender that needs p and whose turn is
// still running when during happens: something that acts outside the
// session's turns (the settings modal, the owner's press). The turn keeps
// the identity it started with, and its sender joins the editors only if
// the session still runs each message as its sender when the turn ends:
// nobody joins a list its owner approved, or was shown, after the fact.
func (m *Model) MessageAcross(sender string, p tandem.ProviderID, during func()) Expect {
	was := m.Editors[sender]
	e := m.Message(sender, p)
	if !was {
		delete(m.Editors, sender) // written when the turn ends
	}
	during()
	if !was && m.Mode == PerMessage && sender != m.Owner {
		m.Editors[sender] = true
	}
	return e
}

// MessageRelinked is a message of sender that needs p and whose
// identity's link to p is replaced by during (a connect of another
// account) while the turn refreshes its token at p: the turn started as
// the old account and stops, and nothing of it leaves as the new one
// (another account of the same person is still not the one the turn
// started with). It waits for no connect: its person has just connected.
// When the message would not run as a link (refused, not connected), it
// is Message, and during does not happen.
func (m *Model) MessageRelinked(sender string, p tandem.ProviderID, during func()) Expect {
	e := m.Message(sender, p)
	if e.Outcome != OK {
		return e
	}
	during()
	e.Outcome = Relinked
	return e
}

// Runs reports whether a message of sender that needs p would reach p now:
// its identity has a link there that p still accepts. It changes nothing.
func (m *Model) Runs(sender string, p tandem.ProviderID) bool {
	user, reason := m.identity(sender)
	if reason == tandem.ReasonRefusedNotEditor {
		return false
	}
	l, ok := m.links[user][p]
	return ok && !l.Dead && !m.revoked[account{p, l.Login}]
}

// Forget drops message msg of sender from the waiting ones: the binary was
// killed before it recorded that the message waits (a change it then
// reported as interrupted).
func (m *Model) Forget(sender string, msg int) {
	m.waiting[sender] = slices.DeleteFunc(m.waiting[sender], func(f failedTurn) bool { return f.msg == msg })
}

// use is what a turn acting as user at p meets.
func (m *Model) use(user string, p tandem.ProviderID, reason tandem.Reason) Expect {
	l, ok := m.links[user][p]
	switch {
	case !ok:
		return Expect{Outcome: NotConfigured, User: user, Reason: reason}
	case l.Dead:
		return Expect{Outcome: Expired, User: user, Reason: reason}
	case m.revoked[account{p, l.Login}]:
		l.Dead = true
		m.links[user][p] = l
		return Expect{Outcome: Expired, User: user, Reason: reason}
	}
	return Expect{Outcome: OK, User: user, Login: l.Login, Reason: reason}
}

// APITurn is a turn through an API key created by creator: the key's
// creator, whatever the mode.
func (m *Model) APITurn(creator string, p tandem.ProviderID) Expect {
	return m.use(creator, p, tandem.ReasonAPIKeyCreator)
}

// ScheduledRun is a due run of a schedule created by creator: the
// schedule's creator, whatever the mode.
func (m *Model) ScheduledRun(creator string, p tandem.ProviderID) Expect {
	return m.use(creator, p, tandem.ReasonScheduleCreator)
}

// TimePassed says that more than the re-run window went by: no message
// waits for a link any more.
func (m *Model) TimePassed() { clear(m.waiting) }

// Use is what a turn acting as user for reason meets at p (for commands
// that use several providers at once).
func (m *Model) Use(user string, p tandem.ProviderID, reason tandem.Reason) Expect {
	return m.use(user, p, reason)
}

// Connect links user's account login at p (a relink replaces the link),
// by any path: a Connect button, /connect, the App Home or a DM. It returns
// the re-runs it causes, in the order the messages were sent: every message
// of user still waiting for p runs again, once.
func (m *Model) Connect(user string, p tandem.ProviderID, login string) []Rerun {
	if m.links[user] == nil {
		m.links[user] = map[tandem.ProviderID]Link{}
	}
	m.links[user][p] = Link{Login: login}
	m.revoked[account{p, login}] = false
	var out []Rerun
	var rest []failedTurn
	for _, f := range m.waiting[user] {
		if f.provider != p {
			rest = append(rest, f)
			continue
		}
		// The re-run is the sender's message again: in a per-message
		// session it makes them an editor, as any message does.
		m.Wrote(user)
		r := Rerun{Msg: f.msg}
		if u, reason := m.identity(user); u == user && reason == f.reason {
			r.Run, r.Expect = true, m.use(user, p, tandem.ReasonSender)
			r.Expect.Msg = f.msg
		}
		out = append(out, r)
	}
	m.waiting[user] = rest
	return out
}

// Waiting reports whether user has messages waiting for a connect of p.
func (m *Model) Waiting(user string, p tandem.ProviderID) bool {
	return slices.ContainsFunc(m.waiting[user], func(f failedTurn) bool { return f.provider == p })
}

// Disconnect removes user's link to p.
func (m *Model) Disconnect(user string, p tandem.ProviderID) {
	delete(m.links[user], p)
}

// Revoke revokes at p the grant of login (any account someone ever linked,
// current or not).
func (m *Model) Revoke(p tandem.ProviderID, login string) { m.revoked[account{p, login}] = true }

// account is one account at one provider.
type account struct {
	provider tandem.ProviderID
	login    string
}

// SetPersistent is a request by actor to turn persistent mode on; admin
// says whether actor is a channel admin. It returns false when actor may
// not change the session.
func (m *Model) SetPersistent(actor string, admin bool) bool {
	switch {
	case actor == m.Owner && m.Mode == Persistent:
		return true
	case actor == m.Owner && len(m.Editors) > 0:
		// A typed set shows the owner no list: they approve the editors
		// by a press, as an admin's request.
		m.Mode = Pending
		m.Shown = m.editorList()
		return true
	case actor == m.Owner:
		m.Mode = Persistent
		m.Shown = nil
		return true
	case admin:
		if m.Mode != Persistent {
			m.Mode = Pending
			m.Shown = m.editorList()
		}
		return true
	}
	return false
}

// SavePersistent is actor's Save of persistent mode in the Session
// settings modal, which showed the editors list: by the owner it takes
// effect at once (a list changed since the modal opened is refused before
// this), by an admin it waits for the owner as a typed set does.
func (m *Model) SavePersistent(actor string, admin bool) bool {
	if actor == m.Owner {
		m.Mode = Persistent
		m.Shown = nil
		return true
	}
	return m.SetPersistent(actor, admin)
}

// Unset turns persistent mode (or a pending request) off.
func (m *Model) Unset(actor string, admin bool) bool {
	if actor != m.Owner && !admin {
		return false
	}
	m.Mode = PerMessage
	m.Shown = nil
	clear(m.PendingEditors)
	return true
}

// Approve is the owner's press on the message of the request now waiting:
// persistent mode with exactly the editors the request showed (those
// removed since stay removed; nobody else joins). A press on an older
// request's message changes nothing, so it has no method here.
func (m *Model) Approve() {
	if m.Mode != Pending {
		return
	}
	shown := map[string]bool{}
	for _, e := range m.Shown {
		shown[e] = true
	}
	for e := range m.Editors {
		if !shown[e] {
			delete(m.Editors, e)
		}
	}
	m.Mode = Persistent
	m.Shown = nil
}

// ApproveEditor is the owner's press approving who, whom an admin added.
func (m *Model) ApproveEditor(who string) {
	if m.PendingEditors[who] {
		delete(m.PendingEditors, who)
		m.Editors[who] = true
		m.ownerAgreed(who)
	}
}

// ownerAgreed notes, while the mode waits for the owner's approval, that
// the owner agreed to who as an editor: the approval keeps them.
func (m *Model) ownerAgreed(who string) {
	if m.Mode == Pending && !slices.Contains(m.Shown, who) {
		m.Shown = append(m.Shown, who)
	}
}

// DeclineEditor is the owner's press declining who.
func (m *Model) DeclineEditor(who string) { delete(m.PendingEditors, who) }

// Decline is the owner's refusal.
func (m *Model) Decline() {
	if m.Mode != Pending {
		return
	}
	m.Mode = PerMessage
	m.Shown = nil
	clear(m.PendingEditors)
}

// EditorsAdd is actor adding who. By the owner it takes effect; by an
// admin in a persistent or pending session it waits for the owner.
func (m *Model) EditorsAdd(actor string, admin bool, who string) bool {
	if actor != m.Owner && !admin {
		return false
	}
	if who == m.Owner {
		return true
	}
	if actor != m.Owner && m.Mode != PerMessage {
		if !m.Editors[who] {
			m.PendingEditors[who] = true
		}
		return true
	}
	m.Editors[who] = true
	delete(m.PendingEditors, who)
	if actor == m.Owner {
		m.ownerAgreed(who)
	}
	return true
}

// EditorsRemove is actor removing who.
func (m *Model) EditorsRemove(actor string, admin bool, who string) bool {
	if actor != m.Owner && !admin {
		return false
	}
	delete(m.Editors, who)
	delete(m.PendingEditors, who)
	return true
}

func (m *Model) editorList() []string {
	var out []string
	for e := range m.Editors {
		out = append(out, e)
	}
	return out
}
