package turns

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandembot/tandem"
)

// Disconnector unlinks an account, revoking it at the provider where the
// provider offers revocation. A Resolver may offer it.
type Disconnector interface {
	Disconnect(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error)
}

// SiteChooser switches the site a link acts on (Jira Cloud). A Resolver
// may offer it.
type SiteChooser interface {
	ChooseSite(ctx context.Context, team, user string, p tandem.ProviderID, siteID string) (tandem.Link, error)
}

// Disconnect unlinks user's account at p, audits it and drops the
// credentials any session held for it. It fails with errors.ErrUnsupported
// when the Resolver cannot disconnect, ENOTFOUND when nothing was linked,
// and with the Resolver's error otherwise.
func (e *Engine) Disconnect(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	d, ok := e.cfg.Resolver.(Disconnector)
	if !ok {
		return tandem.Link{}, errors.ErrUnsupported
	}
	l, err := d.Disconnect(ctx, team, user, p)
	if err != nil {
		return tandem.Link{}, err
	}
	// The link is gone whatever happens to the audit record, so the record
	// is written even if the request is cancelled, and a failure is logged.
	if err := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), tandem.AuditRecord{Time: e.cfg.Now(), Actor: user, Effective: user, Provider: p, Action: "unlink", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK, Detail: "unlinked " + l.Login}); err != nil {
		e.log.Error("append audit", "action", "unlink", "provider", p, "user", user, "err", err)
	}
	e.DropUser(user, p)
	return l, nil
}

// ChooseSite makes user's link at p act on siteID, and audits it. It fails
// with errors.ErrUnsupported when the Resolver cannot choose sites, and
// with the Resolver's error otherwise.
func (e *Engine) ChooseSite(ctx context.Context, team, user string, p tandem.ProviderID, siteID string) error {
	sc, ok := e.cfg.Resolver.(SiteChooser)
	if !ok {
		return errors.ErrUnsupported
	}
	l, err := sc.ChooseSite(ctx, team, user, p, siteID)
	if err != nil {
		return err
	}
	// The site is chosen whatever happens to the audit record, so the
	// record is written even if the request is cancelled, and a failure is
	// logged.
	if err := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), tandem.AuditRecord{Time: e.cfg.Now(), Actor: user, Effective: user, Provider: p, Action: "choose_site", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK, Detail: l.SiteName}); err != nil {
		e.log.Error("append audit", "action", "choose_site", "provider", p, "user", user, "err", err)
	}
	return nil
}

// Rerun runs a turn again after its sender linked the provider it lacked,
// if the turn is recent enough (RerunWindow); whether it may run as that
// sender is decided when it runs. It fails with ENOTFOUND for an unknown
// turn.
func (e *Engine) Rerun(ctx context.Context, turnID string, user string, p tandem.ProviderID) error {
	rec, err := e.cfg.Store.TurnRecord(ctx, turnID)
	if err != nil {
		return fmt.Errorf("turns: rerun: %w", err)
	}
	t := rec.Turn
	if t.User != user || e.cfg.Now().Sub(t.ReceivedAt) > e.cfg.RerunWindow {
		return nil
	}
	t.ID = turnID + "/rerun/" + string(p)
	t.TS = rec.Turn.TS + "/rerun/" + string(p)
	t.Rerun = true
	t.ReceivedAt = e.cfg.Now()
	dup, err := e.cfg.Store.RecordTurn(ctx, t)
	if err != nil {
		return fmt.Errorf("turns: rerun: %w", err)
	}
	if !dup {
		e.cfg.Chat.Submit(t)
	}
	return nil
}
