package ops

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tandembot/tandem"
)

// Ability returns the provider of r as T, or an EINVALID error saying the
// provider cannot do what was asked.
func Ability[T any](r Request, what string) (T, error) {
	t, ok := r.Provider.(T)
	if !ok {
		var zero T
		return zero, tandem.Errorf(tandem.EINVALID, "%s cannot %s here.", r.Command.Provider.Name(), what)
	}
	return t, nil
}

// TitleBody splits "Title | body" (a newline works as the bar too).
func TitleBody(text string) (title, body string) {
	title, body, _ = strings.Cut(text, "|")
	return strings.TrimSpace(title), strings.TrimSpace(body)
}

// SplitRef splits owner/repo#12 (or group/project!12) at its last # or !.
func SplitRef(ref string) (container string, n int) {
	i := strings.LastIndexAny(ref, "#!")
	n, _ = strconv.Atoi(ref[i+1:])
	return ref[:i], n
}

// StripCode removes a Slack code block or inline code around text.
func StripCode(text string) string {
	t := strings.TrimSpace(text)
	for _, fence := range []string{"```", "`"} {
		if len(t) >= 2*len(fence) && strings.HasPrefix(t, fence) && strings.HasSuffix(t, fence) {
			return strings.TrimSpace(t[len(fence) : len(t)-len(fence)])
		}
	}
	return t
}

// Escape makes provider text safe inside Slack mrkdwn.
func Escape(s string) string { return tandem.Escape(s) }

// Who names the identity a turn acts as, for messages such as "GitHub
// account octo cannot …".
func Who(r Request) string {
	return r.Command.Provider.Name() + " account " + r.Creds.Identity.Login
}

// maxTitle bounds issue titles and summaries before anything is sent.
const maxTitle = 255

// CheckTitle fails with EINVALID for an empty or overlong title.
func CheckTitle(title string) error {
	switch {
	case title == "":
		return tandem.Errorf(tandem.EINVALID, "The title is empty. Put it after the project, with an optional body after a `|`.")
	case len(title) > maxTitle:
		return tandem.Errorf(tandem.EINVALID, "The title is %d characters long; at most %d fit.", len(title), maxTitle)
	}
	return nil
}

// ClipText shortens s to n bytes on a rune boundary.
func ClipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// CountTitle says how many results exist and how many are shown:
// "12 open pull requests, showing 10".
func CountTitle(total, shown int, one, many string) string {
	switch {
	case total == 0:
		return "No " + many
	case total == 1:
		return "1 " + one
	case shown < total:
		return fmt.Sprintf("%d %s, showing %d", total, many, shown)
	}
	return fmt.Sprintf("%d %s", total, many)
}
