package fakeoauth

import (
	"html/template"
	"net/http"
	"net/url"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

// Page writes a bare HTML page with status, a title and one paragraph.
func Page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}

// WebError writes a Page titled with the status text.
func WebError(w http.ResponseWriter, status int, text string) {
	Page(w, status, http.StatusText(status), text)
}

// ConsentParams returns the authorize parameters a consent page carries
// over in hidden fields: all but login and decision, which its buttons set,
// and drop.
func ConsentParams(params url.Values, drop ...string) url.Values {
	p := url.Values{}
	for k, v := range params {
		if k == "login" || k == "decision" {
			continue
		}
		skip := false
		for _, d := range drop {
			skip = skip || k == d
		}
		if !skip {
			p[k] = v
		}
	}
	return p
}

// RenderHTML writes tmpl executed with data as a 200 HTML page.
func RenderHTML(w http.ResponseWriter, tmpl *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = tmpl.Execute(w, data)
}
