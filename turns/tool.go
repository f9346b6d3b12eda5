package turns

import (
	"context"
	"fmt"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// KeyNotifier tells an API key's creator, by direct message with a Connect
// button, that a call of their key stopped for want of their link at p.
type KeyNotifier interface {
	KeyNeedsLink(ctx context.Context, key tandem.APIKey, p tandem.ProviderID, expired bool)
}

// RunTool runs one operation for a call of key outside Slack (an MCP tool
// call): as the key's creator, always (the rule's row for API keys), with
// each credential resolution audited ("mcp: <op>", actor apikey:<prefix>).
// It returns the operation's reply as plain text. It fails with EINVALID
// for an unknown operation or a session control; with EFORBIDDEN for a
// change through a read key, for any call of a key the store says is
// revoked, expired, pending or gone, or of a key whose creator left
// the workspace (asked of Slack at each call; EUNAVAILABLE when Slack
// cannot say); with the provider's
// *tandem.NotConnectedError or *tandem.ExpiredError when the creator's
// link is missing or dead (the creator is told, by DM, how to fix it); and
// with the operation's own errors.
func (e *Engine) RunTool(ctx context.Context, key tandem.APIKey, op string, args map[string]string) (string, *tandem.Identity, error) {
	spec := e.cfg.Operations.get().Spec(op)
	if spec == nil || spec.Control || spec.Run == nil {
		return "", nil, tandem.Errorf(tandem.EINVALID, "There is no operation %q.", op)
	}
	// The key as stored now: the caller checked the one presented, but a
	// key revoked, expired or pending (its person has not allowed it) acts
	// as nobody whatever path the call came by, as keyStands says for a
	// turn.
	where := tandem.SessionKey{Team: key.Team, Channel: "mcp", ThreadTS: key.Prefix}
	stored, err := e.toolAllowed(ctx, key, spec)
	if err != nil {
		e.auditAPIRefused(ctx, key, where, "MCP: "+op, err)
		return "", nil, err
	}
	key = stored
	user, reason := key.Creator, tandem.ReasonAPIKeyCreator
	t := tandem.Turn{Session: where, User: user,
		APIKey: key.Prefix, APIKeyName: key.Name, ReceivedAt: e.cfg.Now()}
	id := &tandem.Identity{SlackUser: user, Reason: reason, Provider: spec.Provider}
	reply, done, err := e.runOp(ctx, t, tandem.Session{Key: t.Session, Owner: user}, spec, args, user, reason, func(p tandem.ProviderID, _ tandem.Identity, err error) error {
		// No call runs without its audit record: there is no turn to write
		// it with later.
		var step tandem.TurnStep
		e.audit(&step, t, user, p, reason, outcomeOf(err), fmt.Sprintf("via API key %s of <@%s>, MCP: %s", key.Name, user, op))
		if aerr := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), step.Audit[0]); aerr != nil {
			return fmt.Errorf("turns: audit: %w", aerr)
		}
		return nil
	})
	for _, u := range done.used {
		if u.Provider == spec.Provider {
			id.Login = u.Login
		}
	}
	if done.failedAt != "" && tandem.ErrorCode(err) == tandem.EUNAUTHORIZED {
		// The provider refused the creator's token: the same as a dead link.
		err = &tandem.ExpiredError{Team: key.Team, User: user, Provider: done.failedAt}
	}
	if done.failedAt != "" {
		e.tellKeyCreator(ctx, key, done.failedAt, err)
	}
	if err != nil {
		return "", id, err
	}
	return plainText(reply), id, nil
}

// toolAllowed returns key as the store holds it now when it may run spec,
// and fails as RunTool says otherwise: the key no longer stands, a read key
// asks for a change, or its creator left the workspace.
func (e *Engine) toolAllowed(ctx context.Context, key tandem.APIKey, spec *ops.Spec) (tandem.APIKey, error) {
	key, err := e.storedKeyStands(ctx, key.Team, key.Creator, key.Prefix)
	if err != nil {
		return key, err
	}
	if spec.Mutating && key.EffectiveScope() != tandem.ScopeWrite {
		return key, tandem.Errorf(tandem.EFORBIDDEN, "API key %s has the read scope; %s changes something and needs a key with --scope write.", key.Name, spec.Name)
	}
	return key, e.creatorLeft(ctx, key)
}

// tellKeyCreator DMs key's creator how to fix the link err says is missing
// or dead, when the notifier can.
func (e *Engine) tellKeyCreator(ctx context.Context, key tandem.APIKey, p tandem.ProviderID, err error) {
	n, ok := e.cfg.Notifier.(KeyNotifier)
	out := outcomeOf(err)
	if !ok || (out != tandem.OutcomeNotConfigured && out != tandem.OutcomeExpired) {
		return
	}
	n.KeyNeedsLink(context.WithoutCancel(ctx), key, p, out == tandem.OutcomeExpired)
}
