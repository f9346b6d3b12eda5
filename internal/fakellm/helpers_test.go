package fakellm_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	oopt "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/tandembot/tandem/internal/fakellm"
)

// Recognisable fake secrets, so a scan that finds one knows where it came from.
const (
	openaiKey    = "sk-fake-llm-key-0001"
	anthropicKey = "sk-ant-fake-llm-key-0002"
	wrongKey     = "sk-fake-llm-wrong-key-0003"
)

// The tool both SDK tests offer: a wire name (no dots) with a strict schema.
const (
	toolWire = "github_create_issue"
	toolDesc = "Create an issue in a GitHub repository."
	toolArgs = `{"repo":"acme/widgets","title":"Broken build"}`
)

var toolSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"repo":  map[string]any{"type": "string"},
		"title": map[string]any{"type": "string"},
	},
	"required":             []string{"repo", "title"},
	"additionalProperties": false,
}

// openaiClient is the real openai-go client aimed at s, with retries set
// explicitly so a test never depends on the SDK's default.
func openaiClient(s *fakellm.Server, key string, retries int, extra ...oopt.RequestOption) openai.Client {
	opts := append([]oopt.RequestOption{oopt.WithBaseURL(s.BaseURL()), oopt.WithAPIKey(key), oopt.WithMaxRetries(retries)}, extra...)
	return openai.NewClient(opts...)
}

func openaiParams(msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "gpt-fake",
		Messages: msgs,
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: toolWire, Description: openai.String(toolDesc), Strict: openai.Bool(true), Parameters: toolSchema,
		})},
		ToolChoice:          openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")},
		ParallelToolCalls:   openai.Bool(false),
		MaxCompletionTokens: openai.Int(1024),
		Temperature:         openai.Float(0),
	}
}

// anthropicClient is the real Anthropic client aimed at s.
func anthropicClient(s *fakellm.Server, key string, retries int, extra ...aopt.RequestOption) anthropic.Client {
	opts := append([]aopt.RequestOption{aopt.WithBaseURL(s.BaseURL()), aopt.WithAPIKey(key), aopt.WithMaxRetries(retries)}, extra...)
	return anthropic.NewClient(opts...)
}

func anthropicParams(msgs ...anthropic.MessageParam) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-fake",
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "You are Tandem."}},
		Messages:  msgs,
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name: toolWire, Description: anthropic.String(toolDesc),
			InputSchema: anthropic.ToolInputSchemaParam{
				Properties:  toolSchema["properties"],
				Required:    []string{"repo", "title"},
				ExtraFields: map[string]any{"additionalProperties": false},
			},
		}}},
		ToolChoice: anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{DisableParallelToolUse: anthropic.Bool(true)}},
	}
}

// post sends body by hand with the headers given as "Name: value" pairs and
// returns the status and the answer.
func post(t *testing.T, url, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// secretIn reports where secret appears in the kept requests: "body" or the
// header's name, one entry per occurrence.
func secretIn(reqs []fakellm.Request, secret string) []string {
	var where []string
	for _, r := range reqs {
		if bytes.Contains(r.Body, []byte(secret)) {
			where = append(where, "body")
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, secret) {
					where = append(where, k)
				}
			}
		}
	}
	return where
}
