package integrations

import (
	"errors"
	"html/template"
	"net/http"

	"golang.org/x/oauth2"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Tandem</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1d1c1d}h1{font-size:1.4rem}p{line-height:1.5}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Body}}</p></body></html>
`))

// page writes a small HTML page that says what happened in plain words.
// html/template escapes everything it echoes.
func (f *Flow) page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, struct{ Title, Body string }{title, body}); err != nil {
		f.logger().Error("render page", "err", err)
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	return errors.As(err, re) && (*re).Response != nil
}
