package turns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tandembot/tandem/agent"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// Chat is where API turns run: the conversations an API key posts in, and
// the queue that runs the turns recorded there.
type Chat interface {
	// CheckMember fails with ECHANNELNOTALLOWED unless key's creator is a
	// member of channel, and with EUNAVAILABLE when that cannot be found
	// out; either way having posted nothing.
	CheckMember(ctx context.Context, key tandem.APIKey, channel string) error
	// StartThread posts text in channel and returns the ts of the thread it
	// starts. It fails with EFORBIDDEN when Tandem cannot post there.
	StartThread(ctx context.Context, channel, text string) (string, error)
	// Submit asks for t's session, t recorded, to be run.
	Submit(t tandem.Turn)
}

// waiter receives a turn's result for a caller that waits (the HTTP API).
type waiter struct {
	ch chan tandem.TurnResult
	// creatorAsked is when RunAPI asked Slack whether the key's creator
	// is still in the workspace and the conversation (keyStands asks
	// again only after creatorFresh).
	creatorAsked time.Time
}

// creatorFresh is how long Slack's answer that the creator of an API key
// or a schedule is still in the workspace and the conversation serves the
// turn it was asked for (RunAPI's for the turn it records when this
// process runs it, a schedule's claim for its run, a step's for the
// turn's next steps): a turn that starts at once does not ask Slack again
// (users.info and conversations.members are rate limited), one that
// waited longer (behind its session's turns, on another replica, across a
// restart, or while its model planned) does.
const creatorFresh = 5 * time.Second

// RunAPI runs text as a turn of the API key's creator in channel, in the
// thread threadTS or in a new thread it starts, and waits for the result.
// It fails with EFORBIDDEN, having posted and recorded nothing, when a read
// key asks for a command that changes something or allows changes, or when
// the key's creator left the workspace (EUNAVAILABLE when Slack cannot
// say); with
// ECHANNELNOTALLOWED, having posted nothing, when the creator
// is not a member of the channel; with EFORBIDDEN when Tandem cannot post in
// the channel; and with EUNAVAILABLE when the chat cannot say who is a
// member, or when ctx ends first (the turn still completes in the thread).
//
// An agent turn's proposed changes are made, as the key's creator, only
// when allowChanges is set; otherwise they come back as Pending, not made.
func (e *Engine) RunAPI(ctx context.Context, key tandem.APIKey, channel, threadTS, text string, allowChanges bool) (tandem.TurnResult, error) {
	asked := e.cfg.Now()
	if err := e.apiAllowed(ctx, key, channel, text, allowChanges); err != nil {
		e.auditAPIRefused(ctx, key, tandem.SessionKey{Team: key.Team, Channel: channel, ThreadTS: threadTS}, text, err)
		return tandem.TurnResult{}, err
	}
	if threadTS == "" {
		intro := fmt.Sprintf("Automation of <@%s> (API key *%s*) asks: %s", key.Creator, tandem.Escape(key.Name), tandem.Escape(text))
		ts, err := e.cfg.Chat.StartThread(ctx, channel, intro)
		if err != nil {
			return tandem.TurnResult{}, err
		}
		threadTS = ts
	}
	id := randomID(8)
	turnID := "api-" + id
	if allowChanges {
		turnID = apiChangesPrefix + id
	}
	t := tandem.Turn{
		ID: turnID, Session: tandem.SessionKey{Team: key.Team, Channel: channel, ThreadTS: threadTS},
		User: key.Creator, Text: text, TS: turnID, ReceivedAt: e.cfg.Now(),
		APIKey: key.Prefix, APIKeyName: key.Name,
	}
	w := &waiter{ch: make(chan tandem.TurnResult, 1), creatorAsked: asked}
	e.mu.Lock()
	if e.waiters == nil {
		e.waiters = map[string]*waiter{}
	}
	e.waiters[turnID] = w
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.waiters, turnID)
		e.mu.Unlock()
	}()
	if _, err := e.cfg.Store.RecordTurn(ctx, t); err != nil {
		return tandem.TurnResult{}, fmt.Errorf("turns: record api turn: %w", err)
	}
	e.log.Info("turn recorded", "turn", t.ID, "session", t.Session.String(), "user", t.User, "api_key", key.Prefix)
	e.cfg.Chat.Submit(t)
	// With several replicas, the one that holds the session's lease may
	// run the turn: it leaves the result in the store for this one.
	poll := time.NewTicker(resultPoll)
	defer poll.Stop()
	for {
		select {
		case res := <-w.ch:
			return res, nil
		case <-poll.C:
			if res, ok := e.storedResult(ctx, t); ok {
				if err := e.cfg.Store.SetSetting(context.WithoutCancel(ctx), resultSetting(turnID), ""); err != nil {
					e.log.Warn("drop an api turn's result", "turn", turnID, "err", err)
				}
				return res, nil
			}
			continue
		case <-ctx.Done():
		}
		return tandem.TurnResult{Session: t.Session}, tandem.Errorf(tandem.EUNAVAILABLE, "The turn is still running; its reply will appear in the thread.")
	}
}

// checkScope refuses, with EFORBIDDEN, what key's scope does not allow: a
// read key may run commands that only read, and free-form requests whose
// changes come back proposed, not made; a command that changes something,
// or allow_changes, needs a write key.
func (e *Engine) checkScope(key tandem.APIKey, text string, allowChanges bool) error {
	if key.EffectiveScope() == tandem.ScopeWrite {
		return nil
	}
	what := ""
	switch {
	case e.Parse(text).Mutating():
		what = "this command changes something"
	case allowChanges:
		what = "allow_changes makes changes"
	}
	if what != "" {
		return tandem.Errorf(tandem.EFORBIDDEN, "API key %s has the %s scope; %s and needs a key with --scope write.", key.Name, key.EffectiveScope(), what)
	}
	return nil
}

// apiChangesPrefix starts the id of an API turn whose call allowed changes
// (allow_changes): only RunAPI makes API turn ids, so the mark cannot come
// from anyone else.
const apiChangesPrefix = "api-changes-"

// keyStands fails unless the API key t came through is still its
// creator's, neither revoked nor expired nor pending (an operator's key
// its person has not allowed), its creator still in the
// workspace (creatorLeft) and a member of the turn's conversation
// (Chat.CheckMember; not checked without a Chat, which no API turn is
// recorded without): a turn that waited (behind its session's earlier
// turns, or for a restart) acts as the key's creator only while the key
// stands and the creator could still ask the same, as a scheduled run does
// only while its schedule does. Revoking a key is how its creator
// withdraws their consent; leaving the conversation withdraws it there.
// Slack is asked unless it vouched for the creator less than creatorFresh
// before (asked: when it last did for this turn, zero for never); the
// store always is. It returns when Slack last vouched.
func (e *Engine) keyStands(ctx context.Context, t tandem.Turn, asked time.Time) (time.Time, error) {
	k, err := e.storedKeyStands(ctx, t.Session.Team, t.User, t.APIKey)
	if err != nil {
		return asked, err
	}
	now := e.cfg.Now()
	if vouchedRecently(asked, now) {
		return asked, nil
	}
	if err := e.creatorLeft(ctx, k); err != nil {
		return asked, err
	}
	if e.cfg.Chat != nil {
		if err := e.cfg.Chat.CheckMember(ctx, k, t.Session.Channel); err != nil {
			return asked, err
		}
	}
	return now, nil
}

// storedKeyStands returns API key prefix of creator in team as the store
// has it now, and fails with EFORBIDDEN when it is gone, revoked, expired
// or pending (an operator's key its person has not allowed): what
// api.Keys.Check refuses, checked again by the engine whatever path a
// call came by.
func (e *Engine) storedKeyStands(ctx context.Context, team, creator, prefix string) (tandem.APIKey, error) {
	keys, err := e.cfg.Store.APIKeys(ctx, team, creator)
	if err != nil {
		return tandem.APIKey{}, fmt.Errorf("turns: api key %s: %w", prefix, err)
	}
	for _, k := range keys {
		if k.Prefix != prefix {
			continue
		}
		switch {
		case !k.Revoked.IsZero():
			return k, tandem.Errorf(tandem.EFORBIDDEN, "API key %s (%s) was revoked; nothing more was done for this request.", k.Name, k.Prefix)
		case k.Expired(e.cfg.Now()):
			return k, tandem.Errorf(tandem.EFORBIDDEN, "API key %s (%s) has expired; nothing more was done for this request.", k.Name, k.Prefix)
		case k.Pending:
			// Only a key its person allowed is let in (api.Keys.Check);
			// this holds whatever path the turn came by.
			return k, tandem.Errorf(tandem.EFORBIDDEN, "API key %s (%s) acts as <@%s>, who has not allowed it (an operator made it, or Tandem has no record that they did); nothing more was done for this request.", k.Name, k.Prefix, k.Creator)
		}
		return k, nil
	}
	return tandem.APIKey{}, tandem.Errorf(tandem.EFORBIDDEN, "API key %s of <@%s> is gone; nothing more was done for this request.", prefix, creator)
}

// vouchedRecently reports whether Slack's answer about a creator, given
// at asked (zero: never), still serves at now (creatorFresh). An answer
// stamped later than now, by a replica whose clock is ahead of this one's,
// does not: Slack is asked again.
func vouchedRecently(asked, now time.Time) bool {
	age := now.Sub(asked)
	return !asked.IsZero() && age >= 0 && age < creatorFresh
}

// apiAsked is when RunAPI, in this process, asked Slack about the creator
// of t's key (zero when its caller waits elsewhere or not at all).
func (e *Engine) apiAsked(t tandem.Turn) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w, ok := e.waiters[t.ID]; ok {
		return w.creatorAsked
	}
	return time.Time{}
}

// CreatorHere fails, as creatorLeft, when key's creator has left the
// workspace (EFORBIDDEN) or Slack cannot say (EUNAVAILABLE): for what a key
// shows of its creator outside a turn (the API's whoami).
func (e *Engine) CreatorHere(ctx context.Context, key tandem.APIKey) error {
	return e.creatorLeft(ctx, key)
}

// creatorLeft fails with EFORBIDDEN when key's creator has left the
// workspace: a key acts as its creator, and nobody acts as someone who is
// gone (a schedule of theirs is paused for the same reason). When Slack
// cannot say, it fails with EUNAVAILABLE (leftWorkspace): whoever holds the
// key could otherwise make Slack's rate limit answer for a departed
// creator.
func (e *Engine) creatorLeft(ctx context.Context, key tandem.APIKey) error {
	left, err := e.leftWorkspace(ctx, key.Creator, "whose key this is")
	if err != nil {
		return err
	}
	if left {
		return tandem.Errorf(tandem.EFORBIDDEN, "API key %s (%s) acts as <@%s>, who left the workspace; it no longer runs anything.", key.Name, key.Prefix, key.Creator)
	}
	return nil
}

// leftWorkspace asks Slack whether user left the workspace (or Slack no
// longer knows them); false without a People. It fails with EUNAVAILABLE
// when Slack cannot say (logged): nobody acts as a person on a guess that
// they are still there. whose says, for the message, why it matters.
func (e *Engine) leftWorkspace(ctx context.Context, user, whose string) (bool, error) {
	if e.cfg.People == nil {
		return false, nil
	}
	_, deleted, err := e.cfg.People.Person(ctx, user)
	if err != nil {
		e.log.Warn("users.info", "user", user, "whose", whose, "err", err)
		return false, tandem.Errorf(tandem.EUNAVAILABLE, "Slack could not say whether <@%s>, %s, is still in the workspace; nothing ran. Try again in a moment.", user, whose)
	}
	return deleted, nil
}

// apiAllowed fails as RunAPI says unless key may ask text (allowing
// changes or not) in channel: its scope covers it, its creator is still in
// the workspace and a member of channel.
func (e *Engine) apiAllowed(ctx context.Context, key tandem.APIKey, channel, text string, allowChanges bool) error {
	if err := e.checkScope(key, text, allowChanges); err != nil {
		return err
	}
	if err := e.creatorLeft(ctx, key); err != nil {
		return err
	}
	return e.cfg.Chat.CheckMember(ctx, key, channel)
}

// auditAPIRefused records an API request refused before it became a turn
// (a read key asking for a change, a creator who left the workspace or is
// not in the channel), by the key and as nobody: the trail shows who
// tried what, where. A refusal for want of an answer from Slack
// (EUNAVAILABLE) is not one: the request may be sent again.
func (e *Engine) auditAPIRefused(ctx context.Context, key tandem.APIKey, where tandem.SessionKey, text string, err error) {
	if tandem.ErrorCode(err) == tandem.EUNAVAILABLE {
		return
	}
	rec := tandem.APIKeyRefusal(e.cfg.Now(), where, "", key.Prefix, tandem.OutcomeRefused,
		fmt.Sprintf("asked %q of <@%s>'s key: %s", text, key.Creator, tandem.ErrorMessage(err)))
	if aerr := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), rec); aerr != nil {
		e.log.Error("audit a refused API request", "api_key", key.Prefix, "err", aerr)
	}
	e.log.Info("audit", "action", rec.Action, "session", where.String(), "actor", rec.Actor, "outcome", rec.Outcome)
}

// auditKeyRefused adds to step the record of t, an API turn, refused with
// out before it acted as anyone; detail says what it asked and why.
func (e *Engine) auditKeyRefused(step *tandem.TurnStep, t tandem.Turn, out tandem.Outcome, detail string) {
	rec := tandem.APIKeyRefusal(e.cfg.Now(), t.Session, t.ID, t.APIKey, out, detail)
	step.Audit = append(step.Audit, rec)
	e.log.Info("audit", "action", rec.Action, "turn", t.ID, "session", t.Session.String(), "actor", rec.Actor, "reason", rec.Reason, "outcome", out)
}

// allowsChanges reports whether t is an API turn whose call allowed its
// agent's proposed changes to be made at once.
func allowsChanges(t tandem.Turn) bool {
	return t.APIKey != "" && strings.HasPrefix(t.ID, apiChangesPrefix)
}

func pendingOf(ps []agent.Proposal) []tandem.ProposedChange {
	var out []tandem.ProposedChange
	for _, p := range ps {
		out = append(out, tandem.ProposedChange{Operation: p.Op, Arguments: p.Args, Summary: p.Summary})
	}
	return out
}

// resultPoll is how often an API caller's replica looks in the store for
// a result another replica left.
const resultPoll = 200 * time.Millisecond

// resultSetting names the setting that carries an API turn's result from
// the replica that ran it to the one whose caller waits.
func resultSetting(turnID string) string { return "api-result/" + turnID }

// storedResult is an API turn's result left in the store by another
// replica, if there is one yet.
func (e *Engine) storedResult(ctx context.Context, t tandem.Turn) (tandem.TurnResult, bool) {
	raw, err := e.cfg.Store.Setting(ctx, resultSetting(t.ID))
	if err != nil {
		if tandem.ErrorCode(err) != tandem.ENOTFOUND {
			e.log.Warn("read an api turn's result", "turn", t.ID, "err", err)
		}
		return tandem.TurnResult{}, false
	}
	var sr storedTurnResult
	if err := json.Unmarshal([]byte(raw), &sr); err != nil {
		e.log.Error("decode an api turn's result", "turn", t.ID, "err", err)
		return tandem.TurnResult{}, false
	}
	return sr.result(t.Session), true
}

// Finish hands a finished turn's result, whose reply was posted as
// replyTS, to whoever waits for it: the caller in this process, or, for an
// API turn whose caller waits on another replica, that replica through the
// store. A failure to store it is logged.
func (e *Engine) Finish(ctx context.Context, t tandem.Turn, out Result, replyTS string) {
	e.mu.Lock()
	w, ok := e.waiters[t.ID]
	e.mu.Unlock()
	if !ok && t.APIKey == "" {
		return
	}
	res := tandem.TurnResult{Session: t.Session, ReplyTS: replyTS, Identity: out.Identity, Reply: out.Reply, Err: out.Err, Pending: pendingOf(out.Pending)}
	if out.Err != nil && !isPersonError(out.Err) {
		res.Err = errors.New(tandem.ErrorMessage(out.Err))
	}
	if ok {
		w.ch <- res
		return
	}
	raw, err := json.Marshal(storedResultOf(res))
	if err == nil {
		err = e.cfg.Store.SetSetting(context.WithoutCancel(ctx), resultSetting(t.ID), string(raw))
	}
	if err != nil {
		e.log.Error("leave an api turn's result for its caller", "turn", t.ID, "err", err)
	}
}

// storedTurnResult is a TurnResult as JSON: its error by kind.
type storedTurnResult struct {
	ReplyTS  string           `json:"reply_ts"`
	Identity *tandem.Identity `json:"identity,omitempty"`
	Reply    tandem.Reply     `json:"reply"`
	// ErrKind is "not_configured", "expired", "error" (Code and Message)
	// or "" for none; Team, User and Provider name whose link failed.
	ErrKind  string                  `json:"err_kind,omitempty"`
	Team     string                  `json:"team,omitempty"`
	User     string                  `json:"user,omitempty"`
	Provider tandem.ProviderID       `json:"provider,omitempty"`
	Code     string                  `json:"code,omitempty"`
	Message  string                  `json:"message,omitempty"`
	Pending  []tandem.ProposedChange `json:"pending,omitempty"`
}

func storedResultOf(res tandem.TurnResult) storedTurnResult {
	sr := storedTurnResult{ReplyTS: res.ReplyTS, Identity: res.Identity, Reply: res.Reply, Pending: res.Pending}
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case res.Err == nil:
	case errors.As(res.Err, &nc):
		sr.ErrKind, sr.Team, sr.User, sr.Provider = "not_configured", nc.Team, nc.User, nc.Provider
	case errors.As(res.Err, &ex):
		sr.ErrKind, sr.Team, sr.User, sr.Provider = "expired", ex.Team, ex.User, ex.Provider
	default:
		sr.ErrKind, sr.Code, sr.Message = "error", tandem.ErrorCode(res.Err), tandem.ErrorMessage(res.Err)
	}
	return sr
}

func (sr storedTurnResult) result(session tandem.SessionKey) tandem.TurnResult {
	res := tandem.TurnResult{Session: session, ReplyTS: sr.ReplyTS, Identity: sr.Identity, Reply: sr.Reply, Pending: sr.Pending}
	switch sr.ErrKind {
	case "not_configured":
		res.Err = &tandem.NotConnectedError{Team: sr.Team, User: sr.User, Provider: sr.Provider}
	case "expired":
		res.Err = &tandem.ExpiredError{Team: sr.Team, User: sr.User, Provider: sr.Provider}
	case "error":
		res.Err = &tandem.Error{Code: sr.Code, Message: sr.Message}
	}
	return res
}

// isPersonError reports whether err carries words meant for people.
func isPersonError(err error) bool {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	var te *tandem.Error
	return errors.As(err, &nc) || errors.As(err, &ex) || errors.As(err, &te)
}
