package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/api"
)

// refusingRunner refuses every turn with err.
type refusingRunner struct{ err error }

func (r refusingRunner) RunAPI(context.Context, tandem.APIKey, string, string, string, bool) (tandem.TurnResult, error) {
	return tandem.TurnResult{}, r.err
}

// The engine's refusals reach the client as the API's stable codes, with
// the engine's person-safe message.
func TestRunnerRefusalsBecomeStableCodes(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"creator not a member", tandem.Errorf(tandem.ECHANNELNOTALLOWED, "API key ci-deploy acts as its creator UALICE, who is not a member of DUBOB."), 403, api.CodeChannelNotAllowed},
		{"Tandem not in the channel", tandem.Errorf(tandem.EFORBIDDEN, "Tandem cannot post in C0NOBOT; invite @tandem to the channel first."), 403, api.CodeForbidden},
	}
	for _, tt := range tests {
		srv, _ := newFuzzServer()
		srv.Runner = refusingRunner{tt.err}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", strings.NewReader(`{"channel":"DUBOB","text":"list my open PRs"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fuzzKey)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var env apiEnvelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.OK == nil || env.Error == nil {
			t.Fatalf("%s: not an error envelope (%v): %s", tt.name, err, rec.Body)
		}
		if rec.Code != tt.status || *env.OK || env.Error.Code != tt.code || env.Error.Message != tandem.ErrorMessage(tt.err) {
			t.Errorf("%s: %d %s, want %d %s with the engine's message", tt.name, rec.Code, rec.Body, tt.status, tt.code)
		}
	}
}
