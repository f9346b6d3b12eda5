package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem/integrations/providertest"
)

// TestSlackClientFollowsNoRedirectOffSlack: slack-go sends the bot token
// in the form of most Web API calls (auth.test, chat.postMessage, ...),
// and net/http repeats a form on a 307 or 308 to whatever host it names.
// The client Tandem gives slack-go follows no redirect off Slack's host,
// so the token never reaches the other one.
func TestSlackClientFollowsNoRedirectOffSlack(t *testing.T) {
	elsewhere := providertest.NewElsewhere(t, http.StatusOK, `{"ok":true,"user_id":"U1","team_id":"T1"}`)
	slackSrv := httptest.NewServer(http.HandlerFunc(elsewhere.Redirect))
	t.Cleanup(slackSrv.Close)
	const token = "xoxb-must-stay-with-slack"
	api := slack.New(token, slack.OptionAPIURL(slackSrv.URL+"/api/"), slack.OptionHTTPClient(slackClient(1)))
	if _, err := api.AuthTest(); err == nil {
		t.Error("auth.test succeeded through a redirect to another host")
	}
	for _, a := range elsewhere.Arrivals() {
		if strings.Contains(a.Body, token) || strings.Contains(a.Authorization, token) {
			t.Errorf("the bot token reached the other host: %+v", a)
		}
	}
}
