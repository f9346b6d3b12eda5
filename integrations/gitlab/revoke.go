package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"golang.org/x/oauth2"
)

// Revoke revokes tok at GitLab (POST /oauth/revoke beside the token
// endpoint, RFC 7009, with the application's client id and secret as form
// parameters), as on disconnect. It sends the access token, or the refresh
// token when there is no access token; GitLab keeps the two as one grant,
// so both die either way. No token at all counts as revoked already, and so
// does a token GitLab no longer knows (it answers 200 for those too). The
// HTTP client is the one in ctx under oauth2.HTTPClient, as with x/oauth2,
// else one with a 30 s timeout. GitLab refusing the application's own
// credentials (401 or 403) is an internal error, since it means Tandem is
// misconfigured; a 429 or 5xx is mapped by mapError.
func (p *Provider) Revoke(ctx context.Context, tok tandem.Token) error {
	token, hint := tok.AccessToken, "access_token"
	if token == "" {
		token, hint = tok.RefreshToken, "refresh_token"
	}
	if token == "" {
		return nil
	}
	if p.cfg.ClientID == "" {
		return errors.New("gitlab: revoke: no client id configured")
	}
	// The form carries the token (and the client secret): a redirect is
	// followed only on the revoke endpoint's host (integrations.OnHost).
	hc := &http.Client{Timeout: 30 * time.Second}
	if c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && c != nil {
		hc = c
	}
	hc = integrations.OnHost(hc)
	form := url.Values{
		"client_id":       {p.cfg.ClientID},
		"client_secret":   {p.cfg.ClientSecret},
		"token":           {token},
		"token_type_hint": {hint},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.revoke, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("gitlab: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tandem")
	resp, err := hc.Do(req)
	if err != nil {
		return mapHTTP("revoke", "this grant", nil, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("gitlab: revoke: GitLab refused the application's client credentials (HTTP %d)", code)
	case code == http.StatusTooManyRequests || code >= 500:
		return mapHTTP("revoke", "this grant", resp, fmt.Errorf("gitlab: POST %s: HTTP %d", p.revoke, code))
	default:
		return fmt.Errorf("gitlab: revoke: POST %s: unexpected HTTP %d", p.revoke, code)
	}
}
