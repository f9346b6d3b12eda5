package integrations

import (
	"errors"
	"html/template"
	"net/http"

	"golang.org/x/oauth2"
)

const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Tandem</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1d1c1d}h1{font-size:1.4rem}p{line-height:1.5}button{font-size:1rem;padding:.6rem 1rem}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Body}}</p>`

var (
	pageTmpl = template.Must(template.New("page").Parse(pageHead + `</body></html>
`))
	formTmpl = template.Must(template.New("form").Parse(pageHead + `
<form method="post" action="{{.Action}}"><input type="hidden" name="token" value="{{.Token}}"><button type="submit">{{.Button}}</button></form>
</body></html>
`))
)

// formPage is a page with one button that POSTs a single-use token.
type formPage struct {
	Title, Body, Action, Token, Button string
}

// page writes a small HTML page that says what happened in plain words.
// html/template escapes everything it echoes.
func (f *Flow) page(w http.ResponseWriter, status int, title, body string) {
	pageHeaders(w)
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, struct{ Title, Body string }{title, body}); err != nil {
		f.logger().Error("render page", "err", err)
	}
}

// form writes a page whose button POSTs p.Token to p.Action.
func (f *Flow) form(w http.ResponseWriter, p formPage) {
	pageHeaders(w)
	w.WriteHeader(http.StatusOK)
	if err := formTmpl.Execute(w, p); err != nil {
		f.logger().Error("render page", "err", err)
	}
}

// pageHeaders keep the pages out of caches, referrers (they are reached
// through links that carry secrets), other sites' frames (no clickjacking of
// a Continue button) and content sniffing.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	return errors.As(err, re) && (*re).Response != nil
}
