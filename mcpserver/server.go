// Package mcpserver serves Tandem's operations over the Model Context
// Protocol (Streamable HTTP, with the official Go SDK), so that an agent
// outside Slack (Claude, Cursor, a script) acts with exactly its API key's
// creator's own accounts. The caller authenticates every request and puts
// the key in the request's context (KeyFrom); this package never sees a
// token of any provider.
package mcpserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
)

// Runner runs one operation as an API key's creator (turns.Engine.RunTool
// through the bot).
type Runner interface {
	RunTool(ctx context.Context, key tandem.APIKey, op string, args map[string]string) (string, *tandem.Identity, error)
}

// Config wires a Handler.
type Config struct {
	// Tools are the operations' tools (agent.Tools), whoami added here.
	Tools  []agent.Tool
	Runner Runner
	// KeyFrom returns the API key the request was authenticated with.
	KeyFrom func(ctx context.Context) (tandem.APIKey, bool)
	Version string
	Logger  *slog.Logger
}

// keyExtra names the key in an MCP request's token information.
const keyExtra = "tandem_api_key"

// Handler returns the /mcp endpoint. The requests that reach it are already
// authenticated (Config.KeyFrom): each MCP session is bound to its key (a
// request with another key on it is refused), and a key revoked or expired
// ends its sessions at their next request, which the authentication
// refuses. Requests from a browser page of another origin are refused
// (403), as the MCP specification asks of HTTP servers.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "tandem", Version: cfg.Version}, &mcp.ServerOptions{Logger: cfg.Logger})
	tools := append([]agent.Tool{whoamiTool}, cfg.Tools...)
	for _, t := range tools {
		server.AddTool(mcpTool(t), call(cfg, t))
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Logger: cfg.Logger})
	bind := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		key, ok := cfg.KeyFrom(ctx)
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		expires := key.Expires
		if expires.IsZero() {
			expires = time.Now().Add(24 * time.Hour) // checked again at every request
		}
		return &auth.TokenInfo{UserID: key.Prefix, Expiration: expires, Extra: map[string]any{keyExtra: key}}, nil
	}, nil)
	return http.NewCrossOriginProtection().Handler(bind(h))
}

// whoamiTool says whose identity the key acts as, and which accounts that
// person has linked.
var whoamiTool = agent.Tool{Name: "whoami", Op: "whoami",
	Description: "Whose identity this API key acts as (its creator) and which of their accounts are linked.",
	Schema:      json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`)}

// mcpTool is t as MCP declares it, with the hints clients use to ask their
// user before a change.
func mcpTool(t agent.Tool) *mcp.Tool {
	readOnly, destructive := !t.Change, t.Change
	return &mcp.Tool{Name: t.Name, Description: t.Description, InputSchema: t.Schema,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: readOnly, DestructiveHint: &destructive}}
}

// call runs a tools/call of t as the request's key's creator. Tool failures
// (a missing link, a refused scope, a provider's error) are tool results
// with isError and words for people; arguments that do not fit the
// declaration are refused the same way, before anything runs.
func call(cfg Config, t agent.Tool) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var key tandem.APIKey
		if req.Extra != nil && req.Extra.TokenInfo != nil {
			key, _ = req.Extra.TokenInfo.Extra[keyExtra].(tandem.APIKey)
		}
		if key.Prefix == "" {
			return failed("This call was not made with an API key."), nil
		}
		raw := string(req.Params.Arguments)
		if raw == "" || raw == "null" {
			raw = "{}"
		}
		args, err := t.Args(raw)
		if err != nil {
			return failed(tandem.ErrorMessage(err)), nil
		}
		text, _, err := cfg.Runner.RunTool(ctx, key, t.Op, args)
		if err != nil {
			return failed(toolError(key, err)), nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
	}
}

func failed(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
}
