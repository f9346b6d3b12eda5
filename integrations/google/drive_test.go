package google_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

func TestSearchDocuments(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/drive/v3/files", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, apiQuery(url.Values{
			"q":        {"fullText contains 'widget roadmap' and trashed = false"},
			"pageSize": {"5"},
			"fields":   {"nextPageToken,files(id,name,mimeType,webViewLink,modifiedTime)"},
		}))
		serveFile(t, w, http.StatusOK, "files.json")
	})
	got, total, err := p.SearchDocuments(context.Background(), client, "  widget\troadmap ", 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.Document{
		{Title: "Q3 roadmap", Kind: "Google Doc",
			URL:      "https://docs.google.com/document/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit?usp=drivesdk",
			Modified: time.Date(2025, 7, 2, 8, 15, 9, 123000000, time.UTC)},
		{Title: "Widget budget 2025", Kind: "Google Sheet",
			URL:      "https://docs.google.com/spreadsheets/d/1mGcvCKhbSQXLtZ3hFkPuJYy6bzD7Vx5kNaLwR0sTqOe/edit?usp=drivesdk",
			Modified: time.Date(2025, 6, 30, 17, 2, 44, 871000000, time.UTC)},
		{Title: "Widget architecture.pdf", Kind: "PDF",
			URL:      "https://drive.google.com/file/d/1Z8w3pLq9XkVbN4mTyR2sHdC6fGjA0eUo/view?usp=drivesdk",
			Modified: time.Date(2025, 5, 12, 10, 41, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("documents (-got +want):\n%s", diff)
	}
	if total != 3 {
		t.Errorf("total %d, want 3", total)
	}
}

// The words stay inside the query's string: a quote cannot end it.
func TestSearchDocumentsEscapes(t *testing.T) {
	tests := []struct{ words, q string }{
		{`Alice's plan`, `fullText contains 'Alice\'s plan' and trashed = false`},
		{`C:\budget`, `fullText contains 'C:\\budget' and trashed = false`},
		{`x' or name contains '`, `fullText contains 'x\' or name contains \'' and trashed = false`},
		{`\'`, `fullText contains '\\\'' and trashed = false`},
		{`"exact phrase"`, `fullText contains '"exact phrase"' and trashed = false`},
	}
	for _, tt := range tests {
		p, client, mux, _ := setup(t)
		mux.HandleFunc("/drive/v3/files", func(w http.ResponseWriter, r *http.Request) {
			if got := r.URL.Query().Get("q"); got != tt.q {
				t.Errorf("words %q: q %q, want %q", tt.words, got, tt.q)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"files":[]}`))
		})
		if _, _, err := p.SearchDocuments(context.Background(), client, tt.words, 5); err != nil {
			t.Errorf("words %q: %v", tt.words, err)
		}
	}
}

func TestSearchDocumentsRejectsWords(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	for _, words := range []string{"", "   ", "\n\t", strings.Repeat("x", 501)} {
		_, _, err := p.SearchDocuments(context.Background(), client, words, 5)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("words %.20q: %v, want EINVALID", words, err)
		}
	}
}

// Drive reports no total: SearchDocuments fills up to limit, then pages on
// through ids only to count, and stops counting at 1000.
func TestSearchDocumentsCounts(t *testing.T) {
	p, client, mux, _ := setup(t)
	var asked []url.Values
	mux.HandleFunc("/drive/v3/files", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked = append(asked, q)
		size := 2
		if q.Get("pageToken") != "" {
			size = 1000
		}
		var files []string
		for i := range size {
			files = append(files, fmt.Sprintf(`{"id":"f%d","name":"Doc %d","mimeType":"text/plain"}`, i, i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"nextPageToken":"more%d","files":[%s]}`, len(asked), strings.Join(files, ","))
	})
	got, total, err := p.SearchDocuments(context.Background(), client, "plans", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Kind != "text/plain" || total != 1000 {
		t.Errorf("got %d documents of %d, want 2 of 1000 (the cap)", len(got), total)
	}
	if len(asked) != 2 || asked[1].Get("pageToken") != "more1" || asked[1].Get("pageSize") != "1000" ||
		asked[1].Get("fields") != "nextPageToken,files(id)" || asked[1].Get("q") != asked[0].Get("q") {
		t.Errorf("pages asked with %v", asked)
	}
}
