// Package storecopy copies everything Tandem keeps from one store to
// another, such as from the bbolt file to PostgreSQL when a deployment grows
// to several replicas (`tandem store copy --from <bbolt file> --to
// <postgres url>`).
//
// Secrets are copied as they are stored, still sealed: a token or PKCE
// verifier is never opened on the way, so it never exists in clear, not
// even in the copying process's memory. This works because both stores seal
// with the same keyring and the same associated data (the owner of the
// value), so a value sealed by one opens in the other. Open both stores
// with the same keyring: values sealed under a previous key need that key
// in the target's keyring too (or run tandem rekey on the source first).
//
// Copied: settings, API keys (hashes), schedules, sessions, links, unexpired OAuth
// flows, turns with their states and attempts (in recording order, so the
// inbox keeps its order), and the audit trail (in append order). Not
// copied: expired OAuth flows, which can never complete, and leases, which
// coordinate running replicas: the copy runs while Tandem is stopped, so a
// lease in the source belongs to a process that is gone, and copying it
// would only make the new deployment wait for it to expire.
//
// After copying, Copy counts every kind of record in the target again and
// fails, naming the kind, when a count differs from what was copied.
package storecopy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandembot/tandem"
)

// Exporter is a store Copy reads from. Both tandem stores implement it
// (*store.DB and *postgres.DB). Each method calls fn once per record and
// stops at fn's first error, which it returns.
type Exporter interface {
	// Sessions calls fn for every session.
	Sessions(ctx context.Context, fn func(tandem.Session) error) error
	// APIKeys lists every team's keys when team and creator are "".
	APIKeys(ctx context.Context, team, creator string) ([]tandem.APIKey, error)
	// Schedules lists every schedule when f is zero.
	Schedules(ctx context.Context, f tandem.ScheduleFilter) ([]tandem.Schedule, error)
	// ExportTurns calls fn for every turn in recording order, with the
	// time the store recorded it.
	ExportTurns(ctx context.Context, fn func(r tandem.TurnRecord, recordedAt time.Time) error) error
	// ExportLinks calls fn for every link with its token still sealed.
	ExportLinks(ctx context.Context, fn func(l tandem.Link, sealedToken []byte) error) error
	// ExportOAuthStates calls fn for every OAuth flow, s.ID holding the
	// hash of the state id, the verifier still sealed.
	ExportOAuthStates(ctx context.Context, fn func(s tandem.OAuthState, sealedVerifier []byte) error) error
	// ExportAudit calls fn for every audit record in append order.
	ExportAudit(ctx context.Context, fn func(tandem.AuditRecord) error) error
	// ExportSettings calls fn for every setting.
	ExportSettings(ctx context.Context, fn func(name, value string) error) error
	// Setting returns a named setting, or ENOTFOUND.
	Setting(ctx context.Context, name string) (string, error)
}

// Importer is a store Copy writes to. Each Import method calls each once;
// each calls put for every record, in order, and the store writes them in
// batches and returns how many it wrote. A record whose key exists fails
// with ECONFLICT.
type Importer interface {
	ImportTurns(ctx context.Context, each func(put func(r tandem.TurnRecord, recordedAt time.Time) error) error) (int, error)
	ImportSessions(ctx context.Context, each func(put func(tandem.Session) error) error) (int, error)
	ImportLinks(ctx context.Context, each func(put func(l tandem.Link, sealedToken []byte) error) error) (int, error)
	ImportOAuthStates(ctx context.Context, each func(put func(s tandem.OAuthState, sealedVerifier []byte) error) error) (int, error)
	ImportAudit(ctx context.Context, each func(put func(tandem.AuditRecord) error) error) (int, error)
	ImportAPIKeys(ctx context.Context, each func(put func(tandem.APIKey) error) error) (int, error)
	// ImportSchedules stores schedules with no limit per creator.
	ImportSchedules(ctx context.Context, each func(put func(tandem.Schedule) error) error) (int, error)
	ImportSettings(ctx context.Context, each func(put func(name, value string) error) error) (int, error)
	// Truncate deletes every record, keeping the schema and the key check.
	Truncate(ctx context.Context) error
	// SetSetting stores a named setting; an empty value deletes it.
	SetSetting(ctx context.Context, name, value string) error
}

// Target is a store Copy writes to and then reads back to verify the copy.
type Target interface {
	Exporter
	Importer
}

// The kinds of records, in the order Copy copies them and Report lists
// them.
const (
	KindSettings    = "settings"
	KindAPIKeys     = "api_keys"
	KindSchedules   = "schedules"
	KindSessions    = "sessions"
	KindLinks       = "links"
	KindOAuthStates = "oauth_states"
	KindTurns       = "turns"
	KindAudit       = "audit"
)

// Kinds lists every kind Copy copies, in order.
var Kinds = []string{KindSettings, KindAPIKeys, KindSchedules, KindSessions, KindLinks, KindOAuthStates, KindTurns, KindAudit}

// Options configure Copy.
type Options struct {
	// Force copies into a target that holds records, deleting them first,
	// so the target ends as an exact copy of the source. Without it Copy
	// refuses a target that is not empty.
	Force bool
	// Now decides which OAuth flows have expired; time.Now when nil.
	Now func() time.Time
}

// Count is what Copy did with one kind of record.
type Count struct {
	Kind    string
	Source  int // records read from the source
	Skipped int // source records not copied (expired OAuth flows)
	Copied  int // records the target stored
	Target  int // records counted in the target after the copy
}

// Report says, kind by kind, what Copy read, skipped, copied and then found
// in the target.
type Report struct {
	// Replaced is how many records the target held before, deleted because
	// of Options.Force.
	Replaced int
	Counts   []Count // in the order of Kinds
}

// Count returns the count of kind, or a zero Count with that kind.
func (r Report) Count(kind string) Count {
	for _, c := range r.Counts {
		if c.Kind == kind {
			return c
		}
	}
	return Count{Kind: kind}
}

// String renders the report as a table for operators.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %8s %8s %8s %8s\n", "kind", "source", "skipped", "copied", "target")
	for _, c := range r.Counts {
		fmt.Fprintf(&b, "%-14s %8d %8d %8d %8d\n", c.Kind, c.Source, c.Skipped, c.Copied, c.Target)
	}
	if r.Replaced > 0 {
		fmt.Fprintf(&b, "(%d records the target held before were deleted)\n", r.Replaced)
	}
	return b.String()
}

// MismatchError says that the target does not hold what was copied of one
// kind of record.
type MismatchError struct {
	Kind   string
	Want   int // records copied (source less skipped)
	Copied int // records the target reported storing
	Target int // records counted in the target
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("storecopy: verify %s: %d to copy, the target stored %d and holds %d", e.Kind, e.Want, e.Copied, e.Target)
}

// Copy copies every record from one store to another (see the package
// documentation for what is copied) and verifies the target's counts. It
// returns a report even when it fails part way, holding what was done. It
// fails with ECONFLICT when the target holds records and opts.Force is
// not set (nothing is written), EINVALID when Force is set and from and to
// are one store (nothing is deleted), with a *MismatchError when the target's
// counts differ from what was copied, and with the error of the store that
// failed otherwise, naming the kind it was copying. A failed copy can leave
// the target partly written; run it again with Force.
func Copy(ctx context.Context, from Exporter, to Target, opts Options) (Report, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var report Report
	before, err := count(ctx, to)
	if err != nil {
		return report, fmt.Errorf("storecopy: count the target's records: %w", err)
	}
	if held := total(before); held > 0 {
		if !opts.Force {
			return report, fmt.Errorf("storecopy: %w", tandem.Errorf(tandem.ECONFLICT,
				"the target store is not empty (it holds %s); copy into an empty store, or force the copy to replace its contents", describe(before)))
		}
		if err := distinct(ctx, from, to); err != nil {
			return report, fmt.Errorf("storecopy: %w", err)
		}
		if err := to.Truncate(ctx); err != nil {
			return report, fmt.Errorf("storecopy: empty the target: %w", err)
		}
		report.Replaced = held
	}

	for _, kind := range Kinds {
		c, err := copyKind(ctx, kind, from, to, now)
		report.Counts = append(report.Counts, c)
		if err != nil {
			return report, fmt.Errorf("storecopy: copy %s: %w", kind, err)
		}
	}

	after, err := count(ctx, to)
	if err != nil {
		return report, fmt.Errorf("storecopy: count the target's records: %w", err)
	}
	var mismatches []error
	for i := range report.Counts {
		c := &report.Counts[i]
		c.Target = after[c.Kind]
		if want := c.Source - c.Skipped; c.Copied != want || c.Target != want {
			mismatches = append(mismatches, &MismatchError{Kind: c.Kind, Want: want, Copied: c.Copied, Target: c.Target})
		}
	}
	return report, errors.Join(mismatches...)
}

// distinct makes sure from and to are not one store (two handles on one
// PostgreSQL schema, say) before Force empties the target: it writes a
// setting of a random name into to and looks for it in from.
func distinct(ctx context.Context, from Exporter, to Importer) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	probe := "storecopy/probe/" + hex.EncodeToString(b[:])
	if err := to.SetSetting(ctx, probe, "1"); err != nil {
		return fmt.Errorf("probe the target: %w", err)
	}
	_, err := from.Setting(ctx, probe)
	if derr := to.SetSetting(ctx, probe, ""); derr != nil {
		return fmt.Errorf("probe the target: %w", derr)
	}
	switch tandem.ErrorCode(err) {
	case tandem.ENOTFOUND:
		return nil
	case "":
		return tandem.Errorf(tandem.EINVALID, "the source and the target are the same store; copying would delete everything")
	}
	return fmt.Errorf("probe the source: %w", err)
}

// copyKind copies one kind of record and counts what it read and skipped.
func copyKind(ctx context.Context, kind string, from Exporter, to Importer, now func() time.Time) (Count, error) {
	c := Count{Kind: kind}
	var err error
	switch kind {
	case KindSettings:
		c.Copied, err = to.ImportSettings(ctx, func(put func(string, string) error) error {
			return from.ExportSettings(ctx, func(name, value string) error {
				c.Source++
				return put(name, value)
			})
		})
	case KindAPIKeys:
		c.Copied, err = to.ImportAPIKeys(ctx, func(put func(tandem.APIKey) error) error {
			keys, err := from.APIKeys(ctx, "", "")
			if err != nil {
				return err
			}
			for _, k := range keys {
				c.Source++
				if err := put(k); err != nil {
					return err
				}
			}
			return nil
		})
	case KindSchedules:
		c.Copied, err = to.ImportSchedules(ctx, func(put func(tandem.Schedule) error) error {
			schedules, err := from.Schedules(ctx, tandem.ScheduleFilter{})
			if err != nil {
				return err
			}
			for _, s := range schedules {
				c.Source++
				if err := put(s); err != nil {
					return err
				}
			}
			return nil
		})
	case KindSessions:
		c.Copied, err = to.ImportSessions(ctx, func(put func(tandem.Session) error) error {
			return from.Sessions(ctx, func(s tandem.Session) error {
				c.Source++
				return put(s)
			})
		})
	case KindLinks:
		c.Copied, err = to.ImportLinks(ctx, func(put func(tandem.Link, []byte) error) error {
			return from.ExportLinks(ctx, func(l tandem.Link, sealed []byte) error {
				c.Source++
				return put(l, sealed)
			})
		})
	case KindOAuthStates:
		at := now()
		c.Copied, err = to.ImportOAuthStates(ctx, func(put func(tandem.OAuthState, []byte) error) error {
			return from.ExportOAuthStates(ctx, func(s tandem.OAuthState, sealed []byte) error {
				c.Source++
				if s.Expired(at) {
					c.Skipped++
					return nil
				}
				return put(s, sealed)
			})
		})
	case KindTurns:
		c.Copied, err = to.ImportTurns(ctx, func(put func(tandem.TurnRecord, time.Time) error) error {
			return from.ExportTurns(ctx, func(r tandem.TurnRecord, recordedAt time.Time) error {
				c.Source++
				return put(r, recordedAt)
			})
		})
	case KindAudit:
		c.Copied, err = to.ImportAudit(ctx, func(put func(tandem.AuditRecord) error) error {
			return from.ExportAudit(ctx, func(r tandem.AuditRecord) error {
				c.Source++
				return put(r)
			})
		})
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	return c, err
}

// count reads every record of every kind from s and counts them.
func count(ctx context.Context, s Exporter) (map[string]int, error) {
	counts := map[string]int{}
	steps := []struct {
		kind string
		run  func(inc func()) error
	}{
		{KindSettings, func(inc func()) error {
			return s.ExportSettings(ctx, func(string, string) error { inc(); return nil })
		}},
		{KindAPIKeys, func(inc func()) error {
			keys, err := s.APIKeys(ctx, "", "")
			for range keys {
				inc()
			}
			return err
		}},
		{KindSchedules, func(inc func()) error {
			schedules, err := s.Schedules(ctx, tandem.ScheduleFilter{})
			for range schedules {
				inc()
			}
			return err
		}},
		{KindSessions, func(inc func()) error {
			return s.Sessions(ctx, func(tandem.Session) error { inc(); return nil })
		}},
		{KindLinks, func(inc func()) error {
			return s.ExportLinks(ctx, func(tandem.Link, []byte) error { inc(); return nil })
		}},
		{KindOAuthStates, func(inc func()) error {
			return s.ExportOAuthStates(ctx, func(tandem.OAuthState, []byte) error { inc(); return nil })
		}},
		{KindTurns, func(inc func()) error {
			return s.ExportTurns(ctx, func(tandem.TurnRecord, time.Time) error { inc(); return nil })
		}},
		{KindAudit, func(inc func()) error {
			return s.ExportAudit(ctx, func(tandem.AuditRecord) error { inc(); return nil })
		}},
	}
	for _, step := range steps {
		if err := step.run(func() { counts[step.kind]++ }); err != nil {
			return nil, fmt.Errorf("%s: %w", step.kind, err)
		}
	}
	return counts, nil
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// describe lists the non-zero counts, in the order of Kinds.
func describe(counts map[string]int) string {
	var parts []string
	for _, kind := range Kinds {
		if n := counts[kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, kind))
		}
	}
	return strings.Join(parts, ", ")
}
