package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
)

var keyRe = regexp.MustCompile(`tdm_[a-z2-7]+_[A-Za-z0-9_-]+`)

// createKey makes an API key as user through /tandem apikey create.
func (e *env) createKey(user, args string) string {
	e.t.Helper()
	ack, err := e.slack.SendSlashCommand(ctxFor(e.t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey create " + args, UserID: user, ChannelID: channel})
	if err != nil {
		e.t.Fatal(err)
	}
	key := keyRe.FindString(string(ack))
	if key == "" {
		e.t.Fatalf("no key in %s", ack)
	}
	e.remember(key)
	return key
}

// call sends an API request and decodes the JSON answer.
func (e *env) call(method, path, key, contentType, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.public+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

func (e *env) post(key, body string) (int, map[string]any) {
	return e.call("POST", "/api/v1/messages", key, "application/json", body)
}

func errCode(out map[string]any) string {
	if m, ok := out["error"].(map[string]any); ok {
		code, _ := m["code"].(string)
		return code
	}
	return ""
}

func errMessage(out map[string]any) string {
	if m, ok := out["error"].(map[string]any); ok {
		msg, _ := m["message"].(string)
		return msg
	}
	return ""
}

// TestAPIKeysActAsTheirCreator: a key acts as its creator wherever it posts,
// whatever the thread's mode; revoked and expired keys are refused; a
// creator without a usable link gets errors that say who must do what.
func TestAPIKeysActAsTheirCreator(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	key := e.createKey("UALICE", "ci-bot")

	// A new thread, owned by Alice.
	status, out := e.post(key, `{"channel":"`+channel+`","text":"list my open PRs"}`)
	if status != 200 || out["ok"] != true {
		t.Fatalf("POST messages: %d %v", status, out)
	}
	id := out["identity"].(map[string]any)
	if id["slack_user"] != "UALICE" || id["login"] != "alice-gh" || id["reason"] != "api_key_creator" {
		t.Errorf("identity = %v", id)
	}
	thread := out["thread_ts"].(string)
	e.reply(thread, "via API key ci-bot of <@UALICE> · GitHub: alice-gh")

	// Bob's persistent thread: the key still acts as Alice.
	root, _ := e.mention("UBOB", "list my open PRs", "")
	e.reply(root, "ran as <@UBOB>")
	e.ask("UBOB", "set KEEP_CREDENTIALS_PERSISTENT=true", root, "every turn now runs as the owner")
	status, out = e.post(key, `{"channel":"`+channel+`","thread_ts":"`+root+`","text":"list my open PRs"}`)
	if status != 200 || out["identity"].(map[string]any)["login"] != "alice-gh" {
		t.Errorf("in Bob's persistent thread the key ran as %v (%d)", out["identity"], status)
	}
	if got := strings.Join(e.searchLogins(), ","); got != "alice-gh,bob-gh,alice-gh" {
		t.Errorf("GitHub saw %s", got)
	}

	status, out = e.call("GET", "/api/v1/whoami", key, "", "")
	if status != 200 || out["creator"] != "UALICE" || !strings.Contains(toJSON(out["providers"]), `"login":"alice-gh"`) {
		t.Errorf("whoami: %d %v", status, out)
	}

	// Bob's key, made by an operator while serve runs, acts as Bob once
	// Bob allows it, and not before.
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(t), []string{"apikey", "create", "--user", "UBOB", "--name", "ops"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("tandem apikey create: %v\n%s", err, stderr.String())
	}
	bobKey := strings.TrimSpace(stdout.String())
	e.remember(bobKey)
	if !keyRe.MatchString(bobKey) || strings.Contains(stdout.String(), "\n\n") {
		t.Errorf("apikey create printed %q, want the key alone", stdout.String())
	}
	if !strings.Contains(stderr.String(), "admin socket") {
		t.Errorf("apikey create did not say it went through the running server: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "runs nothing until UBOB allows it") || !strings.Contains(stderr.String(), "direct message") {
		t.Errorf("apikey create did not say the key waits for Bob: %s", stderr.String())
	}
	keyState := func() string {
		var out, errs bytes.Buffer
		if err := run(ctxFor(t), []string{"apikey", "list", "--user", "UBOB"}, e.getenv, &out, &errs); err != nil {
			t.Fatalf("tandem apikey list: %v\n%s", err, errs.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(bobKey, f[0]+"_") {
				return f[len(f)-1]
			}
		}
		return "missing from:\n" + out.String()
	}
	if st := keyState(); st != "pending" {
		t.Errorf("tandem apikey list shows the operator's key as %s, want pending", st)
	}
	searches := len(e.searchLogins())
	status, out = e.post(bobKey, `{"channel":"`+channel+`","text":"list my open PRs"}`)
	if status != 403 || errCode(out) != "key_pending" || !strings.Contains(errMessage(out), "UBOB") {
		t.Errorf("the operator's key before Bob allowed it: %d %v; want 403 key_pending", status, out)
	}
	ask, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Channel == "DUBOB" && strings.Contains(plain(m), "An operator made an API key that acts as you")
	})
	if err != nil {
		t.Fatalf("Bob was not asked to allow the key: %v", err)
	}
	// Alice presses Allow on Bob's message: nothing is allowed, and Bob's
	// message keeps its buttons.
	e.press("UALICE", ask, "", "apikey_allow")
	if status, out = e.post(bobKey, `{"channel":"`+channel+`","text":"list my open PRs"}`); status != 403 || errCode(out) != "key_pending" {
		t.Errorf("after Alice pressed Allow on Bob's message: %d %v; want still pending", status, out)
	}
	if got := len(e.searchLogins()); got != searches {
		t.Errorf("the pending key reached GitHub: %v", e.searchLogins()[searches:])
	}
	e.press("UBOB", ask, "", "apikey_allow")
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.update" && m.Channel == "DUBOB" && strings.Contains(plain(m), "Allowed: API key")
	}); err != nil {
		t.Errorf("Bob's message does not say the key is allowed: %v", err)
	}
	if status, out = e.call("GET", "/api/v1/whoami", bobKey, "", ""); status != 200 || out["creator"] != "UBOB" {
		t.Errorf("whoami with the key Bob allowed: %d %v", status, out)
	}
	if st := keyState(); st != "active" {
		t.Errorf("tandem apikey list shows the key Bob allowed as %s, want active", st)
	}
	var auditOut, auditErr bytes.Buffer
	if err := run(ctxFor(t), []string{"audit", "--user", "UBOB", "--json"}, e.getenv, &auditOut, &auditErr); err != nil {
		t.Fatalf("tandem audit: %v\n%s", err, auditErr.String())
	}
	var approvals []string
	for dec := json.NewDecoder(&auditOut); dec.More(); {
		var r tandem.AuditRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Action == "apikey_approve" {
			approvals = append(approvals, r.Actor+" as "+r.Effective)
		}
	}
	if len(approvals) != 1 || approvals[0] != "UBOB as UBOB" {
		t.Errorf("apikey_approve records: %v; want one, by Bob", approvals)
	}

	// Bob disconnects GitHub: his key says he must connect it.
	ack, _ := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/disconnect", Text: "github", UserID: "UBOB", ChannelID: channel})
	if !strings.Contains(string(ack), "GitHub disconnected") {
		t.Fatalf("/disconnect: %s", ack)
	}
	status, out = e.post(bobKey, `{"channel":"`+channel+`","text":"list my open PRs"}`)
	if status != 409 || errCode(out) != "credentials_not_configured" || !strings.Contains(errMessage(out), "ops") || !strings.Contains(errMessage(out), "UBOB") || !strings.Contains(errMessage(out), "GitHub") {
		t.Errorf("creator disconnected: %d %v", status, out)
	}

	// GitHub revokes Alice's grant: her key says it expired or was revoked.
	e.gh.RevokeGrant("alice-gh")
	status, out = e.post(key, `{"channel":"`+channel+`","text":"list my open PRs"}`)
	if status != 409 || errCode(out) != "credentials_expired" || !strings.Contains(errMessage(out), "UALICE") {
		t.Errorf("creator's token revoked: %d %v", status, out)
	}
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Channel == "DUALICE" && strings.Contains(m.Text, "API key ci-bot stopped working")
	}); err != nil {
		t.Errorf("Alice was not told her key stopped working: %v", err)
	}

	// Revoked and expired keys.
	ack, _ = e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey revoke " + key[:len("tdm_")+8], UserID: "UALICE", ChannelID: channel})
	if !strings.Contains(string(ack), "API key ci-bot revoked") {
		t.Fatalf("revoke: %s", ack)
	}
	if status, out = e.post(key, `{"channel":"`+channel+`","text":"whoami"}`); status != 401 || errCode(out) != "key_revoked" {
		t.Errorf("revoked key: %d %v", status, out)
	}
	short := e.createKey("UALICE", "short --expires 1s")
	time.Sleep(1100 * time.Millisecond)
	if status, out = e.post(short, `{"channel":"`+channel+`","text":"whoami"}`); status != 401 || errCode(out) != "key_expired" {
		t.Errorf("expired key: %d %v", status, out)
	}
}

// TestAPIRefusesBadRequests: strict JSON, content type, size, bad keys, and
// a slowdown for guessing keys.
func TestAPIRefusesBadRequests(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	key := e.createKey("UALICE", "strict")
	before := len(e.gh.Requests())
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"unknown field", "application/json", `{"channel":"C0SHARED","text":"hi","as_user":"UBOB"}`, 400, "bad_request"},
		{"not json", "application/json", `channel=C0SHARED`, 400, "bad_request"},
		{"two objects", "application/json", `{"channel":"C0SHARED","text":"a"}{"channel":"C0SHARED","text":"b"}`, 400, "bad_request"},
		{"wrong type", "text/plain", `{"channel":"C0SHARED","text":"hi"}`, 415, "bad_request"},
		{"bad channel", "application/json", `{"channel":"#general","text":"hi"}`, 400, "bad_request"},
		{"empty text", "application/json", `{"channel":"C0SHARED","text":"  "}`, 400, "bad_request"},
		{"huge", "application/json", `{"channel":"C0SHARED","text":"` + strings.Repeat("a", 70000) + `"}`, 413, "bad_request"},
	}
	for _, tt := range tests {
		status, out := e.call("POST", "/api/v1/messages", key, tt.contentType, tt.body)
		if status != tt.status || errCode(out) != tt.code {
			t.Errorf("%s: %d %v, want %d %s", tt.name, status, out, tt.status, tt.code)
		}
	}
	if n := len(e.gh.Requests()) - before; n != 0 {
		t.Errorf("bad requests reached GitHub %d times", n)
	}
	// Slack knows no such channel, so the key's creator is not a member of it
	// (TestAPIKeyInAChannelWithoutTandem has the "invite @tandem" answer).
	if status, out := e.post(key, `{"channel":"C0NOWHERE","text":"whoami"}`); status != 403 || errCode(out) != "channel_not_allowed" {
		t.Errorf("a channel that does not exist: %d %v", status, out)
	}
	for i := 0; i < 10; i++ {
		if status, out := e.post("tdm_guess_"+strings.Repeat("x", i+1), `{"channel":"C0SHARED","text":"hi"}`); status != 401 || errCode(out) != "invalid_key" {
			t.Fatalf("guess %d: %d %v", i, status, out)
		}
	}
	if status, out := e.post("tdm_guess_again", `{"channel":"C0SHARED","text":"hi"}`); status != 429 || errCode(out) != "too_many_attempts" {
		t.Errorf("after 10 bad keys: %d %v, want 429", status, out)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAPIUnknownCommandSaysSo: a text that is no command answers 400
// unknown_command with the closest commands, not a provider error, and
// nothing reaches a provider.
func TestAPIUnknownCommandSaysSo(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	key := e.createKey("UALICE", "ci-bot")
	status, out := e.post(key, `{"channel":"`+channel+`","text":"list my opne prs pls"}`)
	if status != 400 || out["ok"] != false || errCode(out) != "unknown_command" || !strings.Contains(errMessage(out), "`list my open PRs`") {
		t.Errorf("unknown command: %d %v; want 400 unknown_command naming `list my open PRs`", status, out)
	}
	if got := e.searchLogins(); len(got) != 0 {
		t.Errorf("GitHub was asked as %v for a text that is no command", got)
	}
}

// TestAPIKeyOfACreatorWhoLeftShowsNothing: once a key's creator has left
// the workspace, the key neither runs anything nor shows the creator's
// linked accounts (whoami answers 403, as a message does); back in the
// workspace, both work again.
func TestAPIKeyOfACreatorWhoLeftShowsNothing(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	key := e.createKey("UALICE", "ci")
	if !e.slack.SetDeleted("UALICE", true) {
		t.Fatal("the fake Slack does not know UALICE")
	}
	status, out := e.call("GET", "/api/v1/whoami", key, "", "")
	if status != 403 || errCode(out) != "forbidden" || strings.Contains(toJSON(out), "alice-gh") {
		t.Errorf("whoami of a departed creator's key: %d %v; want 403 forbidden without their accounts", status, out)
	}
	if status, out = e.post(key, `{"channel":"`+channel+`","text":"list my open PRs"}`); status != 403 || errCode(out) != "forbidden" {
		t.Errorf("a message with a departed creator's key: %d %v; want 403 forbidden", status, out)
	}
	e.slack.SetDeleted("UALICE", false)
	if status, out = e.call("GET", "/api/v1/whoami", key, "", ""); status != 200 || !strings.Contains(toJSON(out["providers"]), `"login":"alice-gh"`) {
		t.Errorf("whoami once the creator is back: %d %v", status, out)
	}
	if n := len(e.searchLogins()); n != 0 {
		t.Errorf("GitHub was searched %d times", n)
	}
}

// TestOperatorKeyAllowedFromTheAppHome: Bob's App Home shows the key an
// operator made for him as waiting for his Allow, with the button; Alice's
// press of it (a crafted payload with Bob's prefix) allows nothing; Bob's
// does, and his App Home then shows it without the wait.
func TestOperatorKeyAllowedFromTheAppHome(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UBOB", "bob-gh")
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(t), []string{"apikey", "create", "--user", "UBOB", "--name", "home"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("tandem apikey create: %v\n%s", err, stderr.String())
	}
	key := strings.TrimSpace(stdout.String())
	e.remember(key)
	prefix := key[:len("tdm_")+8]
	if _, err := e.slack.SendEvent(ctxFor(t), e.slack.AppHomeOpenedEvent("UBOB")); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UBOB", "waiting for your Allow")
	pressHome := func(user string) {
		payload := e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: user, ActionID: "apikey_allow", Value: prefix})
		if _, err := e.slack.SendInteraction(ctxFor(t), payload); err != nil {
			t.Fatalf("%s's press: %v", user, err)
		}
	}
	// Alice's press is answered by doing nothing (the log says so).
	pressHome("UALICE")
	waitFor(t, "Alice's press refused", func() bool {
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, `"key approval refused"`) && strings.Contains(line, `"user":"UALICE"`) {
				return true
			}
		}
		return false
	})
	if status, out := e.call("GET", "/api/v1/whoami", key, "", ""); status != 403 {
		t.Errorf("whoami after Alice's press: %d %v; want 403 key_pending", status, out)
	}
	pressHome("UBOB")
	waitFor(t, "Bob's App Home without the wait", func() bool {
		h := e.homeText("UBOB")
		return strings.Contains(h, prefix) && !strings.Contains(h, "waiting for your Allow")
	})
	if status, out := e.call("GET", "/api/v1/whoami", key, "", ""); status != 200 || out["creator"] != "UBOB" {
		t.Errorf("whoami with the key Bob allowed from his App Home: %d %v", status, out)
	}
	var auditOut, auditErr bytes.Buffer
	if err := run(ctxFor(t), []string{"audit", "--user", "UBOB", "--json"}, e.getenv, &auditOut, &auditErr); err != nil {
		t.Fatalf("tandem audit: %v\n%s", err, auditErr.String())
	}
	if n := strings.Count(auditOut.String(), `"apikey_approve"`); n != 1 {
		t.Errorf("%d apikey_approve records, want one (Bob's)", n)
	}
}
