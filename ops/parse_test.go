package ops_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

func TestParsePhrasings(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"list my open PRs", "github.my_prs"},
		{"list my open PRs?", "github.my_prs"},
		{"show me my pull requests", "github.my_prs"},
		{"what are my open PRs", "github.my_prs"},
		{"my prs", "github.my_prs"},
		{"please list my open pull requests.", "github.my_prs"},
		{"LIST MY OPEN PRS", "github.my_prs"},
		{"help", "help"},
		{"whoami", "whoami"},
		{"who am I?", "whoami"},
		{"which identity would you use", "whoami"},
		{"PRs waiting for my review", "github.review_requests"},
		{"what needs my review?", "github.review_requests"},
		{"my github issues", "github.my_issues"},
		{"create issue in acme/tools Broken build | it fails on main", "github.create_issue"},
		{"open an issue on acme/tools titled Flaky test", "github.create_issue"},
		{"comment on acme/tools#12 Looks good to me", "github.comment"},
		{"commit notes/a.md to acme/tools on main Hello | Add note", "github.commit"},
		{"commit notes/a.md to acme/tools hello", "github.commit"},
		{"status of acme/tools#12", "github.pr_status"},
		{"is acme/tools#12 mergeable?", "github.pr_status"},
		{"list my open MRs", "gitlab.my_mrs"},
		{"merge requests where I am a reviewer", "gitlab.review_mrs"},
		{"MRs waiting for my review", "gitlab.review_mrs"},
		{"my gitlab issues", "gitlab.my_issues"},
		{"create gitlab issue in group/sub/project Title", "gitlab.create_issue"},
		{"comment on group/project!7 Ship it", "gitlab.comment_mr"},
		{"comment on gitlab group/project#3 On it", "gitlab.comment_issue"},
		{"my jira issues", "jira.my_issues"},
		{"my tickets", "jira.my_issues"},
		{"create jira issue in OPS Rotate the keys", "jira.create"},
		{"create a jira bug in OPS Login fails | steps", "jira.create"},
		{"comment on OPS-12 Deployed", "jira.comment"},
		{"move OPS-12 to In Progress", "jira.move"},
		{"show OPS-12", "jira.show"},
		{"OPS-12", "jira.show"},
		{"my meetings today", "google.meetings_today"},
		{"what's on my calendar", "google.meetings_today"},
		{"meetings this week", "google.meetings_week"},
		{"find docs about quarterly plan", "google.find_docs"},
		{"search drive for roadmap", "google.find_docs"},
		{"standup", "standup"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.text, err)
			}
			if got.Name != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.text, got.Name, tt.want)
			}
		})
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	for _, text := range []string{"", "   ", "list my open", "hello there", "my prs please now", "list list my open PRs"} {
		_, err := Parse(text)
		var unknown *ops.UnknownError
		if !errors.As(err, &unknown) {
			t.Errorf("Parse(%q) error = %v, want *ops.UnknownError", text, err)
			continue
		}
		if len(unknown.Suggestions) == 0 {
			t.Errorf("Parse(%q) gave no suggestions", text)
		}
	}
}

func TestParseSuggestsClosest(t *testing.T) {
	_, err := Parse("list my opne prs pls")
	var unknown *ops.UnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v, want *ops.UnknownError", err)
	}
	if unknown.Suggestions[0] != "list my open PRs" {
		t.Errorf("first suggestion = %q, want %q", unknown.Suggestions[0], "list my open PRs")
	}
}

// TestParseSuggestsOnlyWhatIsClose: a question that is no typo of a
// command ("what is the weather") is offered help, not the nearest command.
func TestParseSuggestsOnlyWhatIsClose(t *testing.T) {
	for _, text := range []string{"what is the weather", "tell me a joke", "deploy production now"} {
		_, err := Parse(text)
		var unknown *ops.UnknownError
		if !errors.As(err, &unknown) {
			t.Fatalf("Parse(%q) err = %v, want *UnknownError", text, err)
		}
		if len(unknown.Suggestions) != 1 || unknown.Suggestions[0] != "help" {
			t.Errorf("Parse(%q) suggests %q, want only help", text, unknown.Suggestions)
		}
	}
}

func TestParseCapturesArguments(t *testing.T) {
	tests := []struct {
		text string
		want map[string]string
	}{
		{"create issue in acme/tools Broken build | it fails", map[string]string{"repo": "acme/tools", "text": "Broken build | it fails"}},
		{"commit notes/a.md to acme/tools on dev Hello world", map[string]string{"path": "notes/a.md", "repo": "acme/tools", "branch": "dev", "text": "Hello world"}},
		{"create a jira bug in OPS Login fails", map[string]string{"type": "bug", "key": "OPS", "text": "Login fails"}},
		{"move OPS-12 to In Review", map[string]string{"issue": "OPS-12", "text": "In Review"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.text, err)
		}
		for k, v := range tt.want {
			if got.Args[k] != v {
				t.Errorf("Parse(%q) arg %s = %q, want %q", tt.text, k, got.Args[k], v)
			}
		}
	}
}

func TestParseSaysWhatWasExpected(t *testing.T) {
	tests := []struct{ text, want string }{
		{"create issue in not-a-repo Title", "owner/repo"},
		{"comment on acme/tools#x hi", "owner/repo#123"},
		{"create jira issue in ops-lower Title", "Jira project key"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		if tandem.ErrorCode(err) != tandem.EINVALID || !strings.Contains(tandem.ErrorMessage(err), tt.want) {
			t.Errorf("Parse(%q) = %v, want EINVALID mentioning %q", tt.text, err, tt.want)
		}
	}
}

func TestParseRefusesOversizedAndInvalidText(t *testing.T) {
	for _, text := range []string{strings.Repeat("a ", 50_000), "list my \xff PRs"} {
		_, err := Parse(text)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Parse(%.20q…) code = %q, want %q", text, tandem.ErrorCode(err), tandem.EINVALID)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"list my open PRs", "help", "who am i", "comment on a/b#1 hi", "", "[(|)]", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := Parse(text)
		sameAsTryingEveryPhrasing(t, text, cmd, err)
		if err != nil {
			if cmd.Name != "" {
				t.Fatalf("Parse(%q) returned both a command and an error", text)
			}
			return
		}
		if len(text) > ops.MaxCommandBytes {
			t.Fatalf("Parse accepted %d bytes", len(text))
		}
		// Whatever parses must match one of the command's phrasings again
		// when re-parsed from its canonical words.
		again, err := Parse(strings.Join(strings.Fields(text), " "))
		if err != nil || again.Name != cmd.Name {
			t.Fatalf("Parse(%q) = %q but re-parse gave %q, %v", text, cmd.Name, again.Name, err)
		}
	})
}

// sameAsTryingEveryPhrasing fails t unless Parse's result for text (cmd,
// err) is what trying every phrasing gives: skipping those the first word
// rules out changes no command, no argument and no refusal.
func sameAsTryingEveryPhrasing(t *testing.T, text string, cmd ops.Command, err error) {
	t.Helper()
	want, wantErr := catalog.ParseTryingEveryPhrasing(text)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || cmd.Name != want.Name || !maps.Equal(cmd.Args, want.Args) {
		t.Fatalf("Parse(%q) = %q %v, %v; trying every phrasing gives %q %v, %v", text, cmd.Name, cmd.Args, err, want.Name, want.Args, wantErr)
	}
	var unknown, wantUnknown *ops.UnknownError
	if errors.As(err, &unknown) != errors.As(wantErr, &wantUnknown) || (unknown != nil && !slices.Equal(unknown.Suggestions, wantUnknown.Suggestions)) {
		t.Fatalf("Parse(%q) suggests %v; trying every phrasing suggests %v", text, unknown, wantUnknown)
	}
}

// TestSkippingPhrasingsByFirstWordChangesNothing: Parse passes over the
// phrasings a message's first word rules out. For every operation's
// example, and variants of it that match other phrasings or none (a word
// dropped, an argument of the wrong kind, upper case, a leading "please",
// each word alone), the result is what trying every phrasing gives.
func TestSkippingPhrasingsByFirstWordChangesNothing(t *testing.T) {
	texts := []string{"help", "please help", "HELP", "list", "status", "what", "comment on acme/tools#x hi"}
	for _, s := range catalog.Specs() {
		words := strings.Fields(s.Example)
		texts = append(texts, s.Example, strings.ToUpper(s.Example), "please "+s.Example)
		for i := range words {
			texts = append(texts, words[i], strings.Join(slices.Delete(slices.Clone(words), i, i+1), " "))
			swapped := slices.Clone(words)
			swapped[i] = "not/a#kind"
			texts = append(texts, strings.Join(swapped, " "))
		}
	}
	checked := 0
	for _, text := range texts {
		cmd, err := Parse(text)
		sameAsTryingEveryPhrasing(t, text, cmd, err)
		if err == nil {
			checked++
		}
	}
	if checked < len(catalog.Specs())/2 {
		t.Fatalf("only %d of %d texts parsed: the variants no longer exercise the phrasings", checked, len(texts))
	}
}

// BenchmarkParseCommand: the commands a burst of turns is made of, read
// by Parse and by trying every phrasing (what Parse did before it skipped
// those the first word rules out).
func BenchmarkParseCommand(b *testing.B) {
	for _, text := range []string{"list my open PRs", "list my open MRs", "status of acme/tools#12"} {
		b.Run(text, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse(text)
			}
		})
		b.Run(text+"/every-phrasing", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				catalog.ParseTryingEveryPhrasing(text)
			}
		})
	}
}
