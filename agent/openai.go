package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAI is a Model speaking Chat Completions through openai-go.
type OpenAI struct {
	cfg  Config
	chat openai.ChatCompletionService
}

var _ Model = (*OpenAI)(nil)

// NewOpenAI returns a Model for an OpenAI-compatible endpoint. It builds
// the chat service alone rather than openai.NewClient, which would add
// OPENAI_API_KEY, OPENAI_ORG_ID, OPENAI_PROJECT_ID and
// OPENAI_CUSTOM_HEADERS from the environment to requests sent to
// cfg.BaseURL: only cfg configures it.
func NewOpenAI(cfg Config) *OpenAI {
	return &OpenAI{cfg: cfg, chat: openai.NewChatCompletionService(
		option.WithHTTPClient(noRedirects()),
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.retries()),
		option.WithRequestTimeout(cfg.timeout()),
	)}
}

// Complete sends c and returns the first choice; it fails as Model says.
func (m *OpenAI) Complete(ctx context.Context, c Conversation) (Reply, error) {
	p := openai.ChatCompletionNewParams{
		Model:               m.cfg.Model,
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(c.System)},
		MaxCompletionTokens: openai.Int(m.cfg.maxTokens()),
	}
	for _, msg := range c.Messages {
		p.Messages = append(p.Messages, openaiMessages(msg)...)
	}
	for _, t := range c.Tools {
		var params shared.FunctionParameters
		if err := json.Unmarshal(t.Schema, &params); err != nil {
			return Reply{}, fmt.Errorf("agent: schema of %s: %w", t.Name, err)
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: t.Name, Description: openai.String(t.Description), Parameters: params,
		}))
	}
	if len(p.Tools) > 0 {
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")}
		p.ParallelToolCalls = openai.Bool(false)
	}
	res, err := m.chat.New(ctx, p)
	if err != nil {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			f := &apiFailure{status: apiErr.StatusCode, kind: apiErr.Type + "/" + apiErr.Code, message: apiErr.Message}
			if apiErr.Response != nil {
				f.requestID = apiErr.Response.Header.Get("X-Request-Id")
			}
			return Reply{}, modelError(ctx, "openai", m.cfg.APIKey, f, err)
		}
		return Reply{}, modelError(ctx, "openai", m.cfg.APIKey, nil, err)
	}
	if len(res.Choices) == 0 {
		return Reply{}, modelError(ctx, "openai", m.cfg.APIKey, nil, errors.New("an answer without choices"))
	}
	msg := res.Choices[0].Message
	r := Reply{Text: msg.Content}
	if r.Text == "" {
		r.Text = msg.Refusal
	}
	for _, tc := range msg.ToolCalls {
		r.Calls = append(r.Calls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return r, nil
}

func openaiMessages(m Message) []openai.ChatCompletionMessageParamUnion {
	switch m.Role {
	case RoleAssistant:
		a := openai.ChatCompletionAssistantMessageParam{}
		if m.Text != "" {
			a.Content.OfString = openai.String(m.Text)
		}
		for _, c := range m.Calls {
			a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
					ID:       c.ID,
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: c.Name, Arguments: c.Arguments},
				},
			})
		}
		return []openai.ChatCompletionMessageParamUnion{{OfAssistant: &a}}
	case RoleTool:
		var out []openai.ChatCompletionMessageParamUnion
		for _, r := range m.Results {
			out = append(out, openai.ToolMessage(r.Content, r.CallID))
		}
		return out
	}
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(m.Text)}
}
