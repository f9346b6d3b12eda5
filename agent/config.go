package agent

import (
	"net/http"
	"time"

	"github.com/tandembot/tandem"
)

// Config says which model endpoint to use and how patiently.
type Config struct {
	// API is "openai" (Chat Completions: OpenAI, Azure's v1 endpoint,
	// Ollama, vLLM, llama.cpp, gateways) or "anthropic" (Messages).
	API string
	// BaseURL: for openai it ends in /v1 (http://localhost:11434/v1); for
	// anthropic it has no /v1 (https://api.anthropic.com).
	BaseURL string
	// APIKey is sent only as the SDK's auth header; "" sends none (openai).
	APIKey string
	Model  string
	// Timeout bounds one request to the model (retries get their own).
	Timeout time.Duration
	// MaxRetries is how many times the SDK retries a connection error, 408,
	// 409, 429 or 5xx: 0 means DefaultMaxRetries, a negative number none.
	// It is always passed to the SDK, so the SDK's own default never applies.
	MaxRetries int
	// MaxTokens bounds one answer; 0 means DefaultMaxTokens.
	MaxTokens int64
}

// Defaults for a Config's zero fields.
const (
	DefaultMaxTokens  = 2048
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 2
)

// NewModel returns the Model cfg names. It fails with EINVALID for an
// unknown API or a missing URL or model name, before anything is sent.
func NewModel(cfg Config) (Model, error) {
	if cfg.BaseURL == "" || cfg.Model == "" {
		return nil, tandem.Errorf(tandem.EINVALID, "An agent model needs TANDEM_LLM_URL and TANDEM_LLM_MODEL.")
	}
	switch cfg.API {
	case "", "openai":
		return NewOpenAI(cfg), nil
	case "anthropic":
		return NewAnthropic(cfg), nil
	}
	return nil, tandem.Errorf(tandem.EINVALID, "TANDEM_LLM_API is openai or anthropic, not “%s”.", cfg.API)
}

func (c Config) maxTokens() int64 {
	if c.MaxTokens > 0 {
		return c.MaxTokens
	}
	return DefaultMaxTokens
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c Config) retries() int {
	if c.MaxRetries == 0 {
		return DefaultMaxRetries
	}
	return max(c.MaxRetries, 0)
}

// noRedirects is the HTTP client both models speak through: it follows no
// redirect and returns it as the answer, which the SDK reports as an
// error. A request to the model carries the API key in a header that
// anthropic-sdk-go sets again on the redirected request, and the
// conversation, which holds what turns read with their people's
// credentials; a model's API that redirects is misconfigured, and neither
// may reach wherever it points.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
