package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestServeStartupFailureIsOneLine runs tandem serve as main does, with a
// start-up failure: it returns one line naming the variable at fault, and
// nothing reaches stderr before it (main prints the returned error there).
func TestServeStartupFailureIsOneLine(t *testing.T) {
	slack := fakeslack.New(fakeslack.Options{TokenErrors: map[string]string{"xapp-inactive": "account_inactive"}})
	if err := slack.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(slack.Close)
	missing := filepath.Join(t.TempDir(), "typo")
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"db folder missing", map[string]string{"TANDEM_DB": filepath.Join(missing, "tandem.db")},
			[]string{"TANDEM_DB", missing, "does not exist", "create the folder"}},
		{"bot token refused", map[string]string{"SLACK_BOT_TOKEN": "xoxb-wrong"},
			[]string{"SLACK_BOT_TOKEN", "invalid_auth", "OAuth & Permissions"}},
		{"app token inactive", map[string]string{"SLACK_APP_TOKEN": "xapp-inactive"},
			[]string{"SLACK_APP_TOKEN", "account_inactive", "App-Level Tokens", "connections:write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{
				"SLACK_BOT_TOKEN":                     slack.BotToken(),
				"SLACK_APP_TOKEN":                     slack.AppToken(),
				"TANDEM_SLACK_API_URL":                slack.APIURL(),
				"TANDEM_DB":                           filepath.Join(t.TempDir(), "tandem.db"),
				"TANDEM_HTTP_ADDR":                    "127.0.0.1:0",
				"TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN": "true",
				"TANDEM_LOG_FORMAT":                   "json",
			}
			for k, v := range tc.vars {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr)
			if err == nil {
				t.Fatal("serve started")
			}
			line := err.Error()
			t.Logf("%s", line)
			if strings.Contains(line, "\n") {
				t.Errorf("the error is not one line:\n%s", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("the line lacks %q: %s", w, line)
				}
			}
			// Whatever printed the error, nothing else was printed first.
			if out := strings.TrimSpace(stderr.String()); out != "" && !strings.HasPrefix(out, line) && !strings.HasSuffix(strings.SplitN(out, "\n", 2)[0], line) {
				t.Errorf("stderr has output before the error line:\n%s", out)
			}
			if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("serve created the folder %s (stat: %v)", missing, err)
			}
		})
	}
}
