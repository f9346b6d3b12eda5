package turns

import (
	"crypto/rand"
	"encoding/hex"
)

// randomID returns n random bytes in hex: the names of proposals, API
// turns, schedules and consent requests, which nobody may guess.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
