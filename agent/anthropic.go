package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// Anthropic is a Model speaking the Messages API through anthropic-sdk-go.
type Anthropic struct {
	cfg    Config
	client anthropic.Client
}

var _ Model = (*Anthropic)(nil)

// NewAnthropic returns a Model for the Messages API at cfg.BaseURL. The
// environment's ANTHROPIC_* settings (key, base URL, custom headers,
// profiles) are ignored: only cfg configures it.
func NewAnthropic(cfg Config) *Anthropic {
	return &Anthropic{cfg: cfg, client: anthropic.NewClient(
		option.WithoutEnvironmentDefaults(),
		option.WithHTTPClient(noRedirects()),
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.retries()),
		option.WithRequestTimeout(cfg.timeout()),
	)}
}

// Complete sends c and returns the answer's text and tool uses; it fails as
// Model says.
func (m *Anthropic) Complete(ctx context.Context, c Conversation) (Reply, error) {
	p := anthropic.MessageNewParams{
		Model:     m.cfg.Model,
		MaxTokens: m.cfg.maxTokens(),
		System:    []anthropic.TextBlockParam{{Text: c.System}},
	}
	for _, msg := range c.Messages {
		p.Messages = append(p.Messages, anthropicMessage(msg))
	}
	for _, t := range c.Tools {
		var s struct {
			Properties json.RawMessage `json:"properties"`
			Required   []string        `json:"required"`
		}
		if err := json.Unmarshal(t.Schema, &s); err != nil {
			return Reply{}, fmt.Errorf("agent: schema of %s: %w", t.Name, err)
		}
		p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
			Name: t.Name, Description: anthropic.String(t.Description),
			InputSchema: anthropic.ToolInputSchemaParam{
				Properties: s.Properties, Required: s.Required,
				ExtraFields: map[string]any{"additionalProperties": false},
			},
		}})
	}
	if len(p.Tools) > 0 {
		p.ToolChoice = anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{DisableParallelToolUse: anthropic.Bool(true)}}
	}
	res, err := m.client.Messages.New(ctx, p)
	if err != nil {
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			return Reply{}, modelError(ctx, "anthropic", m.cfg.APIKey, &apiFailure{
				status: apiErr.StatusCode, kind: string(apiErr.Type()), requestID: apiErr.RequestID, message: apiErr.Message,
			}, err)
		}
		return Reply{}, modelError(ctx, "anthropic", m.cfg.APIKey, nil, err)
	}
	var r Reply
	var texts []string
	for _, b := range res.Content {
		switch b := b.AsAny().(type) {
		case anthropic.TextBlock:
			texts = append(texts, b.Text)
		case anthropic.ToolUseBlock:
			r.Calls = append(r.Calls, ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
		}
	}
	r.Text = strings.Join(texts, "\n")
	return r, nil
}

func anthropicMessage(m Message) anthropic.MessageParam {
	switch m.Role {
	case RoleAssistant:
		var blocks []anthropic.ContentBlockParamUnion
		if m.Text != "" {
			blocks = append(blocks, anthropic.NewTextBlock(m.Text))
		}
		for _, c := range m.Calls {
			// Input must be JSON; arguments that were not are resent as a
			// JSON string, which is what the model produced.
			input := json.RawMessage(c.Arguments)
			if !json.Valid(input) {
				input, _ = json.Marshal(c.Arguments)
			}
			blocks = append(blocks, anthropic.NewToolUseBlock(c.ID, input, c.Name))
		}
		return anthropic.NewAssistantMessage(blocks...)
	case RoleTool:
		var blocks []anthropic.ContentBlockParamUnion
		for _, r := range m.Results {
			blocks = append(blocks, anthropic.NewToolResultBlock(r.CallID, r.Content, r.IsError))
		}
		return anthropic.NewUserMessage(blocks...)
	}
	return anthropic.NewUserMessage(anthropic.NewTextBlock(m.Text))
}
