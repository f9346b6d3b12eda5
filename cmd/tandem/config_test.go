package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestServeReportsEveryConfigProblem(t *testing.T) {
	vars := map[string]string{
		"SLACK_APP_TOKEN":         "xoxb-LEAKME-looks-wrong",
		"TANDEM_PUBLIC_URL":       "not a url",
		"TANDEM_LOG_FORMAT":       "xml",
		"TANDEM_GITHUB_CLIENT_ID": "id-only",
		"TANDEM_ADMINS":           "UADMIN, bob",
		"TANDEM_SHUTDOWN_TIMEOUT": "soon",
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve"}, func(k string) string { return vars[k] }, &stdout, &stderr)
	if err == nil {
		t.Fatal("serve started with a broken configuration")
	}
	msg := err.Error()
	for _, want := range []string{
		"SLACK_APP_TOKEN does not look like an app-level token",
		"SLACK_BOT_TOKEN is not set",
		"TANDEM_PUBLIC_URL is not a URL",
		"TANDEM_LOG_FORMAT is \"xml\"",
		"TANDEM_GITHUB_CLIENT_SECRET is not set",
		"TANDEM_ADMINS has \"bob\"",
		"TANDEM_SHUTDOWN_TIMEOUT is \"soon\"",
		"TANDEM_SLACK_CLIENT_ID and TANDEM_SLACK_CLIENT_SECRET are not both set",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg+stderr.String()+stdout.String(), "LEAKME") {
		t.Errorf("a secret value was echoed:\n%s", msg)
	}
	if got := strings.Count(msg, "\n"); got != 8 {
		t.Errorf("%d problem lines, want 8 (one per problem):\n%s", got, msg)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &out); err != nil || !strings.HasPrefix(out.String(), "tandem ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Error("an unknown command succeeded")
	}
}

func TestSecondServeOnTheSameDatabaseFailsFast(t *testing.T) {
	e := newEnv(t)
	e.start()
	other := map[string]string{}
	for k, v := range e.vars {
		other[k] = v
	}
	other["TANDEM_HTTP_ADDR"] = "127.0.0.1:0"
	var stderr bytes.Buffer
	err := run(ctxFor(t), []string{"serve"}, func(k string) string { return other[k] }, &stderr, &stderr)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second serve on the same database: %v", err)
	}
	err = run(ctxFor(t), []string{"migrate"}, func(k string) string { return other[k] }, &stderr, &stderr)
	if err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("migrate while serve runs: %v", err)
	}
}
