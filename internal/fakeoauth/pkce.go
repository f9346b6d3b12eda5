package fakeoauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
)

// ValidChallenge reports whether c is a base64url SHA-256 digest, the only
// shape an S256 code challenge can take (43 characters, no padding).
func ValidChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// S256 returns the S256 code challenge of verifier (RFC 7636 4.2).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyS256 reports whether verifier hashes to challenge.
func VerifyS256(challenge, verifier string) bool {
	return subtle.ConstantTimeCompare([]byte(S256(verifier)), []byte(challenge)) == 1
}

// Redirect sends a 302 to the URL to with params merged into its query. It
// writes nothing and returns the error when to is not a URL, so that the
// provider can show its own error page.
func Redirect(w http.ResponseWriter, r *http.Request, to string, params url.Values) error {
	u, err := url.Parse(to)
	if err != nil {
		return err
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}

// RedirectError sends the OAuth error code with its description (and
// state, when not empty) to the client's callback; extra parameters such as
// error_uri are added as given.
func RedirectError(w http.ResponseWriter, r *http.Request, to, state, code, desc string, extra url.Values) error {
	v := url.Values{"error": {code}, "error_description": {desc}}
	for k, x := range extra {
		v[k] = x
	}
	if state != "" {
		v.Set("state", state)
	}
	return Redirect(w, r, to, v)
}
