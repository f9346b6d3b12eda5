package main

import (
	"context"
	"encoding/json"
	"github.com/tandembot/tandem/internal/syncbuf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

func consoleNoEnv(string) string { return "" }

// syncBuffer is an io.Writer the console and the bot's goroutines share.
type syncBuffer = syncbuf.Buffer

// consoleExamples are the shipped example scripts; each runs as an end to
// end test of the whole bot.
var consoleExamples = []string{
	"01-shared-thread",
	"02-connect-and-rerun",
	"03-commit-author",
	"04-persistent-consent",
	"05-api-key",
	"06-editor-consent",
	"07-schedules",
}

func TestConsoleExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.txt")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		if !slices.Contains(consoleExamples, name) {
			t.Errorf("examples/%s.txt is not in consoleExamples: add it so CI runs it", name)
		}
	}
	for _, name := range consoleExamples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out syncBuffer
			err := run(ctx, []string{"--script", "../../examples/" + name + ".txt"}, consoleNoEnv, strings.NewReader(""), &out, &out)
			if err != nil {
				t.Fatalf("tandem-console --script examples/%s.txt: %v\noutput:\n%s", name, err, out.String())
			}
			if !strings.Contains(out.String(), "expectations met") {
				t.Errorf("no success line:\n%s", out.String())
			}
		})
	}
}

func writeConsoleScript(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.txt")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConsoleFailingExpectFails: a script whose expect line is not met, or
// that has a line the console does not know, makes the command fail, naming
// the line.
func TestConsoleFailingExpectFails(t *testing.T) {
	tests := []struct{ name, script, want string }{
		{"expect", "as bob\nsay @tandem help\nexpect Tandem runs every message\nexpect something Tandem never says\nas carol\n", `:4: expected "something Tandem never says"`},
		{"expect-not", "say @tandem help\nexpect-not Tandem runs every message\n", `:2: did not expect "Tandem runs every message"`},
		{"unknown", "# a comment\nfrobnicate the widgets\n", ":2: unknown command /frobnicate"},
		{"press", "press Approve\n", `no button labelled "Approve"`},
		{"as without a name", "as\n", ":1: /as needs a name: alice, bob, carol or dave (you are alice)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out syncBuffer
			logPath := filepath.Join(t.TempDir(), "tandem.log")
			err := run(ctx, []string{"--script", writeConsoleScript(t, tt.script), "--log", logPath}, consoleNoEnv, strings.NewReader(""), &out, &out)
			if err == nil {
				t.Fatalf("the script succeeded; output:\n%s", out.String())
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), logPath) {
				t.Errorf("error = %v, want it to contain %q and the log path", err, tt.want)
			}
			if logs, _ := os.ReadFile(logPath); !strings.Contains(string(logs), "socket mode connected") {
				t.Errorf("the bot's logs are not in --log %s:\n%s", logPath, logs)
			}
			if !strings.Contains(out.String(), "✗") {
				t.Errorf("the output does not mark the failure:\n%s", out.String())
			}
			if strings.Contains(out.String(), "speaking as carol") {
				t.Errorf("the script went on after the failing line:\n%s", out.String())
			}
		})
	}
}

// TestConsoleReadsAPipe: without --script the console reads lines from
// stdin (here a pipe, not a terminal), shows the banner, echoes each line
// after its prompt and ends at EOF.
func TestConsoleReadsAPipe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := strings.NewReader("@tandem whoami\nlunch?\n/as carol\n/connect github\n/threads\n")
	var out syncBuffer
	if err := run(ctx, nil, consoleNoEnv, in, &out, &out); err != nil {
		t.Fatalf("tandem-console: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"Demo users", "dave", "Logs: ",
		"alice · #demo · new thread> @tandem whoami\n",
		"tandem ─ thread 1\n", "· ran as @alice",
		"alice · #demo · thread 1> lunch?\n", "(no reply:",
		"carol · #demo · thread 1> /connect github\n",
		"[1: Connect GitHub]", "Open this link in your browser: http://127.0.0.1:",
		"/open 1 signs in to both as carol",
		"*  1  #demo, started by alice: @tandem whoami",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b[") {
		t.Errorf("colors on a pipe:\n%q", got)
	}
}

func TestConsoleRendersBlockKit(t *testing.T) {
	names := map[string]string{"UALICE": "alice", "U0BOT": "tandem"}
	r := &kitRenderer{name: func(id string) string { return names[id] }}
	blocks := `[
	  {"type":"header","text":{"type":"plain_text","text":"Integrations"}},
	  {"type":"section","text":{"type":"mrkdwn","text":"*3 open pull requests*\nFor <@UALICE> &amp; friends"}},
	  {"type":"section","text":{"type":"mrkdwn","text":"• <http://gh/acme/widgets/pull/1|acme/widgets#1 Add retry>  _draft_\n• set ` + "`KEEP_CREDENTIALS_PERSISTENT=true`" + `"}},
	  {"type":"divider"},
	  {"type":"section","text":{"type":"mrkdwn","text":"*GitHub*\n:large_green_circle: Connected as *alice*\nLinked <!date^1700000000^{date_short_pretty}|2023-11-14 22:13 UTC>"},
	   "accessory":{"type":"button","action_id":"home_disconnect_github","value":"github","text":{"type":"plain_text","text":"Disconnect"},"style":"danger",
	     "confirm":{"title":{"type":"plain_text","text":"Disconnect GitHub?"},"text":{"type":"mrkdwn","text":"x"},"confirm":{"type":"plain_text","text":"Disconnect"},"deny":{"type":"plain_text","text":"Cancel"}}}},
	  {"type":"actions","block_id":"consent","elements":[
	    {"type":"button","action_id":"connect_github","text":{"type":"plain_text","text":"Connect GitHub"},"url":"http://127.0.0.1:8080/connect/github?sig=x","style":"primary"},
	    {"type":"button","action_id":"consent_approve","value":"T/C/1.2","text":{"type":"plain_text","text":"Approve"}},
	    {"type":"static_select","action_id":"home_site_jira","placeholder":{"type":"plain_text","text":"Choose site"},
	     "options":[{"value":"a","text":{"type":"plain_text","text":"acme"}},{"value":"b","text":{"type":"plain_text","text":"acme-labs"}}],
	     "initial_option":{"value":"b","text":{"type":"plain_text","text":"acme-labs"}}}]},
	  {"type":"input","block_id":"mode","label":{"type":"plain_text","text":"Credentials"},
	   "element":{"type":"radio_buttons","action_id":"mode_choice","options":[{"value":"per_message","text":{"type":"plain_text","text":"Per message"}},{"value":"persistent","text":{"type":"plain_text","text":"Persistent"}}],
	     "initial_option":{"value":"per_message","text":{"type":"plain_text","text":"Per message"}}}},
	  {"type":"context","block_id":"attribution","elements":[{"type":"mrkdwn","text":"ran as <@UALICE> · GitHub: alice"}]}
	]`
	got := r.blocks(json.RawMessage(blocks), "fallback")
	want := []string{
		"INTEGRATIONS",
		"3 open pull requests",
		"For @alice & friends",
		"• acme/widgets#1 Add retry  draft",
		"• set KEEP_CREDENTIALS_PERSISTENT=true",
		"────────────────────────",
		"GitHub",
		"● Connected as alice",
		"Linked 2023-11-14 22:13 UTC",
		"[1: Disconnect]",
		"[2: Connect GitHub]  [3: Approve]  [4: Choose site ▾ acme | acme-labs*]",
		"Credentials (mode):",
		"  ● 1. Per message",
		"  ○ 2. Persistent",
		"· ran as @alice · GitHub: alice",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rendered:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The controls carry what pressing them needs.
	var controls []kitControl
	r = &kitRenderer{control: func(k kitControl) int { controls = append(controls, k); return len(controls) }}
	r.blocks(json.RawMessage(blocks), "")
	if len(controls) != 4 {
		t.Fatalf("controls = %+v, want 4", controls)
	}
	if c := controls[0]; c.Label != "Disconnect" || c.ActionID != "home_disconnect_github" || c.Value != "github" || c.Confirm != "Disconnect GitHub?" {
		t.Errorf("accessory = %+v", c)
	}
	if c := controls[1]; c.URL != "http://127.0.0.1:8080/connect/github?sig=x" || c.Label != "Connect GitHub" {
		t.Errorf("link button = %+v", c)
	}
	if c := controls[2]; c.ActionID != "consent_approve" || c.BlockID != "consent" || c.Value != "T/C/1.2" {
		t.Errorf("action button = %+v", c)
	}
	if c := controls[3]; c.Kind != "static_select" || len(c.Options) != 2 || !c.Options[1].Initial || c.Options[0].Text != "acme" {
		t.Errorf("select = %+v", c)
	}

	// Without blocks, the text is the message; mrkdwn details.
	r = &kitRenderer{name: func(id string) string { return names[id] }}
	if got := r.blocks(nil, "Hi <@UALICE>, see <#C0DEMO> and <!here>"); strings.Join(got, "|") != "Hi @alice, see #demo and @here" {
		t.Errorf("fallback text = %q", got)
	}
	for in, want := range map[string]string{
		"Use `Authorization: Bearer <key>`":    "Use Authorization: Bearer <key>",
		"a lone ` stays":                       "a lone ` stays",
		"```tdm_abc_DEF```\nCopy it now":       "tdm_abc_DEF\nCopy it now",
		"*a* and *b*, not a*b*c nor 2 * 3 * 4": "a and b, not a*b*c nor 2 * 3 * 4",
		"KEEP_CREDENTIALS_PERSISTENT _italic_": "KEEP_CREDENTIALS_PERSISTENT italic",
		"<https://x.test/a?b=1&amp;c=2>":       "https://x.test/a?b=1&c=2",
		"a &lt;b&gt; :warning: :tada:":         "a <b> ⚠ :tada:",
	} {
		if got := r.mrkdwn(in); got != want {
			t.Errorf("mrkdwn(%q) = %q, want %q", in, got, want)
		}
	}

	// On a terminal, bold is bold.
	r = &kitRenderer{color: true}
	if got := r.mrkdwn("*Title*"); got != kitBold+"Title"+kitReset {
		t.Errorf("bold on a terminal = %q", got)
	}
}

// TestConsoleMarksWhoSeesAMessage: ephemeral messages say they are only
// visible to you, DMs say they are direct messages, edits are marked, and
// a button in someone else's DM cannot be pressed.
func TestConsoleMarksWhoSeesAMessage(t *testing.T) {
	var out syncBuffer
	w := &consoleWorld{slack: fakeslack.New(fakeslack.Options{})}
	c := newConsole(w, consoleOptions{}, &out)
	c.threads = []*consoleThread{{n: 1, channel: demoChannelID, root: "100.000001", starter: "UALICE", text: "@tandem list my open PRs"}}
	blocks := json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"*GitHub credentials not configured*"}},
		{"type":"actions","elements":[{"type":"button","action_id":"consent_approve","value":"k","text":{"type":"plain_text","text":"Approve"}}]},
		{"type":"context","elements":[{"type":"mrkdwn","text":"ran as <@UCAROL> · GitHub: not connected"}]}]`)

	eph := c.formatMessage(0, fakeslack.Message{Method: "chat.postEphemeral", Channel: demoChannelID, ThreadTS: "100.000001", TS: "101.000001", User: "UALICE", Ephemeral: true, Blocks: blocks})
	if want := "tandem ─ thread 1 · only visible to you\n  GitHub credentials not configured\n  [1: Approve]\n  · ran as @carol · GitHub: not connected\n"; eph != want {
		t.Errorf("ephemeral:\n%s\nwant:\n%s", eph, want)
	}
	public := c.formatMessage(1, fakeslack.Message{Method: "chat.postMessage", Channel: demoChannelID, ThreadTS: "100.000001", TS: "102.000001", Text: "hello <@UALICE>"})
	if public != "tandem ─ thread 1\n  hello @alice\n" {
		t.Errorf("thread reply:\n%s", public)
	}
	dm := c.formatMessage(2, fakeslack.Message{Method: "chat.postMessage", Channel: "DUALICE", TS: "103.000001", Blocks: blocks})
	if !strings.HasPrefix(dm, "tandem ─ direct message to you\n") || !strings.Contains(dm, "[2: Approve]") {
		t.Errorf("DM:\n%s", dm)
	}
	edited := c.formatMessage(3, fakeslack.Message{Method: "chat.update", Channel: "DUALICE", TS: "103.000001", Text: "Approved"})
	if !strings.HasPrefix(edited, "tandem ─ direct message to you · edited\n") {
		t.Errorf("edit:\n%s", edited)
	}
	// The same message shown again keeps its numbers.
	if again := c.formatMessage(2, fakeslack.Message{Method: "chat.postMessage", Channel: "DUALICE", TS: "103.000001", Blocks: blocks}); again != dm {
		t.Errorf("shown again:\n%s\nfirst:\n%s", again, dm)
	}

	if got, _ := c.findControl("approve"); got == nil || got.n != 2 {
		t.Errorf("press by label found %+v, want the newest Approve, [2]", got)
	}
	c.user, _ = demoPersonNamed("bob")
	err := c.press(context.Background(), "2")
	if err == nil || !strings.Contains(err.Error(), "only visible to alice: /as alice") {
		t.Errorf("bob pressing alice's DM button: %v", err)
	}
	if consoleVisibleTo(fakeslack.Message{Channel: demoChannelID}) != "" || consoleVisibleTo(fakeslack.Message{Channel: "DUBOB"}) != "UBOB" ||
		consoleVisibleTo(fakeslack.Message{Channel: demoChannelID, User: "UCAROL", Ephemeral: true}) != "UCAROL" {
		t.Errorf("consoleVisibleTo is wrong")
	}
}

func TestConsoleExpandsMentions(t *testing.T) {
	c := newConsole(&consoleWorld{slack: fakeslack.New(fakeslack.Options{})}, consoleOptions{}, &syncBuffer{})
	got := c.expandMentions("@tandem editors add @bob, please @nobody")
	if want := "<@U0BOT> editors add <@UBOB>, please @nobody"; got != want {
		t.Errorf("expandMentions = %q, want %q", got, want)
	}
}

func TestConsolePageText(t *testing.T) {
	title, text := consolePageText(`<!doctype html><html><head><title>GitHub connected · Tandem</title></head><body><h1>GitHub connected as alice</h1><p>Tandem will now act as alice &amp; nobody else.</p></body></html>`)
	if title != "GitHub connected as alice" || text != "Tandem will now act as alice & nobody else." {
		t.Errorf("consolePageText = %q, %q", title, text)
	}
}

// TestConsoleHelpListsEveryCommand: /help names every command the console
// accepts (script-only ones aside).
func TestConsoleHelpListsEveryCommand(t *testing.T) {
	help := consoleHelp()
	for _, cmd := range []string{"/as", "/users", "/thread", "/threads", "/dm", "/history", "/connect", "/disconnect", "/tandem",
		"/settings", "/submit", "/close", "/home", "/press", "/open", "/api", "/wait", "/quit"} {
		if !strings.Contains(help, cmd) {
			t.Errorf("/help does not mention %s", cmd)
		}
	}
}
