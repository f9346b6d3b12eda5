package agent_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandembot/tandem/agent"
)

func toolNamed(t *testing.T, op string) agent.Tool {
	t.Helper()
	for _, tool := range catalogTools() {
		if tool.Op == op {
			return tool
		}
	}
	t.Fatalf("no tool for %s", op)
	return agent.Tool{}
}

func TestArgs(t *testing.T) {
	cases := []struct {
		op, raw string
		want    map[string]string // nil: refused
	}{
		{"github.comment", `{"ref":"acme/w#12","text":"LGTM"}`, map[string]string{"ref": "acme/w#12", "text": "LGTM"}},
		{"github.my_prs", ``, map[string]string{}},
		{"github.my_prs", `{}`, map[string]string{}},
		{"github.commit", `{"path":"a.md","repo":"acme/w"}`, map[string]string{"path": "a.md", "repo": "acme/w"}},
		{"github.commit", `{"path":"a.md","repo":"acme/w","branch":null}`, map[string]string{"path": "a.md", "repo": "acme/w"}},
		{"github.my_prs", `{"user":"bob"}`, nil},                      // undeclared
		{"github.comment", `{"ref":"acme/w#12"}`, nil},                // missing
		{"github.comment", `{"ref":"acme/w#12 x","text":"hi"}`, nil},  // not a full match
		{"github.comment", `{"ref":"xacme/w#12\n","text":"hi"}`, nil}, // trailing newline
		{"github.comment", `{"ref":12,"text":"hi"}`, nil},             // not a string
		{"github.comment", `{"ref":"acme/w#12","text":"   "}`, nil},   // empty text
		{"github.comment", `{"ref":"acme/w#12","text":"` + strings.Repeat("a", agent.MaxWordsBytes+1) + `"}`, nil},
		{"github.comment", `[]`, nil},
		{"github.comment", `"{\"ref\":\"acme/w#12\"}"`, nil},
		{"github.comment", `{"ref":"acme/w#12","text":"a"} {}`, nil},
		{"jira.show", `{"issue":"OPS-12"}`, map[string]string{"issue": "OPS-12"}},
		{"jira.show", `{"issue":"ops-12"}`, nil},
	}
	for _, tc := range cases {
		got, err := toolNamed(t, tc.op).Args(tc.raw)
		var argsErr *agent.ArgsError
		switch {
		case tc.want == nil && !errors.As(err, &argsErr):
			t.Errorf("%s(%.60s): got %v, %v; want an *ArgsError", tc.op, tc.raw, got, err)
		case tc.want != nil && err != nil:
			t.Errorf("%s(%.60s): %v", tc.op, tc.raw, err)
		case tc.want != nil:
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("%s(%.60s) (-got +want):\n%s", tc.op, tc.raw, diff)
			}
		}
	}
}
