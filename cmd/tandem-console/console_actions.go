package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// consoleKeyRe finds an API key in the answer to /tandem apikey create.
var consoleKeyRe = regexp.MustCompile(`tdm_[a-z2-7]+_[A-Za-z0-9_-]+`)

// consoleSettingsShortcut is the Session settings message shortcut's callback id (manifest.yaml).
const consoleSettingsShortcut = "session_settings"

// consoleMaxAPILines bounds the JSON /api prints.
const consoleMaxAPILines = 40

// browse follows u as the current user's browser would: the Tandem landing
// page, Sign in with Slack (signed in as the current user), the demo
// provider's consent page (answered as the user's own demo
// account, with login=), the callback, and shows the final page.
func (c *consoleState) browse(ctx context.Context, u string) error {
	jar, _ := cookiejar.New(nil)
	who := c.user
	// The person's browser is signed in to Slack as them, so Sign in with
	// Slack is one hop, and a link made for someone else is refused.
	if base, err := url.Parse(c.w.slack.BaseURL()); err == nil {
		jar.SetCookies(base, []*http.Cookie{c.w.slack.SignInCookie(who.ID)})
	}
	client := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			p, ok := c.w.providerHosts[req.URL.Host]
			q := req.URL.Query()
			if ok && q.Get("client_id") != "" && q.Get("login") == "" {
				q.Set("login", who.Logins[p])
				req.URL.RawQuery = q.Encode()
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("open %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("open the link: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	title, text := consolePageText(string(body))
	mark := c.style(kitGreen, "browser")
	if resp.StatusCode >= 400 {
		mark = c.style(kitRed, fmt.Sprintf("browser (HTTP %d)", resp.StatusCode))
	}
	c.emit(fmt.Sprintf("%s ─ %s\n  %s\n", mark, c.style(kitBold, title), text))
	return nil
}

// findControl finds a control by number, or by label: the newest one the
// current user can see.
func (c *consoleState) findControl(target string) (*shownControl, error) {
	if n, err := strconv.Atoi(strings.Trim(target, "[]")); err == nil {
		sc, ok := c.byNum[n]
		if !ok {
			return nil, fmt.Errorf("no button [%d] has been shown", n)
		}
		return sc, nil
	}
	var other *shownControl
	for n := len(c.byNum); n >= 1; n-- {
		sc := c.byNum[n]
		if !strings.EqualFold(strings.TrimSpace(sc.Label), target) {
			continue
		}
		if sc.owner == "" || sc.owner == c.user.ID {
			return sc, nil
		}
		if other == nil {
			other = sc
		}
	}
	if other != nil {
		return other, nil // refused below, with who can press it
	}
	return nil, fmt.Errorf("no button labelled %q has been shown", target)
}

// press presses a button (or picks an option of a menu): a link button is
// followed like /connect's, an action button sends block_actions.
func (c *consoleState) press(ctx context.Context, arg string) error {
	if arg == "" {
		return errors.New("press which button? give its number or label")
	}
	target, option := arg, ""
	if first, rest, ok := strings.Cut(arg, " "); ok {
		if _, err := strconv.Atoi(strings.Trim(first, "[]")); err == nil {
			target, option = first, strings.TrimSpace(rest)
		}
	}
	sc, err := c.findControl(target)
	if err != nil {
		return err
	}
	if sc.owner != "" && sc.owner != c.user.ID {
		owner, _ := demoPersonByID(sc.owner)
		return fmt.Errorf("[%d: %s] is only visible to %s: /as %s to press it", sc.n, sc.Label, owner.Name, owner.Name)
	}
	if sc.URL != "" {
		if option != "" {
			return fmt.Errorf("[%d: %s] is a link button; it has no options", sc.n, sc.Label)
		}
		views := len(c.w.slack.Views())
		if err := c.openURL(ctx, sc.URL, sc.n); err != nil {
			return err
		}
		c.after(ctx, views, false)
		return nil
	}
	if sc.Confirm != "" {
		c.note("(confirming “%s”)", sc.Confirm)
	}
	payload := c.w.slack.BlockActionsPayload(fakeslack.BlockActionSpec{
		UserID: c.user.ID, ChannelID: sc.channel, MessageTS: sc.ts, ThreadTS: sc.thread,
		ActionID: sc.ActionID, BlockID: sc.BlockID, Value: sc.Value, Ephemeral: sc.ephemeral,
	})
	if len(sc.Options) > 0 {
		o, err := kitPickOption(sc.Options, option)
		if err != nil {
			return err
		}
		acts, _ := payload["actions"].([]any)
		if len(acts) == 1 {
			a := acts[0].(map[string]any)
			a["type"] = sc.Kind
			delete(a, "value")
			delete(a, "text")
			a["selected_option"] = map[string]any{"value": o.Value, "text": map[string]any{"type": "plain_text", "text": o.Text}}
		}
	} else if option != "" {
		return fmt.Errorf("[%d: %s] is a button; it has no options", sc.n, sc.Label)
	}
	if sc.home {
		payload["container"] = map[string]any{"type": "view"}
		payload["view"] = map[string]any{"type": "home"}
		delete(payload, "channel")
		delete(payload, "message")
	}
	views := len(c.w.slack.Views())
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.w.slack.SendInteraction(sctx, payload); err != nil {
		return fmt.Errorf("press [%d]: %w", sc.n, err)
	}
	c.note("(pressed [%d: %s])", sc.n, sc.Label)
	c.after(ctx, views, sc.home)
	return nil
}

// kitPickOption finds an option by number, value or text.
func kitPickOption(opts []kitOption, choice string) (kitOption, error) {
	choice = strings.TrimSpace(choice)
	if choice == "" {
		var names []string
		for i, o := range opts {
			names = append(names, fmt.Sprintf("%d. %s", i+1, o.Text))
		}
		return kitOption{}, fmt.Errorf("choose one of: %s", strings.Join(names, ", "))
	}
	if n, err := strconv.Atoi(choice); err == nil && n >= 1 && n <= len(opts) {
		return opts[n-1], nil
	}
	for _, o := range opts {
		if strings.EqualFold(o.Value, choice) || strings.EqualFold(o.Text, choice) {
			return o, nil
		}
	}
	for _, o := range opts {
		if strings.Contains(strings.ToLower(o.Text), strings.ToLower(choice)) {
			return o, nil
		}
	}
	return kitOption{}, fmt.Errorf("no option %q", choice)
}

// settings runs the Session settings message shortcut on the current
// thread's first message; the bot answers with a modal.
func (c *consoleState) settings(ctx context.Context) error {
	if c.cur == nil {
		return errors.New("/settings works on a thread: go to one with /thread <n>")
	}
	views := len(c.w.slack.Views())
	payload := c.w.slack.MessageShortcutPayload(fakeslack.ShortcutSpec{
		CallbackID: consoleSettingsShortcut, UserID: c.user.ID, ChannelID: c.cur.channel,
		MessageTS: c.cur.root, MessageUser: c.cur.starter, MessageText: c.cur.text,
	})
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.w.slack.SendInteraction(sctx, payload); err != nil {
		return fmt.Errorf("session settings: %w", err)
	}
	c.after(ctx, views, false)
	if c.modal == nil {
		return errors.New("the bot opened no modal")
	}
	return nil
}

// showModal renders a modal view and keeps it for /submit.
func (c *consoleState) showModal(view map[string]any) {
	c.modal = &consoleModal{user: c.user.ID, view: view}
	raw, _ := json.Marshal(view["blocks"])
	r := c.renderer("", shownControl{})
	lines := r.blocks(raw, "")
	title := r.textObject(view["title"])
	c.emit(c.formatLines("modal “"+title+"” · "+c.style(kitYellow, "only visible to you"), lines))
	if k := consoleKeyRe.FindString(strings.Join(lines, "\n")); k != "" {
		c.keys[c.user.ID] = k
		c.note("(the console keeps this key for /api)")
	}
	if submit := r.textObject(view["submit"]); submit != "" {
		c.note("(/submit <choice> to %s, /close to close)", submit)
	} else {
		c.note("(/close to close)")
	}
}

// inputs are the modal's inputs: block id, element.
func (m *consoleModal) inputs() []map[string]any {
	var out []map[string]any
	for _, b := range kitArr(m.view["blocks"]) {
		if bm := kitObj(b); kitStr(bm["type"]) == "input" {
			out = append(out, bm)
		}
	}
	return out
}

// submit submits the open modal. arg is a choice for a single input, or
// block=value pairs.
func (c *consoleState) submit(ctx context.Context, arg string) error {
	m := c.modal
	if m == nil || m.user != c.user.ID {
		return errors.New("no modal is open: /settings opens one")
	}
	if kitStr(kitObj(m.view["submit"])["text"]) == "" {
		return errors.New("this modal has nothing to submit: /close it")
	}
	inputs := m.inputs()
	given := map[string]string{}
	var bare []string
	for _, f := range strings.Fields(arg) {
		k, v, ok := strings.Cut(f, "=")
		matched := false
		if ok {
			for _, in := range inputs {
				label := strings.ToLower(kitStr(kitObj(in["label"])["text"]))
				if strings.EqualFold(k, kitStr(in["block_id"])) || strings.ToLower(k) == label {
					given[kitStr(in["block_id"])] = v
					matched = true
				}
			}
		}
		if !matched {
			bare = append(bare, f)
		}
	}
	if len(bare) > 0 {
		for _, in := range inputs {
			if _, ok := given[kitStr(in["block_id"])]; !ok {
				given[kitStr(in["block_id"])] = strings.Join(bare, " ")
				break
			}
		}
	}
	values := map[string]map[string]any{}
	for _, in := range inputs {
		id := kitStr(in["block_id"])
		el := kitObj(in["element"])
		action, typ := kitStr(el["action_id"]), kitStr(el["type"])
		v, ok := given[id]
		switch typ {
		case "radio_buttons", "static_select":
			var opts []kitOption
			for _, o := range kitArr(el["options"]) {
				om := kitObj(o)
				opts = append(opts, kitOption{Value: kitStr(om["value"]), Text: kitStr(kitObj(om["text"])["text"])})
			}
			var o kitOption
			if ok {
				var err error
				if o, err = kitPickOption(opts, v); err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
			} else if init := kitObj(el["initial_option"]); init != nil {
				o = kitOption{Value: kitStr(init["value"]), Text: kitStr(kitObj(init["text"])["text"])}
			} else {
				_, err := kitPickOption(opts, "")
				return fmt.Errorf("%s: %w", id, err)
			}
			values[id] = map[string]any{action: map[string]any{"type": typ,
				"selected_option": map[string]any{"value": o.Value, "text": map[string]any{"type": "plain_text", "text": o.Text}}}}
		default:
			values[id] = map[string]any{action: map[string]any{"type": typ, "value": v}}
		}
	}
	payload := c.w.slack.ViewSubmissionPayload(fakeslack.SubmissionSpec{
		UserID: c.user.ID, CallbackID: kitStr(m.view["callback_id"]), PrivateMetadata: kitStr(m.view["private_metadata"]), Values: values,
	})
	views := len(c.w.slack.Views())
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ack, err := c.w.slack.SendInteraction(sctx, payload)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	var resp struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
		View   map[string]any    `json:"view"`
	}
	json.Unmarshal(ack, &resp)
	switch resp.Action {
	case "errors":
		for id, msg := range resp.Errors {
			c.fail("✗ %s: %s", id, msg)
		}
		c.note("(the modal stays open)")
	case "update", "push":
		c.showModal(resp.View)
	default:
		c.modal = nil
		c.note("(submitted; the modal closed)")
	}
	c.after(ctx, views, false)
	return nil
}

// home opens the current user's App Home tab.
func (c *consoleState) home(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	before := len(c.w.slack.Views())
	if _, err := c.w.slack.SendEvent(sctx, c.w.slack.AppHomeOpenedEvent(c.user.ID)); err != nil {
		return fmt.Errorf("open the App Home: %w", err)
	}
	published := func() bool {
		for _, v := range c.w.slack.Views()[before:] {
			if v.Method == "views.publish" && v.User == c.user.ID {
				return true
			}
		}
		return false
	}
	if err := c.w.slack.WaitFor(sctx, published); err != nil {
		return fmt.Errorf("the App Home was not published: %w", err)
	}
	c.settle(ctx)
	c.printNew()
	c.showHome()
	return nil
}

// showHome renders the App Home the bot last published for the user.
func (c *consoleState) showHome() {
	raw, ok := c.w.slack.HomeView(c.user.ID)
	if !ok {
		c.note("(your App Home is empty)")
		return
	}
	var view struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	json.Unmarshal(raw, &view)
	c.homes++
	lines := c.renderer(fmt.Sprintf("home%d", c.homes), shownControl{owner: c.user.ID, home: true}).blocks(view.Blocks, "")
	c.emit(c.formatLines("App Home · "+c.style(kitYellow, "only visible to you"), lines))
}

// api calls Tandem's HTTP API with the current user's newest API key:
// "POST [path] json" or "GET path".
func (c *consoleState) api(ctx context.Context, arg string) error {
	method, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	method = strings.ToUpper(method)
	if method != "GET" && method != "POST" {
		return errors.New(`usage: /api POST [path] {"channel":"$channel","text":"list my open PRs"}  or  /api GET /api/v1/whoami`)
	}
	rest = strings.TrimSpace(rest)
	path := "/api/v1/messages"
	if strings.HasPrefix(rest, "/") {
		path, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
	}
	key := c.keys[c.user.ID]
	if key == "" {
		return fmt.Errorf("%s has no API key yet: /tandem apikey create <name> makes one", c.user.Name)
	}
	root := ""
	if c.cur != nil {
		root = c.cur.root
	}
	body := strings.NewReplacer("$channel", c.channel(), "$thread", root, `"#`+demoChannelName+`"`, `"`+demoChannelID+`"`).Replace(rest)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.w.public+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	views := len(c.w.slack.Views())
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "  ", "  ") != nil {
		pretty.Reset()
		pretty.Write(raw)
	}
	out := strings.Split(strings.TrimRight(pretty.String(), "\n"), "\n")
	if len(out) > consoleMaxAPILines {
		out = append(out[:consoleMaxAPILines], fmt.Sprintf("  … (%d more lines)", len(out)-consoleMaxAPILines))
	}
	status := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode >= 400 {
		status = c.style(kitRed, status)
	} else {
		status = c.style(kitGreen, status)
	}
	c.emit(fmt.Sprintf("%s %s ─ %s\n  %s\n", method, path, status, strings.Join(out, "\n")))
	c.after(ctx, views, false)
	return nil
}

// operator runs what an operator does at the server's shell: "apikey NAME
// for PERSON" makes a key that acts as that person, as `tandem apikey
// create --user` does while tandem serve runs, so it waits for the
// person's Allow (Tandem asks them by direct message). The key becomes
// that person's newest, for /api.
func (c *consoleState) operator(ctx context.Context, arg string) error {
	f := strings.Fields(arg)
	if len(f) != 4 || f[0] != "apikey" || f[2] != "for" {
		return errors.New("usage: /operator apikey <name> for <person>   (as tandem apikey create --user at the server)")
	}
	p, ok := demoPersonNamed(f[3])
	if !ok {
		return fmt.Errorf("no demo user %q: try %s", f[3], demoNames())
	}
	views := len(c.w.slack.Views())
	key, rec, err := c.w.app.Keys().CreateTextScoped(ctx, c.w.app.Bot().Team(), p.ID, f[1], "", "", "operator")
	if err != nil {
		return err
	}
	c.keys[p.ID] = key
	asked := "Tandem asked them by direct message"
	if err := c.w.app.Bot().AskKeyApproval(ctx, rec); err != nil {
		asked = "Slack refused Tandem's direct message: " + err.Error()
	}
	c.note("Operator: created API key %s (%s) that acts as %s; it runs nothing until %s allows it (%s).", rec.Name, rec.Prefix, p.Name, p.Name, asked)
	c.after(ctx, views, false)
	return nil
}
