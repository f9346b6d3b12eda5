package fakellm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"

	"github.com/tandembot/tandem/internal/fakellm"
)

// TestStrictOpenAI: hand-sent bodies the fake must refuse with a 400 in
// OpenAI's error shape, beside one it must accept so the refusals are not
// an accident of the headers.
func TestStrictOpenAI(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey})
	tool := `{"type":"function","function":{"name":"%s","parameters":{"type":"object"}}}`
	call := `{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"t","arguments":"{}"}}]}`
	tests := []struct {
		name, body, wantInMessage string
		wantStatus                int
	}{
		{"valid", `{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"sys"}]},{"role":"user","content":"hi"}],"max_tokens":5,"seed":1,"stop":["x"]}`, "", 200},
		{"unknown top-level field", `{"model":"m","messages":[{"role":"user","content":"hi"}],"bogus":1}`, "bogus", 400},
		{"unknown message field", `{"model":"m","messages":[{"role":"user","content":"hi","extra":1}]}`, "extra", 400},
		{"user id is not sent", `{"model":"m","messages":[{"role":"user","content":"hi"}],"user":"U123"}`, `field "user"`, 400},
		{"streaming is not served", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`, `field "stream"`, 400},
		{"dotted tool name", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[` + fmt.Sprintf(tool, "github.create_issue") + `]}`, "tools[0]", 400},
		{"schema not an object", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"t","parameters":[]}}]}`, "parameters", 400},
		{"tool result without a call", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"c1","content":"x"}]}`, "c1", 400},
		{"tool call left unanswered", `{"model":"m","messages":[{"role":"user","content":"hi"},` + call + `,{"role":"user","content":"again"}]}`, "tool_call_id", 400},
		{"image part", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "image_url", 400},
		{"bad tool_choice", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"any"}`, "tool_choice", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, s.URL+"/v1/chat/completions", tt.body, "Authorization: Bearer "+openaiKey)
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				return
			}
			var e struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
					Param   any    `json:"param"`
					Code    any    `json:"code"`
				} `json:"error"`
			}
			if err := strictJSON(body, &e); err != nil || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tt.wantInMessage) {
				t.Errorf("answer %s (%v), want OpenAI's error shape naming %q", body, err, tt.wantInMessage)
			}
		})
	}
	if got := s.Requests()[0].Conversation; got == nil || got.System != "sys" || got.MaxTokens != 5 {
		t.Errorf("valid request decoded as %+v", got)
	}
}

// TestStrictAnthropic: as TestStrictOpenAI, with what other clients send
// (system and content as strings, X-Api-Key) in the accepted request.
func TestStrictAnthropic(t *testing.T) {
	s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey})
	use := `{"role":"assistant","content":[{"type":"tool_use","id":"tu1","name":"t","input":{}}]}`
	tests := []struct {
		name, body, version, wantInMessage string
		wantStatus                         int
	}{
		{"valid", `{"model":"m","max_tokens":5,"system":"sys","messages":[{"role":"user","content":"hi"},` + use + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu1","content":"out","is_error":true}]}],"temperature":0}`, "2023-06-01", "", 200},
		{"no anthropic-version", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, "", "anthropic-version", 400},
		{"unknown top-level field", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"bogus":1}`, "2023-06-01", "bogus", 400},
		{"user id is not sent", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"U1"}}`, "2023-06-01", `field "metadata"`, 400},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, "2023-06-01", "max_tokens", 400},
		{"unknown block field", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{}}]}]}`, "2023-06-01", "cache_control", 400},
		{"image block", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}`, "2023-06-01", "image", 400},
		{"tool_use unanswered", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},` + use + `,{"role":"user","content":"again"}]}`, "2023-06-01", "tool_result", 400},
		{"tool_result without a call", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu9","content":"x"}]}]}`, "2023-06-01", "tu9", 400},
		{"dotted tool name", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a.b","input_schema":{"type":"object"}}]}`, "2023-06-01", "tools[0]", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, s.URL+"/v1/messages", tt.body, "X-Api-Key: "+anthropicKey, "Anthropic-Version: "+tt.version)
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				return
			}
			var e struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
				RequestID string `json:"request_id"`
			}
			if err := strictJSON(body, &e); err != nil || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tt.wantInMessage) {
				t.Errorf("answer %s (%v), want Anthropic's error shape naming %q", body, err, tt.wantInMessage)
			}
		})
	}
	want := []fakellm.Message{
		{Role: "user", Text: "hi"},
		{Role: "assistant", ToolCalls: []fakellm.ToolCall{{ID: "tu1", Name: "t", Arguments: "{}"}}},
		{Role: "tool", ToolResults: []fakellm.ToolResult{{CallID: "tu1", Content: "out", IsError: true}}},
	}
	if got := s.Requests()[0].Conversation; got == nil || got.System != "sys" || !cmp.Equal(got.Messages, want) {
		t.Errorf("valid request decoded as %+v", got)
	}
}

func strictJSON(body string, v any) error {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// TestWrongPath: the OpenAI fake serves only under /v1, so a base URL
// without /v1 fails loudly instead of working by accident.
func TestWrongPath(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey})
	status, body := post(t, s.URL+"/chat/completions", `{}`, "Authorization: Bearer "+openaiKey)
	if status != 404 || !strings.Contains(body, "unknown_url") {
		t.Errorf("status %d %s, want 404 unknown_url", status, body)
	}
}

// TestSecretsOnlyInAuthHeaders scans every kept request, rejected ones
// included, the way a product test will scan for leaked credentials.
func TestSecretsOnlyInAuthHeaders(t *testing.T) {
	o := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey})
	a := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey})
	ctx := context.Background()
	oc, wrong := openaiClient(o, openaiKey, 0), openaiClient(o, wrongKey, 0)
	oc.Chat.Completions.New(ctx, openaiParams(openai.UserMessage("hi")))
	wrong.Chat.Completions.New(ctx, openaiParams(openai.UserMessage("hi")))
	ac := anthropicClient(a, anthropicKey, 0)
	ac.Messages.New(ctx, anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))))

	if got := secretIn(o.Requests(), openaiKey); !cmp.Equal(got, []string{"Authorization"}) {
		t.Errorf("OpenAI key found in %v, want only one Authorization header", got)
	}
	if got := secretIn(o.Requests(), wrongKey); !cmp.Equal(got, []string{"Authorization"}) {
		t.Errorf("wrong key found in %v: a rejected request must be kept too", got)
	}
	if got := secretIn(a.Requests(), anthropicKey); !cmp.Equal(got, []string{"Authorization"}) {
		t.Errorf("Anthropic key found in %v, want only the Authorization header v2 sends", got)
	}
}

// TestRequestsAreCopies: changing what Requests returned changes nothing kept.
func TestRequestsAreCopies(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey, Script: fakellm.Steps(fakellm.Call(toolWire, toolArgs))})
	c := openaiClient(s, openaiKey, 0)
	if _, err := c.Chat.Completions.New(context.Background(), openaiParams(openai.UserMessage("hi"))); err != nil {
		t.Fatal(err)
	}
	first := s.Requests()
	first[0].Body[0] = 'X'
	first[0].Header.Set("Authorization", "changed")
	first[0].Conversation.Messages[0].Text = "changed"
	first[0].Conversation.Tools[0].Schema[0] = 'X'
	again := s.Requests()[0]
	if again.Body[0] != '{' || again.Header.Get("Authorization") != "Bearer "+openaiKey ||
		again.Conversation.Messages[0].Text != "hi" || again.Conversation.Tools[0].Schema[0] != '{' {
		t.Errorf("a change to a returned request reached the kept one: %+v", again)
	}
}

// TestConcurrentCalls: many clients at once are all answered and counted
// (run with -race).
func TestConcurrentCalls(t *testing.T) {
	s := fakellm.NewAnthropic(t, fakellm.Options{Key: anthropicKey, Script: func(c fakellm.Conversation) fakellm.Reply {
		return fakellm.Text("echo " + c.LastMessage().Text)
	}})
	c := anthropicClient(s, anthropicKey, 0)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			say := fmt.Sprint("hi ", i)
			msg, err := c.Messages.New(context.Background(), anthropicParams(anthropic.NewUserMessage(anthropic.NewTextBlock(say))))
			if err == nil && msg.Content[0].Text != "echo "+say {
				err = fmt.Errorf("answer %q to %q", msg.Content[0].Text, say)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := s.Calls(); got != n {
		t.Errorf("%d calls, want %d", got, n)
	}
}

// TestStepsExhausted: a request beyond the script gets a 500 the test sees.
func TestStepsExhausted(t *testing.T) {
	s := fakellm.NewOpenAI(t, fakellm.Options{Key: openaiKey, Script: fakellm.Steps(fakellm.Text("only"))})
	c := openaiClient(s, openaiKey, 0)
	p := openaiParams(openai.UserMessage("hi"))
	if _, err := c.Chat.Completions.New(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	_, err := c.Chat.Completions.New(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("err %v, want a 500 for the request beyond the script", err)
	}
}
