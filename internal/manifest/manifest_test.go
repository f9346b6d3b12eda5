package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

const (
	manifestPath = "../../manifest.yaml"
	// Slack's schema (slackapi/manifest-schema, MIT: testdata/slack/
	// LICENSE.manifest-schema) is kept with the test, so that it runs on
	// every clone; sharedSchemaPath is the copy the team shares beside the
	// checkout, which the kept one must equal when it is there.
	schemaPath       = "testdata/slack/manifest.schema.1.0.0.json"
	sharedSchemaPath = "../../../shared/slack/manifest.schema.1.0.0.json"
)

// readManifestJSON returns manifest.yaml converted to JSON.
func readManifestJSON(t *testing.T) []byte {
	t.Helper()
	y, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("convert %s to JSON: %v", manifestPath, err)
	}
	return j
}

// compileSchema compiles Slack's manifest schema. A missing schema fails
// the test: it is part of the repository, so it never skips.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(abs)
	if err != nil {
		t.Fatalf("open schema: %v", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse schema %s: %v", abs, err)
	}

	c := jsonschema.NewCompiler()
	// The schema declares "$schema": draft-07, which the compiler honours; it
	// has no "$id", so it is registered under its own file location. Draft 7
	// is also the fallback should the declaration ever go missing.
	c.DefaultDraft(jsonschema.Draft7)
	c.UseRegexpEngine(compileECMAPattern)
	loc := "file://" + filepath.ToSlash(abs)
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// validate checks a JSON document against the schema.
func validate(sch *jsonschema.Schema, j []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return fmt.Errorf("parse instance: %w", err)
	}
	return sch.Validate(inst)
}

// TestKeptSchemaIsTheSharedOne: the schema kept in testdata is the team's
// shared copy, when a checkout has one beside it.
func TestKeptSchemaIsTheSharedOne(t *testing.T) {
	shared, err := os.ReadFile(sharedSchemaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return // a clone without shared/: the kept copy is all there is
	}
	if err != nil {
		t.Fatal(err)
	}
	kept, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, shared) {
		t.Errorf("%s differs from %s: copy the shared schema into testdata", schemaPath, sharedSchemaPath)
	}
}

func TestManifestMatchesSlackSchema(t *testing.T) {
	sch := compileSchema(t)
	if err := validate(sch, readManifestJSON(t)); err != nil {
		t.Fatalf("%s does not validate against %s:\n%v", manifestPath, schemaPath, err)
	}
}

// manifest models the parts of the manifest this bot depends on.
type manifest struct {
	DisplayInformation struct {
		Name            string `json:"name"`
		BackgroundColor string `json:"background_color"`
	} `json:"display_information"`
	Features struct {
		BotUser struct {
			DisplayName string `json:"display_name"`
		} `json:"bot_user"`
		AppHome struct {
			HomeTabEnabled     bool `json:"home_tab_enabled"`
			MessagesTabEnabled bool `json:"messages_tab_enabled"`
		} `json:"app_home"`
		SlashCommands []struct {
			Command string `json:"command"`
			URL     string `json:"url"`
		} `json:"slash_commands"`
		Shortcuts []struct {
			Type       string `json:"type"`
			CallbackID string `json:"callback_id"`
		} `json:"shortcuts"`
	} `json:"features"`
	OAuthConfig struct {
		RedirectURLs []string `json:"redirect_urls"`
		Scopes       struct {
			Bot  []string `json:"bot"`
			User []string `json:"user"`
		} `json:"scopes"`
	} `json:"oauth_config"`
	Settings struct {
		EventSubscriptions struct {
			RequestURL string   `json:"request_url"`
			BotEvents  []string `json:"bot_events"`
		} `json:"event_subscriptions"`
		Interactivity struct {
			IsEnabled  bool   `json:"is_enabled"`
			RequestURL string `json:"request_url"`
		} `json:"interactivity"`
		SocketModeEnabled bool `json:"socket_mode_enabled"`
	} `json:"settings"`
}

// Everything below is what the bot's code relies on; the manifest may declare
// more but never less. Group DMs (mpim) are sessions like private channels.
var (
	wantCommands  = []string{"/connect", "/disconnect", "/tandem"}
	wantBotEvents = []string{"app_mention", "message.channels", "message.groups", "message.im", "message.mpim", "app_home_opened"}
	wantBotScopes = []string{
		"app_mentions:read", "channels:history", "groups:history", "im:history", "mpim:history",
		"chat:write", "commands", "users:read", "channels:read", "groups:read",
		"im:write", "reactions:write", "im:read", "mpim:read",
	}
)

// This test needs only manifest.yaml, so it runs even without Slack's schema.
func TestManifestDeclaresWhatTheBotUses(t *testing.T) {
	var m manifest
	if err := yaml.Unmarshal(readManifestJSON(t), &m); err != nil {
		t.Fatalf("decode manifest: %v", err)
	}

	if m.DisplayInformation.Name != "Tandem" {
		t.Errorf("display_information.name = %q, want Tandem", m.DisplayInformation.Name)
	}
	// The schema spells this check "regex", which JSON Schema ignores.
	if c := m.DisplayInformation.BackgroundColor; !regexp.MustCompile(`^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$`).MatchString(c) {
		t.Errorf("display_information.background_color = %q, want #rgb or #rrggbb", c)
	}
	if m.Features.BotUser.DisplayName == "" {
		t.Error("features.bot_user.display_name is missing: without a bot user there is no bot token")
	}
	if !m.Features.AppHome.HomeTabEnabled || !m.Features.AppHome.MessagesTabEnabled {
		t.Error("features.app_home must enable the Home tab and the Messages tab")
	}

	if !m.Settings.SocketModeEnabled {
		t.Error("settings.socket_mode_enabled is not true")
	}
	if !m.Settings.Interactivity.IsEnabled {
		t.Error("settings.interactivity.is_enabled is not true: the shortcut and modals need it")
	}
	// In Socket Mode Slack delivers over the socket; a request URL would be a
	// leftover from an HTTP set-up.
	if u := m.Settings.Interactivity.RequestURL; u != "" {
		t.Errorf("settings.interactivity.request_url = %q, want none in Socket Mode", u)
	}
	if u := m.Settings.EventSubscriptions.RequestURL; u != "" {
		t.Errorf("settings.event_subscriptions.request_url = %q, want none in Socket Mode", u)
	}

	var commands []string
	for _, c := range m.Features.SlashCommands {
		commands = append(commands, c.Command)
		if c.URL != "" {
			t.Errorf("slash command %s has url %q, want none in Socket Mode", c.Command, c.URL)
		}
	}
	for _, want := range wantCommands {
		if !slices.Contains(commands, want) {
			t.Errorf("features.slash_commands lacks %s (has %v)", want, commands)
		}
	}

	found := false
	for _, s := range m.Features.Shortcuts {
		if s.CallbackID == "session_settings" {
			found = true
			if s.Type != "message" {
				t.Errorf("shortcut session_settings has type %q, want message", s.Type)
			}
		}
	}
	if !found {
		t.Error("features.shortcuts lacks the session_settings message shortcut")
	}

	for _, want := range wantBotEvents {
		if !slices.Contains(m.Settings.EventSubscriptions.BotEvents, want) {
			t.Errorf("settings.event_subscriptions.bot_events lacks %s", want)
		}
	}
	for _, want := range wantBotScopes {
		if !slices.Contains(m.OAuthConfig.Scopes.Bot, want) {
			t.Errorf("oauth_config.scopes.bot lacks %s", want)
		}
	}
	// A history scope without its message event reads nothing, and an event
	// without its scope is never delivered: they come in pairs.
	for _, scope := range m.OAuthConfig.Scopes.Bot {
		if kind, ok := strings.CutSuffix(scope, ":history"); ok && !slices.Contains(m.Settings.EventSubscriptions.BotEvents, "message."+kind) {
			t.Errorf("oauth_config.scopes.bot has %s but bot_events lacks message.%s", scope, kind)
		}
	}
	for _, event := range m.Settings.EventSubscriptions.BotEvents {
		if kind, ok := strings.CutPrefix(event, "message."); ok && !slices.Contains(m.OAuthConfig.Scopes.Bot, kind+":history") {
			t.Errorf("bot_events has %s but oauth_config.scopes.bot lacks %s:history", event, kind)
		}
	}
	// Sign in with Slack: the openid user scope, and exactly the callback
	// Tandem serves (on a placeholder host the README says to replace).
	if !slices.Contains(m.OAuthConfig.Scopes.User, "openid") {
		t.Error("oauth_config.scopes.user lacks openid (Sign in with Slack)")
	}
	if len(m.OAuthConfig.Scopes.User) != 1 {
		t.Errorf("oauth_config.scopes.user = %v, want only openid: Tandem needs no other user token scope", m.OAuthConfig.Scopes.User)
	}
	found = false
	for _, u := range m.OAuthConfig.RedirectURLs {
		if strings.HasSuffix(u, "/oauth/slack/callback") && strings.HasPrefix(u, "https://") {
			found = true
		}
	}
	if !found {
		t.Errorf("oauth_config.redirect_urls = %v, want an https URL ending in /oauth/slack/callback", m.OAuthConfig.RedirectURLs)
	}
}

// The schema check is only worth something if it can fail: copies of the
// manifest with one key misspelled or one value wrong must be rejected.
func TestSchemaRejectsBrokenManifest(t *testing.T) {
	sch := compileSchema(t)
	good := readManifestJSON(t)
	if err := validate(sch, good); err != nil {
		t.Fatalf("the manifest itself must validate before its copies are broken: %v", err)
	}

	cases := []struct {
		name   string
		mutate func(m map[string]any)
		want   string // appears in the validation error
	}{
		{
			name: "misspelled socket_mode_enabled",
			mutate: func(m map[string]any) {
				s := m["settings"].(map[string]any)
				s["socket_mode_enable"] = s["socket_mode_enabled"]
				delete(s, "socket_mode_enabled")
			},
			want: "socket_mode_enable",
		},
		{
			name: "misspelled should_escape",
			mutate: func(m map[string]any) {
				c := m["features"].(map[string]any)["slash_commands"].([]any)[0].(map[string]any)
				c["should_escapes"] = false
			},
			want: "should_escapes",
		},
		{
			name: "unknown shortcut type",
			mutate: func(m map[string]any) {
				s := m["features"].(map[string]any)["shortcuts"].([]any)[0].(map[string]any)
				s["type"] = "message_action"
			},
			want: "/features/shortcuts/0/type",
		},
		{
			// Uses the lookahead pattern that compileECMAPattern handles.
			name: "unfurl domain starting with a dot",
			mutate: func(m map[string]any) {
				m["features"].(map[string]any)["unfurl_domains"] = []any{".example.com"}
			},
			want: "/features/unfurl_domains/0",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			tc.mutate(m)
			bad, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = validate(sch, bad)
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("broken manifest was not rejected by the schema (err = %v)", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("rejection does not name %q:\n%v", tc.want, err)
			}
		})
	}
}
