package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// bearer adds an API key to every request of an MCP client.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

// mcpSession connects the go-sdk's own client to the env's /mcp with key.
func (e *env) mcpSession(key string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "tandem-e2e", Version: "1"}, nil)
	transport := &mcp.StreamableClientTransport{Endpoint: e.public + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{key: key, next: http.DefaultTransport}}}
	return client.Connect(ctxFor(e.t), transport, nil)
}

// callText calls tool with args and returns its text and whether it failed.
func callText(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := s.CallTool(ctxFor(t), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n"), res.IsError
}

// TestMCPToolsActAsTheKeysCreator: the go-sdk client lists Tandem's tools
// (no session control, connect or key among them; changes marked
// destructive), and a read reaches GitHub with the key creator's own token;
// a creator without the link gets Slack's words and a DM with the button;
// two clients with two creators at once each act as their own creator.
func TestMCPToolsActAsTheKeysCreator(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	aliceKey := e.createKey("UALICE", "laptop")
	s, err := e.mcpSession(aliceKey)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer s.Close()
	tools, err := s.ListTools(ctxFor(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		if tool.Name == "github_comment" && (tool.Annotations == nil || tool.Annotations.ReadOnlyHint || tool.Annotations.DestructiveHint == nil || !*tool.Annotations.DestructiveHint) {
			t.Errorf("github_comment is not marked as a destructive change: %+v", tool.Annotations)
		}
		if tool.Name == "github_my_prs" && (tool.Annotations == nil || !tool.Annotations.ReadOnlyHint) {
			t.Errorf("github_my_prs is not marked read-only: %+v", tool.Annotations)
		}
	}
	for _, want := range []string{"whoami", "github_my_prs", "github_comment", "jira_my_issues"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
	for _, name := range names {
		for _, banned := range []string{"set", "unset", "editors", "connect", "apikey", "persistent", "audit", "session"} {
			if strings.Contains(name, banned) {
				t.Errorf("tools/list offers %s, which is about sessions, links or keys", name)
			}
		}
	}
	before := len(e.requests(tandem.GitHub))
	if text, failed := callText(t, s, "github_my_prs", nil); failed {
		t.Fatalf("github_my_prs failed: %s", text)
	}
	for _, r := range e.requests(tandem.GitHub)[before:] {
		if r.login != "alice-gh" {
			t.Errorf("GitHub received %s's token for alice's key", r.login)
		}
	}
	if text, _ := callText(t, s, "whoami", nil); !strings.Contains(text, "alice-gh") {
		t.Errorf("whoami does not name the creator's account: %s", text)
	}

	// Bob has no Jira link: his key's call says so, and he gets the button.
	bobKey := e.createKey("UBOB", "cursor")
	bs, err := e.mcpSession(bobKey)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	text, failed := callText(t, bs, "jira_my_issues", nil)
	if !failed || !strings.Contains(text, "Jira credentials not configured for <@UBOB>, the creator of API key cursor") {
		t.Errorf("a call without the creator's link: failed=%v %q", failed, text)
	}
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postMessage" && m.Channel == "DUBOB" && strings.Contains(string(m.Blocks), "/connect/jira")
	}); err != nil {
		t.Errorf("bob got no DM with a Connect button: %v", err)
	}

	// Both at once: every search carries its own creator's token.
	before = len(e.requests(tandem.GitHub))
	var wg sync.WaitGroup
	for _, sess := range []*mcp.ClientSession{s, bs, s, bs, s, bs} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sess.CallTool(ctxFor(t), &mcp.CallToolParams{Name: "github_my_prs", Arguments: map[string]any{}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var logins []string
	for _, r := range e.requests(tandem.GitHub)[before:] {
		logins = append(logins, r.login)
	}
	slices.Sort(logins)
	if want := []string{"alice-gh", "alice-gh", "alice-gh", "bob-gh", "bob-gh", "bob-gh"}; !slices.Equal(logins, want) {
		t.Errorf("logins at GitHub for three calls each: %v, want %v", logins, want)
	}
	e.checkSecrets()
}

// TestMCPSessionEndsWithItsKey: a session whose key is revoked is refused
// at its next call, and a bad key never connects.
func TestMCPSessionEndsWithItsKey(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	key := e.createKey("UALICE", "laptop")
	s, err := e.mcpSession(key)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if text, failed := callText(t, s, "github_my_prs", nil); failed {
		t.Fatalf("before revocation: %s", text)
	}
	if _, err := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "apikey revoke " + key[:len("tdm_")+8], UserID: "UALICE", ChannelID: channel}); err != nil {
		t.Fatal(err)
	}
	before := len(e.requests(tandem.GitHub))
	if _, err := s.CallTool(ctxFor(t), &mcp.CallToolParams{Name: "github_my_prs", Arguments: map[string]any{}}); err == nil {
		t.Error("a call with a revoked key succeeded")
	}
	if n := len(e.requests(tandem.GitHub)) - before; n != 0 {
		t.Errorf("%d requests reached GitHub after the key was revoked", n)
	}
	if _, err := e.mcpSession("tdm_nope_nope"); err == nil {
		t.Error("a client connected with an unknown key")
	}
}

// TestMCPRefusesOtherOriginsAndExpiredKeys: a request a browser page of
// another site makes with a valid key is refused (403), as the MCP
// specification asks of HTTP servers; a key past its expiry never connects.
func TestMCPRefusesOtherOriginsAndExpiredKeys(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	key := e.createKey("UALICE", "laptop")
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"page","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, e.public+"/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site request answered %d, want 403", resp.StatusCode)
	}
	short := e.createKey("UALICE", "short --expires 1s")
	waitFor(t, "the short key to expire", func() bool {
		s, err := e.mcpSession(short)
		if err == nil {
			s.Close()
		}
		return err != nil
	})
}

// TestMCPChangeNeedsAWriteKey: a change tool called with a read key (the
// default) is a tool error naming the scope it needs, and nothing reaches
// GitHub; with a write key it is made, as the key's creator.
func TestMCPChangeNeedsAWriteKey(t *testing.T) {
	e := newEnv(t)
	e.gh.AddRepo("acme/widgets")
	pr := e.gh.AddPullRequest("acme/widgets", "alice-gh", "Fix the login test", false)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	args := map[string]any{"ref": "acme/widgets#" + strconv.Itoa(pr), "text": "Shipped"}
	read, err := e.mcpSession(e.createKey("UALICE", "laptop"))
	if err != nil {
		t.Fatal(err)
	}
	defer read.Close()
	before := len(e.requests(tandem.GitHub))
	text, failed := callText(t, read, "github_comment", args)
	if !failed || !strings.Contains(text, "read scope") || !strings.Contains(text, "--scope write") {
		t.Errorf("a change with a read key: failed=%v %q; want a tool error naming the scope", failed, text)
	}
	if n := len(e.requests(tandem.GitHub)) - before; n != 0 || len(e.gh.Comments()) != 0 {
		t.Errorf("a read key's change reached GitHub (%d requests, %d comments)", n, len(e.gh.Comments()))
	}
	write, err := e.mcpSession(e.createKey("UALICE", "agent --scope write"))
	if err != nil {
		t.Fatal(err)
	}
	defer write.Close()
	if text, failed := callText(t, write, "github_comment", args); failed {
		t.Fatalf("a change with a write key failed: %s", text)
	}
	comments := e.gh.Comments()
	if len(comments) != 1 || comments[0].AuthorLogin != "alice-gh" || comments[0].Body != "Shipped" {
		t.Errorf("comments at GitHub: %+v; want one, by the key's creator alice-gh", comments)
	}
}

// TestREADMEListsEveryMCPTool: the README's list of MCP tools is the list
// the server offers, reads and changes apart, so their names stay stable
// and documented.
func TestREADMEListsEveryMCPTool(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "reads `whoami`")
	end := strings.Index(text, "`jira_move`.")
	if start < 0 || end < 0 {
		t.Fatal("the README has no list of MCP tools (from \"reads `whoami`\" to \"`jira_move`.\")")
	}
	list := text[start : end+len("`jira_move`.")]
	reads, changes, _ := strings.Cut(list, "changes")
	for _, tool := range agent.Tools(app.Operations().Specs()) {
		part := reads
		if tool.Change {
			part = changes
		}
		if !strings.Contains(part, "`"+tool.Name+"`") {
			t.Errorf("the README does not list %s among the MCP %s", tool.Name, map[bool]string{true: "changes", false: "reads"}[tool.Change])
		}
	}
	if n := len(regexp.MustCompile("`[a-z_]+`").FindAllString(list, -1)); n != len(agent.Tools(app.Operations().Specs()))+1 {
		t.Errorf("the README lists %d MCP tools, the server offers %d (with whoami)", n, len(agent.Tools(app.Operations().Specs()))+1)
	}
}

// TestMCPCallsAreAudited: every MCP call's resolution is an audit record
// that names the key, its creator and MCP, as tandem audit shows it, and
// the creator's App Home lists it.
func TestMCPCallsAreAudited(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UBOB", "bob-gh")
	s, err := e.mcpSession(e.createKey("UBOB", "laptop"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if text, failed := callText(t, s, "github_review_requests", nil); failed {
		t.Fatal(text)
	}
	var out, errs bytes.Buffer
	if err := run(ctxFor(t), []string{"audit", "--user", "UBOB", "--json"}, e.getenv, &out, &errs); err != nil {
		t.Fatalf("tandem audit: %v\n%s", err, errs.String())
	}
	found := false
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r tandem.AuditRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Action == "resolve" && r.Detail == "via API key laptop of <@UBOB>, MCP: github.review_requests" &&
			strings.HasPrefix(r.Actor, "apikey:") && r.Effective == "UBOB" && r.Reason == tandem.ReasonAPIKeyCreator && r.Provider == tandem.GitHub {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit record of the MCP call in:\n%s", out.String())
	}
	// Bob opens his App Home.
	if _, err := e.slack.SendEvent(ctxFor(t), e.slack.AppHomeOpenedEvent("UBOB")); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UBOB", "via API key laptop of &lt;@UBOB&gt;, MCP: github.review_requests")
}
