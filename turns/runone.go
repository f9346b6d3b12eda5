package turns

import (
	"context"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// oneCall is what runOp did: the identities it used, and the provider
// whose link was missing or refused (for its Connect button), if any.
type oneCall struct {
	used     []tandem.Identity
	failedAt tandem.ProviderID
}

// runOp runs the operation spec with args for t as user (by the rule's row
// reason), outside the parse of a message: an agent's call or an MCP call.
// It resolves the credentials of each provider the operation needs, hands
// each resolution (the identity it gave, when it did) to audit (a failed
// audit stops the call before anything reaches a provider), and runs it.
// An operation that combines providers (standup) takes no arguments: its
// parsed example says which it uses, and one it cannot use is left out of
// the reply. It fails with EINVALID when
// its provider is not enabled, with the credentials' error for its
// provider, and with the operation's own errors.
func (e *Engine) runOp(ctx context.Context, t tandem.Turn, sess tandem.Session, spec *ops.Spec, args map[string]string,
	user string, reason tandem.Reason, audit func(p tandem.ProviderID, id tandem.Identity, err error) error) (tandem.Reply, oneCall, error) {
	var done oneCall
	req := ops.Request{Turn: t, Session: sess, Command: ops.Command{Name: spec.Name, Args: args, Provider: spec.Provider, Mutating: spec.Mutating}}
	providers := []tandem.ProviderID{spec.Provider}
	switch {
	case spec.Name == "whoami":
		req.Identities, providers = e.Identities(ctx, t.Session.Team, user, reason), nil
	case spec.Provider == "":
		c, err := e.cfg.Operations.get().Parse(spec.Example)
		if err != nil {
			return tandem.Reply{}, done, tandem.Errorf(tandem.EINVALID, "There is no operation %q.", spec.Name)
		}
		req.Command, providers = c, c.Uses
		req.Sources = map[tandem.ProviderID]ops.Source{}
	}
	for _, p := range providers {
		prov, ok := e.cfg.Providers[p]
		if !ok {
			if spec.Provider != "" {
				return tandem.Reply{}, done, tandem.Errorf(tandem.EINVALID, "%s is not enabled on this Tandem.", p.Name())
			}
			continue
		}
		creds, err := e.credentials(ctx, t.Session, user, p, reason)
		if aerr := audit(p, creds.Identity, err); aerr != nil {
			return tandem.Reply{}, done, aerr
		}
		if err == nil {
			done.used = append(done.used, creds.Identity)
		}
		if spec.Provider == "" {
			req.Sources[p] = ops.Source{Creds: creds, Provider: prov, Err: err}
			continue
		}
		if err != nil {
			done.failedAt = p
			return tandem.Reply{}, done, err
		}
		req.Creds, req.Provider = creds, prov
	}
	reply, err := e.cfg.Operations.get().Run(ctx, req)
	if tandem.ErrorCode(err) == tandem.EUNAUTHORIZED {
		done.failedAt = spec.Provider
	}
	return reply, done, err
}
