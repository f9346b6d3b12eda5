package postgres

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

func checkLinkKey(team, user string, provider tandem.ProviderID) error {
	if err := checkPart("team", team); err != nil {
		return err
	}
	if err := checkPart("user", user); err != nil {
		return err
	}
	return checkPart("provider", string(provider))
}

const linkColumns = `team, user_id, provider, account_id, login, linked_at, site, site_name, sites, needs_reconnect, sealed_token`

// scanLink reads a link row; its token stays sealed. The row's key columns,
// which are also the associated data, name the owner.
func scanLink(row pgx.Row) (tandem.Link, []byte, error) {
	var l tandem.Link
	var sites, sealed []byte
	err := row.Scan(&l.Team, &l.User, &l.Provider, &l.AccountID, &l.Login, &l.LinkedAt, &l.Site, &l.SiteName, &sites, &l.NeedsReconnect, &sealed)
	if err != nil {
		return tandem.Link{}, nil, err
	}
	l.LinkedAt = l.LinkedAt.UTC()
	if sites != nil {
		if err := json.Unmarshal(sites, &l.Sites); err != nil {
			return tandem.Link{}, nil, fmt.Errorf("link %s/%s/%s: sites: %w", l.Team, l.User, l.Provider, err)
		}
	}
	return l, sealed, nil
}

func (db *DB) readLink(row pgx.Row) (tandem.Link, error) {
	l, sealed, err := scanLink(row)
	if err != nil {
		return tandem.Link{}, err
	}
	if l.Token, err = db.keys.OpenToken(sealed, l.Team, l.User, l.Provider); err != nil {
		return tandem.Link{}, err
	}
	return l, nil
}

// linkArgs returns the columns of linkColumns for l, sealed as given.
func linkArgs(l tandem.Link, sealed []byte) ([]any, error) {
	var sites []byte // nil is NULL
	if len(l.Sites) > 0 {
		var err error
		if sites, err = json.Marshal(l.Sites); err != nil {
			return nil, fmt.Errorf("encode sites: %w", err)
		}
	}
	return []any{l.Team, l.User, string(l.Provider), l.AccountID, l.Login, l.LinkedAt, l.Site, l.SiteName, sites, l.NeedsReconnect, sealed}, nil
}

const insertLink = `INSERT INTO links (` + linkColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func notLinked(user string, provider tandem.ProviderID) error {
	return tandem.Errorf(tandem.ENOTFOUND, "%s has no linked %s account", user, provider.Name())
}

// Link returns a user's link to provider with its token decrypted. It
// fails with ENOTFOUND when there is none, EINVALID for an empty team, user
// or provider, and EINTERNAL when the token does not decrypt (the error
// wraps secrets.ErrUnknownKey or secrets.ErrDecrypt).
func (db *DB) Link(ctx context.Context, team, user string, provider tandem.ProviderID) (tandem.Link, error) {
	if err := checkLinkKey(team, user, provider); err != nil {
		return tandem.Link{}, fmt.Errorf("postgres: link: %w", err)
	}
	if err := db.ready(ctx, "link"); err != nil {
		return tandem.Link{}, err
	}
	l, err := db.readLink(db.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM links WHERE team = $1 AND user_id = $2 AND provider = $3`,
		team, user, string(provider)))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notLinked(user, provider)
	}
	if err != nil {
		return tandem.Link{}, db.fail(ctx, "link", err)
	}
	return l, nil
}

// Links returns every link of a user, tokens decrypted, ordered by provider
// id; none is an empty result, not an error. It fails like Link when a
// token does not decrypt.
func (db *DB) Links(ctx context.Context, team, user string) ([]tandem.Link, error) {
	if err := checkPart("team", team); err != nil {
		return nil, fmt.Errorf("postgres: links: %w", err)
	}
	if err := checkPart("user", user); err != nil {
		return nil, fmt.Errorf("postgres: links: %w", err)
	}
	if err := db.ready(ctx, "links"); err != nil {
		return nil, err
	}
	rows, _ := db.pool.Query(ctx, `SELECT `+linkColumns+` FROM links WHERE team = $1 AND user_id = $2 ORDER BY provider`, team, user)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.Link, error) { return db.readLink(r) })
	if err != nil {
		return nil, db.fail(ctx, "links", err)
	}
	return out, nil
}

// SaveLink creates or replaces a link, its NeedsReconnect flag as given
// (normally false, which clears it). It fails with EINVALID for an empty
// team, user or provider, and with tandem.ErrAccountLinkedElsewhere (nothing
// stored) when another user of the team has linked the same provider
// account.
func (db *DB) SaveLink(ctx context.Context, l tandem.Link) error {
	if err := checkLinkKey(l.Team, l.User, l.Provider); err != nil {
		return fmt.Errorf("postgres: save link: %w", err)
	}
	sealed, err := db.keys.SealToken(l.Token, l.Team, l.User, l.Provider)
	if err != nil {
		return fmt.Errorf("postgres: save link: %w", err)
	}
	args, err := linkArgs(l, sealed)
	if err != nil {
		return fmt.Errorf("postgres: save link: %w", err)
	}
	return db.inTx(ctx, "save link", func(tx pgx.Tx) error {
		if l.AccountID != "" {
			// One provider account per workspace: the advisory lock makes
			// the check and the write one step for every replica linking
			// the same account at once.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tandem link account'), hashtext($1 || '/' || $2 || '/' || $3))`,
				l.Team, string(l.Provider), l.AccountID); err != nil {
				return err
			}
			var taken bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM links WHERE team = $1 AND provider = $2 AND account_id = $3 AND user_id <> $4)`,
				l.Team, string(l.Provider), l.AccountID, l.User).Scan(&taken); err != nil {
				return err
			}
			if taken {
				return tandem.ErrAccountLinkedElsewhere
			}
		}
		_, err := tx.Exec(ctx, insertLink+`
		ON CONFLICT (team, user_id, provider) DO UPDATE SET
			account_id = excluded.account_id, login = excluded.login, linked_at = excluded.linked_at,
			site = excluded.site, site_name = excluded.site_name, sites = excluded.sites,
			needs_reconnect = excluded.needs_reconnect, sealed_token = excluded.sealed_token`, args...)
		return err
	})
}

// DeleteLink removes a link and returns it as it was removed, in one
// statement (DELETE … RETURNING): its token is the one stored at that
// moment, whatever a refresh on another replica swapped in before. A token
// that does not open leaves the returned Token zero; the link is removed
// all the same. It fails with ENOTFOUND when there was none.
func (db *DB) DeleteLink(ctx context.Context, team, user string, provider tandem.ProviderID) (tandem.Link, error) {
	if err := checkLinkKey(team, user, provider); err != nil {
		return tandem.Link{}, fmt.Errorf("postgres: delete link: %w", err)
	}
	if err := db.ready(ctx, "delete link"); err != nil {
		return tandem.Link{}, err
	}
	l, sealed, err := scanLink(db.pool.QueryRow(ctx, `DELETE FROM links WHERE team = $1 AND user_id = $2 AND provider = $3 RETURNING `+linkColumns,
		team, user, string(provider)))
	if errors.Is(err, pgx.ErrNoRows) {
		return tandem.Link{}, fmt.Errorf("postgres: delete link: %w", notLinked(user, provider))
	}
	if err != nil {
		return tandem.Link{}, db.fail(ctx, "delete link", err)
	}
	if tok, err := db.keys.OpenToken(sealed, l.Team, l.User, l.Provider); err == nil {
		l.Token = tok
	}
	return l, nil
}

// SwapToken replaces the link's token, and clears NeedsReconnect, only if
// its stored refresh token still equals oldRefresh. Tokens are sealed with
// random nonces, so the comparison happens here, after decrypting, in a
// transaction that holds the row locked: concurrent swaps from any replica
// apply one after the other, and only the first finds its oldRefresh. It
// fails with ECONFLICT when another refresh won (nothing is written),
// ENOTFOUND without a link, and EINTERNAL when the stored token does not
// decrypt.
func (db *DB) SwapToken(ctx context.Context, team, user string, provider tandem.ProviderID, oldRefresh string, tok tandem.Token) error {
	if err := checkLinkKey(team, user, provider); err != nil {
		return fmt.Errorf("postgres: swap token: %w", err)
	}
	sealed, err := db.keys.SealToken(tok, team, user, provider)
	if err != nil {
		return fmt.Errorf("postgres: swap token: %w", err)
	}
	return db.inTx(ctx, "swap token", func(tx pgx.Tx) error {
		current, _, err := db.lockedToken(ctx, tx, team, user, provider)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(current.RefreshToken), []byte(oldRefresh)) != 1 {
			return tandem.Errorf(tandem.ECONFLICT, "the %s token of %s was refreshed by another request", provider.Name(), user)
		}
		_, err = tx.Exec(ctx, `UPDATE links SET sealed_token = $4, needs_reconnect = false WHERE team = $1 AND user_id = $2 AND provider = $3`,
			team, user, string(provider), sealed)
		return err
	})
}

// lockedToken reads the link's token, opened, and its needs-reconnect
// flag, holding the row locked (FOR UPDATE) until tx ends, so that a
// comparison with it and the write that depends on it are one step. It
// fails with ENOTFOUND without a link and EINTERNAL when the token does
// not decrypt.
func (db *DB) lockedToken(ctx context.Context, tx pgx.Tx, team, user string, provider tandem.ProviderID) (tandem.Token, bool, error) {
	var stored []byte
	var flagged bool
	err := tx.QueryRow(ctx, `SELECT sealed_token, needs_reconnect FROM links WHERE team = $1 AND user_id = $2 AND provider = $3 FOR UPDATE`,
		team, user, string(provider)).Scan(&stored, &flagged)
	if errors.Is(err, pgx.ErrNoRows) {
		return tandem.Token{}, false, notLinked(user, provider)
	} else if err != nil {
		return tandem.Token{}, false, err
	}
	tok, err := db.keys.OpenToken(stored, team, user, provider)
	return tok, flagged, err
}

// SetLinkSite sets the link's site while it is to the account accountID
// (tandem.Store), in one statement. It fails with ENOTFOUND otherwise.
func (db *DB) SetLinkSite(ctx context.Context, team, user string, provider tandem.ProviderID, accountID, site, siteName string) error {
	if err := checkLinkKey(team, user, provider); err != nil {
		return fmt.Errorf("postgres: set link site: %w", err)
	}
	tag, err := db.exec(ctx, "set link site", `UPDATE links SET site = $5, site_name = $6
		WHERE team = $1 AND user_id = $2 AND provider = $3 AND account_id = $4`,
		team, user, string(provider), accountID, site, siteName)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("postgres: set link site: %w", notLinked(user, provider))
	}
	return err
}

// MarkNeedsReconnect flags a link whose token the provider refused, only
// while refused is still its stored token. Tokens are sealed with random
// nonces, so, as in SwapToken, the comparison happens here, after
// decrypting, in a transaction that holds the row locked: a link saved
// since (a relink on any replica) is never marked by the old token's
// refusal. The sealed token is left as it is. It reports whether this call
// flagged the link (false when it was flagged already), and fails with
// ECONFLICT when the link holds another token (nothing is written),
// ENOTFOUND without a link, and EINTERNAL when the stored token does not
// decrypt.
func (db *DB) MarkNeedsReconnect(ctx context.Context, team, user string, provider tandem.ProviderID, refused tandem.Token) (bool, error) {
	if err := checkLinkKey(team, user, provider); err != nil {
		return false, fmt.Errorf("postgres: mark needs reconnect: %w", err)
	}
	marked := false
	err := db.inTx(ctx, "mark needs reconnect", func(tx pgx.Tx) error {
		current, flagged, err := db.lockedToken(ctx, tx, team, user, provider)
		if err != nil {
			return err
		}
		if !current.Same(refused) {
			return tandem.Errorf(tandem.ECONFLICT, "the %s link of %s holds another token than the one refused", provider.Name(), user)
		}
		if flagged {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE links SET needs_reconnect = true WHERE team = $1 AND user_id = $2 AND provider = $3`,
			team, user, string(provider))
		marked = err == nil
		return err
	})
	return marked && err == nil, err
}
