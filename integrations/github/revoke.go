package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"golang.org/x/oauth2"
)

// Revoke deletes the grant behind tok (DELETE
// /applications/{client_id}/grant, with the app's client id and secret as
// basic auth), so that every token the user gave Tandem dies, as on
// disconnect. An empty token, or one GitHub no longer knows (404), counts as
// revoked already. The HTTP client is the one in ctx under
// oauth2.HTTPClient, as with x/oauth2, else one with a 30 s timeout. GitHub
// refusing the app's own credentials (401) is an internal error, since it
// means Tandem is misconfigured; other failures are mapped by mapError.
func (p *Provider) Revoke(ctx context.Context, tok tandem.Token) error {
	if tok.AccessToken == "" {
		return nil
	}
	if p.cfg.ClientID == "" {
		return errors.New("github: revoke: no client id configured")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && c != nil {
		hc = c
	}
	app := &gh.BasicAuthTransport{Username: p.cfg.ClientID, Password: p.cfg.ClientSecret, Transport: hc.Transport}
	// The transport sets the app's credentials on every request, a
	// redirected one too: follow none off GitHub's host.
	c, err := p.client(&http.Client{Transport: app, Timeout: hc.Timeout, CheckRedirect: integrations.StayOnHost})
	if err != nil {
		return err
	}
	resp, err := c.Authorizations.DeleteGrant(ctx, p.cfg.ClientID, tok.AccessToken)
	switch {
	case err == nil:
		return nil
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		return nil
	case resp != nil && resp.StatusCode == http.StatusUnauthorized:
		integrations.Scrub(resp.Response)
		return fmt.Errorf("github: revoke: GitHub refused the app's client credentials: %w", err)
	}
	return mapError("revoke", "this grant", resp, err)
}
