package fakeoauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

func TestBaseOutageAndLifecycle(t *testing.T) {
	b := NewBase("fakex", "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request, outage int) {
		if outage != 0 {
			w.WriteHeader(outage)
			return
		}
		io.WriteString(w, "ok")
	})
	if b.URL() != "" {
		t.Fatal("URL before Start")
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Start() == nil {
		t.Error("second Start succeeded")
	}
	get := func() int {
		resp, err := http.Get(b.URL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Errorf("status %d", got)
	}
	b.SetOutage(503)
	if got := get(); got != 503 {
		t.Errorf("outage: status %d", got)
	}
}

func TestPKCE(t *testing.T) {
	v := oauth2.GenerateVerifier()
	c := oauth2.S256ChallengeFromVerifier(v) // x/oauth2's own implementation
	if S256(v) != c || !VerifyS256(c, v) || VerifyS256(c, v+"x") || !ValidChallenge(c) || ValidChallenge("short") {
		t.Errorf("S256 helpers disagree with x/oauth2 for %q", v)
	}
}

func TestRedirectError(t *testing.T) {
	w := httptest.NewRecorder()
	if err := RedirectError(w, httptest.NewRequest("GET", "/", nil), "http://cb/x?a=1", "st", "access_denied", "no", nil); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	if q := u.Query(); w.Code != 302 || q.Get("a") != "1" || q.Get("state") != "st" || q.Get("error") != "access_denied" {
		t.Errorf("redirect %d %s", w.Code, u)
	}
}

func TestStats(t *testing.T) {
	st := NewStats(func(s string) string { return s + "!" }, "alice")
	st.TokenRequest()
	st.Refreshed("bob")
	if st.PKCEUsed() {
		t.Error("PKCEUsed with no codes")
	}
	st.CodeIssued(true)
	if !st.PKCEUsed() || st.TokenRequests() != 1 || st.AutoConsent() != "alice" {
		t.Error("stats")
	}
	st.CodeIssued(false)
	if st.PKCEUsed() {
		t.Error("PKCEUsed after a code without a challenge")
	}
	var l Log[int]
	if l.Add(7) != 1 || len(l.All()) != 1 {
		t.Error("log")
	}
}
