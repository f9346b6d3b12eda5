package fakegithub

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

func (s *Server) webMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/login/oauth/authorize", s.authorize)
	m.HandleFunc("/login/oauth/access_token", s.accessToken)
	m.HandleFunc("GET /{owner}/{repo}/pull/{number}", s.itemPage)
	m.HandleFunc("GET /{owner}/{repo}/issues/{number}", s.itemPage)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fakeoauth.Page(w, http.StatusOK, "Fake GitHub", "This is a fake GitHub for Tandem's tests and demo.")
	})
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
<html><head><meta charset="utf-8"><title>Authorize {{.App}}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Fake GitHub</h1>
{{if not .Users}}<p>No users are configured.</p>{{end}}
{{range .Users}}
<form method="post" action="/login/oauth/authorize">
{{range $k, $vs := $.Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<input type="hidden" name="login" value="{{.Login}}">
<p>Authorize {{$.App}} to act as <strong>{{.Login}}</strong>{{if .Name}} ({{.Name}}){{end}}?</p>
<button type="submit" name="decision" value="allow">Authorize {{.Login}}</button>
</form>
{{end}}
<form method="post" action="/login/oauth/authorize">
{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>
`))

func (s *Server) renderConsent(w http.ResponseWriter, params url.Values, users []User) {
	p := fakeoauth.ConsentParams(params)
	fakeoauth.RenderHTML(w, consentTmpl, struct {
		App    string
		Users  []User
		Params url.Values
	}{s.opts.AppName, users, p})
}

// itemPage stands in for the html_url of an issue or pull request.
func (s *Server) itemPage(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	s.mu.Lock()
	var title string
	if rp := s.repos[key(r.PathValue("owner")+"/"+r.PathValue("repo"))]; rp != nil && !rp.private {
		if it := rp.items[n]; it != nil {
			title = it.title
		}
	}
	s.mu.Unlock()
	if title == "" {
		fakeoauth.WebError(w, http.StatusNotFound, "Not Found")
		return
	}
	fakeoauth.Page(w, http.StatusOK, title, r.PathValue("owner")+"/"+r.PathValue("repo")+" #"+strconv.Itoa(n))
}
