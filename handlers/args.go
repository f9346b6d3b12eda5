package handlers

import (
	"strconv"
	"strings"

	"github.com/tandembot/tandem"
)

// ability returns the provider of r as T, or an EINVALID error saying the
// provider cannot do what was asked.
func ability[T any](r Request, what string) (T, error) {
	t, ok := r.Provider.(T)
	if !ok {
		var zero T
		return zero, tandem.Errorf(tandem.EINVALID, "%s cannot %s here.", r.Command.Provider.Name(), what)
	}
	return t, nil
}

// titleBody splits "Title | body" (a newline works as the bar too).
func titleBody(text string) (title, body string) {
	title, body, _ = strings.Cut(text, "|")
	return strings.TrimSpace(title), strings.TrimSpace(body)
}

// splitRef splits owner/repo#12 (or group/project!12) at its last # or !.
func splitRef(ref string) (container string, n int) {
	i := strings.LastIndexAny(ref, "#!")
	n, _ = strconv.Atoi(ref[i+1:])
	return ref[:i], n
}

// stripCode removes a Slack code block or inline code around text.
func stripCode(text string) string {
	t := strings.TrimSpace(text)
	for _, fence := range []string{"```", "`"} {
		if len(t) >= 2*len(fence) && strings.HasPrefix(t, fence) && strings.HasSuffix(t, fence) {
			return strings.TrimSpace(t[len(fence) : len(t)-len(fence)])
		}
	}
	return t
}

// escape makes provider text safe inside Slack mrkdwn.
func escape(s string) string { return tandem.Escape(s) }

// who names the identity a turn acts as, for messages such as "GitHub
// account octo cannot …".
func who(r Request) string {
	return r.Command.Provider.Name() + " account " + r.Creds.Identity.Login
}

// maxTitle bounds issue titles and summaries before anything is sent.
const maxTitle = 255

func checkTitle(title string) error {
	switch {
	case title == "":
		return tandem.Errorf(tandem.EINVALID, "The title is empty. Put it after the project, with an optional body after a `|`.")
	case len(title) > maxTitle:
		return tandem.Errorf(tandem.EINVALID, "The title is %d characters long; at most %d fit.", len(title), maxTitle)
	}
	return nil
}
