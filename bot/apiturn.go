package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// waiter receives a turn's result for a caller that waits (the HTTP API).
type waiter struct {
	ch chan tandem.TurnResult
}

// RunAPI runs text as a turn of the API key's creator in channel, in the
// thread threadTS or in a new thread it starts, and waits for the result.
// It fails with ECHANNELNOTALLOWED, having posted nothing, when the creator
// is not a member of the channel; with EFORBIDDEN when Tandem cannot post in
// the channel; and with EUNAVAILABLE when Slack cannot say who is a member,
// or when ctx ends first (the turn still completes in Slack).
func (b *Bot) RunAPI(ctx context.Context, key tandem.APIKey, channel, threadTS, text string) (tandem.TurnResult, error) {
	b.mu.Lock()
	botUser := b.userID
	b.mu.Unlock()
	if err := b.checkMember(ctx, key, channel); err != nil {
		return tandem.TurnResult{}, err
	}
	text, _ = stripMention(text, botUser)
	if threadTS == "" {
		intro := fmt.Sprintf("Automation of <@%s> (API key *%s*) asks: %s", key.Creator, escape(key.Name), escape(text))
		var ts string
		err := b.withRateLimit(ctx, func() error {
			var err error
			_, ts, err = b.api.PostMessageContext(ctx, channel, slack.MsgOptionText(intro, false))
			return err
		})
		if err != nil {
			return tandem.TurnResult{}, slackPostError(channel, err)
		}
		threadTS = ts
	}
	id := make([]byte, 8)
	rand.Read(id)
	turnID := "api-" + hex.EncodeToString(id)
	t := tandem.Turn{
		ID: turnID, Session: tandem.SessionKey{Team: key.Team, Channel: channel, ThreadTS: threadTS},
		User: key.Creator, Text: text, TS: turnID, ReceivedAt: b.cfg.Now(),
		APIKey: key.Prefix, APIKeyName: key.Name,
	}
	w := &waiter{ch: make(chan tandem.TurnResult, 1)}
	b.mu.Lock()
	if b.waiters == nil {
		b.waiters = map[string]*waiter{}
	}
	b.waiters[turnID] = w
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.waiters, turnID)
		b.mu.Unlock()
	}()
	if _, err := b.cfg.Store.RecordTurn(ctx, t); err != nil {
		return tandem.TurnResult{}, fmt.Errorf("bot: record api turn: %w", err)
	}
	b.log.Info("turn recorded", "turn", t.ID, "session", t.Session.String(), "user", t.User, "api_key", key.Prefix)
	b.submit(t)
	// With several replicas, the one that holds the session's lease may
	// run the turn: it leaves the result in the store for this one.
	poll := time.NewTicker(resultPoll)
	defer poll.Stop()
	for {
		select {
		case res := <-w.ch:
			return res, nil
		case <-poll.C:
			if res, ok := b.storedResult(ctx, t); ok {
				if err := b.cfg.Store.SetSetting(context.WithoutCancel(ctx), resultSetting(turnID), ""); err != nil {
					b.log.Warn("drop an api turn's result", "turn", turnID, "err", err)
				}
				return res, nil
			}
			continue
		case <-ctx.Done():
		}
		return tandem.TurnResult{Session: t.Session}, tandem.Errorf(tandem.EUNAVAILABLE, "The turn is still running; its reply will appear in the thread.")
	}
}

// membersPage is how many members one conversations.members call asks for:
// Slack's recommended page size.
const membersPage = 200

// checkMember fails with ECHANNELNOTALLOWED unless key's creator is a member
// of channel: for a DM, the person Tandem talks with there; otherwise one of
// conversations.members. Slack is asked every time, so someone who leaves a
// channel stops their keys from posting there at once. Whatever Slack
// refuses (channel_not_found, not_in_channel, ...) is refused alike, so the
// answer does not tell whether a channel exists; when Slack cannot be
// reached it fails with EUNAVAILABLE. Either way nothing has been posted.
func (b *Bot) checkMember(ctx context.Context, key tandem.APIKey, channel string) error {
	notAllowed := tandem.Errorf(tandem.ECHANNELNOTALLOWED,
		"API key %s (%s) acts as its creator %s, who is not a member of %s. An API key can post only in conversations its creator is a member of.",
		key.Name, key.Prefix, key.Creator, channel)
	refused := func(err error) error {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) {
			b.log.Info("api key refused in channel", "api_key", key.Prefix, "channel", channel, "slack_error", se.Err)
			return notAllowed
		}
		b.log.Warn("check api key creator's membership", "api_key", key.Prefix, "channel", channel, "err", err)
		return tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not ask Slack who is in %s; try again.", channel)
	}
	var info *slack.Channel
	err := b.withRateLimit(ctx, func() error {
		var err error
		info, err = b.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
		return err
	})
	if err != nil {
		return refused(err)
	}
	if info.IsIM {
		if info.User != key.Creator {
			b.log.Info("api key refused in another person's dm", "api_key", key.Prefix, "channel", channel)
			return notAllowed
		}
		return nil
	}
	cursor := ""
	for {
		var members []string
		var next string
		err := b.withRateLimit(ctx, func() error {
			var err error
			members, next, err = b.api.GetUsersInConversationContext(ctx, &slack.GetUsersInConversationParameters{ChannelID: channel, Cursor: cursor, Limit: membersPage})
			return err
		})
		if err != nil {
			return refused(err)
		}
		if slices.Contains(members, key.Creator) {
			return nil
		}
		if cursor = next; cursor == "" {
			b.log.Info("api key refused in a channel its creator is not in", "api_key", key.Prefix, "channel", channel)
			return notAllowed
		}
	}
}

// slackPostError words why Tandem could not post in a channel.
func slackPostError(channel string, err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "channel_not_found" || se.Err == "not_in_channel" || se.Err == "is_archived") {
		return tandem.Errorf(tandem.EFORBIDDEN, "Tandem cannot post in %s; invite @tandem to the channel first.", channel)
	}
	return fmt.Errorf("bot: start api thread: %w", err)
}

// noteReply remembers the ts of an API turn's reply for its result.
func (b *Bot) noteReply(t tandem.Turn, ts string) {
	if t.APIKey == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.replyTS == nil {
		b.replyTS = map[string]string{}
	}
	b.replyTS[t.ID] = ts
}

// resultPoll is how often an API caller's replica looks in the store for
// a result another replica left.
const resultPoll = 200 * time.Millisecond

// resultSetting names the setting that carries an API turn's result from
// the replica that ran it to the one whose caller waits.
func resultSetting(turnID string) string { return "api-result/" + turnID }

// storedResult is an API turn's result left in the store by another
// replica, if there is one yet.
func (b *Bot) storedResult(ctx context.Context, t tandem.Turn) (tandem.TurnResult, bool) {
	raw, err := b.cfg.Store.Setting(ctx, resultSetting(t.ID))
	if err != nil {
		if tandem.ErrorCode(err) != tandem.ENOTFOUND {
			b.log.Warn("read an api turn's result", "turn", t.ID, "err", err)
		}
		return tandem.TurnResult{}, false
	}
	var sr storedTurnResult
	if err := json.Unmarshal([]byte(raw), &sr); err != nil {
		b.log.Error("decode an api turn's result", "turn", t.ID, "err", err)
		return tandem.TurnResult{}, false
	}
	return sr.result(t.Session), true
}

// finish hands a finished turn's result to whoever waits for it: the
// caller in this process, or, for an API turn whose caller waits on
// another replica, that replica through the store.
func (b *Bot) finish(t tandem.Turn, out turns.Result) {
	b.mu.Lock()
	w, ok := b.waiters[t.ID]
	replyTS := b.replyTS[t.ID]
	delete(b.replyTS, t.ID)
	b.mu.Unlock()
	if !ok && t.APIKey == "" {
		return
	}
	res := tandem.TurnResult{Session: t.Session, ReplyTS: replyTS, Identity: out.Identity, Reply: out.Reply, Err: out.Err}
	if out.Err != nil && !isPersonError(out.Err) {
		res.Err = errors.New(tandem.ErrorMessage(out.Err))
	}
	if ok {
		w.ch <- res
		return
	}
	raw, err := json.Marshal(storedResultOf(res))
	if err == nil {
		err = b.cfg.Store.SetSetting(context.WithoutCancel(b.runCtx()), resultSetting(t.ID), string(raw))
	}
	if err != nil {
		b.log.Error("leave an api turn's result for its caller", "turn", t.ID, "err", err)
	}
}

// storedTurnResult is a TurnResult as JSON: its error by kind.
type storedTurnResult struct {
	ReplyTS  string           `json:"reply_ts"`
	Identity *tandem.Identity `json:"identity,omitempty"`
	Reply    tandem.Reply     `json:"reply"`
	// ErrKind is "not_configured", "expired", "error" (Code and Message)
	// or "" for none; Team, User and Provider name whose link failed.
	ErrKind  string            `json:"err_kind,omitempty"`
	Team     string            `json:"team,omitempty"`
	User     string            `json:"user,omitempty"`
	Provider tandem.ProviderID `json:"provider,omitempty"`
	Code     string            `json:"code,omitempty"`
	Message  string            `json:"message,omitempty"`
}

func storedResultOf(res tandem.TurnResult) storedTurnResult {
	sr := storedTurnResult{ReplyTS: res.ReplyTS, Identity: res.Identity, Reply: res.Reply}
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
	res := tandem.TurnResult{Session: session, ReplyTS: sr.ReplyTS, Identity: sr.Identity, Reply: sr.Reply}
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

// tellKeyCreator DMs an API key's creator that their automation stopped for
// want of a provider link, with a button to fix it.
func (b *Bot) tellKeyCreator(ctx context.Context, t tandem.Turn, user string, p tandem.ProviderID, expired bool) {
	state := "credentials not configured"
	label := "Connect "
	if expired {
		state, label = "credentials expired or revoked", "Reconnect "
	}
	reply := tandem.Reply{
		Title:   fmt.Sprintf("API key %s stopped working: %s %s", t.APIKeyName, p.Name(), state),
		Text:    fmt.Sprintf("Your API key *%s* (%s) acts as you, and your %s account is not usable. Connect it again, or ask someone else to create a new key.", escape(t.APIKeyName), t.APIKey, p.Name()),
		Buttons: b.connectButton(ctx, t.Session.Team, user, p, "", tandem.Button{Text: label + p.Name(), Primary: true}),
	}
	if err := b.DM(ctx, user, reply.Title, render(reply, fmt.Sprintf("for <@%s>", user))); err != nil {
		b.log.Warn("dm key creator", "user", user, "err", err)
	}
}
