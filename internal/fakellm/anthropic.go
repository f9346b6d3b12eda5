package fakellm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// NewAnthropic starts a fake Anthropic Messages server that serves only
// POST /v1/messages; point the SDK at BaseURL() (no /v1). The server is
// closed when the test ends.
//
// The key may come as X-Api-Key (SDK v1, the documented header) or as
// Authorization: Bearer (SDK v2); anthropic-version must be present (any
// value: v1 sends 2023-06-01, v2 2026-10-21). Request fields other than
// those below are a 400 in Anthropic's error JSON; metadata (user_id) is
// left out on purpose, as user is for OpenAI.
func NewAnthropic(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, anthropicDialect{}, opts)
}

type anthropicDialect struct{}

type anRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int64          `json:"max_tokens"`
	System        json.RawMessage `json:"system"` // a string or text blocks
	Messages      []anMessage     `json:"messages"`
	Tools         []anTool        `json:"tools"`
	ToolChoice    *anToolChoice   `json:"tool_choice"`
	StopSequences []string        `json:"stop_sequences"`
	Temperature   *float64        `json:"temperature"` // v1 and other clients; v2 has none
	TopP          *float64        `json:"top_p"`
	TopK          *int64          `json:"top_k"`
}

type anMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or blocks
}

type anTool struct {
	Type        string          `json:"type"` // absent or "custom"
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type anToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use"`
}

type anText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anToolUse struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anToolResult struct {
	Type      string          `json:"type"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // a string or text blocks
	IsError   *bool           `json:"is_error"`
}

func (anthropicDialect) name() string { return "anthropic" }
func (anthropicDialect) path() string { return "/v1/messages" }

func (anthropicDialect) authorize(r *http.Request, key string) (int, string) {
	got := r.Header.Get("X-Api-Key")
	if got == "" {
		got, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	switch {
	case got == "":
		return http.StatusUnauthorized, "x-api-key header is required"
	case !keyMatches(got, key):
		return http.StatusUnauthorized, "invalid x-api-key"
	case r.Header.Get("Anthropic-Version") == "":
		return http.StatusBadRequest, "anthropic-version: header is required"
	}
	return 0, ""
}

func (anthropicDialect) decode(body []byte) (Conversation, error) {
	var req anRequest
	if err := strict(body, &req); err != nil {
		return Conversation{}, fmt.Errorf("fakellm: request body: %w", err)
	}
	if req.Model == "" || len(req.Messages) == 0 || req.MaxTokens == nil || *req.MaxTokens < 1 {
		return Conversation{}, errors.New("fakellm: model, messages and max_tokens (>= 1) are required")
	}
	c := Conversation{Model: req.Model, MaxTokens: *req.MaxTokens}
	system, err := anTexts(req.System)
	if err != nil {
		return c, fmt.Errorf("fakellm: system: %w", err)
	}
	c.System = strings.Join(system, "\n\n")
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "custom" || !toolName.MatchString(t.Name) {
			return c, fmt.Errorf("fakellm: tools[%d]: type must be absent or \"custom\" and name match %s", i, toolName)
		}
		if err := checkSchema(t.InputSchema); err != nil {
			return c, fmt.Errorf("fakellm: tools[%d].input_schema: %w", i, err)
		}
		c.Tools = append(c.Tools, Tool{Name: t.Name, Description: t.Description, Schema: t.InputSchema})
	}
	if tc := req.ToolChoice; tc != nil {
		modes := map[string]string{"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
		if modes[tc.Type] == "" || (tc.Type == "tool") != (tc.Name != "") {
			return c, fmt.Errorf("fakellm: tool_choice: type %q with name %q", tc.Type, tc.Name)
		}
		c.ToolChoice, c.ForcedTool = modes[tc.Type], tc.Name
		c.NoParallel = tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse
	}
	pending := map[string]bool{} // tool_use ids of the previous assistant message
	for i, m := range req.Messages {
		if err := anMessageInto(&c, m, pending); err != nil {
			return c, fmt.Errorf("fakellm: messages[%d]: %w", i, err)
		}
	}
	if len(pending) > 0 {
		return c, errors.New("fakellm: the last message's tool_use ids have no tool_result blocks after them")
	}
	return c, nil
}

// anMessageInto appends one wire message to c. pending holds the tool_use
// ids the message must answer (when it is a user message); it is updated.
func anMessageInto(c *Conversation, m anMessage, pending map[string]bool) error {
	blocks, err := anBlocks(m.Content)
	if err != nil {
		return err
	}
	msg := Message{Role: m.Role}
	var results []ToolResult
	var texts []string
	for j, raw := range blocks {
		var head struct {
			Type string `json:"type"`
		}
		json.Unmarshal(raw, &head)
		switch {
		case head.Type == "text":
			var b anText
			if err := strict(raw, &b); err != nil {
				return fmt.Errorf("content[%d]: %w", j, err)
			}
			texts = append(texts, b.Text)
		case head.Type == "tool_use" && m.Role == "assistant":
			var b anToolUse
			if err := strict(raw, &b); err != nil || b.ID == "" || b.Name == "" || len(b.Input) == 0 {
				return fmt.Errorf("content[%d]: a tool_use block needs id, name and input (%v)", j, err)
			}
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Arguments: compact(b.Input)})
		case head.Type == "tool_result" && m.Role == "user":
			var b anToolResult
			if err := strict(raw, &b); err != nil {
				return fmt.Errorf("content[%d]: %w", j, err)
			}
			if !pending[b.ToolUseID] {
				return fmt.Errorf("content[%d]: unexpected tool_use_id %q in tool_result blocks", j, b.ToolUseID)
			}
			delete(pending, b.ToolUseID)
			out, err := anTexts(b.Content)
			if err != nil {
				return fmt.Errorf("content[%d].content: %w", j, err)
			}
			results = append(results, ToolResult{CallID: b.ToolUseID, Content: strings.Join(out, "\n"), IsError: b.IsError != nil && *b.IsError})
		default:
			return fmt.Errorf("content[%d]: block type %q is not served in a %s message", j, head.Type, m.Role)
		}
	}
	if len(pending) > 0 {
		return errors.New("tool_use ids were found without tool_result blocks immediately after")
	}
	msg.Text = strings.Join(texts, "\n")
	switch m.Role {
	case "assistant":
		for _, tc := range msg.ToolCalls {
			pending[tc.ID] = true
		}
		c.Messages = append(c.Messages, msg)
	case "user":
		if len(results) > 0 {
			c.Messages = append(c.Messages, Message{Role: "tool", ToolResults: results})
		}
		if len(texts) > 0 || len(results) == 0 {
			c.Messages = append(c.Messages, msg)
		}
	default:
		return fmt.Errorf("role %q is not user or assistant", m.Role)
	}
	return nil
}

// anBlocks splits content into raw blocks; a string is one text block.
func anBlocks(raw json.RawMessage) ([]json.RawMessage, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, _ := json.Marshal(anText{Type: "text", Text: s})
		return []json.RawMessage{b}, nil
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, errors.New("content must be a string or an array of blocks")
	}
	return blocks, nil
}

// anTexts reads absent content, a string or strict text blocks.
func anTexts(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var blocks []anText
	if err := strict(raw, &blocks); err != nil {
		return nil, err
	}
	var out []string
	for _, b := range blocks {
		if b.Type != "text" {
			return nil, fmt.Errorf("block type %q: only text is served here", b.Type)
		}
		out = append(out, b.Text)
	}
	return out, nil
}

func (anthropicDialect) answer(w http.ResponseWriter, c Conversation, rep Reply, id func(string) string) {
	content := []any{}
	if rep.Text != "" {
		content = append(content, anText{Type: "text", Text: rep.Text})
	}
	stop := "end_turn"
	for _, tc := range rep.ToolCalls {
		stop = "tool_use"
		if tc.ID == "" {
			tc.ID = id("toolu")
		}
		// Arguments that are not JSON go out as a JSON string: the closest a
		// real answer comes to malformed input.
		input := json.RawMessage(tc.Arguments)
		if !json.Valid(input) {
			input, _ = json.Marshal(tc.Arguments)
		}
		content = append(content, anToolUse{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: input})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":            id("msg"),
		"type":          "message",
		"role":          "assistant",
		"model":         c.Model,
		"content":       content,
		"stop_reason":   stop,
		"stop_sequence": nil,
		"usage": map[string]int{
			"input_tokens":  tokens(len(c.System) + len(fmt.Sprint(c.Messages))),
			"output_tokens": tokens(len(rep.Text) + len(fmt.Sprint(rep.ToolCalls))),
		},
	})
}

var requestIDs atomic.Int64

// fail answers Anthropic's error JSON with the type its docs give for status.
func (anthropicDialect) fail(w http.ResponseWriter, status int, msg string) {
	types := map[int]string{400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}
	typ := types[status]
	if typ == "" {
		typ = "api_error"
		if status < 500 {
			typ = "invalid_request_error"
		}
	}
	rid := fmt.Sprintf("req_fake_%04d", requestIDs.Add(1))
	w.Header().Set("Request-Id", rid)
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}, "request_id": rid})
}
