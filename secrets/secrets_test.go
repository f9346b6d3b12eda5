package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testKey returns a fixed key distinct per seed, so failures reproduce.
func testKey(seed byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func mustKeyring(t *testing.T, current []byte, previous ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, previous...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

const fakeToken = "gho_FAKE_secretstest_access_1"

func TestSealOpenRoundTrip(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	for _, plain := range []string{"", "x", fakeToken, strings.Repeat("long", 1000)} {
		sealed, err := k.Seal([]byte(plain), "T1|U1|github")
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		// A short plaintext's bytes turn up in random ciphertext by chance
		// (a one-byte "x" in about one run in eight); from 8 bytes on, a
		// match means the value was not encrypted.
		if len(plain) >= 8 && bytes.Contains(sealed, []byte(plain)) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := k.Open(sealed, "T1|U1|github")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != plain {
			t.Errorf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	a, _ := k.Seal([]byte(fakeToken), "ad")
	b, _ := k.Seal([]byte(fakeToken), "ad")
	if bytes.Equal(a, b) {
		t.Error("two seals of the same value are equal; the nonce is not random")
	}
	if got, want := len(a), KeyIDSize+12+len(fakeToken)+16; got != want {
		t.Errorf("sealed length = %d, want %d (key id, 96-bit nonce, ciphertext, tag)", got, want)
	}
}

func TestKeyIDPrefix(t *testing.T) {
	key := testKey(7)
	k := mustKeyring(t, key)
	sealed, err := k.Seal([]byte(fakeToken), "ad")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(key)
	if !bytes.Equal(sealed[:KeyIDSize], sum[:KeyIDSize]) {
		t.Errorf("prefix = %x, want the first %d bytes of SHA-256 of the key, %x", sealed[:KeyIDSize], KeyIDSize, sum[:KeyIDSize])
	}
	if got, want := SealedKeyID(sealed), k.KeyID(); got != want {
		t.Errorf("SealedKeyID = %q, want KeyID %q", got, want)
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	sealed, err := k.Seal([]byte(fakeToken), "ad")
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := k.Open(bad, "ad"); err == nil {
			t.Fatalf("Open accepted a value with byte %d flipped", i)
		}
	}
	for _, n := range []int{0, 3, KeyIDSize, len(sealed) - 1} {
		if _, err := k.Open(sealed[:n], "ad"); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Open(truncated to %d) = %v, want ErrDecrypt", n, err)
		}
	}
	if _, err := k.Open(append(bytes.Clone(sealed), 0), "ad"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open(extended) = %v, want ErrDecrypt", err)
	}
}

func TestOpenWrongAssociatedData(t *testing.T) {
	k := mustKeyring(t, testKey(1))
	sealed, err := k.Seal([]byte(fakeToken), "T1|U1|github")
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range []string{"T1|U2|github", "T1|U1|gitlab", "", "T1|U1|github "} {
		_, err := k.Open(sealed, ad)
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("Open with ad %q = %v, want ErrDecrypt", ad, err)
		}
		if err != nil && strings.Contains(err.Error(), fakeToken) {
			t.Errorf("error reveals the plaintext: %v", err)
		}
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(100)
	old := mustKeyring(t, oldKey)
	sealed, err := old.Seal([]byte(fakeToken), "ad")
	if err != nil {
		t.Fatal(err)
	}
	if old.NeedsRekey(sealed) {
		t.Error("NeedsRekey = true under the key that sealed it")
	}

	rotated := mustKeyring(t, newKey, oldKey)
	got, err := rotated.Open(sealed, "ad")
	if err != nil || string(got) != fakeToken {
		t.Fatalf("Open under (new, old) = %q, %v; want the plaintext", got, err)
	}
	if !rotated.NeedsRekey(sealed) {
		t.Error("NeedsRekey = false for a value sealed under a previous key")
	}
	resealed, err := rotated.Seal(got, "ad")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.NeedsRekey(resealed) {
		t.Error("NeedsRekey = true for a value sealed under the current key")
	}

	newOnly := mustKeyring(t, newKey)
	if _, err := newOnly.Open(sealed, "ad"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open of an old value without the old key = %v, want ErrUnknownKey", err)
	}
	if got, err := newOnly.Open(resealed, "ad"); err != nil || string(got) != fakeToken {
		t.Errorf("Open of the resealed value = %q, %v", got, err)
	}
	if _, err := old.Open(resealed, "ad"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old key alone opened a value sealed under the new key: %v", err)
	}
}

func TestNewKeyringErrors(t *testing.T) {
	tests := []struct {
		name     string
		current  []byte
		previous [][]byte
	}{
		{"short current", make([]byte, 16), nil},
		{"nil current", nil, nil},
		{"short previous", testKey(1), [][]byte{make([]byte, 31)}},
		{"previous repeats current", testKey(1), [][]byte{testKey(1)}},
		{"previous repeated", testKey(1), [][]byte{testKey(2), testKey(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeyring(tt.current, tt.previous...); err == nil {
				t.Error("NewKeyring succeeded, want an error")
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	key := testKey(9)
	for _, in := range []string{
		base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
		"  " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(in)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", in, err)
		}
		if !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, want %x", in, got, key)
		}
	}
}

func TestParseKeyErrorsDoNotEchoInput(t *testing.T) {
	for _, in := range []string{
		"",
		"hunter2-not-base64!!",
		base64.StdEncoding.EncodeToString([]byte("SIXTEEN_BYTE_KEY")),
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("K"), 33)),
		"c2VjcmV0LXRoYXQtaXMtbm90LWxvbmctZW5vdWdo#",
	} {
		_, err := ParseKey(in)
		if err == nil {
			t.Fatalf("ParseKey(%q) succeeded, want an error", in)
		}
		if strings.TrimSpace(in) != "" && strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Errorf("ParseKey error echoes its input: %v", err)
		}
		if !strings.Contains(err.Error(), "32") {
			t.Errorf("ParseKey error does not say what is expected: %v", err)
		}
	}
}

func TestMAC(t *testing.T) {
	k1 := mustKeyring(t, testKey(1))
	k2 := mustKeyring(t, testKey(2))
	data := []byte("T1|U1|github|1700000000")

	m := k1.MAC("connect-link", data)
	if len(m) != sha256.Size {
		t.Fatalf("MAC length = %d, want %d", len(m), sha256.Size)
	}
	if !bytes.Equal(m, k1.MAC("connect-link", data)) {
		t.Error("MAC is not deterministic")
	}
	if bytes.Equal(m, k1.MAC("oauth-state", data)) {
		t.Error("MAC is the same for two purposes")
	}
	if bytes.Equal(m, k2.MAC("connect-link", data)) {
		t.Error("MAC is the same under two keys")
	}
	if bytes.Equal(m, k1.MAC("connect-link", []byte("T1|U2|github|1700000000"))) {
		t.Error("MAC is the same for two messages")
	}
	if !k1.VerifyMAC("connect-link", data, m) {
		t.Error("VerifyMAC rejects a valid MAC")
	}
	if k1.VerifyMAC("oauth-state", data, m) {
		t.Error("VerifyMAC accepts a MAC made for another purpose")
	}
	rotated := mustKeyring(t, testKey(2), testKey(1))
	if !rotated.VerifyMAC("connect-link", data, m) {
		t.Error("VerifyMAC rejects a MAC made under a previous key")
	}
	if k2.VerifyMAC("connect-link", data, m) {
		t.Error("VerifyMAC accepts a MAC made under a key not in the keyring")
	}
}

func TestHash(t *testing.T) {
	// The SHA-256 of "abc" from FIPS 180-2.
	if got, want := Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tandem.db.key")
	key, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKeyFile: %v", err)
	}
	if !created || len(key) != KeySize {
		t.Fatalf("created = %v, key length %d; want a new %d-byte key", created, len(key), KeySize)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("key file mode = %04o, want 0600", got)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err := ParseKey(string(raw)); err != nil || !bytes.Equal(parsed, key) {
		t.Errorf("key file does not hold the key in base64: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (temporary file left behind?)", len(entries))
	}

	again, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("second LoadOrCreateKeyFile: %v", err)
	}
	if created || !bytes.Equal(again, key) {
		t.Errorf("second call: created = %v, same key = %v; want the existing key", created, bytes.Equal(again, key))
	}
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tandem.db.key")
	const n = 20
	keys := make([][]byte, n)
	var createdCount int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key, created, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Errorf("LoadOrCreateKeyFile: %v", err)
				return
			}
			keys[i] = key
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if createdCount != 1 {
		t.Errorf("%d callers created the key file, want 1", createdCount)
	}
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got a different key than caller 0", i)
		}
	}
}

func TestLoadKeyFileRefusesLoosePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not enforced on Windows")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		path := filepath.Join(t.TempDir(), "tandem.db.key")
		if err := os.WriteFile(path, []byte(EncodeKey(testKey(3))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateKeyFile(path)
		if err == nil {
			t.Fatalf("mode %04o: LoadOrCreateKeyFile succeeded, want a refusal", mode)
		}
		if !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: error does not say how to fix it: %v", mode, err)
		}
		if strings.Contains(err.Error(), EncodeKey(testKey(3))) {
			t.Errorf("error reveals the key: %v", err)
		}
	}
}

func TestLoadKeyFileRefusesBadContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tandem.db.key")
	const content = "not-a-key-but-maybe-a-password"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateKeyFile(path)
	if err == nil {
		t.Fatal("LoadOrCreateKeyFile accepted a file without a key")
	}
	if strings.Contains(err.Error(), content) {
		t.Errorf("error reveals the file's content: %v", err)
	}
	if raw, _ := os.ReadFile(path); string(raw) != content {
		t.Error("LoadOrCreateKeyFile replaced an existing file")
	}
}
