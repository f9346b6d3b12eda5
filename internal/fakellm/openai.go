package fakellm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// NewOpenAI starts a fake OpenAI Chat Completions server that serves only
// POST /v1/chat/completions; point openai-go at BaseURL(). The server is
// closed when the test ends.
//
// It accepts the request fields below and no others (400 otherwise, in
// OpenAI's error JSON). user, safety_identifier, metadata and store are
// left out on purpose: they would carry who asked to the model's vendor, so
// a product change that sends them fails its tests here first. Streaming
// ("stream") is not served.
func NewOpenAI(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, openaiDialect{}, opts)
}

// BaseURL returns the base URL an SDK client is given: URL plus "/v1" for
// the OpenAI fake (openai-go appends "chat/completions", as for
// api.openai.com/v1 and Ollama's /v1), URL for the Anthropic fake (its SDK
// appends "v1/messages").
func (s *Server) BaseURL() string {
	if _, ok := s.d.(openaiDialect); ok {
		return s.URL + "/v1"
	}
	return s.URL
}

type openaiDialect struct{}

type oaRequest struct {
	Model               string          `json:"model"`
	Messages            []oaMessage     `json:"messages"`
	Tools               []oaTool        `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
}

type oaMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"` // a string or text parts; absent on tool-calling assistant turns
	Name       string          `json:"name"`
	ToolCalls  []oaToolCall    `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	Refusal    *string         `json:"refusal"`
}

type oaToolCall struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Function oaFunctionCall `json:"function"`
}

type oaFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text in a string
}

type oaTool struct {
	Type     string     `json:"type"`
	Function oaFunction `json:"function"`
}

type oaFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

type oaPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (openaiDialect) name() string { return "openai" }
func (openaiDialect) path() string { return "/v1/chat/completions" }

func (openaiDialect) authorize(r *http.Request, key string) (int, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	}
	if got, ok := strings.CutPrefix(h, "Bearer "); !ok || !keyMatches(got, key) {
		return http.StatusUnauthorized, "Incorrect API key provided."
	}
	return 0, ""
}

func (openaiDialect) decode(body []byte) (Conversation, error) {
	var req oaRequest
	if err := strict(body, &req); err != nil {
		return Conversation{}, fmt.Errorf("fakellm: request body: %w", err)
	}
	if req.Model == "" || len(req.Messages) == 0 {
		return Conversation{}, errors.New("fakellm: model and messages are required")
	}
	c := Conversation{Model: req.Model}
	if req.MaxCompletionTokens != nil {
		c.MaxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		c.MaxTokens = *req.MaxTokens
	}
	c.NoParallel = req.ParallelToolCalls != nil && !*req.ParallelToolCalls
	for i, t := range req.Tools {
		if t.Type != "function" || !toolName.MatchString(t.Function.Name) {
			return c, fmt.Errorf("fakellm: tools[%d]: type must be \"function\" and name match %s", i, toolName)
		}
		if err := checkSchema(t.Function.Parameters); err != nil {
			return c, fmt.Errorf("fakellm: tools[%d].function.parameters: %w", i, err)
		}
		c.Tools = append(c.Tools, Tool{Name: t.Function.Name, Description: t.Function.Description, Schema: t.Function.Parameters})
	}
	if err := oaToolChoice(req.ToolChoice, &c); err != nil {
		return c, err
	}
	pending := map[string]bool{} // tool calls not yet answered by a tool message
	for i, m := range req.Messages {
		text, err := oaText(m.Content)
		if err != nil {
			return c, fmt.Errorf("fakellm: messages[%d].content: %w", i, err)
		}
		if m.Role != "tool" && len(pending) > 0 {
			return c, fmt.Errorf("fakellm: messages[%d]: an assistant message with tool_calls must be followed by tool messages responding to each tool_call_id", i)
		}
		if (len(m.ToolCalls) > 0 || m.Refusal != nil) && m.Role != "assistant" || m.ToolCallID != "" && m.Role != "tool" {
			return c, fmt.Errorf("fakellm: messages[%d]: a %s message cannot carry tool_calls, refusal or tool_call_id", i, m.Role)
		}
		switch m.Role {
		case "system", "developer":
			c.System = join(c.System, text, "\n\n")
		case "user":
			c.Messages = append(c.Messages, Message{Role: "user", Text: text})
		case "assistant":
			msg := Message{Role: "assistant", Text: text}
			for j, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" {
					return c, fmt.Errorf("fakellm: messages[%d].tool_calls[%d]: id, type \"function\" and function.name are required", i, j)
				}
				pending[tc.ID] = true
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: compact([]byte(tc.Function.Arguments))})
			}
			c.Messages = append(c.Messages, msg)
		case "tool":
			if !pending[m.ToolCallID] {
				return c, fmt.Errorf("fakellm: messages[%d]: tool_call_id %q answers no tool call of the assistant message before it", i, m.ToolCallID)
			}
			delete(pending, m.ToolCallID)
			res := ToolResult{CallID: m.ToolCallID, Content: text}
			if last := len(c.Messages) - 1; c.Messages[last].Role == "tool" {
				c.Messages[last].ToolResults = append(c.Messages[last].ToolResults, res)
			} else {
				c.Messages = append(c.Messages, Message{Role: "tool", ToolResults: []ToolResult{res}})
			}
		default:
			return c, fmt.Errorf("fakellm: messages[%d]: unknown role %q", i, m.Role)
		}
	}
	if len(pending) > 0 {
		return c, errors.New("fakellm: the last assistant message's tool_calls were not all answered by tool messages")
	}
	return c, nil
}

// oaText reads message content: absent, a string, or text parts.
func oaText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []oaPart
	if err := strict(raw, &parts); err != nil {
		return "", err
	}
	var texts []string
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("part type %q: only text parts are served", p.Type)
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

func oaToolChoice(raw json.RawMessage, c *Conversation) error {
	if len(raw) == 0 {
		return nil
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		if mode != "auto" && mode != "none" && mode != "required" {
			return fmt.Errorf("fakellm: tool_choice %q is not auto, none or required", mode)
		}
		c.ToolChoice = mode
		return nil
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := strict(raw, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
		return fmt.Errorf("fakellm: tool_choice must be a mode or {type:function, function:{name}}: %s", raw)
	}
	c.ToolChoice, c.ForcedTool = "tool", named.Function.Name
	return nil
}

func (openaiDialect) answer(w http.ResponseWriter, c Conversation, rep Reply, id func(string) string) {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if rep.Text != "" {
		msg["content"] = rep.Text
	}
	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
		var calls []oaToolCall
		for _, tc := range rep.ToolCalls {
			if tc.ID == "" {
				tc.ID = id("call")
			}
			calls = append(calls, oaToolCall{ID: tc.ID, Type: "function", Function: oaFunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
		}
		msg["tool_calls"] = calls
	}
	in, out := tokens(len(c.System)+len(fmt.Sprint(c.Messages))), tokens(len(rep.Text)+len(fmt.Sprint(rep.ToolCalls)))
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      id("chatcmpl"),
		"object":  "chat.completion",
		"created": created,
		"model":   c.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		"usage":   map[string]int{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
}

// fail answers OpenAI's error JSON; type and code follow the status the way
// api.openai.com does.
func (openaiDialect) fail(w http.ResponseWriter, status int, msg string) {
	typ, code := "invalid_request_error", any(nil)
	switch {
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		code = "unknown_url"
	case status == http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
	case status >= 500:
		typ = "server_error"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

func join(a, b, sep string) string {
	if a == "" {
		return b
	}
	return a + sep + b
}
