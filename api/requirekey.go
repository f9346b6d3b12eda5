package api

import (
	"context"
	"net/http"

	"github.com/tandembot/tandem"
)

type keyContext struct{}

// RequireKey authenticates every request to h as the HTTP API does (the
// key's hash, expiry and revocation, the slowdown after repeated bad keys,
// the same error codes and JSON) and hands h the key in the request's
// context (KeyFrom).
func (s *Server) RequireKey(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.halted(w, r) {
			return
		}
		key, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)))
	})
}

// KeyFrom returns the API key RequireKey authenticated the request with.
func KeyFrom(ctx context.Context) (tandem.APIKey, bool) {
	key, ok := ctx.Value(keyContext{}).(tandem.APIKey)
	return key, ok
}
