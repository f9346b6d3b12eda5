package agent_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/integrations/providertest"
)

// A model endpoint that answers with a redirect is not followed: the
// request carries the API key in a header (openai-go's Authorization,
// which net/http keeps on a redirect to the same host name on another
// port; anthropic-sdk-go's x-api-key, which it keeps on a redirect to any
// host) and the conversation, which holds what the turn read with its
// person's credentials. The turn fails instead; nothing reaches the other
// host.
func TestModelFollowsNoRedirect(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			elsewhere := providertest.NewElsewhere(t, http.StatusOK, `{}`)
			var calls int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				elsewhere.Redirect(w, r)
			}))
			t.Cleanup(srv.Close)
			m, err := agent.NewModel(agent.Config{API: api, BaseURL: srv.URL + "/v1/", APIKey: apiKey, Model: "fake-model", Timeout: 10 * time.Second, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Complete(t.Context(), agent.Conversation{System: "system", Messages: []agent.Message{{Role: agent.RoleUser, Text: "pr acme/w#12 is titled SECRET_PR_TITLE"}}})
			if err == nil {
				t.Error("Complete answered through a redirect; want an error")
			}
			if calls != 1 {
				t.Errorf("the endpoint was asked %d times, want 1", calls)
			}
			for _, a := range elsewhere.Arrivals() {
				t.Errorf("the other host received a request: headers %v, body %q", a.Header, a.Body)
				if strings.Contains(a.Body, "SECRET_PR_TITLE") {
					t.Error("... holding the conversation")
				}
			}
		})
	}
}
