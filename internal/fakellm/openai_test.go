package fakellm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	oopt "github.com/openai/openai-go/v3/option"

	"github.com/tandembot/tandem/internal/fakellm"
)

// toolThenText asks for the tool until a tool result arrives, then answers
// with the result's text; it fails the test if a result names another call.
func toolThenText(t *testing.T, callID string) fakellm.Script {
	return func(c fakellm.Conversation) fakellm.Reply {
		last := c.LastMessage()
		if last.Role != "tool" {
			return fakellm.Reply{Text: "Creating it.", ToolCalls: []fakellm.ToolCall{{ID: callID, Name: toolWire, Arguments: toolArgs}}}
		}
		if got := last.ToolResults[0].CallID; got != callID {
			t.Errorf("tool result for %q, want %q", got, callID)
		}
		return fakellm.Text("Done: " + last.ToolResults[0].Content)
	}
}

// wantRoundTrip is the neutral form of the second request of a tool round
// trip, the same for both providers.
func wantRoundTrip(provider, model, callID string) fakellm.Conversation {
	schema, _ := json.Marshal(toolSchema)
	return fakellm.Conversation{
		Provider: provider, Model: model, System: "You are Tandem.",
		Messages: []fakellm.Message{
			{Role: "user", Text: "file a bug about the build"},
			{Role: "assistant", Text: "Creating it.", ToolCalls: []fakellm.ToolCall{{ID: callID, Name: toolWire, Arguments: toolArgs}}},
			{Role: "tool", ToolResults: []fakellm.ToolResult{{CallID: callID, Content: "issue #7 created"}}},
		},
		Tools:      []fakellm.Tool{{Name: toolWire, Description: toolDesc, Schema: schema}},
		ToolChoice: "auto", NoParallel: true, MaxTokens: 1024,
	}
}

// schemaAsCompact makes Tool schemas comparable whatever key order the SDK used.
var schemaAsCompact = cmp.Transformer("schema", func(r json.RawMessage) any {
	var v any
	json.Unmarshal(r, &v)
	return v
})

func TestOpenAIToolRoundTrip(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey, Script: toolThenText(t, "call_abc123")})
	c := openaiClient(s, openaiKey, 0)
	ctx := context.Background()
	p := openaiParams(openai.SystemMessage("You are Tandem."), openai.UserMessage("file a bug about the build"))

	res, err := c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("finish %q with %d tool calls, want tool_calls with 1", ch.FinishReason, len(ch.Message.ToolCalls))
	}
	call := ch.Message.ToolCalls[0]
	if call.ID != "call_abc123" || call.Function.Name != toolWire || call.Function.Arguments != toolArgs {
		t.Errorf("tool call %s %s %s, want call_abc123 %s %s", call.ID, call.Function.Name, call.Function.Arguments, toolWire, toolArgs)
	}

	p.Messages = append(p.Messages, ch.Message.ToParam(), openai.ToolMessage("issue #7 created", call.ID))
	res, err = c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != "Done: issue #7 created" || res.Choices[0].FinishReason != "stop" {
		t.Errorf("answer %q (%s), want the tool result echoed with stop", got, res.Choices[0].FinishReason)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[1].Conversation == nil {
		t.Fatalf("%d requests kept, want 2 decoded", len(reqs))
	}
	if diff := cmp.Diff(*reqs[1].Conversation, wantRoundTrip("openai", "gpt-fake", "call_abc123"), schemaAsCompact); diff != "" {
		t.Errorf("second request (-got +want):\n%s", diff)
	}
}

func TestOpenAIWrongKey(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey})
	c := openaiClient(s, wrongKey, 2)
	_, err := c.Chat.Completions.New(context.Background(), openaiParams(openai.UserMessage("hi")))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
		t.Fatalf("err %v, want *openai.Error 401 invalid_api_key", err)
	}
	if n := s.Calls(); n != 1 {
		t.Errorf("%d requests, want 1: a 401 is not retried", n)
	}
	if strings.Contains(apiErr.Message, wrongKey) {
		t.Errorf("the error message echoes the key: %q", apiErr.Message)
	}
}

// TestOpenAIRetries: openai-go retries 429 and >= 500 (Retry-After: 0 keeps
// it fast) up to WithMaxRetries times, and never a 400.
func TestOpenAIRetries(t *testing.T) {
	tests := []struct {
		name      string
		fail      fakellm.Reply
		retries   int
		wantCalls int
		wantOK    bool
		wantType  string
	}{
		{"500 twice then ok", fakellm.Fail(500, "boom", "0"), 2, 3, true, ""},
		{"429 twice then ok", fakellm.Fail(429, "slow down", "0"), 2, 3, true, ""},
		{"500 with one retry", fakellm.Fail(500, "boom", "0"), 1, 2, false, "server_error"},
		{"429 with one retry", fakellm.Fail(429, "slow down", "0"), 1, 2, false, "requests"},
		{"400 never retried", fakellm.Fail(400, "bad", "0"), 2, 1, false, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey, Script: fakellm.Steps(tt.fail, tt.fail, fakellm.Text("ok"))})
			c := openaiClient(s, openaiKey, tt.retries)
			res, err := c.Chat.Completions.New(context.Background(), openaiParams(openai.UserMessage("hi")))
			if tt.wantOK && (err != nil || res.Choices[0].Message.Content != "ok") {
				t.Errorf("err %v, want the third answer", err)
			}
			var apiErr *openai.Error
			if !tt.wantOK && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.fail.Status || apiErr.Type != tt.wantType || apiErr.Message != tt.fail.Message) {
				t.Errorf("err %v, want *openai.Error %d %s %q", err, tt.fail.Status, tt.wantType, tt.fail.Message)
			}
			if n := s.Calls(); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

// TestOpenAIHangTimesOut: a hanging answer ends in the client's own timeout,
// and the request is still kept.
func TestOpenAIHangTimesOut(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey, Script: fakellm.Steps(fakellm.Hang())})
	c := openaiClient(s, openaiKey, 0, oopt.WithRequestTimeout(50*time.Millisecond))
	_, err := c.Chat.Completions.New(context.Background(), openaiParams(openai.UserMessage("hi")))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want context.DeadlineExceeded", err)
	}
	if n := s.Calls(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestOpenAIBadAnswers: what the SDK makes of a malformed body, an unknown
// tool and arguments that are not JSON, which the product must handle.
func TestOpenAIBadAnswers(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey, Script: fakellm.Steps(
		fakellm.Malformed(`{"id":"chatcmpl-1","choices":[`),
		fakellm.Call("no_such_tool", `{"repo":`),
	)})
	c := openaiClient(s, openaiKey, 0)
	p := openaiParams(openai.UserMessage("hi"))
	if _, err := c.Chat.Completions.New(context.Background(), p); err == nil {
		t.Error("a malformed body decoded without error")
	}
	res, err := c.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	call := res.Choices[0].Message.ToolCalls[0].Function
	if call.Name != "no_such_tool" || call.Arguments != `{"repo":` || json.Valid([]byte(call.Arguments)) {
		t.Errorf("call %s(%s), want no_such_tool with the broken arguments as sent", call.Name, call.Arguments)
	}
}
