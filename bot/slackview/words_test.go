package slackview

import (
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// TestLinkNeededPromisesTheRerunItsWindowAllows: the reply promises a
// re-run only when the turn waits for the link, in the window's own words.
func TestLinkNeededPromisesTheRerunItsWindowAllows(t *testing.T) {
	for _, c := range []struct {
		expired bool
		window  time.Duration
		want    string // "" for no promise
	}{
		{false, 30 * time.Minute, "If you connect GitHub within 30 minutes of sending your message (with this button, `/connect github` or the App Home), it runs again here."},
		{true, time.Hour, "If you reconnect GitHub within 1 hour of sending your message"},
		{false, 90 * time.Second, "within 90 seconds of"},
		{false, 0, ""},
	} {
		private, _, note, _ := LinkNeeded("UCAROL", tandem.GitHub, c.expired, c.window)
		promised := strings.Contains(private.Text, "runs again")
		if c.want == "" && promised || c.want != "" && !strings.Contains(private.Text, c.want) {
			t.Errorf("expired %v, window %s: %q, want %q", c.expired, c.window, private.Text, c.want)
		}
		if strings.Contains(note.Text, "runs again") {
			t.Errorf("the visible note promises something: %q", note.Text)
		}
	}
}

// TestDidYouMeanOffersOnlyWhatIsClose: with nothing close, the reply
// points at help instead of listing "`@tandem help`" as a guess.
func TestDidYouMeanOffersOnlyWhatIsClose(t *testing.T) {
	if r := DidYouMean([]string{"help"}); r.Title != "I didn't understand that." || len(r.Items) != 0 || !strings.Contains(r.Text, "`@tandem help`") {
		t.Errorf("DidYouMean(help) = %+v", r)
	}
	r := DidYouMean([]string{"list my open PRs", "list my open MRs"})
	if r.Title != "I didn't understand that. Did you mean:" || len(r.Items) != 2 || r.Items[0].Text != "`@tandem list my open PRs`" {
		t.Errorf("DidYouMean(two) = %+v", r)
	}
}
