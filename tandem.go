// Package tandem holds Tandem's domain: sessions bound to Slack threads,
// turns, the identities they run under, linked provider accounts, audit
// records, and the error codes that the edges (bot, HTTP) turn into words.
//
// The package imports nothing of the project. Its contracts with several
// implementations (Provider, Store) live here; every other interface belongs
// to the package that consumes it.
package tandem

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ProviderID names a provider Tandem can act on: "github", "gitlab", "jira",
// "google".
type ProviderID string

// The providers Tandem knows.
const (
	GitHub ProviderID = "github"
	GitLab ProviderID = "gitlab"
	Jira   ProviderID = "jira"
	Google ProviderID = "google"
)

// Providers lists every provider in the order people see them.
var Providers = []ProviderID{GitHub, GitLab, Jira, Google}

// SessionKey identifies a session: one Slack thread in one workspace.
type SessionKey struct {
	Team     string `json:"team"`
	Channel  string `json:"channel"`
	ThreadTS string `json:"thread_ts"`
}

// String renders the key as team/channel/thread_ts, the form used in logs,
// the audit trail and operator commands.
func (k SessionKey) String() string {
	return k.Team + "/" + k.Channel + "/" + k.ThreadTS
}

// Session is a Slack thread that several people talk to. The person whose
// message started it is its owner.
type Session struct {
	Key       SessionKey `json:"key"`
	Owner     string     `json:"owner"` // Slack user id
	CreatedAt time.Time  `json:"created_at"`
	// Editors are the people who may run turns when the session is
	// persistent: everyone who sent a turn while it was per-message, plus
	// people the owner or a channel admin added.
	Editors []string          `json:"editors,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// Pending is a change that waits for the owner's consent.
	Pending *PendingChange `json:"pending,omitempty"`
}

// PendingChange is a session variable someone other than the owner asked to
// set, which takes effect only once the owner approves.
type PendingChange struct {
	// ID names this request. The owner's Approve and Decline carry it, so
	// a press answers the request its message showed and never a later
	// one that replaced it (whose editors list may differ).
	ID          string    `json:"id,omitempty"`
	Name        string    `json:"name"`
	Value       string    `json:"value"`
	RequestedBy string    `json:"requested_by"` // Slack user, or "operator:<name>"
	RequestedAt time.Time `json:"requested_at"`
	// Editors is the editors list the owner was shown when asked, and the
	// editors the owner added or approved while it waited: an approval
	// shares the owner's identity with exactly these people.
	Editors []string `json:"editors,omitempty"`
}

// EnvKeepCredentialsPersistent is the session variable that switches a
// session to running every turn as its owner.
const EnvKeepCredentialsPersistent = "KEEP_CREDENTIALS_PERSISTENT"

// Persistent reports whether every turn of the session runs as its owner.
func (s Session) Persistent() bool {
	return s.Env[EnvKeepCredentialsPersistent] == "true"
}

// HasEditor reports whether user is on the session's editors list or owns it.
func (s Session) HasEditor(user string) bool {
	if user == s.Owner {
		return true
	}
	for _, e := range s.Editors {
		if e == user {
			return true
		}
	}
	return false
}

// Turn is one message addressed to the bot, recorded in the inbox before its
// envelope is acknowledged.
type Turn struct {
	ID         string     `json:"id"` // the Slack event id (or a derived id for non-event turns)
	Session    SessionKey `json:"session"`
	User       string     `json:"user"` // the Slack user who sent it
	Text       string     `json:"text"` // the command, without the bot mention
	TS         string     `json:"ts"`   // the message's own ts
	ReceivedAt time.Time  `json:"received_at"`
	// Rerun marks a turn replayed after its sender linked an account.
	Rerun bool `json:"rerun,omitempty"`
	// APIKey is the prefix of the key a turn from the HTTP API came with;
	// such a turn always acts as the key's creator (User).
	APIKey     string `json:"api_key,omitempty"`
	APIKeyName string `json:"api_key_name,omitempty"`
	// Schedule is the id of the schedule whose run this turn is; such a
	// turn always acts as the schedule's creator (User).
	Schedule string `json:"schedule,omitempty"`
}

// SentAt returns when t's message was sent, in seconds since the epoch: its
// Slack ts for a message, or for a turn without one (API calls, re-runs)
// the time it was recorded. A session's turns run in this order, which is
// the thread's order even when replicas recorded them in another.
func (t Turn) SentAt() float64 {
	if ts, err := strconv.ParseFloat(t.TS, 64); err == nil && !t.Rerun && t.APIKey == "" {
		return ts
	}
	return float64(t.ReceivedAt.UnixMicro()) / 1e6
}

// TurnState is where a turn stands in the inbox.
type TurnState string

// Inbox states. A turn found Running after a restart was interrupted.
const (
	TurnPending TurnState = "pending"
	TurnRunning TurnState = "running"
	TurnDone    TurnState = "done"
)

// Reason says which row of the identity rules chose the identity a turn used.
type Reason string

// The reasons of docs/identity-rules.md.
const (
	ReasonSender           Reason = "sender"
	ReasonPersistentOwner  Reason = "persistent_owner"
	ReasonRefusedNotEditor Reason = "refused_not_editor"
	ReasonAPIKeyCreator    Reason = "api_key_creator"
	ReasonScheduleCreator  Reason = "schedule_creator"
)

// Identity is whose credentials a turn uses for one provider.
type Identity struct {
	Team      string     `json:"team"`
	SlackUser string     `json:"slack_user"` // the effective user
	Provider  ProviderID `json:"provider"`
	Login     string     `json:"login"` // the provider account's login or email
	Reason    Reason     `json:"reason"`
}

// Link is one Slack user's linked account at one provider. The token fields
// are secrets: stores keep them encrypted and nothing logs them.
type Link struct {
	Team      string     `json:"team"`
	User      string     `json:"user"`
	Provider  ProviderID `json:"provider"`
	AccountID string     `json:"account_id"`
	Login     string     `json:"login"`
	LinkedAt  time.Time  `json:"linked_at"`
	// Site is the provider site a link acts on, where a provider has several
	// per account (Jira Cloud: the cloud id); SiteName is its name for people.
	Site     string `json:"site,omitempty"`
	SiteName string `json:"site_name,omitempty"`
	// Sites are every site the grant covers, to choose from.
	Sites []Site `json:"sites,omitempty"`
	// NeedsReconnect is set when the provider refused the token or its
	// refresh; turns then say "credentials expired or revoked".
	NeedsReconnect bool  `json:"needs_reconnect,omitempty"`
	Token          Token `json:"-"`
}

// Token is an OAuth token pair. It is never serialised in clear.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time
}

// LogValue keeps tokens out of structured logs even if one is passed by
// mistake: a Token logs as the facts that help debug a refresh (its type,
// whether it has a refresh token, when it expires), never its values.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("type", t.TokenType),
		slog.Bool("has_access_token", t.AccessToken != ""),
		slog.Bool("has_refresh_token", t.RefreshToken != ""),
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	return slog.GroupValue(attrs...)
}

var _ slog.LogValuer = Token{}

// Same reports whether t and o carry the same secrets (access and refresh
// token), compared in constant time, both whatever the first gives: which
// token a provider refused, or a refresh spent, is told apart from the one
// stored now without a timing side channel.
func (t Token) Same(o Token) bool {
	access := subtle.ConstantTimeCompare([]byte(t.AccessToken), []byte(o.AccessToken))
	refresh := subtle.ConstantTimeCompare([]byte(t.RefreshToken), []byte(o.RefreshToken))
	return access&refresh == 1
}

// String keeps tokens out of fmt output.
func (Token) String() string { return "[redacted]" }

// GoString keeps tokens out of %#v output.
func (Token) GoString() string { return "[redacted]" }

// Outcome is how a credential resolution or a turn ended.
type Outcome string

// Outcomes recorded in the audit trail.
const (
	OutcomeOK            Outcome = "ok"
	OutcomeNotConfigured Outcome = "not_configured"
	OutcomeExpired       Outcome = "expired"
	OutcomeRefused       Outcome = "refused"
	OutcomeError         Outcome = "error"
)

// AuditRecord proves who acted as whom. It never holds a secret.
type AuditRecord struct {
	Time      time.Time  `json:"time"`
	Session   SessionKey `json:"session"`
	TurnID    string     `json:"turn_id,omitempty"`
	Actor     string     `json:"actor"`          // Slack user (or "apikey:<prefix>")
	Effective string     `json:"effective_user"` // whose credentials were used
	Provider  ProviderID `json:"provider,omitempty"`
	Action    string     `json:"action"` // "resolve", "link", "unlink", ...
	Reason    Reason     `json:"reason,omitempty"`
	Outcome   Outcome    `json:"outcome"`
	Detail    string     `json:"detail,omitempty"`
}

// ActionAPIKeyRefused is the audit action of a use of an API key that was
// refused before it acted as anyone: a call with a key that no longer
// stands or waits for its person's Allow, a request its key's scope or its
// creator's absence refused, a queued turn whose key no longer stood. It
// names no effective user: nobody's credentials were resolved.
const ActionAPIKeyRefused = "apikey_refused"

// APIKeyRefusal is the audit record of a use of the API key prefix refused
// before it acted as anyone (ActionAPIKeyRefused), in session (zero when
// the use named none) and turn ("" when it was no turn): by the key, as
// nobody, with out and detail saying how and why.
func APIKeyRefusal(at time.Time, session SessionKey, turn, prefix string, out Outcome, detail string) AuditRecord {
	return AuditRecord{
		Time: at, Session: session, TurnID: turn, Actor: "apikey:" + prefix,
		Action: ActionAPIKeyRefused, Reason: ReasonAPIKeyCreator, Outcome: out, Detail: detail,
	}
}

// OAuthState is the server-side half of an OAuth flow in progress. Its
// Verifier is a secret, kept encrypted at rest.
type OAuthState struct {
	ID        string     `json:"id"`
	Provider  ProviderID `json:"provider"`
	Team      string     `json:"team"`
	User      string     `json:"user"`
	NonceHash string     `json:"nonce_hash"` // sha256 of the browser cookie nonce, hex
	Verifier  string     `json:"-"`          // PKCE code verifier
	Expires   time.Time  `json:"expires"`
	// RerunTurn is the inbox id of a turn that failed for want of this link.
	RerunTurn string `json:"rerun_turn,omitempty"`
}

// Expired reports whether the flow can no longer complete at now.
func (s OAuthState) Expired(now time.Time) bool { return !now.Before(s.Expires) }

// NotConnectedError says that Identity's Slack user has no link for Provider.
type NotConnectedError struct {
	Team     string
	User     string
	Provider ProviderID
}

func (e *NotConnectedError) Error() string {
	return fmt.Sprintf("%s credentials not configured for %s", e.Provider.Name(), e.User)
}

// ExpiredError says that a link exists but the provider refused its token.
type ExpiredError struct {
	Team     string
	User     string
	Provider ProviderID
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s credentials expired or revoked for %s", e.Provider.Name(), e.User)
}

// LinkState is how a person's account at one provider stands.
type LinkState string

// Link states, as the App Home and whoami show them.
const (
	LinkConnected      LinkState = "connected"
	LinkNeedsReconnect LinkState = "needs_reconnect"
	LinkMissing        LinkState = "not_connected"
)

// IdentityStatus says, for one provider, which identity a turn would use
// right now and whether that identity can act.
type IdentityStatus struct {
	Provider  ProviderID `json:"provider"`
	SlackUser string     `json:"slack_user"` // effective user
	Reason    Reason     `json:"reason"`
	Login     string     `json:"login,omitempty"`
	State     LinkState  `json:"state"`
}

// LinkStates says how each of providers stands among a person's links, in
// the order of providers: connected with the link's login, needing a
// reconnect (login kept) when the provider refused its token, or missing.
// The first link to a provider counts (a store holds at most one). It
// fills in neither SlackUser nor Reason, which only the caller knows, and
// cannot fail.
func LinkStates(links []Link, providers []ProviderID) []IdentityStatus {
	var out []IdentityStatus
	for _, p := range providers {
		st := IdentityStatus{Provider: p, State: LinkMissing}
		for _, l := range links {
			if l.Provider != p {
				continue
			}
			st.Login, st.State = l.Login, LinkConnected
			if l.NeedsReconnect {
				st.State = LinkNeedsReconnect
			}
			break
		}
		out = append(out, st)
	}
	return out
}

// APIKey lets automation act as the Slack user who created it. Only a hash
// of the secret is ever stored; Prefix is shown so people can tell keys
// apart.
type APIKey struct {
	Prefix    string    `json:"prefix"` // "tdm_ab12cd34", also the key's id
	Hash      string    `json:"hash"`   // hex SHA-256 of the whole key
	Name      string    `json:"name"`
	Team      string    `json:"team"`
	Creator   string    `json:"creator"` // Slack user the key acts as
	CreatedAt time.Time `json:"created_at"`
	Expires   time.Time `json:"expires,omitzero"` // zero: never
	LastUsed  time.Time `json:"last_used,omitzero"`
	Revoked   time.Time `json:"revoked,omitzero"`
	// Scope is what the key may do. A key stored before scopes existed
	// has none and reads as ScopeWrite, what it could do then.
	Scope Scope `json:"scope,omitempty"`
	// Pending says that an operator made the key for Creator, who has not
	// allowed it yet: it acts as nobody until Creator does (a key the
	// person made themselves never is). Declining revokes it.
	Pending bool `json:"pending,omitempty"`
}

// EffectiveScope is what k may do: its Scope, or ScopeWrite for a record
// without one (a key made before scopes, which could run changes).
func (k APIKey) EffectiveScope() Scope {
	if k.Scope == "" {
		return ScopeWrite
	}
	return k.Scope
}

// Scope is what an API key may do.
type Scope string

const (
	// ScopeRead keys run commands that only read, and free-form requests
	// whose changes come back proposed, not made. New keys are read keys
	// unless their creator says otherwise.
	ScopeRead Scope = "read"
	// ScopeWrite keys may also run commands that change something.
	ScopeWrite Scope = "write"
)

// ParseScope reads a scope as people type it ("read" or "write", any
// case); anything else fails with EINVALID.
func ParseScope(s string) (Scope, error) {
	switch sc := Scope(strings.ToLower(strings.TrimSpace(s))); sc {
	case ScopeRead, ScopeWrite:
		return sc, nil
	}
	return "", Errorf(EINVALID, "“%s” is not a key scope; use read or write.", Escape(s))
}

// Expired reports whether the key can no longer be used at now.
func (k APIKey) Expired(now time.Time) bool { return !k.Expires.IsZero() && !now.Before(k.Expires) }

// TurnResult is what a turn produced, for callers that wait for it (the
// HTTP API).
type TurnResult struct {
	Session  SessionKey
	ReplyTS  string
	Identity *Identity
	Reply    Reply
	// Err is the turn's failure, as shown in the thread (a *NotConnectedError,
	// an *ExpiredError, an *Error, ...).
	Err error
	// Pending are the changes an agent turn proposed and did not make (the
	// call did not allow changes).
	Pending []ProposedChange
}

// ProposedChange is a change an agent turn proposed: the operation, its
// arguments, and the change spelled out from its declaration.
type ProposedChange struct {
	Operation string            `json:"operation"`
	Arguments map[string]string `json:"arguments"`
	Summary   string            `json:"summary"`
}
