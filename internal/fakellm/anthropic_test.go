package fakellm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/google/go-cmp/cmp"

	"github.com/tandembot/tandem/internal/fakellm"
)

func TestAnthropicToolRoundTrip(t *testing.T) {
	s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey, Script: toolThenText(t, "toolu_abc123")})
	c := anthropicClient(s, anthropicKey, 0)
	ctx := context.Background()
	p := anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock("file a bug about the build")))

	msg, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 2 {
		t.Fatalf("stop %q with %d blocks, want tool_use with text and tool_use", msg.StopReason, len(msg.Content))
	}
	use, ok := msg.Content[1].AsAny().(anthropic.ToolUseBlock)
	if !ok {
		t.Fatalf("second block is %T, want anthropic.ToolUseBlock", msg.Content[1].AsAny())
	}
	if use.ID != "toolu_abc123" || use.Name != toolWire || string(use.Input) != toolArgs {
		t.Errorf("tool_use %s %s %s, want toolu_abc123 %s %s", use.ID, use.Name, use.Input, toolWire, toolArgs)
	}

	p.Messages = append(p.Messages, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "issue #7 created", false)))
	msg, err = c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	text, ok := msg.Content[0].AsAny().(anthropic.TextBlock)
	if !ok || text.Text != "Done: issue #7 created" || msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("answer %+v (%s), want the tool result echoed with end_turn", msg.Content, msg.StopReason)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[1].Conversation == nil {
		t.Fatalf("%d requests kept, want 2 decoded", len(reqs))
	}
	if diff := cmp.Diff(*reqs[1].Conversation, wantRoundTrip("anthropic", "claude-fake", "toolu_abc123"), schemaAsCompact); diff != "" {
		t.Errorf("second request (-got +want):\n%s", diff)
	}
}

func TestAnthropicWrongKey(t *testing.T) {
	s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey})
	c := anthropicClient(s, wrongKey, 2)
	_, err := c.Messages.New(context.Background(), anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Type() != anthropic.ErrorTypeAuthenticationError {
		t.Fatalf("err %v, want *anthropic.Error 401 authentication_error", err)
	}
	if apiErr.RequestID == "" {
		t.Error("no request id: the fake sends request-id as the API does")
	}
	if n := s.Calls(); n != 1 {
		t.Errorf("%d requests, want 1: a 401 is not retried", n)
	}
}

// TestAnthropicRetries: the SDK retries 429, 500 and 529 up to
// WithMaxRetries times (Retry-After: 0; it has no cap on larger values), and
// never a 400.
func TestAnthropicRetries(t *testing.T) {
	tests := []struct {
		name      string
		fail      fakellm.Reply
		retries   int
		wantCalls int
		wantOK    bool
		wantType  anthropic.ErrorType
	}{
		{"500 twice then ok", fakellm.Fail(500, "boom", "0"), 2, 3, true, ""},
		{"429 twice then ok", fakellm.Fail(429, "slow down", "0"), 2, 3, true, ""},
		{"529 twice then ok", fakellm.Fail(529, "overloaded", "0"), 2, 3, true, ""},
		{"429 with one retry", fakellm.Fail(429, "slow down", "0"), 1, 2, false, anthropic.ErrorTypeRateLimitError},
		{"400 never retried", fakellm.Fail(400, "bad", "0"), 2, 1, false, anthropic.ErrorTypeInvalidRequestError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey, Script: fakellm.Steps(tt.fail, tt.fail, fakellm.Text("ok"))})
			c := anthropicClient(s, anthropicKey, tt.retries)
			msg, err := c.Messages.New(context.Background(), anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))))
			if tt.wantOK && (err != nil || msg.Content[0].Text != "ok") {
				t.Errorf("err %v, want the third answer", err)
			}
			var apiErr *anthropic.Error
			if !tt.wantOK && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.fail.Status || apiErr.Type() != tt.wantType || apiErr.Message != tt.fail.Message) {
				t.Errorf("err %v, want *anthropic.Error %d %s %q", err, tt.fail.Status, tt.wantType, tt.fail.Message)
			}
			if n := s.Calls(); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

// TestAnthropicHangThenAnswer: the SDK retries a request that timed out, so
// a hang followed by an answer succeeds in two requests.
func TestAnthropicHangThenAnswer(t *testing.T) {
	s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey, Script: fakellm.Steps(fakellm.Hang(), fakellm.Text("late"))})
	c := anthropicClient(s, anthropicKey, 1, aopt.WithRequestTimeout(50*time.Millisecond))
	msg, err := c.Messages.New(context.Background(), anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))))
	if err != nil || msg.Content[0].Text != "late" {
		t.Fatalf("err %v, want the second answer", err)
	}
	if n := s.Calls(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// TestAnthropicBadAnswers: a malformed body fails decoding; an unknown tool
// and input that is not JSON (sent as a JSON string) reach the product.
func TestAnthropicBadAnswers(t *testing.T) {
	s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey, Script: fakellm.Steps(
		fakellm.Malformed(`{"id":"msg_1","content":[`),
		fakellm.Call("no_such_tool", `{"repo":`),
	)})
	c := anthropicClient(s, anthropicKey, 0)
	p := anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi")))
	if _, err := c.Messages.New(context.Background(), p); err == nil {
		t.Error("a malformed body decoded without error")
	}
	msg, err := c.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	use := msg.Content[0].AsAny().(anthropic.ToolUseBlock)
	var obj map[string]any
	if use.Name != "no_such_tool" || json.Unmarshal(use.Input, &obj) == nil {
		t.Errorf("tool_use %s(%s), want no_such_tool with input that is not an object", use.Name, use.Input)
	}
}
