package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestKeyRotation: after a key rotation the bot still reads links sealed
// under the previous key, tandem rekey moves them to the new key, and then
// the old key is no longer needed.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.stop()

	newKey := "bmV3LWtleS1mb3ItdGFuZGVtLXRlc3RzLTMyLWJ5dGU=" // 32 bytes
	e.remember(newKey)
	e.vars["TANDEM_ENCRYPTION_KEY_PREVIOUS"] = e.vars["TANDEM_ENCRYPTION_KEY"]
	e.vars["TANDEM_ENCRYPTION_KEY"] = newKey
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"rekey"}, e.getenv, &out, &errOut); err != nil {
		t.Fatalf("rekey: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "re-encrypted") || strings.Contains(out.String(), "re-encrypted 0 ") {
		t.Errorf("rekey said %q", out.String())
	}
	delete(e.vars, "TANDEM_ENCRYPTION_KEY_PREVIOUS")
	e.start()
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
}
