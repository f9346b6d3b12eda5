// Package agent plans a free-form request with a language model that calls
// tools generated from Tandem's operation declarations (ops.Spec).
//
// The package holds no Slack, no store and no credentials, and it keeps
// three rules in code rather than in the prompt:
//   - The model never chooses whose identity is used: a tool call carries
//     only the operation's declared arguments; the Executor (the turn
//     engine) decides the identity by the rule and holds every token.
//   - The model never sees a token: the Executor returns rendered text, and
//     tool errors reach the model only as tandem.ErrorMessage words.
//   - The model never changes anything: a tool whose operation is Mutating
//     is never executed here; it becomes a Proposal that only the sender's
//     press can run.
//
// Everything that does not come from the sender's own message (the thread
// history, every tool result, every tool error) reaches the model as quoted
// data inside an <untrusted> tag that the system prompt says never to obey.
// The structural guard is still the press: an injected instruction can at
// most produce a Proposal the sender sees and can cancel.
package agent
