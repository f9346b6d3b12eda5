package agent

import "context"

// Model is a language model that answers one conversation with text or tool
// calls. OpenAI and Anthropic implement it with their official SDKs.
//
// Complete fails with a *tandem.Error (wrapped) whose code says whose fault
// it is: EUNAVAILABLE when the endpoint is down, overloaded, rate limited
// or too slow (after the SDK's own retries), EINTERNAL when it refused
// Tandem's request (a bad key, model name or request). No error text holds
// the API key.
type Model interface {
	Complete(ctx context.Context, c Conversation) (Reply, error)
}

// Role is who speaks a Message.
type Role string

// The roles of a conversation. Tool results travel in their own message.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Conversation is what a Model is sent, the same for every API.
type Conversation struct {
	System   string
	Messages []Message
	Tools    []Tool
}

// Message is one turn of a conversation: user text, an assistant's text and
// tool calls, or the results of those calls.
type Message struct {
	Role    Role
	Text    string
	Calls   []ToolCall
	Results []ToolResult
}

// ToolCall is a model's request to run a tool; Arguments is the JSON text
// as the model wrote it, which may not be JSON at all.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// ToolResult answers one ToolCall.
type ToolResult struct {
	CallID  string
	Content string
	IsError bool
}

// Reply is a model's answer: text, tool calls, or both.
type Reply struct {
	Text  string
	Calls []ToolCall
}
