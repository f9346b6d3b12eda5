package turns

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

// credsResolver hands out credentials of whoever asks, or err.
type credsResolver struct{ err error }

func (r *credsResolver) Credentials(_ context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	if r.err != nil {
		return tandem.Credentials{}, r.err
	}
	return tandem.Credentials{Identity: tandem.Identity{SlackUser: user, Provider: p, Login: user + "-login", Reason: reason}}, nil
}

// TestHeldCredentials: only a persistent session's owner's credentials are
// held between turns; a failed resolution, the owner's dead link and a
// change of mode drop them.
func TestHeldCredentials(t *testing.T) {
	ctx := context.Background()
	a := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	b := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "2.0"}
	r := &credsResolver{}
	e := New(Config{Resolver: r})
	held := func(key tandem.SessionKey) []string {
		var out []string
		for _, id := range e.HeldIdentities(key) {
			out = append(out, id.SlackUser+"/"+string(id.Provider))
		}
		return out
	}
	check := func(step string, key tandem.SessionKey, want []string) {
		t.Helper()
		if diff := cmp.Diff(held(key), want); diff != "" {
			t.Errorf("%s: held (-got +want):\n%s", step, diff)
		}
	}

	if _, err := e.credentials(ctx, a, "USENDER", tandem.GitHub, tandem.ReasonSender); err != nil {
		t.Fatal(err)
	}
	check("a sender's credentials", a, nil)

	for _, p := range []tandem.ProviderID{tandem.GitHub, tandem.Jira} {
		if _, err := e.credentials(ctx, a, "UOWNER", p, tandem.ReasonPersistentOwner); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.credentials(ctx, b, "UOWNER", tandem.GitHub, tandem.ReasonPersistentOwner); err != nil {
		t.Fatal(err)
	}
	check("the owner's", a, []string{"UOWNER/github", "UOWNER/jira"})

	r.err = &tandem.ExpiredError{Team: "T1", User: "UOWNER", Provider: tandem.Jira}
	if _, err := e.credentials(ctx, a, "UOWNER", tandem.Jira, tandem.ReasonPersistentOwner); !errors.As(err, new(*tandem.ExpiredError)) {
		t.Fatalf("credentials error = %v, want the resolver's", err)
	}
	check("after a failed resolution", a, []string{"UOWNER/github"})

	e.DropUser("USOMEONE", tandem.GitHub)
	check("after someone else's link died", a, []string{"UOWNER/github"})
	e.DropUser("UOWNER", tandem.GitHub)
	check("after the owner's link died", a, nil)
	check("after the owner's link died, the other session", b, nil)

	r.err = nil
	if _, err := e.credentials(ctx, b, "UOWNER", tandem.GitHub, tandem.ReasonPersistentOwner); err != nil {
		t.Fatal(err)
	}
	e.DropSession(a)
	check("after another session's mode changed", b, []string{"UOWNER/github"})
	e.DropSession(b)
	check("after its mode changed", b, nil)
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		err  error
		want tandem.Outcome
	}{
		{nil, tandem.OutcomeOK},
		{&tandem.NotConnectedError{Provider: tandem.GitHub}, tandem.OutcomeNotConfigured},
		{&tandem.ExpiredError{Provider: tandem.GitHub}, tandem.OutcomeExpired},
		{tandem.Errorf(tandem.EUNAUTHORIZED, "no"), tandem.OutcomeExpired},
		{tandem.Errorf(tandem.EFORBIDDEN, "no"), tandem.OutcomeRefused},
		{errors.New("boom"), tandem.OutcomeError},
	}
	for _, tt := range tests {
		if got := outcomeOf(tt.err); got != tt.want {
			t.Errorf("outcomeOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

// TestStoredResultKeepsTheErrorsKind: an API turn's result handed to
// another replica through the store keeps its error's kind and who it
// names.
func TestStoredResultKeepsTheErrorsKind(t *testing.T) {
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	id := &tandem.Identity{SlackUser: "U1", Provider: tandem.GitHub, Login: "octo"}
	for _, err := range []error{
		nil,
		&tandem.NotConnectedError{Team: "T1", User: "U1", Provider: tandem.GitHub},
		&tandem.ExpiredError{Team: "T1", User: "U1", Provider: tandem.Jira},
		&tandem.Error{Code: tandem.EFORBIDDEN, Message: "Not you."},
	} {
		res := tandem.TurnResult{Session: key, ReplyTS: "9.9", Identity: id, Reply: tandem.Reply{Title: "done"}, Err: err}
		raw, jerr := json.Marshal(storedResultOf(res))
		if jerr != nil {
			t.Fatal(jerr)
		}
		var sr storedTurnResult
		if jerr := json.Unmarshal(raw, &sr); jerr != nil {
			t.Fatal(jerr)
		}
		if diff := cmp.Diff(sr.result(key), res); diff != "" {
			t.Errorf("%v: result (-got +want):\n%s", err, diff)
		}
	}
}

func TestParse(t *testing.T) {
	c := Parse("help")
	if c.Err() != nil || c.Name() != "help" || c.Provider() != "" || c.Mutating() || c.Control() {
		t.Errorf("Parse(help) = %q err %v provider %q mutating %v control %v", c.Name(), c.Err(), c.Provider(), c.Mutating(), c.Control())
	}
	c = Parse("frobnicate the quux")
	if _, ok := Suggestions(c.Err()); !ok {
		t.Errorf("Parse(frobnicate the quux) error = %v, want one with suggestions", c.Err())
	}
	if c.Provider() != "" || c.Mutating() || c.Control() {
		t.Errorf("a text that is no command needs a provider, changes or controls")
	}
	if _, ok := Suggestions(errors.New("boom")); ok {
		t.Errorf("Suggestions of another error: ok")
	}
}
