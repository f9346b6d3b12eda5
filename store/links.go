package store

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// linkValue is a link as stored: its non-secret fields in clear, its token
// sealed under the owner "team|user|provider", so a value copied onto
// another user's key fails to open.
type linkValue struct {
	tandem.Link        // Token is never encoded (json:"-")
	SealedToken []byte `json:"sealed_token"`
}

func linkKey(team, user string, provider tandem.ProviderID) ([]byte, error) {
	if err := checkPart("team", team); err != nil {
		return nil, err
	}
	if err := checkPart("user", user); err != nil {
		return nil, err
	}
	if err := checkPart("provider", string(provider)); err != nil {
		return nil, err
	}
	return []byte(team + "/" + user + "/" + string(provider)), nil
}

func splitLinkKey(k []byte) (team, user string, provider tandem.ProviderID, err error) {
	parts := bytes.Split(k, []byte("/"))
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("malformed link key %q", k)
	}
	return string(parts[0]), string(parts[1]), tandem.ProviderID(parts[2]), nil
}

// readLink decodes the stored link of key and opens its token. The key's
// parts, not the stored fields, name the owner, so a value moved to
// another key does not open.
func (db *DB) readLink(raw []byte, team, user string, provider tandem.ProviderID) (tandem.Link, error) {
	var lv linkValue
	if err := decode(raw, &lv); err != nil {
		return tandem.Link{}, fmt.Errorf("link %s/%s/%s: %w", team, user, provider, err)
	}
	tok, err := db.keys.OpenToken(lv.SealedToken, team, user, provider)
	if err != nil {
		return tandem.Link{}, err
	}
	l := lv.Link
	l.Team, l.User, l.Provider, l.Token = team, user, provider, tok
	return l, nil
}

func notLinked(team, user string, provider tandem.ProviderID) error {
	return tandem.Errorf(tandem.ENOTFOUND, "%s has no linked %s account", user, provider.Name())
}

// Link returns a user's link to provider with its token decrypted. It
// fails with ENOTFOUND when there is none, EINVALID for an empty team, user
// or provider, and EINTERNAL when the token does not decrypt (the error
// wraps secrets.ErrUnknownKey or secrets.ErrDecrypt).
func (db *DB) Link(ctx context.Context, team, user string, provider tandem.ProviderID) (tandem.Link, error) {
	k, err := linkKey(team, user, provider)
	if err != nil {
		return tandem.Link{}, fmt.Errorf("store: link: %w", err)
	}
	var l tandem.Link
	err = db.view(ctx, "link", func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketLinks)).Get(k)
		if raw == nil {
			return notLinked(team, user, provider)
		}
		l, err = db.readLink(raw, team, user, provider)
		return err
	})
	if err != nil {
		return tandem.Link{}, err
	}
	return l, nil
}

// Links returns every link of a user, tokens decrypted, ordered by provider
// id; none is an empty result, not an error. It fails like Link when a
// token does not decrypt.
func (db *DB) Links(ctx context.Context, team, user string) ([]tandem.Link, error) {
	if err := checkPart("team", team); err != nil {
		return nil, fmt.Errorf("store: links: %w", err)
	}
	if err := checkPart("user", user); err != nil {
		return nil, fmt.Errorf("store: links: %w", err)
	}
	prefix := []byte(team + "/" + user + "/")
	var out []tandem.Link
	err := db.view(ctx, "links", func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketLinks)).Cursor()
		for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			l, err := db.readLink(raw, team, user, tandem.ProviderID(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SaveLink creates or replaces a link, its NeedsReconnect flag as given
// (normally false, which clears it). It fails with EINVALID for an empty
// team, user or provider, and with tandem.ErrAccountLinkedElsewhere (nothing
// stored) when another user of the team has linked the same provider
// account.
func (db *DB) SaveLink(ctx context.Context, l tandem.Link) error {
	k, err := linkKey(l.Team, l.User, l.Provider)
	if err != nil {
		return fmt.Errorf("store: save link: %w", err)
	}
	sealed, err := db.keys.SealToken(l.Token, l.Team, l.User, l.Provider)
	if err != nil {
		return fmt.Errorf("store: save link: %w", err)
	}
	return db.update(ctx, "save link", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLinks))
		if err := accountFree(b, l); err != nil {
			return err
		}
		return putJSON(b, k, linkValue{Link: l, SealedToken: sealed})
	})
}

// accountFree fails with tandem.ErrAccountLinkedElsewhere when another user
// of l's team has a link to the same provider account. It runs inside the
// write transaction that stores l, so two concurrent links of one account
// cannot both pass it. A link without an account id (never made by the
// OAuth flow) is not checked.
func accountFree(b *bolt.Bucket, l tandem.Link) error {
	if l.AccountID == "" {
		return nil
	}
	prefix := []byte(l.Team + "/")
	c := b.Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		_, user, provider, err := splitLinkKey(k)
		if err != nil || user == l.User || provider != l.Provider {
			continue
		}
		var v linkValue
		if err := decode(raw, &v); err != nil {
			return err
		}
		if v.AccountID == l.AccountID {
			return tandem.ErrAccountLinkedElsewhere
		}
	}
	return nil
}

// DeleteLink removes a link and returns it as it was removed, read in the
// same transaction: its token is the one stored at that moment. A token
// that does not open leaves the returned Token zero; the link is removed
// all the same. It fails with ENOTFOUND when there was none.
func (db *DB) DeleteLink(ctx context.Context, team, user string, provider tandem.ProviderID) (tandem.Link, error) {
	k, err := linkKey(team, user, provider)
	if err != nil {
		return tandem.Link{}, fmt.Errorf("store: delete link: %w", err)
	}
	var l tandem.Link
	err = db.update(ctx, "delete link", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLinks))
		raw := b.Get(k)
		if raw == nil {
			return notLinked(team, user, provider)
		}
		var rerr error
		if l, rerr = db.readLink(raw, team, user, provider); rerr != nil {
			l = tandem.Link{Team: team, User: user, Provider: provider}
		}
		return b.Delete(k)
	})
	if err != nil {
		return tandem.Link{}, err
	}
	return l, nil
}

// SwapToken replaces the link's token, and clears NeedsReconnect, only if
// its stored refresh token still equals oldRefresh; the check and the write
// are one transaction. It fails with ECONFLICT when another refresh won
// (nothing is written), ENOTFOUND without a link, and EINTERNAL when the
// stored token does not decrypt.
func (db *DB) SwapToken(ctx context.Context, team, user string, provider tandem.ProviderID, oldRefresh string, tok tandem.Token) error {
	k, err := linkKey(team, user, provider)
	if err != nil {
		return fmt.Errorf("store: swap token: %w", err)
	}
	sealed, err := db.keys.SealToken(tok, team, user, provider)
	if err != nil {
		return fmt.Errorf("store: swap token: %w", err)
	}
	return db.changeLink(ctx, "swap token", k, team, user, provider, func(lv *linkValue) (bool, error) {
		current, err := db.keys.OpenToken(lv.SealedToken, team, user, provider)
		if err != nil {
			return false, err
		}
		if subtle.ConstantTimeCompare([]byte(current.RefreshToken), []byte(oldRefresh)) != 1 {
			return false, tandem.Errorf(tandem.ECONFLICT, "the %s token of %s was refreshed by another request", provider.Name(), user)
		}
		lv.SealedToken, lv.NeedsReconnect = sealed, false
		return true, nil
	})
}

// changeLink applies fn to the link stored under k in one write
// transaction, and stores it when fn reports a change. It fails with
// ENOTFOUND when there is no link, and with fn's error as it is.
func (db *DB) changeLink(ctx context.Context, op string, k []byte, team, user string, provider tandem.ProviderID, fn func(*linkValue) (bool, error)) error {
	return db.update(ctx, op, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLinks))
		raw := b.Get(k)
		if raw == nil {
			return notLinked(team, user, provider)
		}
		var lv linkValue
		if err := decode(raw, &lv); err != nil {
			return err
		}
		changed, err := fn(&lv)
		if err != nil || !changed {
			return err
		}
		return putJSON(b, k, lv)
	})
}

// SetLinkSite sets the link's site while it is to the account accountID
// (tandem.Store). It fails with ENOTFOUND otherwise.
func (db *DB) SetLinkSite(ctx context.Context, team, user string, provider tandem.ProviderID, accountID, site, siteName string) error {
	k, err := linkKey(team, user, provider)
	if err != nil {
		return fmt.Errorf("store: set link site: %w", err)
	}
	return db.changeLink(ctx, "set link site", k, team, user, provider, func(lv *linkValue) (bool, error) {
		if lv.AccountID != accountID {
			return false, notLinked(team, user, provider)
		}
		lv.Site, lv.SiteName = site, siteName
		return true, nil
	})
}

// MarkNeedsReconnect flags a link whose token the provider refused, only
// while refused is still its stored token: the comparison and the write are
// one transaction, as in SwapToken, so a link saved since (a relink, which
// takes no lock of Tokens) is never marked by the old token's refusal. The
// sealed token is left as it is. It reports whether this call flagged the
// link (false when it was flagged already), and fails with ECONFLICT when
// the link holds another token (nothing is written), ENOTFOUND without a
// link, and EINTERNAL when the stored token does not decrypt.
func (db *DB) MarkNeedsReconnect(ctx context.Context, team, user string, provider tandem.ProviderID, refused tandem.Token) (bool, error) {
	k, err := linkKey(team, user, provider)
	if err != nil {
		return false, fmt.Errorf("store: mark needs reconnect: %w", err)
	}
	marked := false
	err = db.changeLink(ctx, "mark needs reconnect", k, team, user, provider, func(lv *linkValue) (bool, error) {
		current, err := db.keys.OpenToken(lv.SealedToken, team, user, provider)
		if err != nil {
			return false, err
		}
		if !current.Same(refused) {
			return false, tandem.Errorf(tandem.ECONFLICT, "the %s link of %s holds another token than the one refused", provider.Name(), user)
		}
		marked = !lv.NeedsReconnect
		lv.NeedsReconnect = true
		return marked, nil
	})
	return marked && err == nil, err
}
