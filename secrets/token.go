package secrets

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tandembot/tandem"
)

// tokenPlain is the plaintext of a sealed token; it exists only in memory.
// Both stores seal tokens through SealToken, so a sealed value copied from
// one backend to the other opens there too.
type tokenPlain struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// TokenAD is the associated data that binds a sealed token to its owner, so
// a value moved onto another user's row does not open.
func TokenAD(team, user string, provider tandem.ProviderID) string {
	return team + "|" + user + "|" + string(provider)
}

// SealToken encrypts tok for its owner. It fails only when sealing does.
func (k *Keyring) SealToken(tok tandem.Token, team, user string, provider tandem.ProviderID) ([]byte, error) {
	plain, err := json.Marshal(tokenPlain(tok))
	if err != nil {
		return nil, fmt.Errorf("encode token: %w", err)
	}
	sealed, err := k.Seal(plain, TokenAD(team, user, provider))
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	return sealed, nil
}

// OpenToken decrypts a token sealed for its owner. It fails when the key is
// unknown, the value was tampered with or belongs to another owner, or the
// plaintext is not a token; the error never quotes the plaintext.
func (k *Keyring) OpenToken(sealed []byte, team, user string, provider tandem.ProviderID) (tandem.Token, error) {
	plain, err := k.Open(sealed, TokenAD(team, user, provider))
	if err != nil {
		return tandem.Token{}, fmt.Errorf("open token of %s/%s/%s: %w", team, user, provider, err)
	}
	defer clear(plain)
	var tp tokenPlain
	if err := json.Unmarshal(plain, &tp); err != nil {
		return tandem.Token{}, fmt.Errorf("open token of %s/%s/%s: the decrypted token is not valid JSON", team, user, provider)
	}
	return tandem.Token(tp), nil
}
