// Package slacksignin is Sign in with Slack (Slack's OpenID Connect) for the
// connect flow: it sends a browser to Slack and learns, from Slack itself,
// which Slack user and workspace the browser belongs to.
package slacksignin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem/integrations"
)

// Client signs browsers in with the Slack app's own OAuth client.
type Client struct {
	ClientID     string
	ClientSecret string
	// AuthorizeURL is Slack's authorize page
	// (https://slack.com/openid/connect/authorize).
	AuthorizeURL string
	// APIURL is Slack's Web API base, ending in "/" (https://slack.com/api/).
	APIURL     string
	HTTPClient *http.Client
	Now        func() time.Time
}

var _ integrations.SlackSignIn = (*Client)(nil)

// AuthURL returns Slack's sign-in page for one flow: the code flow with
// scope openid, the flow's state and nonce, and the workspace preselected.
func (c *Client) AuthURL(state, nonce, redirectURI, team string) string {
	q := url.Values{
		"response_type": {"code"},
		"scope":         {"openid"},
		"client_id":     {c.ClientID},
		"redirect_uri":  {redirectURI},
		"state":         {state},
		"nonce":         {nonce},
	}
	if team != "" {
		q.Set("team", team)
	}
	sep := "?"
	if strings.Contains(c.AuthorizeURL, "?") {
		sep = "&"
	}
	return c.AuthorizeURL + sep + q.Encode()
}

// idClaims are the ID token's claims this package checks.
type idClaims struct {
	Aud    audience `json:"aud"`
	Nonce  string   `json:"nonce"`
	Exp    int64    `json:"exp"`
	UserID string   `json:"https://slack.com/user_id"`
	TeamID string   `json:"https://slack.com/team_id"`
}

// audience is the "aud" claim: one string or a list.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// Identify exchanges code at openid.connect.token and reads
// openid.connect.userInfo with the token it gets. The ID token came straight
// from Slack's token endpoint over TLS, so its signature is not what is
// checked (OpenID Connect Core 3.1.3.7); its audience, nonce and expiry
// are, and its user and team must be the ones userInfo reports. It fails
// when Slack refuses the code or any of these differ.
func (c *Client) Identify(ctx context.Context, code, redirectURI, nonce string) (team, user string, err error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	// The exchange's form holds the client secret: a redirect off Slack's
	// host would repeat it there (integrations.OnHost).
	hc = integrations.OnHost(hc)
	tok, err := slack.GetOpenIDConnectTokenContext(ctx, hc, c.ClientID, c.ClientSecret, code, redirectURI, slack.OAuthOptionAPIURL(c.APIURL))
	if err != nil {
		return "", "", fmt.Errorf("slacksignin: openid.connect.token: %w", err)
	}
	claims, err := decodeIDToken(tok.IdToken)
	if err != nil {
		return "", "", fmt.Errorf("slacksignin: id token: %w", err)
	}
	switch {
	case !slices.Contains(claims.Aud, c.ClientID):
		return "", "", errors.New("slacksignin: id token: issued for another client")
	case claims.Nonce != nonce:
		return "", "", errors.New("slacksignin: id token: nonce does not match this sign-in")
	case !c.now().Before(time.Unix(claims.Exp, 0)):
		return "", "", errors.New("slacksignin: id token: expired")
	}
	info, err := slack.New(tok.AccessToken, slack.OptionAPIURL(c.APIURL), slack.OptionHTTPClient(hc)).GetOpenIDConnectUserInfoContext(ctx)
	if err != nil {
		return "", "", fmt.Errorf("slacksignin: openid.connect.userInfo: %w", err)
	}
	if info.UserID == "" || info.TeamID == "" || info.UserID != claims.UserID || info.TeamID != claims.TeamID {
		return "", "", errors.New("slacksignin: userInfo and the id token name different users")
	}
	return info.TeamID, info.UserID, nil
}

func decodeIDToken(raw string) (idClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return idClaims{}, errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return idClaims{}, fmt.Errorf("payload: %w", err)
	}
	var c idClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return idClaims{}, fmt.Errorf("payload: %w", err)
	}
	return c, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
