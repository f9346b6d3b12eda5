package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// Export and import move records between stores as they are stored,
// secrets still sealed (see package storecopy). Exports read a page at a
// time and call fn between queries; imports write batches, each in one
// transaction, and refuse a record whose key exists (ECONFLICT), since they
// are meant for an empty store.

const (
	exportPage  = 500
	importBatch = 500
)

// exportPages runs query, which takes the cursor's values first and the
// page size last and returns rows in cursor order, until a short page,
// calling fn for each record after its page is read.
func exportPages[T any](ctx context.Context, db *DB, op, query string, cursor []any, scan func(pgx.CollectableRow) (T, []any, error), fn func(T) error) error {
	for {
		if err := db.ready(ctx, op); err != nil {
			return err
		}
		var next []any
		rows, _ := db.pool.Query(ctx, query, append(cursor, exportPage)...)
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
			v, c, err := scan(r)
			next = c
			return v, err
		})
		if err != nil {
			return db.fail(ctx, op, err)
		}
		for _, v := range page {
			if err := fn(v); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		cursor = next
	}
}

// ExportTurns calls fn for every turn, with its state, attempts and the
// time the store recorded it, in recording order. It stops at fn's first
// error, which it returns.
func (db *DB) ExportTurns(ctx context.Context, fn func(r tandem.TurnRecord, recordedAt time.Time) error) error {
	type turn struct {
		r  tandem.TurnRecord
		at time.Time
	}
	return exportPages(ctx, db, "export turns",
		`SELECT `+turnColumns+`, recorded_at, seq FROM turns WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{int64(0)},
		func(row pgx.CollectableRow) (turn, []any, error) {
			var t turn
			var seq int64
			var err error
			t.r, err = scanTurn(row, &t.at, &seq)
			t.at = t.at.UTC()
			return t, []any{seq}, err
		},
		func(t turn) error { return fn(t.r, t.at) })
}

// ExportLinks calls fn for every link, in key order, with its token still
// sealed (l.Token is empty). It stops at fn's first error, which it
// returns.
func (db *DB) ExportLinks(ctx context.Context, fn func(l tandem.Link, sealedToken []byte) error) error {
	type link struct {
		l      tandem.Link
		sealed []byte
	}
	return exportPages(ctx, db, "export links",
		`SELECT `+linkColumns+` FROM links WHERE (team, user_id, provider) > ($1, $2, $3) ORDER BY team, user_id, provider LIMIT $4`,
		[]any{"", "", ""},
		func(row pgx.CollectableRow) (link, []any, error) {
			l, sealed, err := scanLink(row)
			return link{l, sealed}, []any{l.Team, l.User, string(l.Provider)}, err
		},
		func(l link) error { return fn(l.l, l.sealed) })
}

// ExportOAuthStates calls fn for every OAuth flow in progress, expired or
// not, with s.ID holding the hex SHA-256 of the state id (the id itself is
// never stored) and the verifier still sealed. It stops at fn's first
// error, which it returns.
func (db *DB) ExportOAuthStates(ctx context.Context, fn func(s tandem.OAuthState, sealedVerifier []byte) error) error {
	type state struct {
		s      tandem.OAuthState
		sealed []byte
	}
	return exportPages(ctx, db, "export oauth states",
		`SELECT `+stateColumns+` FROM oauth_states WHERE id_hash > $1 ORDER BY id_hash LIMIT $2`, []any{""},
		func(row pgx.CollectableRow) (state, []any, error) {
			s, sealed, err := scanState(row)
			return state{s, sealed}, []any{s.ID}, err
		},
		func(s state) error { return fn(s.s, s.sealed) })
}

// ExportAudit calls fn for every audit record in append order. It stops at
// fn's first error, which it returns.
func (db *DB) ExportAudit(ctx context.Context, fn func(tandem.AuditRecord) error) error {
	return exportPages(ctx, db, "export audit",
		`SELECT `+auditColumns+`, seq FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{int64(0)},
		func(row pgx.CollectableRow) (tandem.AuditRecord, []any, error) {
			var seq int64
			r, err := scanAudit(row, &seq)
			return r, []any{seq}, err
		}, fn)
}

// ExportSettings calls fn for every setting in name order. It stops at
// fn's first error, which it returns.
func (db *DB) ExportSettings(ctx context.Context, fn func(name, value string) error) error {
	type setting struct{ name, value string }
	return exportPages(ctx, db, "export settings",
		`SELECT name, value FROM settings WHERE name > $1 ORDER BY name LIMIT $2`, []any{""},
		func(row pgx.CollectableRow) (setting, []any, error) {
			var s setting
			err := row.Scan(&s.name, &s.value)
			return s, []any{s.name}, err
		},
		func(s setting) error { return fn(s.name, s.value) })
}

// importer queues statements and writes them in batches, each batch in one
// transaction.
type importer struct {
	db    *DB
	ctx   context.Context
	op    string
	batch pgx.Batch
	n     int
}

func (im *importer) queue(sql string, args ...any) error {
	im.batch.Queue(sql, args...)
	if im.batch.Len() >= importBatch {
		return im.flush()
	}
	return nil
}

func (im *importer) flush() error {
	if im.batch.Len() == 0 {
		return nil
	}
	err := im.db.inTx(im.ctx, im.op, func(tx pgx.Tx) error {
		err := tx.SendBatch(im.ctx, &im.batch).Close()
		if constraint, ok := uniqueViolation(err); ok {
			return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.ECONFLICT, "a record to import exists in the target already (%s)", constraint), err)
		}
		return err
	})
	if err != nil {
		return err
	}
	im.n += im.batch.Len()
	im.batch = pgx.Batch{}
	return nil
}

// run calls each, whose put queues records (writing full batches), then
// writes the last batch, and returns how many records it wrote.
func (im *importer) run(each func() error) (int, error) {
	if err := im.db.ready(im.ctx, im.op); err != nil {
		return 0, err
	}
	if err := each(); err != nil {
		return im.n, err
	}
	if err := im.flush(); err != nil {
		return im.n, err
	}
	return im.n, nil
}

func invalidImport(op string, err error) error {
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// ImportTurns stores the turns that each passes to put, in that order (it
// becomes the recording order), with their states, attempts and recording
// times, and returns how many it stored. It fails with ECONFLICT when a
// turn's id, or its channel and ts, is taken, and EINVALID for a turn
// RecordTurn would refuse or an unknown state.
func (db *DB) ImportTurns(ctx context.Context, each func(put func(r tandem.TurnRecord, recordedAt time.Time) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import turns"}
	return im.run(func() error {
		return each(func(r tandem.TurnRecord, recordedAt time.Time) error {
			if err := checkTurn(r.Turn); err != nil {
				return invalidImport(im.op, err)
			}
			if err := checkState(r.State); err != nil {
				return invalidImport(im.op, err)
			}
			return im.queue(insertTurn, turnArgs(r, recordedAt)...)
		})
	})
}

// ImportSessions stores the sessions that each passes to put and returns
// how many it stored. It fails with ECONFLICT when a session's key is taken
// and EINVALID for a key with an empty part.
func (db *DB) ImportSessions(ctx context.Context, each func(put func(tandem.Session) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import sessions"}
	return im.run(func() error {
		return each(func(s tandem.Session) error {
			k, err := sessionKey(s.Key)
			if err != nil {
				return invalidImport(im.op, err)
			}
			args, err := sessionArgs(k, s)
			if err != nil {
				return invalidImport(im.op, err)
			}
			return im.queue(insertSession, args...)
		})
	})
}

// ImportLinks stores the links that each passes to put, with their tokens
// sealed as given (sealed by either store under the same keyring, for the
// same team, user and provider), and returns how many it stored. It fails
// with ECONFLICT when a link exists and EINVALID for an empty team, user,
// provider or sealed token.
func (db *DB) ImportLinks(ctx context.Context, each func(put func(l tandem.Link, sealedToken []byte) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import links"}
	return im.run(func() error {
		return each(func(l tandem.Link, sealed []byte) error {
			if err := checkLinkKey(l.Team, l.User, l.Provider); err != nil {
				return invalidImport(im.op, err)
			}
			if len(sealed) == 0 {
				return invalidImport(im.op, tandem.Errorf(tandem.EINVALID, "the link %s/%s/%s has no sealed token", l.Team, l.User, l.Provider))
			}
			args, err := linkArgs(l, sealed)
			if err != nil {
				return invalidImport(im.op, err)
			}
			return im.queue(insertLink, args...)
		})
	})
}

// ImportOAuthStates stores the OAuth flows that each passes to put, s.ID
// holding the hex SHA-256 of the state id as exported and the verifier
// sealed as given, and returns how many it stored. It fails with ECONFLICT
// when a state exists and EINVALID for an empty hash or sealed verifier.
func (db *DB) ImportOAuthStates(ctx context.Context, each func(put func(s tandem.OAuthState, sealedVerifier []byte) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import oauth states"}
	return im.run(func() error {
		return each(func(s tandem.OAuthState, sealed []byte) error {
			if s.ID == "" || len(sealed) == 0 {
				return invalidImport(im.op, tandem.Errorf(tandem.EINVALID, "an OAuth state needs the hash of its id and a sealed verifier"))
			}
			return im.queue(insertState, stateArgs(s, sealed)...)
		})
	})
}

// ImportAudit appends the records that each passes to put, in that order,
// and returns how many it appended.
func (db *DB) ImportAudit(ctx context.Context, each func(put func(tandem.AuditRecord) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import audit"}
	return im.run(func() error {
		return each(func(r tandem.AuditRecord) error {
			return im.queue(insertAudit, auditArgs(r)...)
		})
	})
}

// ImportAPIKeys stores the keys that each passes to put and returns how
// many it stored. It fails with ECONFLICT when a key's hash or prefix is
// taken and EINVALID like SaveAPIKey.
func (db *DB) ImportAPIKeys(ctx context.Context, each func(put func(tandem.APIKey) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import api keys"}
	return im.run(func() error {
		return each(func(k tandem.APIKey) error {
			if err := checkAPIKey(k); err != nil {
				return invalidImport(im.op, err)
			}
			return im.queue(insertAPIKey, apiKeyArgs(k)...)
		})
	})
}

// ImportSettings stores the settings that each passes to put and returns
// how many it stored. It fails with ECONFLICT when a setting exists and
// EINVALID for an empty name or value.
func (db *DB) ImportSettings(ctx context.Context, each func(put func(name, value string) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import settings"}
	return im.run(func() error {
		return each(func(name, value string) error {
			if name == "" || value == "" {
				return invalidImport(im.op, tandem.Errorf(tandem.EINVALID, "a setting needs a name and a value"))
			}
			return im.queue(`INSERT INTO settings (name, value) VALUES ($1, $2)`, name, value)
		})
	})
}

// Truncate deletes every record (turns, sessions, links, OAuth states,
// audit, API keys, settings, leases and schedules) in one transaction, keeping the
// schema and the key check. It is for replacing a store's contents with a
// copy; nothing else calls it.
func (db *DB) Truncate(ctx context.Context) error {
	_, err := db.exec(ctx, "truncate", `TRUNCATE turns, sessions, links, oauth_states, audit, api_keys, settings, leases, schedules RESTART IDENTITY`)
	return err
}
