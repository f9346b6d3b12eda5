package turns

import (
	"context"

	"github.com/tandembot/tandem"
)

// credentials resolves user's credentials for p. In a persistent session the
// owner's credentials stay held between turns, but every turn resolves them
// again from the owner's current link: a relink, a disconnect or a "needs
// reconnect", on this replica or another, replaces or drops them before the
// next turn. Otherwise they live only for the turn.
func (e *Engine) credentials(ctx context.Context, key tandem.SessionKey, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	c, err := e.cfg.Resolver.Credentials(ctx, key.Team, user, p, reason)
	if reason != tandem.ReasonPersistentOwner {
		return c, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		delete(e.held[key], p)
		return c, err
	}
	if e.held == nil {
		e.held = map[tandem.SessionKey]map[tandem.ProviderID]tandem.Credentials{}
	}
	if e.held[key] == nil {
		e.held[key] = map[tandem.ProviderID]tandem.Credentials{}
	}
	e.held[key][p] = c
	return c, nil
}

// DropSession forgets the credentials a session holds (its mode changed).
func (e *Engine) DropSession(key tandem.SessionKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.held, key)
}

// DropUser forgets user's credentials for p in every session (their link
// died).
func (e *Engine) DropUser(user string, p tandem.ProviderID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, byProvider := range e.held {
		if c, ok := byProvider[p]; ok && c.Identity.SlackUser == user {
			delete(byProvider, p)
		}
		if len(byProvider) == 0 {
			delete(e.held, k)
		}
	}
}

// HeldIdentities lists the credentials a session holds between turns (only
// a persistent session's owner's), for tests and the session view.
func (e *Engine) HeldIdentities(key tandem.SessionKey) []tandem.Identity {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []tandem.Identity
	for _, p := range tandem.Providers {
		if c, ok := e.held[key][p]; ok {
			out = append(out, c.Identity)
		}
	}
	return out
}
