package fakegoogle

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFields(t *testing.T) {
	tests := []struct {
		in   string
		want selection
	}{
		{"kind", selection{"kind": nil}},
		{"nextPageToken,files(id,name)", selection{"nextPageToken": nil, "files": {"id": nil, "name": nil}}},
		{"items/start/dateTime,items(id)", selection{"items": {"start": {"dateTime": nil}, "id": nil}}},
		{"files(id),files", selection{"files": nil}},
		{"*", selection{"*": nil}},
	}
	for _, tt := range tests {
		got, err := parseFields(tt.in)
		if err != nil {
			t.Errorf("parseFields(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("parseFields(%q) (-got +want):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "a,", "files(id", "files(id))", "a//b", "a b"} {
		if _, err := parseFields(bad); err == nil {
			t.Errorf("parseFields(%q) succeeded", bad)
		}
	}
	sel, _ := parseFields("files(id),nextPageToken")
	got := sel.apply(map[string]any{"kind": "k", "files": []map[string]any{{"id": "1", "name": "n"}}})
	want := map[string]any{"files": []any{map[string]any{"id": "1"}}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("apply (-got +want):\n%s", diff)
	}
}

func TestParseQuery(t *testing.T) {
	f := &file{owner: "alice@example.test", name: "Q3 Roadmap", mimeType: MimeDocument, content: `Alice's plan: C:\budget`}
	tests := []struct {
		q    string
		want bool
	}{
		{"", true},
		{"fullText contains 'plan' and trashed = false", true},
		{`fullText contains 'Alice\'s'`, true},
		{`fullText contains '"alice s plan"'`, true},
		{`fullText contains '"plan alice"'`, false},
		{"name contains 'road'", true},
		{"name contains 'map'", false},
		{"mimeType != 'application/pdf' and not starred = true", true},
		{"'alice@example.test' in owners or name = 'x'", true},
		{"(trashed = true or starred = true) and name contains 'q3'", false},
		{"modifiedTime > '2020-01-01T00:00:00Z'", false}, // a zero modification time
	}
	for _, tt := range tests {
		q, err := parseQuery(tt.q)
		if err != nil {
			t.Errorf("parseQuery(%q): %v", tt.q, err)
			continue
		}
		if got := q.match(f, "alice@example.test"); got != tt.want {
			t.Errorf("%q matches: %v, want %v", tt.q, got, tt.want)
		}
	}
	for _, bad := range []string{
		"fullText contains 'x", `fullText contains 'a\b'`, "fullText = 'x'", "colour = 'red'", "trashed = 'no'",
		"name contains 'x' and", "(name = 'x'", "'x' in friends", "modifiedTime > 'yesterday'", "name ! 'x'",
	} {
		if _, err := parseQuery(bad); err == nil {
			t.Errorf("parseQuery(%q) succeeded", bad)
		}
	}
}
