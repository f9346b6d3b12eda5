package handlers

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
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
		var unknown *UnknownError
		if !errors.As(err, &unknown) {
			t.Errorf("Parse(%q) error = %v, want *UnknownError", text, err)
			continue
		}
		if len(unknown.Suggestions) == 0 {
			t.Errorf("Parse(%q) gave no suggestions", text)
		}
	}
}

func TestParseSuggestsClosest(t *testing.T) {
	_, err := Parse("list my opne prs pls")
	var unknown *UnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v, want *UnknownError", err)
	}
	if unknown.Suggestions[0] != "list my open PRs" {
		t.Errorf("first suggestion = %q, want %q", unknown.Suggestions[0], "list my open PRs")
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
		if err != nil {
			if cmd.Name != "" {
				t.Fatalf("Parse(%q) returned both a command and an error", text)
			}
			return
		}
		if len(text) > MaxCommandBytes {
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
