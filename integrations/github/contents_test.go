package github_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

const (
	commitSHA = "7f3c2a9e4d1b0c8e6a5f4e3d2c1b0a9f8e7d6c5b"
	blobSHA   = "c69f41820b428048394622cc0fc0a98aa18d6a14" // testdata/contents_file.json
)

// contentsAPI serves a repository whose file docs/runbook.md exists on
// main; put checks the PUT request. It records the requests made.
func contentsAPI(t *testing.T, mux *http.ServeMux, put func(r *http.Request) (int, string)) *[]string {
	var seen []string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		switch {
		case r.Method == "GET" && r.URL.Path == "/repos/acme/widgets":
			serveFile(t, w, http.StatusOK, "repo.json")
		case r.Method == "GET" && r.URL.Path == "/repos/acme/widgets/contents/docs/runbook.md":
			serveFile(t, w, http.StatusOK, "contents_file.json")
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/contents/"):
			serveFile(t, w, http.StatusNotFound, "error_404.json")
		case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/contents/"):
			status, file := put(r)
			serveFile(t, w, status, file)
		case r.Method == "GET" && r.URL.Path == "/repos/acme/widgets/commits/"+commitSHA:
			testQuery(t, r, url.Values{})
			serveFile(t, w, http.StatusOK, "commit.json")
		case r.Method == "GET" && r.URL.Path == "/user":
			serveFile(t, w, http.StatusOK, "user.json")
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	})
	return &seen
}

func TestCommitFileUpdate(t *testing.T) {
	p, client, mux, _ := setup(t)
	content := []byte("# Runbook\n\nRestart the widget service.\n\n## Drain a node\n")
	seen := contentsAPI(t, mux, func(r *http.Request) (int, string) {
		testBody(t, r, map[string]any{
			"message": "Runbook: how to drain a node",
			"content": base64.StdEncoding.EncodeToString(content),
			"sha":     blobSHA,
			"branch":  "main",
		})
		return http.StatusOK, "contents_put.json"
	})
	got, err := p.CommitFile(context.Background(), client, tandem.FileCommit{
		Repo: "acme/widgets", Path: "docs/runbook.md", Message: "Runbook: how to drain a node", Content: content,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.CommitResult{SHA: commitSHA, AuthorLogin: "alice-hub", URL: "https://github.com/acme/widgets/commit/" + commitSHA}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("result (-got +want):\n%s", diff)
	}
	wantSeen := []string{
		"GET /repos/acme/widgets?",
		"GET /repos/acme/widgets/contents/docs/runbook.md?ref=main",
		"PUT /repos/acme/widgets/contents/docs/runbook.md?",
		"GET /repos/acme/widgets/commits/" + commitSHA + "?",
	}
	if diff := cmp.Diff(*seen, wantSeen); diff != "" {
		t.Errorf("requests (-got +want):\n%s", diff)
	}
}

// A new file on a named branch: no sha, and a path that needs escaping
// reaches GitHub as the same path.
func TestCommitFileCreate(t *testing.T) {
	p, client, mux, _ := setup(t)
	const path = "notes/Q3 plan #1 ?100%.md"
	seen := contentsAPI(t, mux, func(r *http.Request) (int, string) {
		if r.URL.Path != "/repos/acme/widgets/contents/"+path {
			t.Errorf("PUT path %q, want the file's", r.URL.Path)
		}
		testBody(t, r, map[string]any{"message": "Plan Q3", "content": base64.StdEncoding.EncodeToString([]byte("- ship\n")), "branch": "docs/q3"})
		return http.StatusCreated, "contents_put.json"
	})
	got, err := p.CommitFile(context.Background(), client, tandem.FileCommit{
		Repo: "acme/widgets", Branch: "docs/q3", Path: path, Message: "Plan Q3", Content: []byte("- ship\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created || got.SHA != commitSHA || got.AuthorLogin != "alice-hub" {
		t.Errorf("result %+v, want a created file by alice-hub", got)
	}
	const escaped = "/repos/acme/widgets/contents/notes/Q3%20plan%20%231%20%3F100%25.md"
	wantSeen := []string{
		"GET /repos/acme/widgets?",
		"GET " + escaped + "?ref=docs%2Fq3",
		"PUT " + escaped + "?",
		"GET /repos/acme/widgets/commits/" + commitSHA + "?",
	}
	if diff := cmp.Diff(*seen, wantSeen); diff != "" {
		t.Errorf("requests (-got +want):\n%s", diff)
	}
}

// An empty file sends "content": "", not null, which GitHub would refuse;
// 1 MB is the most it sends.
func TestCommitFileSizes(t *testing.T) {
	for _, size := range []int{0, 1 << 20} {
		p, client, mux, _ := setup(t)
		contentsAPI(t, mux, func(r *http.Request) (int, string) {
			testBody(t, r, map[string]any{"message": "m", "content": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), size)), "branch": "main"})
			return http.StatusCreated, "contents_put.json"
		})
		var content []byte
		if size > 0 {
			content = bytes.Repeat([]byte("x"), size)
		}
		if _, err := p.CommitFile(context.Background(), client, tandem.FileCommit{Repo: "acme/widgets", Path: "empty", Message: "m", Content: content}); err != nil {
			t.Errorf("%d bytes: %v", size, err)
		}
	}
}

func TestCommitFileRejects(t *testing.T) {
	p, client, mux, _ := setup(t)
	noRequests(t, mux)
	ok := tandem.FileCommit{Repo: "acme/widgets", Path: "docs/a.md", Message: "m", Content: []byte("x")}
	tests := []struct {
		name string
		edit func(*tandem.FileCommit)
	}{
		{"no repo", func(c *tandem.FileCommit) { c.Repo = "" }},
		{"bad repo", func(c *tandem.FileCommit) { c.Repo = "acme/widgets/contents" }},
		{"no path", func(c *tandem.FileCommit) { c.Path = "" }},
		{"absolute path", func(c *tandem.FileCommit) { c.Path = "/etc/passwd" }},
		{"parent", func(c *tandem.FileCommit) { c.Path = "docs/../../x" }},
		{"dot dot anywhere", func(c *tandem.FileCommit) { c.Path = "notes..md" }},
		{"empty segment", func(c *tandem.FileCommit) { c.Path = "docs//a.md" }},
		{"trailing slash", func(c *tandem.FileCommit) { c.Path = "docs/" }},
		{"dot segment", func(c *tandem.FileCommit) { c.Path = "./a.md" }},
		{"git dir", func(c *tandem.FileCommit) { c.Path = "x/.GIT/hooks/pre-commit" }},
		{"control character", func(c *tandem.FileCommit) { c.Path = "a\nb" }},
		{"backslash", func(c *tandem.FileCommit) { c.Path = `docs\a.md` }},
		{"no message", func(c *tandem.FileCommit) { c.Message = "" }},
		{"blank message", func(c *tandem.FileCommit) { c.Message = " \n" }},
		{"over 1 MB", func(c *tandem.FileCommit) { c.Content = make([]byte, 1<<20+1) }},
		{"branch with space", func(c *tandem.FileCommit) { c.Branch = "my branch" }},
		{"branch option", func(c *tandem.FileCommit) { c.Branch = "-f" }},
		{"branch dot dot", func(c *tandem.FileCommit) { c.Branch = "a..b" }},
		{"branch lock", func(c *tandem.FileCommit) { c.Branch = "feature.lock" }},
		{"branch reflog", func(c *tandem.FileCommit) { c.Branch = "main@{1}" }},
		{"branch hidden segment", func(c *tandem.FileCommit) { c.Branch = "feature/.x" }},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		if _, err := p.CommitFile(context.Background(), client, c); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("%s: %v, want EINVALID", tt.name, err)
		}
	}
}

func TestCommitFileRefusals(t *testing.T) {
	tests := []struct {
		name  string
		serve func(t *testing.T, w http.ResponseWriter, r *http.Request) bool // false: the default answer
		fc    tandem.FileCommit
		code  string
		msg   string
	}{
		{
			name: "read-only",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/repos/acme/widgets" {
					return false
				}
				serveFile(t, w, http.StatusOK, "repo_read_only.json")
				return true
			},
			code: tandem.EFORBIDDEN, msg: "GitHub account alice-hub can see acme/widgets but cannot push to it.",
		},
		{
			name: "archived",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/repos/acme/widgets" {
					return false
				}
				serveEdited(t, w, http.StatusOK, "repo.json", func(o map[string]any) { o["archived"] = true })
				return true
			},
			code: tandem.EFORBIDDEN, msg: "acme/widgets is archived on GitHub, so nothing can be committed to it.",
		},
		{
			name: "folder",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != "GET" || !strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/contents/") {
					return false
				}
				serveFile(t, w, http.StatusOK, "contents_dir.json")
				return true
			},
			code: tandem.EINVALID, msg: "docs/runbook.md is a folder in acme/widgets; name a file.",
		},
		{
			name: "symbolic link",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != "GET" || !strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/contents/") {
					return false
				}
				serveFile(t, w, http.StatusOK, "contents_file.json") // the link's target
				return true
			},
			fc:   tandem.FileCommit{Path: "RUNBOOK.md"},
			code: tandem.EINVALID, msg: "RUNBOOK.md in acme/widgets is not a plain file.",
		},
		{
			name: "no such branch",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != "GET" || !strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/contents/") {
					return false
				}
				serveFile(t, w, http.StatusNotFound, "error_404_ref.json")
				return true
			},
			fc:   tandem.FileCommit{Branch: "nosuch"},
			code: tandem.ENOTFOUND, msg: `acme/widgets has no branch "nosuch".`,
		},
		{
			name: "changed meanwhile",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != "PUT" {
					return false
				}
				serveFile(t, w, http.StatusConflict, "error_409.json")
				return true
			},
			code: tandem.ECONFLICT, msg: "docs/runbook.md in acme/widgets (main)",
		},
		{
			name: "created meanwhile",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != "PUT" {
					return false
				}
				serveFile(t, w, http.StatusUnprocessableEntity, "error_422_sha.json")
				return true
			},
			fc:   tandem.FileCommit{Path: "docs/new.md"},
			code: tandem.ECONFLICT, msg: "docs/new.md in acme/widgets (main) was created meanwhile; try again.",
		},
		{
			name: "push refused",
			serve: func(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != "PUT" {
					return false
				}
				serveFile(t, w, http.StatusForbidden, "error_403.json")
				return true
			},
			code: tandem.EFORBIDDEN, msg: "GitHub account alice-hub is not allowed to see or change docs/runbook.md in acme/widgets (main).",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client, mux, _ := setup(t)
			fallback := http.NewServeMux()
			contentsAPI(t, fallback, func(r *http.Request) (int, string) { return http.StatusOK, "contents_put.json" })
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				if !tt.serve(t, w, r) {
					fallback.ServeHTTP(w, r)
				}
			})
			fc := tandem.FileCommit{Repo: "acme/widgets", Path: "docs/runbook.md", Message: "m", Content: []byte("x")}
			if tt.fc.Path != "" {
				fc.Path = tt.fc.Path
			}
			fc.Branch = tt.fc.Branch
			_, err := p.CommitFile(context.Background(), client, fc)
			if tandem.ErrorCode(err) != tt.code || !strings.Contains(tandem.ErrorMessage(err), tt.msg) {
				t.Errorf("got %v (%q), want %s saying %q", err, tandem.ErrorMessage(err), tt.code, tt.msg)
			}
		})
	}
}

// When the commit is made but its author cannot be read back, the result
// still names the commit, and the error says it was made.
func TestCommitFileAuthorUnreadable(t *testing.T) {
	p, client, mux, _ := setup(t)
	fallback := http.NewServeMux()
	contentsAPI(t, fallback, func(r *http.Request) (int, string) { return http.StatusOK, "contents_put.json" })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/commits/") {
			serveFile(t, w, http.StatusBadGateway, "error_500.json")
			return
		}
		fallback.ServeHTTP(w, r)
	})
	got, err := p.CommitFile(context.Background(), client, tandem.FileCommit{Repo: "acme/widgets", Path: "docs/runbook.md", Message: "m", Content: []byte("x")})
	if tandem.ErrorCode(err) != tandem.EUNAVAILABLE || !strings.Contains(tandem.ErrorMessage(err), "GitHub made commit 7f3c2a9 in acme/widgets") {
		t.Errorf("error %v (%q), want EUNAVAILABLE saying the commit was made", err, tandem.ErrorMessage(err))
	}
	if got.SHA != commitSHA || got.AuthorLogin != "" || got.URL == "" {
		t.Errorf("result %+v, want the commit without an author", got)
	}
}

// A commit whose author email GitHub links to no account has no login.
func TestCommitFileUnlinkedAuthor(t *testing.T) {
	p, client, mux, _ := setup(t)
	fallback := http.NewServeMux()
	contentsAPI(t, fallback, func(r *http.Request) (int, string) { return http.StatusOK, "contents_put.json" })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/repos/acme/widgets/commits/") {
			serveEdited(t, w, http.StatusOK, "commit.json", func(o map[string]any) { o["author"] = nil })
			return
		}
		fallback.ServeHTTP(w, r)
	})
	got, err := p.CommitFile(context.Background(), client, tandem.FileCommit{Repo: "acme/widgets", Path: "docs/runbook.md", Message: "m", Content: []byte("x")})
	if err != nil || got.AuthorLogin != "" || got.SHA != commitSHA {
		t.Errorf("got %+v, %v; want the commit with no author login", got, err)
	}
}
