package agent_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/ops"
)

var wireName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

type schema struct {
	Type       string `json:"type"`
	Properties map[string]struct {
		Type    string `json:"type"`
		Pattern string `json:"pattern"`
	} `json:"properties"`
	Required             []string `json:"required"`
	AdditionalProperties *bool    `json:"additionalProperties"`
}

func TestToolsFromTheRealCatalogs(t *testing.T) {
	specs := ops.NewCatalog(github.Operations, gitlab.Operations, jira.Operations, google.Operations).Specs()
	tools := agent.Tools(specs)
	byOp := map[string]agent.Tool{}
	for _, tool := range tools {
		byOp[tool.Op] = tool
	}
	for _, s := range specs {
		tool, offered := byOp[s.Name]
		identity := s.Control || s.Name == "help" || s.Name == "whoami" || strings.HasPrefix(s.Name, "session.")
		if identity && offered {
			t.Errorf("%s is a tool; controls and identity operations never are", s.Name)
		}
		if !identity && !offered {
			t.Errorf("%s is no tool; every provider read or change and standup should be", s.Name)
		}
		if !offered {
			continue
		}
		if tool.Change != s.Mutating || !wireName.MatchString(tool.Name) || tool.Name != strings.ReplaceAll(s.Name, ".", "_") {
			t.Errorf("%s: tool %s change=%v, want the dotless name and change=%v", s.Name, tool.Name, tool.Change, s.Mutating)
		}
		var sc schema
		if err := json.Unmarshal(tool.Schema, &sc); err != nil {
			t.Fatalf("%s: schema %s: %v", s.Name, tool.Schema, err)
		}
		if sc.Type != "object" || sc.AdditionalProperties == nil || *sc.AdditionalProperties || len(sc.Properties) != len(s.Args) {
			t.Errorf("%s: schema %s, want an object of exactly its %d arguments", s.Name, tool.Schema, len(s.Args))
		}
		for _, a := range s.Args {
			p := sc.Properties[a.Name]
			if p.Type != "string" || (a.Kind.Pattern != nil) != (p.Pattern != "") || p.Pattern != "" && !strings.HasPrefix(p.Pattern, "^") {
				t.Errorf("%s.%s: property %+v, want an anchored pattern exactly when the kind has one", s.Name, a.Name, p)
			}
		}
	}
	required := func(op string) []string {
		var sc schema
		json.Unmarshal(byOp[op].Schema, &sc)
		return sc.Required
	}
	if diff := cmp.Diff(required("github.commit"), []string{"path", "repo"}); diff != "" {
		t.Errorf("github.commit required (-got +want), branch and text are optional in its phrasings:\n%s", diff)
	}
	if diff := cmp.Diff(required("github.comment"), []string{"ref", "text"}); diff != "" {
		t.Errorf("github.comment required (-got +want):\n%s", diff)
	}
}

// Every generated tool goes through both SDKs to both strict fakes.
func TestEveryToolIsAcceptedByBothAPIs(t *testing.T) {
	tools := catalogTools()
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			m, srv := fakeModel(t, api, -1, fakellm.Steps(fakellm.Text("ok")))
			if _, err := m.Complete(t.Context(), agent.Conversation{System: "s", Tools: tools, Messages: []agent.Message{{Role: agent.RoleUser, Text: "hi"}}}); err != nil {
				t.Fatalf("the fake refused the tools: %v", err)
			}
			got := conversations(t, srv)[0]
			if len(got.Tools) != len(tools) || got.ToolChoice != "auto" || !got.NoParallel {
				t.Fatalf("fake saw %d tools, choice %q, no-parallel %v; want %d, auto, true", len(got.Tools), got.ToolChoice, got.NoParallel, len(tools))
			}
			for i, tool := range got.Tools {
				var sent, want map[string]any
				json.Unmarshal(tool.Schema, &sent)
				json.Unmarshal(tools[i].Schema, &want)
				if tool.Name != tools[i].Name || tool.Description != tools[i].Description {
					t.Errorf("tool %d sent as %s, want %s", i, tool.Name, tools[i].Name)
				}
				if diff := cmp.Diff(sent, want); diff != "" {
					t.Errorf("%s schema as sent (-got +want):\n%s", tool.Name, diff)
				}
			}
		})
	}
}

func TestToolsLeaveOutIdentityAndControls(t *testing.T) {
	run := ops.NewCatalog().Specs()[0].Run // help's Run, any non-nil Run will do
	specs := []ops.Spec{
		{Name: "github.connect", Provider: "github", Run: run},
		{Name: "apikey.create", Run: run},
		{Name: "schedule", Provider: "github", Run: run},
		{Name: "github.whoami", Provider: "github", Run: run},
		{Name: "standup", Run: run},
		{Name: "standup_change", Mutating: true, Run: run},
		{Name: "report", Run: run},
		{Name: "github.no_run", Provider: "github"},
		{Name: "github.my_prs", Provider: "github", Run: run},
	}
	var names []string
	for _, tool := range agent.Tools(specs) {
		names = append(names, tool.Name)
	}
	if diff := cmp.Diff(names, []string{"standup", "github_my_prs"}); diff != "" {
		t.Errorf("tools (-got +want):\n%s", diff)
	}
}

func TestToolsPanicOnASharedWireName(t *testing.T) {
	run := ops.NewCatalog().Specs()[0].Run
	defer func() {
		if recover() == nil {
			t.Error("no panic for github.x and github_x")
		}
	}()
	agent.Tools([]ops.Spec{{Name: "github.x", Provider: "github", Run: run}, {Name: "github_x", Provider: "github", Run: run}})
}

// The SDKs read OPENAI_* and ANTHROPIC_* from the environment; none of it
// may reach the configured endpoint.
func TestEnvironmentDoesNotLeakIntoRequests(t *testing.T) {
	for _, k := range []string{"OPENAI_CUSTOM_HEADERS", "ANTHROPIC_CUSTOM_HEADERS"} {
		t.Setenv(k, "X-Leak: "+heldToken)
	}
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"} {
		t.Setenv(k, heldToken)
	}
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			m, srv := fakeModel(t, api, -1, fakellm.Steps(fakellm.Text("ok")))
			if _, err := m.Complete(t.Context(), agent.Conversation{System: "s", Messages: []agent.Message{{Role: agent.RoleUser, Text: "hi"}}}); err != nil {
				t.Fatal(err)
			}
			for _, r := range srv.Requests() {
				for _, h := range []string{"X-Leak", "Openai-Organization", "Openai-Project"} {
					if r.Header.Get(h) != "" {
						t.Errorf("header %s came from the environment", h)
					}
				}
			}
		})
	}
}
