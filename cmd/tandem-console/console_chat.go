package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// How long the console waits for the bot.
const (
	consoleSettleQuiet = 300 * time.Millisecond // no new message for this long: the replies are in
	consoleSettleMax   = 30 * time.Second       // give up waiting for one step
	consoleExpectWait  = 5 * time.Second        // an expect line waits this long for late replies
)

// consoleThread is a Slack thread the console knows: started by a console user,
// or by the bot (an API call's thread).
type consoleThread struct {
	n       int
	channel string // demoChannelID or a DM "D"+user
	root    string // ts of the thread's first message
	starter string // user id; "" for the bot
	text    string // the first message, for listings
}

// consoleSaid is a message typed in the console, for /history.
type consoleSaid struct {
	channel, ts, root, user, text string
}

// shownControl is a button or menu the console numbered, and where it is.
type shownControl struct {
	kitControl
	n         int
	owner     string // the user who can see it; "" for everyone
	channel   string
	ts        string
	thread    string
	ephemeral bool
	home      bool
}

// consoleModal is the view the bot opened for the current user.
type consoleModal struct {
	user string
	view map[string]any
}

// consoleState is the console: who speaks, where, and what was shown.
type consoleState struct {
	w    *consoleWorld
	opts consoleOptions
	out  io.Writer

	// mu is held while a line runs, and by the prompt watcher.
	mu        sync.Mutex
	user      demoPerson
	threads   []*consoleThread
	cur       *consoleThread // nil: the next message starts a new thread in place
	place     string         // where a new thread starts: demoChannelID or "D"+user
	said      []consoleSaid
	seen      int              // messages of the fake Slack already shown or queued
	pending   map[string][]int // user id -> messages they have not seen yet
	controls  map[string]int   // control key -> number
	byNum     map[int]*shownControl
	acks      int
	homes     int
	keys      map[string]string // user id -> newest API key shown to them
	modal     *consoleModal
	buf       strings.Builder // what the last step printed, for expect
	atPrompt  bool
	expectsOK int
}

func newConsole(w *consoleWorld, opts consoleOptions, out io.Writer) *consoleState {
	c := &consoleState{
		w: w, opts: opts, out: out, user: demoPeople[0], place: demoChannelID,
		pending: map[string][]int{}, controls: map[string]int{}, byNum: map[int]*shownControl{},
		keys: map[string]string{},
	}
	if opts.autoConsent {
		w.setAutoConsent(c.user)
	}
	return c
}

func (c *consoleState) style(code, s string) string {
	if !c.opts.color || s == "" {
		return s
	}
	return code + s + kitReset
}

// emit prints s and keeps it for expect lines.
func (c *consoleState) emit(s string) {
	if s == "" {
		return
	}
	io.WriteString(c.out, s)
	c.buf.WriteString(s)
}

// note prints a line of the console's own (not the bot's).
func (c *consoleState) note(format string, args ...any) {
	c.emit(c.style(kitDim, fmt.Sprintf(format, args...)) + "\n")
}

func (c *consoleState) fail(format string, args ...any) {
	c.emit(c.style(kitRed, fmt.Sprintf(format, args...)) + "\n")
}

func (c *consoleState) banner() {
	var b strings.Builder
	b.WriteString(c.style(kitBold, "Tandem console") + ": the real Tandem bot, wired to a built-in Slack workspace and demo\n")
	b.WriteString(demoProviderNames() + " accounts. Nothing leaves this machine.\n\n")
	b.WriteString("Demo users (switch with /as <name>):\n")
	for _, p := range demoPeople {
		fmt.Fprintf(&b, "  %-6s %-14s %s\n", p.Name, p.RealName, c.style(kitDim, p.Note))
	}
	fmt.Fprintf(&b, "Channel #%s. Start with: @tandem help   (then /connect github, @tandem list my open PRs)\n", demoChannelName)
	b.WriteString("Console commands: /help.  Quit: /quit or Ctrl-D.\n")
	if c.opts.autoConsent {
		b.WriteString("--auto-consent: connect links sign in to the demo providers as the current user.\n")
	} else {
		b.WriteString("Connect links open the demo provider's consent page in your browser (or /open <n> signs in from here).\n")
	}
	if c.opts.db != "" {
		fmt.Fprintf(&b, "Database: %s (kept). The demo providers start afresh, so accounts linked in an earlier run need reconnecting.\n", c.opts.db)
	}
	fmt.Fprintf(&b, "Tandem: %s   Logs: %s\n\n", c.w.public, c.w.logPath)
	io.WriteString(c.out, b.String())
}

// consoleHelp is the console's /help text.
func consoleHelp() string {
	return strings.Replace(consoleHelpText, "{providers}", demoProviderIDs(), 1)
}

const consoleHelpText = `Talking
  <text>                     a message in the current thread; @tandem … mentions the bot
                             (a plain line in a session thread runs only if it is exactly a command)
  /thread new                start a new thread in #demo        /threads   list threads
  /thread <n>                go to thread n                      /history   show this thread
  /dm                        start a thread in your direct messages with @tandem
People
  /as <name>                 speak as alice, bob, carol or dave (dave is a workspace admin)
  /users                     who is who, and what each has connected
Slack features
  /connect [provider]        your integrations, or link one ({providers})
  /disconnect <provider>     unlink it
  /tandem <args>             e.g. /tandem apikey create ci, /tandem channel persistent on
  /settings                  the Session settings shortcut on this thread (a modal)
  /submit <choice>           submit the open modal: an option number or value, or name=value …
  /close                     close the open modal
  /home                      your App Home: integrations and API keys
  /press <n|label> [option]  press the button shown as [n: label] (or choose an option of a menu)
  /open <n|url>              follow a link here, signing in to the demo provider as you
Operator
  /operator apikey <name> for <person>   a key made at the server's shell (tandem apikey create --user)
HTTP API
  /api POST [path] <json>    call Tandem's API with your newest API key (path /api/v1/messages;
                             $channel and $thread stand for the current ones)
  /api GET /api/v1/whoami
Other
  /wait [seconds]            wait for more replies (after opening a link in a browser)
  /quit                      leave (also Ctrl-D)
`

// prompt says who is speaking, and where.
func (c *consoleState) prompt() string {
	where := "#" + demoChannelName
	if strings.HasPrefix(c.place, "D") {
		where = "DM"
	}
	thread := "new thread"
	if c.cur != nil {
		where = "#" + demoChannelName
		if strings.HasPrefix(c.cur.channel, "D") {
			where = "DM"
		}
		thread = fmt.Sprintf("thread %d", c.cur.n)
	}
	return c.style(kitBold+kitCyan, c.user.Name) + c.style(kitDim, " · "+where+" · ") + thread + "> "
}

// interactive reads lines from stdin until EOF, /quit or ctx ends.
func (c *consoleState) interactive(ctx context.Context, stdin io.Reader) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	if c.opts.tty {
		stop := make(chan struct{})
		defer close(stop)
		go c.watch(ctx, stop)
	}
	for {
		c.mu.Lock()
		c.printNew()
		io.WriteString(c.out, c.prompt())
		c.atPrompt = true
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			io.WriteString(c.out, "\n")
			return nil
		case line, ok := <-lines:
			c.mu.Lock()
			c.atPrompt = false
			if !ok {
				io.WriteString(c.out, "\n")
				c.mu.Unlock()
				return nil
			}
			if c.opts.echo {
				io.WriteString(c.out, line+"\n")
			}
			quit, err := c.execLine(ctx, line)
			if err != nil {
				c.fail("! %v", err)
			}
			c.mu.Unlock()
			if quit {
				return nil
			}
		}
	}
}

// watch shows replies that arrive while the prompt waits (a link opened in
// a browser, a slow turn), then the prompt again.
func (c *consoleState) watch(ctx context.Context, stop chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	last, changed := -1, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
		n := len(c.w.slack.Messages())
		if n != last {
			last, changed = n, time.Now()
			continue
		}
		if time.Since(changed) < consoleSettleQuiet || !c.mu.TryLock() {
			continue
		}
		if c.atPrompt && n > c.seen && c.w.unfinishedTurns(ctx) == 0 {
			if s := c.collectNew(); s != "" {
				io.WriteString(c.out, "\r\x1b[K"+s+c.prompt())
			}
		}
		c.mu.Unlock()
	}
}

// runScript runs a scripted conversation; it fails at the first failing
// line.
func (c *consoleState) runScript(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("tandem-console: %w", err)
	}
	fmt.Fprintf(c.out, "Tandem console: running %s (logs: %s)\n", path, c.w.logPath)
	steps := 0
loop:
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		steps++
		io.WriteString(c.out, c.prompt()+line+"\n")
		word, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		switch word {
		case "expect", "expect-not":
			err = c.expect(ctx, arg, word == "expect-not")
		case "say":
			c.buf.Reset()
			err = c.send(ctx, arg)
		default:
			if !strings.HasPrefix(line, "/") {
				line = "/" + line
			}
			var quit bool
			if quit, err = c.execLine(ctx, line); quit && err == nil {
				break loop
			}
		}
		if err != nil {
			c.fail("✗ %v", err)
			return fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	fmt.Fprintf(c.out, "%s\n", c.style(kitGreen, fmt.Sprintf("✓ %s: %d steps, %d expectations met", path, steps, c.expectsOK)))
	return nil
}

// expect checks that the last step's output contains want (or, negated,
// does not), waiting a little for late replies.
func (c *consoleState) expect(ctx context.Context, want string, negate bool) error {
	if want == "" {
		return errors.New("expect needs some text")
	}
	norm := func(s string) string { return strings.Join(strings.Fields(kitStripANSI(s)), " ") }
	w := norm(want)
	deadline := time.Now().Add(consoleExpectWait)
	for {
		found := strings.Contains(norm(c.buf.String()), w)
		if negate {
			if found {
				return fmt.Errorf("did not expect %q in the replies", want)
			}
			c.expectsOK++
			return nil
		}
		if found {
			c.expectsOK++
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("expected %q in the replies to the last step, within %s", want, consoleExpectWait)
		}
		time.Sleep(100 * time.Millisecond)
		c.printNew()
	}
}

// execLine runs one line typed at the prompt (or a script step with its
// slash). It reports whether the console should end.
func (c *consoleState) execLine(ctx context.Context, line string) (quit bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return false, nil
	}
	if !strings.HasPrefix(line, "/") {
		c.buf.Reset()
		return false, c.send(ctx, line)
	}
	cmd, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	cmd = strings.ToLower(cmd)
	if cmd != "expect" && cmd != "expect-not" {
		c.buf.Reset()
	}
	switch cmd {
	case "help", "?":
		io.WriteString(c.out, consoleHelp())
	case "quit", "exit", "q":
		return true, nil
	case "as":
		if arg == "" {
			return false, fmt.Errorf("/as needs a name: %s (you are %s)", demoNames(), c.user.Name)
		}
		return false, c.switchUser(arg)
	case "users", "who":
		c.listUsers(ctx)
	case "thread":
		return false, c.switchThread(arg)
	case "threads":
		c.listThreads()
	case "dm":
		c.cur, c.place = nil, "D"+c.user.ID
		c.note("Your next message starts a thread in your direct messages with @tandem (no mention needed there).")
	case "history":
		c.history()
	case "connect", "disconnect", "tandem":
		return false, c.slash(ctx, "/"+cmd, arg)
	case "settings":
		return false, c.settings(ctx)
	case "submit":
		return false, c.submit(ctx, arg)
	case "close":
		c.modal = nil
		c.note("Modal closed.")
	case "home":
		return false, c.home(ctx)
	case "press":
		return false, c.press(ctx, arg)
	case "open":
		return false, c.open(ctx, arg)
	case "api":
		return false, c.api(ctx, arg)
	case "operator":
		return false, c.operator(ctx, arg)
	case "wait":
		c.wait(ctx, arg)
	case "expect", "expect-not":
		return false, c.expect(ctx, arg, cmd == "expect-not")
	case "say":
		return false, c.send(ctx, arg)
	default:
		return false, fmt.Errorf("unknown command /%s (/help lists them)", cmd)
	}
	return false, nil
}

// botMention is how the bot is mentioned in message text.
func (c *consoleState) botMention() string { return "<@" + c.w.slack.BotUserID() + ">" }

// expandMentions turns @tandem and @name into Slack's <@U…> mentions.
func (c *consoleState) expandMentions(text string) string {
	fields := strings.Split(text, " ")
	for i, f := range fields {
		if !strings.HasPrefix(f, "@") {
			continue
		}
		name := strings.TrimRight(f[1:], ",.:;!?")
		rest := f[1+len(name):]
		switch {
		case strings.EqualFold(name, "tandem"):
			fields[i] = c.botMention() + rest
		default:
			if p, ok := demoPersonNamed(name); ok {
				fields[i] = "<@" + p.ID + ">" + rest
			}
		}
	}
	return strings.Join(fields, " ")
}

// send posts text as the current user in the current thread (or starts
// one), delivered as Slack does: a mention in a channel arrives both as
// app_mention and as a message event.
func (c *consoleState) send(ctx context.Context, text string) error {
	if strings.TrimSpace(text) == "" {
		return errors.New("say what?")
	}
	full := c.expandMentions(text)
	mentioned := strings.Contains(full, c.botMention())
	ts := c.w.slack.NextTS()
	var channel, threadTS string
	if c.cur == nil {
		channel = c.place
		t := &consoleThread{n: len(c.threads) + 1, channel: channel, root: ts, starter: c.user.ID, text: text}
		c.threads = append(c.threads, t)
		c.cur = t
	} else {
		channel, threadTS = c.cur.channel, c.cur.root
	}
	dm := strings.HasPrefix(channel, "D")
	c.said = append(c.said, consoleSaid{channel: channel, ts: ts, root: c.cur.root, user: c.user.ID, text: text})
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if mentioned && !dm {
		if _, err := c.w.slack.SendEvent(sctx, fakeslack.AppMentionEvent(channel, c.user.ID, full, ts, threadTS)); err != nil {
			return fmt.Errorf("deliver the mention: %w", err)
		}
	}
	if _, err := c.w.slack.SendEvent(sctx, fakeslack.MessageEvent(channel, c.user.ID, full, ts, threadTS)); err != nil {
		return fmt.Errorf("deliver the message: %w", err)
	}
	before := c.buf.Len()
	c.settle(ctx)
	c.printNew()
	if c.buf.Len() == before && !mentioned && !dm {
		if threadTS == "" {
			c.note("(no reply: Tandem answers a top-level message only when it mentions @tandem)")
		} else {
			c.note("(no reply: in a thread Tandem answers @tandem mentions, and a plain line only if it is exactly a command in a session thread)")
		}
	}
	return nil
}

// settle waits until the bot has nothing left to do for this step: no
// unfinished turn, and no new message or view for consoleSettleQuiet.
func (c *consoleState) settle(ctx context.Context) {
	count := func() int { return len(c.w.slack.Messages()) + len(c.w.slack.Views()) }
	deadline := time.Now().Add(consoleSettleMax)
	last, changed := count(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(25 * time.Millisecond)
		if n := count(); n != last {
			last, changed = n, time.Now()
			continue
		}
		if time.Since(changed) >= consoleSettleQuiet && c.w.unfinishedTurns(ctx) == 0 {
			return
		}
	}
}

// wait shows replies for a few seconds (default 2).
func (c *consoleState) wait(ctx context.Context, arg string) {
	d := 2 * time.Second
	if arg != "" {
		if secs, err := strconv.ParseFloat(arg, 64); err == nil && secs >= 0 {
			d = time.Duration(secs * float64(time.Second))
		}
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		c.printNew()
	}
	c.settle(ctx)
	c.printNew()
}

// consoleVisibleTo says who may see a message: "" for everyone in the channel,
// else the one user (an ephemeral message, a DM).
func consoleVisibleTo(m fakeslack.Message) string {
	if m.Ephemeral {
		return m.User
	}
	if strings.HasPrefix(m.Channel, "D") {
		return strings.TrimPrefix(m.Channel, "D")
	}
	return ""
}

// printNew shows the messages that arrived since the last look and are
// visible to the current user; private ones for others wait for them.
func (c *consoleState) printNew() { c.emit(c.collectNew()) }

func (c *consoleState) collectNew() string {
	msgs := c.w.slack.Messages()
	var b strings.Builder
	for i := c.seen; i < len(msgs); i++ {
		m := msgs[i]
		c.noteThread(m)
		who := consoleVisibleTo(m)
		if who != "" && who != c.user.ID {
			c.pending[who] = append(c.pending[who], i)
			continue
		}
		b.WriteString(c.formatMessage(i, m))
	}
	c.seen = len(msgs)
	return b.String()
}

// noteThread registers a thread the bot started in the channel (the HTTP
// API starts one per call without thread_ts).
func (c *consoleState) noteThread(m fakeslack.Message) {
	if m.Method != "chat.postMessage" || m.ThreadTS != "" || strings.HasPrefix(m.Channel, "D") {
		return
	}
	if c.threadAt(m.Channel, m.TS) != nil {
		return
	}
	r := c.renderer("", shownControl{})
	text := strings.Join(r.blocks(m.Blocks, m.Text), " ")
	c.threads = append(c.threads, &consoleThread{n: len(c.threads) + 1, channel: m.Channel, root: m.TS, text: kitStripANSI(text)})
}

func (c *consoleState) threadAt(channel, root string) *consoleThread {
	for _, t := range c.threads {
		if t.channel == channel && t.root == root {
			return t
		}
	}
	return nil
}

// renderer renders for the current user, numbering controls under key.
func (c *consoleState) renderer(key string, where shownControl) *kitRenderer {
	return &kitRenderer{
		color: c.opts.color,
		name: func(id string) string {
			if id == c.w.slack.BotUserID() {
				return "tandem"
			}
			if p, ok := demoPersonByID(id); ok {
				return p.Name
			}
			return ""
		},
		control: func(k kitControl) int {
			if key == "" {
				return 0
			}
			full := key + "/" + k.Path
			if n, ok := c.controls[full]; ok {
				return n
			}
			n := len(c.byNum) + 1
			sc := where
			sc.kitControl, sc.n = k, n
			c.controls[full] = n
			c.byNum[n] = &sc
			return n
		},
	}
}

// formatMessage renders message i of the fake as the current user sees it.
func (c *consoleState) formatMessage(i int, m fakeslack.Message) string {
	var where []string
	dm := strings.HasPrefix(m.Channel, "D")
	root := m.ThreadTS
	if root == "" && !dm {
		root = m.TS
	}
	if t := c.threadAt(m.Channel, root); t != nil && root != "" {
		label := fmt.Sprintf("thread %d", t.n)
		if dm {
			label += " (direct messages)"
		}
		where = append(where, label)
	} else if dm {
		where = append(where, "direct message to you")
	} else {
		where = append(where, "#"+demoChannelName)
	}
	if m.Ephemeral {
		where = append(where, c.style(kitYellow, "only visible to you"))
	}
	if m.Method == "chat.update" {
		where = append(where, "edited")
	}
	loc := shownControl{channel: m.Channel, ts: m.TS, thread: m.ThreadTS, ephemeral: m.Ephemeral}
	if m.Ephemeral || dm {
		loc.owner = consoleVisibleTo(m)
	}
	lines := c.renderer(fmt.Sprintf("m%d", i), loc).blocks(m.Blocks, m.Text)
	return c.formatLines(strings.Join(where, " · "), lines)
}

func (c *consoleState) formatLines(where string, lines []string) string {
	var b strings.Builder
	b.WriteString(c.style(kitBold+kitCyan, "tandem") + c.style(kitDim, " ─ ") + where + "\n")
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

func (c *consoleState) switchUser(name string) error {
	p, ok := demoPersonNamed(name)
	if !ok {
		return fmt.Errorf("no demo user %q: try %s", name, demoNames())
	}
	c.printNew() // what the previous user still had coming
	c.user = p
	if c.opts.autoConsent {
		c.w.setAutoConsent(p)
	}
	if c.cur != nil && strings.HasPrefix(c.cur.channel, "D") && c.cur.channel != "D"+p.ID {
		c.cur = nil
	}
	if strings.HasPrefix(c.place, "D") {
		c.place = demoChannelID
	}
	where := "a new thread in #" + demoChannelName
	if c.cur != nil {
		where = fmt.Sprintf("thread %d", c.cur.n)
	}
	c.note("Now speaking as %s (%s), in %s.", p.Name, p.RealName, where)
	msgs := c.w.slack.Messages()
	if idx := c.pending[p.ID]; len(idx) > 0 {
		c.note("While you were away, @tandem sent you:")
		for _, i := range idx {
			c.emit(c.formatMessage(i, msgs[i]))
		}
		delete(c.pending, p.ID)
	}
	return nil
}

func (c *consoleState) switchThread(arg string) error {
	if arg == "" || arg == "new" {
		c.cur, c.place = nil, demoChannelID
		c.note("Your next message starts a new thread in #%s.", demoChannelName)
		return nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(arg, "#"))
	if err != nil || n < 1 || n > len(c.threads) {
		return fmt.Errorf("no thread %q: /threads lists them", arg)
	}
	t := c.threads[n-1]
	if strings.HasPrefix(t.channel, "D") && t.channel != "D"+c.user.ID {
		owner, _ := demoPersonByID(strings.TrimPrefix(t.channel, "D"))
		return fmt.Errorf("thread %d is in %s's direct messages with @tandem: /as %s first", n, owner.Name, owner.Name)
	}
	c.cur = t
	c.note("Now in thread %d: %s", n, c.threadSummary(t))
	return nil
}

func (c *consoleState) threadSummary(t *consoleThread) string {
	who := "tandem"
	if p, ok := demoPersonByID(t.starter); ok {
		who = p.Name
	}
	where := "#" + demoChannelName
	if strings.HasPrefix(t.channel, "D") {
		where = "DM"
	}
	return fmt.Sprintf("%s, started by %s: %s", where, who, consoleClip(t.text, 60))
}

func (c *consoleState) listThreads() {
	if len(c.threads) == 0 {
		c.note("No threads yet: type a message (@tandem help) to start one.")
		return
	}
	var b strings.Builder
	for _, t := range c.threads {
		mark := " "
		if t == c.cur {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s %2d  %s\n", mark, t.n, c.threadSummary(t))
	}
	c.emit(b.String())
}

// history shows the current thread as the current user sees it.
func (c *consoleState) history() {
	if c.cur == nil {
		c.note("No current thread: /threads lists them.")
		return
	}
	c.printNew()
	type entry struct {
		ts   string
		text string
	}
	var entries []entry
	for _, s := range c.said {
		if s.channel == c.cur.channel && s.root == c.cur.root {
			p, _ := demoPersonByID(s.user)
			entries = append(entries, entry{s.ts, c.style(kitBold, p.Name) + ": " + s.text + "\n"})
		}
	}
	for i, m := range c.w.slack.Messages()[:c.seen] {
		if m.Channel != c.cur.channel || (m.ThreadTS != c.cur.root && m.TS != c.cur.root) {
			continue
		}
		if who := consoleVisibleTo(m); who != "" && who != c.user.ID {
			continue
		}
		entries = append(entries, entry{m.TS, c.formatMessage(i, m)})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.ts, b.ts) })
	c.note("Thread %d (%s):", c.cur.n, c.threadSummary(c.cur))
	for _, e := range entries {
		c.emit(e.text)
	}
}

func (c *consoleState) listUsers(ctx context.Context) {
	var b strings.Builder
	for _, p := range demoPeople {
		links, _ := c.w.app.DB().Links(ctx, c.w.app.Bot().Team(), p.ID)
		var linked []string
		for _, l := range links {
			linked = append(linked, l.Provider.Name()+": "+l.Login)
		}
		state := "nothing connected"
		if len(linked) > 0 {
			state = strings.Join(linked, ", ")
		}
		mark := " "
		if p.ID == c.user.ID {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s %-6s %-14s %s\n", mark, p.Name, p.RealName, state)
		fmt.Fprintf(&b, "         %s\n", c.style(kitDim, p.Note+"; demo logins "+p.demoLoginList()))
	}
	c.emit(b.String())
}

// channel is where slash commands and shortcuts run: the current thread's
// channel, or where the next thread would start.
func (c *consoleState) channel() string {
	if c.cur != nil {
		return c.cur.channel
	}
	return c.place
}

// slash runs a slash command and shows its private answer.
func (c *consoleState) slash(ctx context.Context, command, text string) error {
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	views := len(c.w.slack.Views())
	ack, err := c.w.slack.SendSlashCommand(sctx, fakeslack.SlashCommand{Command: command, Text: text, UserID: c.user.ID, ChannelID: c.channel()})
	if err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	var body struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	json.Unmarshal(ack, &body)
	c.acks++
	key := fmt.Sprintf("ack%d", c.acks)
	loc := shownControl{owner: c.user.ID, channel: c.channel(), ephemeral: true}
	if c.cur != nil {
		loc.thread = c.cur.root
	}
	r := c.renderer(key, loc)
	var shown []int
	number := r.control
	r.control = func(k kitControl) int {
		n := number(k)
		shown = append(shown, n)
		return n
	}
	lines := r.blocks(body.Blocks, body.Text)
	c.emit(c.formatLines(strings.TrimSpace(command+" "+text)+" · "+c.style(kitYellow, "only visible to you"), lines))
	if k := consoleKeyRe.FindString(string(ack)); k != "" && strings.Contains(text, "apikey create") {
		c.keys[c.user.ID] = k
		c.note("(the console keeps this key for /api)")
	}
	if command == "/connect" && text != "" {
		for _, n := range shown {
			if u := c.byNum[n].URL; u != "" {
				if err := c.openURL(ctx, u, n); err != nil {
					return err
				}
				break
			}
		}
	}
	c.after(ctx, views, false)
	return nil
}

// after waits for the step's consequences and shows them: messages, a
// modal the bot opened, the App Home when it was on screen.
func (c *consoleState) after(ctx context.Context, viewsBefore int, homeShown bool) {
	c.settle(ctx)
	c.printNew()
	views := c.w.slack.Views()
	var opened *fakeslack.Message
	published := false
	for i := viewsBefore; i < len(views); i++ {
		v := views[i]
		if v.User != c.user.ID {
			continue
		}
		switch v.Method {
		case "views.open":
			opened = &views[i]
		case "views.publish":
			published = true
		}
	}
	if opened != nil {
		var view map[string]any
		json.Unmarshal(opened.View, &view)
		c.showModal(view)
	}
	if published && homeShown {
		c.showHome()
	}
}

// openURL follows a URL button: in the console's own browser with
// --auto-consent (and in scripts), else it prints the link for a real one.
func (c *consoleState) openURL(ctx context.Context, u string, n int) error {
	if !c.opts.autoConsent {
		c.emit(fmt.Sprintf("Open this link in your browser: %s\n", c.style(kitBold, u)))
		c.note("(the built-in Slack's page asks who you are and the demo provider's which account; /open %d signs in to both as %s from here)", n, c.user.Name)
		return nil
	}
	return c.browse(ctx, u)
}

func (c *consoleState) open(ctx context.Context, arg string) error {
	u := arg
	if n, err := strconv.Atoi(arg); err == nil {
		sc, ok := c.byNum[n]
		if !ok || sc.URL == "" {
			return fmt.Errorf("[%d] is not a link", n)
		}
		u = sc.URL
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return errors.New("open what? give a button number or a URL")
	}
	views := len(c.w.slack.Views())
	if err := c.browse(ctx, u); err != nil {
		return err
	}
	c.after(ctx, views, false)
	return nil
}
