package fakejira

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// consentUser is one account offered on the consent page, with its sites.
type consentUser struct {
	Email, Name string
	Sites       []Site
}

// consentUsers returns the users in the order added. The caller holds s.mu.
func (s *Server) consentUsers() []consentUser {
	out := make([]consentUser, 0, len(s.order))
	for _, k := range s.order {
		u := s.users[k]
		cu := consentUser{Email: u.Email, Name: u.Name}
		for _, id := range u.Sites {
			cu.Sites = append(cu.Sites, s.sites[id].Site)
		}
		out = append(out, cu)
	}
	return out
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.App}} is requesting access to your Atlassian account</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Fake Atlassian</h1>
<p>{{.App}} is requesting access to your Atlassian account: {{.Scopes}}</p>
{{if not .Users}}<p>No accounts are configured.</p>{{end}}
{{range .Users}}
<form method="post" action="/authorize">
{{range $k, $vs := $.Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<input type="hidden" name="login" value="{{.Email}}">
<p>Allow {{$.App}} to act as <strong>{{.Email}}</strong>{{if .Name}} ({{.Name}}){{end}}
on <select name="site"><option value="">all of its sites</option>{{range .Sites}}<option value="{{.CloudID}}">{{.Name}}</option>{{end}}</select>?</p>
<button type="submit" name="decision" value="allow">Accept as {{.Email}}</button>
</form>
{{end}}
<form method="post" action="/authorize">
{{range $k, $vs := .Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>
`))

func (s *Server) renderConsent(w http.ResponseWriter, params url.Values, users []consentUser) {
	p := fakeoauth.ConsentParams(params, "site")
	fakeoauth.RenderHTML(w, consentTmpl, struct {
		App    string
		Scopes string
		Users  []consentUser
		Params url.Values
	}{s.opts.AppName, strings.Join(splitScopes(params.Get("scope")), ", "), users, p})
}

// browsePage stands in for https://SITE.atlassian.net/browse/KEY when the
// fake serves a site's pages. Unlike Jira it needs no sign-in.
func (s *Server) browsePage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var title, text string
	if st := s.sites[r.PathValue("cloudid")]; st != nil {
		if it := st.issues[strings.ToUpper(r.PathValue("key"))]; it != nil {
			title = it.key + ": " + it.summary
			text = it.status + ". " + adfText(it.description)
		}
	}
	s.mu.Unlock()
	if title == "" {
		fakeoauth.WebError(w, http.StatusNotFound, msgNoIssue)
		return
	}
	fakeoauth.Page(w, http.StatusOK, title, text)
}
