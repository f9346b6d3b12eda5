package doctor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandembot/tandem/integrations/providertest"
)

// TestDoctorSendsNoSecretOffHost: the doctor asks Slack and the providers
// with the real secrets (the bot token in auth.test's form, Sign in with
// Slack's and a provider's client secret in a token exchange's form).
// Endpoints that answer 307 to another host get nothing of them there: the
// doctor follows such a redirect only on the endpoint's own host, as
// tandem serve does.
func TestDoctorSendsNoSecretOffHost(t *testing.T) {
	e := newTestEnv(t)
	elsewhere := providertest.NewElsewhere(t, http.StatusOK, `{"ok":true}`)
	redirect := httptest.NewServer(http.HandlerFunc(elsewhere.Redirect))
	t.Cleanup(redirect.Close)
	e.vars["TANDEM_SLACK_API_URL"] = redirect.URL + "/api/"
	for _, p := range []string{"GITHUB", "GITLAB", "JIRA", "GOOGLE"} {
		e.vars["TANDEM_"+p+"_TOKEN_URL"] = redirect.URL + "/oauth/token"
	}
	e.doctor()
	secrets := []string{e.vars["SLACK_BOT_TOKEN"], e.vars["SLACK_APP_TOKEN"], testSlackSecret, testSecret}
	for _, a := range elsewhere.Arrivals() {
		for _, s := range secrets {
			if strings.Contains(a.Body, s) || strings.Contains(a.Authorization, s) {
				t.Errorf("%q reached the other host: %+v", s, a)
			}
		}
	}
}
