package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// tsClientDir is ci/mcp-ts, seen from this package's directory (where go
// test runs it): the official TypeScript SDK's client, installed by
// `npm ci --prefix ci/mcp-ts`, which .ci/run does.
const tsClientDir = "../../ci/mcp-ts"

// tsClientInstall is what to do when the TypeScript client is not there.
const tsClientInstall = "run npm ci --prefix ci/mcp-ts (bash .ci/run does)"

// tsClient is the outcome of one run of ci/mcp-ts/client.mjs.
type tsClient struct {
	code   int
	stdout string
	stderr string
	out    struct {
		Tools  []string `json:"tools"`
		Result struct {
			IsError bool   `json:"isError"`
			Text    string `json:"text"`
		} `json:"result"`
	}
}

// nodeForTSClient returns node's path, failing the test (never skipping:
// CI installs both) when node or the client's installed SDK is missing or
// is not the version package.json pins.
func nodeForTSClient(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node >= 20, then %s", err, tsClientInstall)
	}
	var pkg struct {
		Version      string            `json:"version"`
		Dependencies map[string]string `json:"dependencies"`
	}
	raw, err := os.ReadFile(filepath.Join(tsClientDir, "package.json"))
	if err != nil || json.Unmarshal(raw, &pkg) != nil {
		t.Fatalf("read %s/package.json: %v", tsClientDir, err)
	}
	want := pkg.Dependencies["@modelcontextprotocol/sdk"]
	pkg.Version = ""
	raw, err = os.ReadFile(filepath.Join(tsClientDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json"))
	if err != nil {
		t.Fatalf("the TypeScript MCP SDK is not installed in ci/mcp-ts/node_modules: %s", tsClientInstall)
	}
	if err := json.Unmarshal(raw, &pkg); err != nil || pkg.Version != want {
		t.Fatalf("ci/mcp-ts/node_modules has @modelcontextprotocol/sdk %q, package.json pins %q: %s", pkg.Version, want, tsClientInstall)
	}
	return node
}

// runTSClient runs `node ci/mcp-ts/client.mjs url key tool` and decodes its
// answer when it exits 0.
func runTSClient(t *testing.T, node, url, key, tool string) tsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(tsClientDir, "client.mjs"), url, key, tool)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := tsClient{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.code = exit.ExitCode()
	default:
		t.Fatalf("node client.mjs %s: %v\nstderr: %s", tool, err, r.stderr)
	}
	if r.code == 0 {
		if err := json.Unmarshal(stdout.Bytes(), &r.out); err != nil {
			t.Fatalf("client.mjs printed no JSON answer (%v): %q\nstderr: %s", err, r.stdout, r.stderr)
		}
	}
	return r
}

// TestMCPTypeScriptClient: a second, independent client, the official
// TypeScript SDK (ci/mcp-ts), against the real run: it lists Tandem's tools
// and calls github_my_prs, which reaches GitHub with the key creator's own
// token only; a bad key never connects (401, exit 2).
func TestMCPTypeScriptClient(t *testing.T) {
	node := nodeForTSClient(t)
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	key := e.createKey("UALICE", "ts-ci")

	before := len(e.requests(tandem.GitHub))
	r := runTSClient(t, node, e.public+"/mcp", key, "github_my_prs")
	if r.code != 0 {
		t.Fatalf("client.mjs exited %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("client.mjs: %s", strings.TrimSpace(r.stderr))
	for _, want := range []string{"whoami", "github_my_prs"} {
		if !slices.Contains(r.out.Tools, want) {
			t.Errorf("tools/list lacks %s: %v", want, r.out.Tools)
		}
	}
	if r.out.Result.IsError {
		t.Fatalf("github_my_prs failed: %s", r.out.Result.Text)
	}
	if !strings.Contains(r.out.Result.Text, "Fix the thing alice found") {
		t.Errorf("github_my_prs does not list alice's PR: %s", r.out.Result.Text)
	}
	after := e.requests(tandem.GitHub)[before:]
	if len(after) == 0 {
		t.Error("the call reached GitHub with no request")
	}
	for _, q := range after {
		if q.login != "alice-gh" {
			t.Errorf("GitHub received %s's token (%s) for alice's key", q.login, q.path)
		}
	}

	before = len(e.requests(tandem.GitHub))
	bad := runTSClient(t, node, e.public+"/mcp", "tdm_nope_nope", "github_my_prs")
	if bad.code != 2 || !strings.Contains(bad.stderr, "unauthorized") {
		t.Errorf("a bad key: exit %d, want 2 and \"unauthorized\"\nstdout: %s\nstderr: %s", bad.code, bad.stdout, bad.stderr)
	}
	if n := len(e.requests(tandem.GitHub)) - before; n != 0 {
		t.Errorf("%d requests reached GitHub with a bad key", n)
	}
	e.checkSecrets()
}
