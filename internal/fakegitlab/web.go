package fakegitlab

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

func (s *Server) webMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/oauth/authorize", s.authorize)
	m.HandleFunc("/oauth/token", s.tokenEndpoint)
	m.HandleFunc("/oauth/revoke", s.revoke)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fakeoauth.Page(w, http.StatusOK, "Fake GitLab", "This is a fake GitLab for Tandem's tests and demo.")
	})
	m.HandleFunc("/", s.itemPage)
	return m
}

// userList returns the users in the order added. The caller holds s.mu.
func (s *Server) userList() []User {
	out := make([]User, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, *s.users[k])
	}
	return out
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize application · Fake GitLab</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Fake GitLab</h1>
<p>An application called <strong>{{.App}}</strong> is requesting access to your GitLab account.
It asks for the scopes {{range $i, $s := .Scopes}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}.</p>
{{if not .Users}}<p>No users are configured.</p>{{end}}
{{range .Users}}
<form method="post" action="/oauth/authorize">
{{range $k, $vs := $.Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<input type="hidden" name="login" value="{{.Login}}">
<p>Authorize {{$.App}} to use the account <strong>{{.Login}}</strong>{{if .Name}} ({{.Name}}){{end}}?</p>
<button type="submit" name="decision" value="allow">Authorize {{.Login}}</button>
</form>
{{end}}
<form method="post" action="/oauth/authorize">
{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>
`))

func (s *Server) renderConsent(w http.ResponseWriter, params url.Values, users []User, scopes []string) {
	p := fakeoauth.ConsentParams(params)
	fakeoauth.RenderHTML(w, consentTmpl, struct {
		App    string
		Scopes []string
		Users  []User
		Params url.Values
	}{s.opts.AppName, scopes, users, p})
}

// itemPage stands in for the web_url of an issue or merge request of a
// public project: /group/project/-/issues/3, /group/project/-/merge_requests/5.
func (s *Server) itemPage(w http.ResponseWriter, r *http.Request) {
	path, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/-/")
	kind, num, ok2 := strings.Cut(rest, "/")
	n, err := strconv.Atoi(num)
	if r.Method != http.MethodGet || !ok || !ok2 || err != nil || (kind != "issues" && kind != "merge_requests") {
		fakeoauth.WebError(w, http.StatusNotFound, "The page could not be found or you don't have permission to view it.")
		return
	}
	s.mu.Lock()
	var title string
	if p := s.projects[key(path)]; p != nil && !p.private {
		if kind == "issues" && p.issues[n] != nil {
			title = p.issues[n].title
		} else if kind == "merge_requests" && p.mrs[n] != nil {
			title = p.mrs[n].title
		}
	}
	s.mu.Unlock()
	if title == "" {
		fakeoauth.WebError(w, http.StatusNotFound, "The page could not be found or you don't have permission to view it.")
		return
	}
	sep := "#"
	if kind == "merge_requests" {
		sep = "!"
	}
	fakeoauth.Page(w, http.StatusOK, title, path+sep+strconv.Itoa(n))
}

// outagePage is the static page GitLab's front end serves when Rails does
// not answer, web and API alike.
func outagePage(w http.ResponseWriter, status int) {
	text := "We're sorry. Something went wrong on our end."
	switch status {
	case http.StatusBadGateway:
		text = "Whoops, GitLab is taking too much time to respond."
	case http.StatusServiceUnavailable:
		text = "Whoops, GitLab is currently unavailable."
	}
	fakeoauth.Page(w, status, fmt.Sprintf("Something went wrong (%d)", status), text)
}
