package tandem

import (
	"context"
	"time"
)

// TurnRecord is a turn with its place in the inbox.
type TurnRecord struct {
	Turn     Turn      `json:"turn"`
	State    TurnState `json:"state"`
	Attempts int       `json:"attempts"` // times a worker started it
}

// TurnStep is what a turn writes in one commit: its new state with the
// session its first turn starts, its sender added as an editor, and the
// audit records of its identity resolutions. A turn makes at most two such
// commits after it is recorded: one just before a change reaches a
// provider (State TurnRunning, so that a crash cannot run the change
// twice) and one when it is done. A read is never marked running: after a
// crash it simply runs again.
type TurnStep struct {
	// State is the turn's new state; "" leaves it as it is.
	State TurnState
	// Session is stored unless a session with its key exists (the first
	// owner wins); nil stores none.
	Session *Session
	// Editor is added to the editors of the turn's session, when it
	// exists (or is Session), unless already there (the owner counts as
	// there), and only while the stored session still runs each message as
	// its sender: not persistent, no request pending. A session that
	// became persistent or pending since the turn read it keeps its list,
	// which only its owner may widen. "" adds nobody.
	Editor string
	// Audit is appended in order; a zero Time is stamped by the store.
	Audit []AuditRecord
	// Hold, when set, makes the step conditional on a lease: it is
	// written only while Hold.Owner holds the lease Hold.Name unexpired,
	// and otherwise fails with ENOTHELD, writing nothing. A runner marks
	// a change running under its session's lease, so that a runner whose
	// lease ran out (a stall past its time to live) cannot mark, and so
	// make, a change the lease's next holder may be making too.
	Hold Hold
}

// SessionLeasePrefix starts the name of every session's lease, the one
// its turns run under and their steps' Hold names. Nothing durable rests
// on such a lease alone: a change is marked running only by a step whose
// Hold re-reads the lease in that step's own commit. So a store may write
// these leases (Store.Lease, Store.ReleaseLease) without waiting for its
// disk; every other lease, such as a token refresh's, waits for it.
const SessionLeasePrefix = "session/"

// Hold names a lease and the owner that holds it (Store.Lease).
type Hold struct {
	Name, Owner string
}

// IsZero reports whether h names no lease.
func (h Hold) IsZero() bool { return h.Name == "" }

// NotHeld is the ENOTHELD error of a step under h (TurnStep.Hold) whose
// owner no longer holds the lease.
func (h Hold) NotHeld() error {
	return Errorf(ENOTHELD, "the lease %s is no longer held by %s: another runner may have taken it over", h.Name, h.Owner)
}

// ErrTurnDone is the ECONFLICT error StepTurn and UpdateSessionForTurn
// wrap for a turn that is done already.
var ErrTurnDone = Errorf(ECONFLICT, "the turn is done already: another runner ran it after this one lost the session's lease")

// Recorded is what recording an appended turn in the inbox found
// (Store.AppendTurn).
type Recorded struct {
	Duplicate bool
	Err       error
}

// Waiting is what a replica's poll of the inbox needs: the turns it may
// start, and how deep the inbox is.
type Waiting struct {
	// Next holds, for each session with an unfinished turn that no live
	// lease holds, its first unfinished turn (Turn.SentAt order).
	Next []TurnRecord
	// Unfinished counts the pending and running turns of every session.
	Unfinished int
	// Oldest is when the oldest unfinished turn was received (zero when
	// there is none).
	Oldest time.Time
}

// AuditFilter selects audit records; zero fields match everything.
type AuditFilter struct {
	Session *SessionKey
	User    string // matches actor or effective user
	Since   time.Time
	Limit   int // newest records first when set
}

// Store is Tandem's persistence contract. It has two implementations (bbolt,
// the embedded default, and PostgreSQL for several replicas), and one
// conformance suite that both pass. Every method is safe for concurrent use
// and durable when it returns: a crash after a successful call loses nothing.
// Secrets (tokens, PKCE verifiers) are encrypted before they reach disk.
// Missing records are reported with an error whose code is ENOTFOUND.
type Store interface {
	// RecordTurn durably appends t to the inbox as pending. It reports
	// duplicate=true, and stores nothing, when a turn with the same ID or the
	// same channel and message ts was recorded before. Reruns (Rerun set) and
	// turns without a TS are deduplicated by ID only.
	RecordTurn(ctx context.Context, t Turn) (duplicate bool, err error)
	// AppendTurn makes t durable as RecordTurn does, without waiting for
	// it: durable is called once t is durable, or with the error that
	// kept it from being so (nothing is then recorded); after durable(nil),
	// recorded is called once t is in the inbox, with what RecordTurn
	// would have returned. A crash in between loses nothing (the turn is
	// recorded when the store is next opened). It is the acknowledgement's
	// path: it never waits behind other writes, and appends that arrive
	// together share one flush. Both functions run on the store's own
	// goroutines, one append after another, so they must return quickly
	// and must not call the store. AppendTurn fails at once, calling
	// neither, for a turn RecordTurn would refuse or a closed store.
	AppendTurn(t Turn, durable func(error), recorded func(Recorded)) error
	// SetTurnState moves a recorded turn to state; moving to TurnRunning
	// counts an attempt.
	SetTurnState(ctx context.Context, id string, state TurnState) error
	// StepTurn writes step for the recorded turn id in one durable commit:
	// all of it or, on error, none of it. It fails with ENOTFOUND for an
	// unknown turn (nothing written), EINVALID for an unknown state or a
	// session with an empty key part, and with ErrTurnDone for any step of
	// a turn that is done: another runner finished it after this one lost
	// the session's lease, and what this one would write may no longer
	// hold after the session's later turns. Only the step's audit records,
	// of what this runner did, are written then.
	StepTurn(ctx context.Context, id string, step TurnStep) error
	// TurnRecord returns one recorded turn, or ENOTFOUND.
	TurnRecord(ctx context.Context, id string) (TurnRecord, error)
	// UnfinishedTurns returns every pending or running turn, oldest first.
	UnfinishedTurns(ctx context.Context) ([]TurnRecord, error)
	// NextTurn returns the pending or running turn of one session that was
	// sent first (Turn.SentAt, then recording order), read through an index
	// of the session's unfinished turns; ENOTFOUND when it has none.
	NextTurn(ctx context.Context, key SessionKey) (TurnRecord, error)

	// Waiting returns the next turn of each session with unfinished turns
	// whose lease (leasePrefix + SessionKey.String()) nobody holds, and the
	// inbox's depth, reading one turn per session rather than every
	// unfinished turn. With max > 0 it returns at most max sessions, those
	// whose unfinished turns were recorded first, so a deep backlog costs
	// the caller no more than what it can take.
	Waiting(ctx context.Context, leasePrefix string, max int) (Waiting, error)

	// Session returns the session of key, or ENOTFOUND.
	Session(ctx context.Context, key SessionKey) (Session, error)
	// SessionOrSetting returns the session of key. When there is none it
	// fails with ENOTFOUND and also returns the value of the named setting
	// ("" when unset), read with the session in one round trip: a
	// session's first turn needs its channel's default mode.
	SessionOrSetting(ctx context.Context, key SessionKey, setting string) (Session, string, error)
	// EnsureSession stores s unless a session with its key exists, and
	// returns the stored one with created=true when s was stored.
	EnsureSession(ctx context.Context, s Session) (stored Session, created bool, err error)
	// UpdateSession applies fn to the stored session in one transaction and
	// stores the result, unless fn fails (its error is returned as is).
	// ENOTFOUND when the session is missing.
	UpdateSession(ctx context.Context, key SessionKey, fn func(*Session) error) (Session, error)
	// UpdateSessionForTurn is UpdateSession for a change that turn asks
	// for (a session control), made only while that turn is unfinished:
	// when it is done, another replica ran it after this one lost the
	// session's lease, and it fails with ECONFLICT, changing nothing (a
	// turn that is gone fails with ENOTFOUND). The turn's state is read in
	// the transaction that changes the session, and held there against
	// being written done, so a control is never applied again after a
	// later one of the same session.
	UpdateSessionForTurn(ctx context.Context, key SessionKey, turn string, fn func(*Session) error) (Session, error)
	// Sessions calls fn for every session, in key order, until fn fails.
	Sessions(ctx context.Context, fn func(Session) error) error
	// AddEditor appends user to the session's editors unless already there
	// (the owner counts as there). ENOTFOUND when the session is missing.
	AddEditor(ctx context.Context, key SessionKey, user string) error

	// Link returns a user's link to provider, token decrypted, or ENOTFOUND.
	Link(ctx context.Context, team, user string, provider ProviderID) (Link, error)
	// Links returns every link of a user, tokens decrypted.
	Links(ctx context.Context, team, user string) ([]Link, error)
	// SaveLink creates or replaces a link, clearing NeedsReconnect as given.
	// It fails with ErrAccountLinkedElsewhere, storing nothing, when another
	// user of the team has a link to the same provider account (AccountID).
	SaveLink(ctx context.Context, l Link) error
	// DeleteLink removes a link; ENOTFOUND when there was none.
	DeleteLink(ctx context.Context, team, user string, provider ProviderID) (Link, error)
	// SwapToken replaces the link's token only if its stored refresh token
	// still equals oldRefresh (compare-and-swap for rotating refresh
	// tokens); ECONFLICT when another refresh won, ENOTFOUND without a link.
	SwapToken(ctx context.Context, team, user string, provider ProviderID, oldRefresh string, tok Token) error
	// SetLinkSite sets the site (Site, SiteName) of the link to provider,
	// and nothing else, while that link is to the account accountID;
	// ENOTFOUND when there is no such link (disconnected, or relinked to
	// another account).
	SetLinkSite(ctx context.Context, team, user string, provider ProviderID, accountID, site, siteName string) error
	// MarkNeedsReconnect flags the link only while its stored token is still
	// refused (access and refresh token alike; compare-and-set, so a relink
	// or refresh stored since is never marked by the old token's refusal).
	// It reports whether this call flagged the link: false, with no error,
	// when it was flagged already. It fails with ECONFLICT, changing
	// nothing, when the link holds another token, and ENOTFOUND without a
	// link.
	MarkNeedsReconnect(ctx context.Context, team, user string, provider ProviderID, refused Token) (bool, error)

	// SaveOAuthState records a flow in progress.
	SaveOAuthState(ctx context.Context, s OAuthState) error
	// TakeOAuthState returns and deletes the state of id in one step, so a
	// state is usable once; ENOTFOUND when unknown or already used.
	TakeOAuthState(ctx context.Context, id string) (OAuthState, error)

	// SaveAPIKey stores a new key; ECONFLICT when its prefix or hash exists.
	SaveAPIKey(ctx context.Context, k APIKey) error
	// APIKeyByHash finds a key by the hash of its secret, or ENOTFOUND.
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	// APIKeys lists a team's keys, only creator's when creator is not "".
	APIKeys(ctx context.Context, team, creator string) ([]APIKey, error)
	// UpdateAPIKey applies fn to the key with prefix in one transaction;
	// ENOTFOUND when there is none.
	UpdateAPIKey(ctx context.Context, prefix string, fn func(*APIKey) error) (APIKey, error)

	// CreateSchedule stores a new schedule. It fails with ECONFLICT when
	// its id exists, and with ELIMIT, storing nothing, when its creator
	// already has max schedules in its team (max <= 0: no limit); the
	// count and the insert are one transaction. With turn (the id of the
	// turn that asks for it; "" for none) it stores the schedule only while
	// that turn is unfinished, in the same transaction, failing with
	// ErrTurnDone (nothing stored) once another runner finished it: a
	// runner that lost the session's lease never creates a schedule its
	// creator deleted meanwhile.
	CreateSchedule(ctx context.Context, s Schedule, max int, turn string) error
	// Schedule returns one schedule, or ENOTFOUND.
	Schedule(ctx context.Context, id string) (Schedule, error)
	// Schedules lists the schedules f selects, oldest first (CreatedAt,
	// then id).
	Schedules(ctx context.Context, f ScheduleFilter) ([]Schedule, error)
	// UpdateSchedule applies fn to the stored schedule in one transaction
	// and stores the result, unless fn fails (its error is returned as
	// is). ENOTFOUND when the schedule is missing.
	UpdateSchedule(ctx context.Context, id string, fn func(*Schedule) error) (Schedule, error)
	// DeleteSchedule removes a schedule; ENOTFOUND when there was none.
	DeleteSchedule(ctx context.Context, id string) error

	// Setting returns a named setting, or ENOTFOUND.
	Setting(ctx context.Context, name string) (string, error)
	// SetSetting stores a named setting; an empty value deletes it.
	SetSetting(ctx context.Context, name, value string) error

	// Lease takes, or renews, the named lease for owner for ttl. It
	// reports false when another owner holds an unexpired lease. A lease's
	// time is measured by one clock that every contender shares (the
	// database server's for PostgreSQL, this process's monotonic clock for
	// bbolt), never by a replica's own wall clock, so replicas whose clocks
	// disagree still agree on when it expires. Replicas
	// coordinate through leases: "session/<key>" orders a session's turns,
	// "refresh/<team>/<user>/<provider>" serialises a token refresh.
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// RenewLease extends owner's lease name for ttl from now, only while
	// owner still holds it: it reports false, and takes nothing, when the
	// lease was released or another owner took it. A runner that stalled
	// past its release cannot take its session back by renewing.
	RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease drops owner's lease; it does nothing when owner does not
	// hold it.
	ReleaseLease(ctx context.Context, name, owner string) error
	// LeaseNextTurn is Lease and then, when the lease is taken, NextTurn
	// of key, in one round trip where the store has them. It fails with
	// ENOTHELD when another owner holds the lease, and with ENOTFOUND,
	// the lease taken, when the session has no unfinished turn.
	LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key SessionKey) (TurnRecord, error)
	// NextTurnOrRelease is NextTurn of key and, when it finds none,
	// ReleaseLease of owner's lease name, in one round trip where the
	// store has them; it then fails with ENOTFOUND.
	NextTurnOrRelease(ctx context.Context, key SessionKey, name, owner string) (TurnRecord, error)

	// AppendAudit durably appends one record.
	AppendAudit(ctx context.Context, r AuditRecord) error
	// Audit returns records matching f, oldest first (newest Limit when set).
	Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)

	// Close releases the store; later calls fail.
	Close() error
}
