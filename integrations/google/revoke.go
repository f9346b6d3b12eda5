package google

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// Revoke ends the grant behind tok (POST to the revoke endpoint), so that
// every token the user gave Tandem dies, as on disconnect. It sends the
// refresh token when there is one: it revokes the whole grant even after
// the access token has expired, which an expired access token cannot. The
// token goes in the form body, not the ?token= query Google's examples
// use, so that it never shows in a URL an error or a log may print. An
// empty token, or one Google no longer knows (400 invalid_token), counts as
// revoked already. The HTTP client is the one in ctx under
// oauth2.HTTPClient, as with x/oauth2, else one with a 30 s timeout; other
// failures are mapped by mapError.
func (p *Provider) Revoke(ctx context.Context, tok tandem.Token) error {
	value := tok.RefreshToken
	if value == "" {
		value = tok.AccessToken
	}
	if value == "" {
		return nil
	}
	// The form carries the token (and the client secret): a redirect is
	// followed only on the revoke endpoint's host (integrations.OnHost).
	hc := &http.Client{Timeout: 30 * time.Second}
	if c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && c != nil {
		hc = c
	}
	hc = integrations.OnHost(hc)
	form := url.Values{"token": {value}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("google: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return mapError("revoke", "this grant", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var oe struct {
		Error string `json:"error"`
	}
	if resp.StatusCode == http.StatusBadRequest && json.Unmarshal(body, &oe) == nil && oe.Error == "invalid_token" {
		return nil
	}
	return mapError("revoke", "this grant", googleapi.CheckResponseWithBody(resp, body))
}
