package fakegoogle

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

func (s *Server) webMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/o/oauth2/auth", s.authorize)
	m.HandleFunc("/token", s.tokenEndpoint)
	m.HandleFunc("/revoke", s.revokeEndpoint)
	m.HandleFunc("GET /calendar/event", s.eventPage)
	for _, kind := range []string{"document", "spreadsheets", "presentation"} {
		m.HandleFunc("GET /"+kind+"/d/{id}/edit", s.filePage)
	}
	m.HandleFunc("GET /file/d/{id}/view", s.filePage)
	m.HandleFunc("GET /drive/folders/{id}", s.filePage)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fakeoauth.Page(w, http.StatusOK, "Fake Google", "This is a fake Google for Tandem's tests and demo.")
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
<html><head><meta charset="utf-8"><title>Sign in - Google Accounts</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Fake Google</h1>
<h2>Choose an account to continue to {{.App}}</h2>
{{if .Scopes}}<p>{{.App}} wants to access your Google Account:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if not .Users}}<p>No accounts are configured.</p>{{end}}
{{range .Users}}
<form method="post" action="/o/oauth2/auth">
{{range $k, $vs := $.Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<input type="hidden" name="login" value="{{.Email}}">
<p>Continue as <strong>{{.Email}}</strong>{{if .Name}} ({{.Name}}){{end}}?</p>
<button type="submit" name="decision" value="allow">Allow {{.Email}}</button>
</form>
{{end}}
<form method="post" action="/o/oauth2/auth">
{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>
`))

func (s *Server) renderConsent(w http.ResponseWriter, params url.Values, users []User) {
	p := fakeoauth.ConsentParams(params)
	scopes, _ := normalizeScopes(params.Get("scope"))
	fakeoauth.RenderHTML(w, consentTmpl, struct {
		App    string
		Scopes []string
		Users  []User
		Params url.Values
	}{s.opts.AppName, scopes, users, p})
}

// eventPage stands in for an event's htmlLink.
func (s *Server) eventPage(w http.ResponseWriter, r *http.Request) {
	b, err := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("eid"))
	id, owner, _ := strings.Cut(string(b), " ")
	s.mu.Lock()
	var title string
	for _, e := range s.events[key(owner)] {
		if err == nil && e.id == id {
			title = e.title
		}
	}
	s.mu.Unlock()
	if title == "" {
		fakeoauth.WebError(w, http.StatusNotFound, "Could not find the requested event.")
		return
	}
	fakeoauth.Page(w, http.StatusOK, title, "An event in the calendar of "+owner+".")
}

// filePage stands in for a file's webViewLink.
func (s *Server) filePage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var name string
	if f := s.file(r.PathValue("id")); f != nil {
		name = f.name
	}
	s.mu.Unlock()
	if name == "" {
		fakeoauth.WebError(w, http.StatusNotFound, "Sorry, the file you have requested does not exist.")
		return
	}
	fakeoauth.Page(w, http.StatusOK, name, "A file in the fake Google Drive.")
}

// gfeError is the bare HTML page Google's front end answers with when no
// API answered: unknown paths, 502s and the like.
func gfeError(w http.ResponseWriter, status int, text string) {
	fakeoauth.Page(w, status, "Error "+http.StatusText(status)+"!!1", text)
}
