package turns

import (
	"context"
	"errors"
	"fmt"
	"slices"

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

// ActionAwaitConnect is the audit action of a turn that failed because its
// sender has no usable link to the provider it needs, and that runs again
// when the sender connects that provider within RerunWindow (the reply
// promised so). RerunAfterLink finds the waiting turns by it.
const ActionAwaitConnect = "await_connect"

// awaitConnect records that t, which failed because its sender (who is the
// identity it ran as) has no usable link to p, waits for them to connect p.
// It reports whether t waits: a re-run, an API turn or a turn that ran as
// someone else never does.
func (e *Engine) awaitConnect(step *tandem.TurnStep, t tandem.Turn, user string, p tandem.ProviderID, reason tandem.Reason, out tandem.Outcome, detail string) bool {
	if t.Rerun || t.APIKey != "" || t.Schedule != "" || user != t.User || p == "" {
		return false
	}
	step.Audit = append(step.Audit, tandem.AuditRecord{
		Time: e.cfg.Now(), Session: t.Session, TurnID: t.ID, Actor: t.User,
		Effective: user, Provider: p, Action: ActionAwaitConnect, Reason: reason,
		Outcome: out, Detail: detail,
	})
	return true
}

// RerunAfterLink runs again every turn of l's user that waits for l's
// provider (ActionAwaitConnect) in l's workspace and is no older than
// RerunWindow, and hint, the turn whose own Connect button made the link
// ("" for none). Whichever path the link came through (that button,
// /connect, the App Home, a DM), each turn runs again at most once, on
// whichever replica records the re-run first; whether it may run as its
// sender is decided when it runs. It fails when the audit trail cannot be
// read, or with the errors of the turns whose re-run could not be recorded
// (the others are re-run all the same).
func (e *Engine) RerunAfterLink(ctx context.Context, l tandem.Link, hint string) error {
	recs, err := e.cfg.Store.Audit(ctx, tandem.AuditFilter{User: l.User, Since: e.cfg.Now().Add(-e.cfg.RerunWindow)})
	if err != nil {
		return fmt.Errorf("turns: rerun after link: %w", err)
	}
	var ids []string
	for _, r := range recs {
		if r.Action == ActionAwaitConnect && r.Actor == l.User && r.Effective == l.User &&
			r.Provider == l.Provider && r.Session.Team == l.Team && r.TurnID != "" && !slices.Contains(ids, r.TurnID) {
			ids = append(ids, r.TurnID)
		}
	}
	if hint != "" && !slices.Contains(ids, hint) {
		ids = append(ids, hint)
	}
	var errs []error
	for _, id := range ids {
		if err := e.Rerun(ctx, id, l.User, l.Provider); err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Rerun runs a turn again after its sender linked the provider it lacked,
// if the turn is recent enough (RerunWindow) and is not itself a re-run;
// whether it may run as that sender is decided when it runs. A turn runs
// again at most once per provider: the re-run is recorded as
// "<id>/rerun/<provider>", which the inbox records only once. It fails
// with ENOTFOUND for an unknown turn.
func (e *Engine) Rerun(ctx context.Context, turnID string, user string, p tandem.ProviderID) error {
	rec, err := e.cfg.Store.TurnRecord(ctx, turnID)
	if err != nil {
		return fmt.Errorf("turns: rerun: %w", err)
	}
	t := rec.Turn
	if t.User != user || t.Rerun || t.APIKey != "" || t.Schedule != "" || e.cfg.Now().Sub(t.ReceivedAt) > e.cfg.RerunWindow {
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
		e.log.Info("turn re-run after a link", "turn", t.ID, "user", user, "provider", p)
		e.cfg.Chat.Submit(t)
	}
	return nil
}
