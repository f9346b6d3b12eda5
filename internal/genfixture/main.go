// Command genfixture writes store/testdata/schema1.db, a database at the
// first released schema, for the migration tests. Run once; kept for the
// record of how the fixture was made.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

// FixtureKey is the test key the fixture is sealed with.
const FixtureKey = "Zml4dHVyZS1rZXktZm9yLXNjaGVtYS0xLXRlc3RzISE="

func main() {
	path := os.Args[1]
	key, err := secrets.ParseKey(FixtureKey)
	if err != nil {
		log.Fatal(err)
	}
	keys, _ := secrets.NewKeyring(key)
	db, err := store.Open(path, store.Options{Keyring: keys})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i, u := range []string{"UALICE", "UBOB"} {
		l := tandem.Link{Team: "T1", User: u, Provider: tandem.GitHub, AccountID: "100" + string(rune('1'+i)), Login: []string{"alice-gh", "bob-gh"}[i], LinkedAt: t0,
			Token: tandem.Token{AccessToken: "gho_FIXTURE_v1_" + u, TokenType: "bearer"}}
		if err := db.SaveLink(ctx, l); err != nil {
			log.Fatal(err)
		}
	}
	key1 := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"}
	db.EnsureSession(ctx, tandem.Session{Key: key1, Owner: "UALICE", CreatedAt: t0})
	db.AddEditor(ctx, key1, "UBOB")
	key2 := tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1700000000.000200"}
	db.EnsureSession(ctx, tandem.Session{Key: key2, Owner: "UBOB", CreatedAt: t0})
	db.RecordTurn(ctx, tandem.Turn{ID: "Ev1", Session: key1, User: "UALICE", Text: "list my open PRs", TS: "1700000000.000100", ReceivedAt: t0})
	db.SetTurnState(ctx, "Ev1", tandem.TurnDone)
	db.RecordTurn(ctx, tandem.Turn{ID: "Ev2", Session: key1, User: "UBOB", Text: "list my open PRs", TS: "1700000000.000300", ReceivedAt: t0})
	db.AppendAudit(ctx, tandem.AuditRecord{Time: t0, Session: key1, TurnID: "Ev1", Actor: "UALICE", Effective: "UALICE", Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK})
}
