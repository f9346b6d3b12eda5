// Package api is Tandem's HTTP API for automation: API keys that act as the
// Slack user who created them, and the /api/v1 endpoints that run a turn
// with such a key.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem"
)

// KeyStore is what key management needs of the store.
type KeyStore interface {
	SaveAPIKey(ctx context.Context, k tandem.APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (tandem.APIKey, error)
	APIKeys(ctx context.Context, team, creator string) ([]tandem.APIKey, error)
	UpdateAPIKey(ctx context.Context, prefix string, fn func(*tandem.APIKey) error) (tandem.APIKey, error)
	AppendAudit(ctx context.Context, r tandem.AuditRecord) error
}

// DefaultKeyTTL is how long a key lives unless its creator says otherwise.
const DefaultKeyTTL = 90 * 24 * time.Hour

// Keys creates, checks, lists and revokes API keys. A key is shown once; the
// store keeps only its SHA-256 and a short prefix.
type Keys struct {
	Store KeyStore
	Now   func() time.Time

	// refusedMu guards refused: when a call with each key that does not
	// stand was last audited (Check), so that a job retrying it every
	// second leaves one record a minute, not one a call.
	refusedMu sync.Mutex
	refused   map[string]time.Time
}

// refusedEvery is how often a refused use of one key is audited.
const refusedEvery = time.Minute

// maxRefusedKeys bounds the keys whose last refusal Check remembers.
const maxRefusedKeys = 10_000

func (k *Keys) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

var prefixEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ParseTTL reads an expiry such as "90d", "12h" or "never" (0).
func ParseTTL(s string) (time.Duration, error) {
	switch s = strings.TrimSpace(strings.ToLower(s)); {
	case s == "":
		return DefaultKeyTTL, nil
	case s == "never":
		return 0, nil
	case strings.HasSuffix(s, "d"):
		var days int
		if _, err := fmt.Sscanf(s, "%dd", &days); err == nil && days > 0 && days <= 3650 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	default:
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d, nil
		}
	}
	return 0, tandem.Errorf(tandem.EINVALID, "“%s” is not an expiry; use e.g. 30d, 12h or never.", tandem.Escape(s))
}

// Create makes a read key for creator that expires after ttl (0: never).
// It returns the key itself, to show once, and its record. actor is who
// asked (the creator, or "operator"): a key anyone but creator asked for
// is Pending, and acts as nobody until creator allows it (Approve).
func (k *Keys) Create(ctx context.Context, team, creator, name string, ttl time.Duration, actor string) (string, tandem.APIKey, error) {
	return k.CreateScoped(ctx, team, creator, name, ttl, tandem.ScopeRead, actor)
}

// CreateScoped is Create with the key's scope (read when "").
func (k *Keys) CreateScoped(ctx context.Context, team, creator, name string, ttl time.Duration, scope tandem.Scope, actor string) (string, tandem.APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 80 {
		return "", tandem.APIKey{}, tandem.Errorf(tandem.EINVALID, "A key needs a name of 1 to 80 characters, such as `ci-deploy`.")
	}
	if team == "" || creator == "" {
		return "", tandem.APIKey{}, tandem.Errorf(tandem.EINVALID, "A key needs a team and a Slack user to act as.")
	}
	if scope == "" {
		scope = tandem.ScopeRead
	}
	if _, err := tandem.ParseScope(string(scope)); err != nil {
		return "", tandem.APIKey{}, err
	}
	idBytes := make([]byte, 5)
	secret := make([]byte, 32)
	rand.Read(idBytes)
	rand.Read(secret)
	prefix := "tdm_" + prefixEncoding.EncodeToString(idBytes)
	full := prefix + "_" + base64.RawURLEncoding.EncodeToString(secret)
	rec := tandem.APIKey{Prefix: prefix, Hash: hashKey(full), Name: name, Team: team, Creator: creator, CreatedAt: k.now(), Scope: scope, Pending: actor != creator}
	if ttl > 0 {
		rec.Expires = rec.CreatedAt.Add(ttl)
	}
	if err := k.Store.SaveAPIKey(ctx, rec); err != nil {
		return "", tandem.APIKey{}, fmt.Errorf("api: create key: %w", err)
	}
	k.audit(ctx, rec, actor, "apikey_create")
	return full, rec, nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Error codes of the HTTP API, stable for clients.
const (
	CodeInvalidKey       = "invalid_key"
	CodeKeyRevoked       = "key_revoked"
	CodeKeyExpired       = "key_expired"
	CodeKeyPending       = "key_pending"
	CodeNotConfigured    = "credentials_not_configured"
	CodeExpired          = "credentials_expired"
	CodeForbidden        = "forbidden"
	CodeBadRequest       = "bad_request"
	CodeTooManyAttempts  = "too_many_attempts"
	CodeInternal         = "internal"
	CodeProviderProblems = "provider_error"
	CodeUnknownCommand   = "unknown_command"
)

// KeyError is a refused key, with its API code.
type KeyError struct {
	Code    string
	Message string
}

func (e *KeyError) Error() string { return "api: " + e.Code }

// Check returns the record of a presented key and notes its use. It fails
// with *KeyError: invalid_key (unknown or malformed), key_revoked,
// key_expired, key_pending (an operator made it and the person it acts as
// has not allowed it yet).
func (k *Keys) Check(ctx context.Context, presented string) (tandem.APIKey, error) {
	invalid := &KeyError{Code: CodeInvalidKey, Message: "That API key is not valid."}
	if !strings.HasPrefix(presented, "tdm_") || len(presented) > 100 {
		return tandem.APIKey{}, invalid
	}
	h := hashKey(presented)
	rec, err := k.Store.APIKeyByHash(ctx, h)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return tandem.APIKey{}, invalid
	} else if err != nil {
		return tandem.APIKey{}, fmt.Errorf("api: check key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(h)) != 1 || !strings.HasPrefix(presented, rec.Prefix+"_") {
		return tandem.APIKey{}, invalid
	}
	var refused *KeyError
	switch {
	case !rec.Revoked.IsZero():
		refused = &KeyError{Code: CodeKeyRevoked, Message: fmt.Sprintf("API key %s (%s) was revoked.", rec.Name, rec.Prefix)}
	case rec.Expired(k.now()):
		refused = &KeyError{Code: CodeKeyExpired, Message: fmt.Sprintf("API key %s (%s) expired on %s; <@%s> can create a new one.", rec.Name, rec.Prefix, rec.Expires.UTC().Format("2006-01-02"), rec.Creator)}
	case rec.Pending:
		refused = &KeyError{Code: CodeKeyPending, Message: PendingMessage(rec)}
	}
	if refused != nil {
		k.auditRefused(ctx, rec, refused)
		return rec, refused
	}
	now := k.now()
	if rec.LastUsed.IsZero() || now.Sub(rec.LastUsed) > time.Minute {
		// Last-used time to the minute: enough to spot an unused key,
		// without a write on every request.
		k.Store.UpdateAPIKey(ctx, rec.Prefix, func(r *tandem.APIKey) error { r.LastUsed = now; return nil })
	}
	return rec, nil
}

// auditRefused records a call with rec, a real key that does not stand
// (revoked, expired, or waiting for its person's Allow), refused before it
// acted as anyone: by the key, as nobody, once a minute per key at most.
// A store that cannot take the record does not change the refusal.
func (k *Keys) auditRefused(ctx context.Context, rec tandem.APIKey, why *KeyError) {
	now := k.now()
	k.refusedMu.Lock()
	last, seen := k.refused[rec.Prefix]
	due := !seen || now.Sub(last) >= refusedEvery
	if due {
		if k.refused == nil || len(k.refused) >= maxRefusedKeys {
			k.refused = map[string]time.Time{}
		}
		k.refused[rec.Prefix] = now
	}
	k.refusedMu.Unlock()
	if !due {
		return
	}
	k.Store.AppendAudit(context.WithoutCancel(ctx), tandem.APIKeyRefusal(now, tandem.SessionKey{}, "", rec.Prefix, tandem.OutcomeRefused,
		fmt.Sprintf("a call with %s (%s) of <@%s>: %s", rec.Prefix, rec.Name, rec.Creator, why.Code)))
}

// List returns a team's keys (only creator's when creator is not "").
func (k *Keys) List(ctx context.Context, team, creator string) ([]tandem.APIKey, error) {
	keys, err := k.Store.APIKeys(ctx, team, creator)
	if err != nil {
		return nil, fmt.Errorf("api: list keys: %w", err)
	}
	return keys, nil
}

// Revoke revokes the key with prefix. Only its creator (or an operator,
// creator "") may; others get ENOTFOUND so keys cannot be probed.
func (k *Keys) Revoke(ctx context.Context, prefix, creator, actor string) (tandem.APIKey, error) {
	rec, err := k.Store.UpdateAPIKey(ctx, prefix, func(r *tandem.APIKey) error {
		if creator != "" && r.Creator != creator {
			return tandem.Errorf(tandem.ENOTFOUND, "You have no API key %s.", prefix)
		}
		if r.Revoked.IsZero() {
			r.Revoked = k.now()
		}
		return nil
	})
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return tandem.APIKey{}, tandem.Errorf(tandem.ENOTFOUND, "There is no API key %s of yours.", prefix)
		}
		return tandem.APIKey{}, fmt.Errorf("api: revoke key: %w", err)
	}
	k.audit(ctx, rec, actor, "apikey_revoke")
	return rec, nil
}

// PendingMessage says why pending key k runs nothing yet, and how its
// person allows it.
func PendingMessage(k tandem.APIKey) string {
	return fmt.Sprintf("API key %s (%s) acts as <@%s>, who did not make it (an operator did, or Tandem has no record that they did): it runs nothing until <@%s> allows it (the Allow button of Tandem's direct message or App Home, or `/tandem apikey approve %s`).", k.Name, k.Prefix, k.Creator, k.Creator, k.Prefix)
}

// Approve allows pending key prefix, for user, the person it acts as: from
// then on it runs as them. Anyone else gets ENOTFOUND, so keys cannot be
// probed nor allowed for somebody else; a revoked or expired key fails
// with EINVALID; a key already allowed is returned as it is (allowed
// reports whether this call allowed it).
func (k *Keys) Approve(ctx context.Context, prefix, user string) (rec tandem.APIKey, allowed bool, err error) {
	rec, err = k.Store.UpdateAPIKey(ctx, prefix, func(r *tandem.APIKey) error {
		allowed = false
		if r.Creator != user {
			return tandem.Errorf(tandem.ENOTFOUND, "There is no API key %s of yours.", prefix)
		}
		if !r.Revoked.IsZero() || r.Expired(k.now()) {
			return tandem.Errorf(tandem.EINVALID, "API key %s (%s) was revoked or has expired; it cannot be allowed.", r.Name, r.Prefix)
		}
		allowed = r.Pending
		r.Pending = false
		return nil
	})
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return tandem.APIKey{}, false, tandem.Errorf(tandem.ENOTFOUND, "There is no API key %s of yours.", prefix)
		}
		if tandem.ErrorCode(err) == tandem.EINVALID {
			return tandem.APIKey{}, false, err
		}
		return tandem.APIKey{}, false, fmt.Errorf("api: approve key: %w", err)
	}
	if allowed {
		k.audit(ctx, rec, user, "apikey_approve")
	}
	return rec, allowed, nil
}

func (k *Keys) audit(ctx context.Context, rec tandem.APIKey, actor, action string) {
	k.Store.AppendAudit(ctx, tandem.AuditRecord{
		Time: k.now(), Actor: actor, Effective: rec.Creator, Action: action,
		Reason: tandem.ReasonAPIKeyCreator, Outcome: tandem.OutcomeOK, Detail: rec.Prefix + " " + rec.Name + " (" + string(rec.Scope) + " scope)",
	})
}

// CreateText is Create with the expiry as people type it ("90d", "12h",
// "never", "" for the default): a read key.
func (k *Keys) CreateText(ctx context.Context, team, creator, name, expires, actor string) (string, tandem.APIKey, error) {
	return k.CreateTextScoped(ctx, team, creator, name, expires, "", actor)
}

// CreateTextScoped is CreateText with the scope as people type it ("read",
// "write", "" for read). A scope or expiry it cannot read fails with
// EINVALID, no key made.
func (k *Keys) CreateTextScoped(ctx context.Context, team, creator, name, expires, scope, actor string) (string, tandem.APIKey, error) {
	ttl, err := ParseTTL(expires)
	if err != nil {
		return "", tandem.APIKey{}, err
	}
	sc := tandem.ScopeRead
	if strings.TrimSpace(scope) != "" {
		if sc, err = tandem.ParseScope(scope); err != nil {
			return "", tandem.APIKey{}, err
		}
	}
	return k.CreateScoped(ctx, team, creator, name, ttl, sc, actor)
}
