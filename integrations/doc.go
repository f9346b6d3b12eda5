// Package integrations links people's provider accounts and hands out their
// tokens: one OAuth flow (Flow) and one token source (Tokens) for every
// provider. Each provider's own API lives in a subpackage
// (integrations/github, ...), which implements tandem.Provider.
package integrations
