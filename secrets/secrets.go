// Package secrets seals Tandem's secrets (OAuth tokens, PKCE verifiers) for
// storage and signs values that travel through people's browsers.
//
// A sealed value is keyID || nonce || ciphertext || tag: AES-256-GCM with a
// random 96-bit nonce per value, prefixed with a short id of the key that
// sealed it, so a keyring holding the current key and the previous ones can
// open values sealed before a rotation. The caller passes the owner of the
// value as associated data, so a value copied onto another owner fails to
// open.
//
// Nothing in this package puts a key or a plaintext in an error message.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// KeyIDSize is the length in bytes of the key id that prefixes every sealed
// value.
const KeyIDSize = 4

// Errors that Open wraps, so callers can tell a configuration problem (a
// key missing from the keyring) from a value that does not authenticate.
var (
	// ErrUnknownKey means the value was sealed under a key that is neither
	// the current key nor a previous one.
	ErrUnknownKey = errors.New("sealed under a key that is not in the keyring")
	// ErrDecrypt means the value did not authenticate: a different key with
	// the same id, other associated data, or a tampered or truncated value.
	ErrDecrypt = errors.New("message authentication failed")
)

// ParseKey decodes a 32-byte key written in base64, standard (padded) or
// URL-safe without padding; surrounding white space is ignored. It returns
// an error saying what is expected, which never contains the input.
func ParseKey(b64 string) ([]byte, error) {
	s := strings.TrimSpace(b64)
	if s == "" {
		return nil, errors.New("secrets: parse key: the key is empty; expected 32 random bytes in base64 (for example from `openssl rand -base64 32`)")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding, base64.RawStdEncoding, base64.URLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("secrets: parse key: the key decodes to %d bytes; expected exactly %d bytes in base64 (for example from `openssl rand -base64 32`)", len(key), KeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("secrets: parse key: the key (%d characters) is not valid base64; expected %d random bytes in standard or URL-safe base64 (for example from `openssl rand -base64 32`)", len(s), KeySize)
}

// GenerateKey returns a new random key. It fails only if the system's random
// source does.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secrets: generate key: %w", err)
	}
	return key, nil
}

// EncodeKey returns key in standard base64, the form ParseKey reads and key
// files hold.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// Hash returns the hex SHA-256 of data, for indexing a secret (such as an
// OAuth state id) without storing it.
func Hash(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}

type keyID [KeyIDSize]byte

func idOf(key []byte) keyID {
	sum := sha256.Sum256(key)
	return keyID(sum[:KeyIDSize])
}

type sealKey struct {
	id   keyID
	aead cipher.AEAD
	raw  []byte // only for deriving MAC subkeys
}

func newSealKey(key []byte) (sealKey, error) {
	if len(key) != KeySize {
		return sealKey{}, fmt.Errorf("the key is %d bytes; expected %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealKey{}, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return sealKey{}, err
	}
	return sealKey{id: idOf(key), aead: aead, raw: append([]byte(nil), key...)}, nil
}

// Keyring seals under its current key and opens values sealed under the
// current key or any previous one. It is safe for concurrent use.
type Keyring struct {
	current  sealKey
	previous []sealKey
}

// NewKeyring returns a keyring that seals with current and also opens values
// sealed with previous keys (oldest rotation last, by convention). It fails
// when a key is not 32 bytes or two keys share a key id (the same key given
// twice).
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	cur, err := newSealKey(current)
	if err != nil {
		return nil, fmt.Errorf("secrets: current key: %w", err)
	}
	k := &Keyring{current: cur}
	seen := map[keyID]bool{cur.id: true}
	for i, p := range previous {
		pk, err := newSealKey(p)
		if err != nil {
			return nil, fmt.Errorf("secrets: previous key %d: %w", i+1, err)
		}
		if seen[pk.id] {
			return nil, fmt.Errorf("secrets: previous key %d has key id %x, like another key of the keyring (the same key given twice?)", i+1, pk.id[:])
		}
		seen[pk.id] = true
		k.previous = append(k.previous, pk)
	}
	return k, nil
}

// KeyID returns the hex id of the current key, as found at the start of
// the values it seals; operators compare it across deployments. It never
// fails.
func (k *Keyring) KeyID() string { return hex.EncodeToString(k.current.id[:]) }

// SealedKeyID returns the hex id of the key that sealed a value, or "" when
// the value is too short to hold one.
func SealedKeyID(sealed []byte) string {
	if len(sealed) < KeyIDSize {
		return ""
	}
	return hex.EncodeToString(sealed[:KeyIDSize])
}

// Seal encrypts plaintext under the current key, bound to associatedData
// (the owner of the value, such as "team|user|provider"), and returns
// keyID || nonce || ciphertext || tag. Its error is always nil today (since
// Go 1.24 the random source cannot fail); it leaves room for keyrings kept
// in a KMS.
func (k *Keyring) Seal(plaintext []byte, associatedData string) ([]byte, error) {
	out := make([]byte, KeyIDSize, KeyIDSize+len(plaintext)+k.current.aead.Overhead())
	copy(out, k.current.id[:])
	return k.current.aead.Seal(out, nil, plaintext, []byte(associatedData)), nil
}

func (k *Keyring) find(id keyID) (sealKey, bool) {
	if id == k.current.id {
		return k.current, true
	}
	for _, p := range k.previous {
		if p.id == id {
			return p, true
		}
	}
	return sealKey{}, false
}

// Open decrypts a value made by Seal under any key of the keyring with the
// same associated data. It returns an error wrapping ErrUnknownKey when the
// value names a key that is not in the keyring, and ErrDecrypt when the
// value does not authenticate (other associated data, a tampered value).
func (k *Keyring) Open(sealed []byte, associatedData string) ([]byte, error) {
	if len(sealed) < KeyIDSize+k.current.aead.Overhead() {
		return nil, fmt.Errorf("secrets: open: the sealed value is truncated (%d bytes): %w", len(sealed), ErrDecrypt)
	}
	id := keyID(sealed[:KeyIDSize])
	key, ok := k.find(id)
	if !ok {
		return nil, fmt.Errorf("secrets: open: key id %x (the current key is %x; configure the key it was sealed with as a previous key): %w", id[:], k.current.id[:], ErrUnknownKey)
	}
	plain, err := key.aead.Open(nil, nil, sealed[KeyIDSize:], []byte(associatedData))
	if err != nil {
		return nil, fmt.Errorf("secrets: open: key id %x: wrong associated data or tampered value: %w", id[:], ErrDecrypt)
	}
	return plain, nil
}

// NeedsRekey reports whether sealed was sealed under a key other than the
// current one, so it should be sealed again before that key is retired.
func (k *Keyring) NeedsRekey(sealed []byte) bool {
	if len(sealed) < KeyIDSize {
		return false
	}
	return keyID(sealed[:KeyIDSize]) != k.current.id
}

func macKey(key sealKey, purpose string) []byte {
	// HKDF with a purpose label keeps MAC keys apart from the encryption key
	// and from each other, so a signature for one purpose is worthless for
	// another. Extract-and-expand of a 32-byte key cannot fail.
	sub, err := hkdf.Key(sha256.New, key.raw, nil, "tandem mac v1: "+purpose, sha256.Size)
	if err != nil {
		panic("secrets: derive mac key: " + err.Error())
	}
	return sub
}

func macWith(key sealKey, purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, macKey(key, purpose))
	m.Write(data)
	return m.Sum(nil)
}

// MAC returns the HMAC-SHA256 of data under a subkey derived from the
// current key and purpose (such as "connect-link" or "oauth-state"). It
// never fails.
func (k *Keyring) MAC(purpose string, data []byte) []byte {
	return macWith(k.current, purpose, data)
}

// VerifyMAC reports, in constant time per key, whether mac is MAC(purpose,
// data) under the current key or a previous one, so signatures made just
// before a rotation stay valid.
func (k *Keyring) VerifyMAC(purpose string, data, mac []byte) bool {
	ok := hmac.Equal(macWith(k.current, purpose, data), mac)
	for _, p := range k.previous {
		if hmac.Equal(macWith(p, purpose, data), mac) {
			ok = true
		}
	}
	return ok
}

// LoadOrCreateKeyFile reads the base64 key in the file at path, or, when
// there is no file, creates one with a new random key and mode 0600 and
// reports created=true. The new file appears atomically (written beside it,
// synced, then linked into place without replacing a file another process
// created meanwhile). It refuses an existing file that group or others can
// access, and a file that does not hold a valid key; errors name the path,
// never the key.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = loadKeyFile(path)
	if err == nil {
		return key, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	key, err = GenerateKey()
	if err != nil {
		return nil, false, err
	}
	won, err := createKeyFile(path, key)
	if err != nil {
		return nil, false, fmt.Errorf("secrets: create key file %s: %w", path, err)
	}
	if !won {
		// Another process created the file first; its key is the one to use.
		key, err = loadKeyFile(path)
		return key, false, err
	}
	return key, true, nil
}

func loadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secrets: read key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secrets: key file %s has mode %04o, so group or others can access it; make it private with `chmod 600 %s` (and consider rotating the key)", path, perm, path)
	}
	// A key file holds one line; refuse to slurp something huge.
	buf, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file %s: %w", path, err)
	}
	key, err := ParseKey(string(buf))
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes key to path unless a file is already there, in which
// case it returns won=false.
func createKeyFile(path string, key []byte) (won bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a link, removes the temporary name only

	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.WriteString(EncodeKey(key) + "\n"); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}

	// A hard link, unlike a rename, never replaces a key file that another
	// process created meanwhile: replacing it would strand whatever that
	// process already sealed.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		// Some file systems have no hard links; fall back to a rename.
		if _, statErr := os.Lstat(path); statErr == nil {
			return false, nil
		}
		if err := os.Rename(tmpName, path); err != nil {
			return false, err
		}
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes a new directory entry durable; it is best effort because
// some platforms cannot sync a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
