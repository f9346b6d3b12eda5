package integrations_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
)

// downgrader stands for a provider at https://p.example whose every
// answer is a redirect to the same host over plain http, where whatever
// arrives could be read on the wire: it records those requests.
type downgrader struct {
	mu    sync.Mutex
	plain []string // Authorization and body of each http:// request
}

func (d *downgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		b := ""
		if req.Body != nil {
			raw, _ := io.ReadAll(req.Body)
			b = string(raw)
		}
		d.mu.Lock()
		d.plain = append(d.plain, req.Header.Get("Authorization")+"|"+b)
		d.mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
	}
	u := *req.URL
	u.Scheme = "http"
	return &http.Response{StatusCode: http.StatusTemporaryRedirect, Status: "307 Temporary Redirect", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Location": {u.String()}}, Body: http.NoBody, Request: req}, nil
}

func (d *downgrader) arrivals() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.plain...)
}

// TestNoCredentialFollowsADowngradeToPlainHTTP: a redirect from https to
// http on the same host is the same host to http.Client, but what it
// repeats (a token exchange's form with the client secret, a turn's
// bearer token) would cross the network in clear. Neither OnHost nor a
// turn's client sends a credential there.
func TestNoCredentialFollowsADowngradeToPlainHTTP(t *testing.T) {
	t.Run("OnHost", func(t *testing.T) {
		d := &downgrader{}
		c := integrations.OnHost(&http.Client{Transport: d, Timeout: 10 * time.Second})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://p.example/oauth/token", strings.NewReader("client_secret=s3cret"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
		}
		for _, a := range d.arrivals() {
			if strings.Contains(a, "s3cret") {
				t.Errorf("the client secret went over plain http: %q", a)
			}
		}
	})
	t.Run("a turn's client", func(t *testing.T) {
		d := &downgrader{}
		cfg, err := github.ConfigFromBase("https://p.example")
		if err != nil {
			t.Fatal(err)
		}
		store := &memStore{link: tandem.Link{Team: "T1", User: "U1", Provider: tandem.GitHub, Login: "octo",
			Token: tandem.Token{AccessToken: redirectToken, TokenType: "bearer", Expiry: time.Now().Add(time.Hour)}}}
		tokens := &integrations.Tokens{Store: store, Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: github.New(cfg)},
			HTTPClient: &http.Client{Transport: d, Timeout: 10 * time.Second}}
		creds, err := tokens.Credentials(t.Context(), "T1", "U1", tandem.GitHub, tandem.ReasonSender)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://p.example/api/v3/user", nil)
		if resp, err := creds.Client.Do(req); err == nil {
			resp.Body.Close()
		}
		for _, a := range d.arrivals() {
			if strings.Contains(a, redirectToken) {
				t.Errorf("the turn's token went over plain http: %q", a)
			}
		}
	})
}
