package github

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandembot/tandem"
)

// GitHub's limits on what people write.
const (
	maxTitle = 256   // characters in an issue title
	maxBody  = 65536 // characters in an issue or comment body
)

// validRepoName matches a repository name: letters, digits, ".", "-" and
// "_", at most 100 of them.
var validRepoName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// parseRepo splits "owner/name". Checking both parts keeps a name from
// reaching into another API path ("acme/widgets/../../user").
func parseRepo(s string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || !validLogin.MatchString(owner) || !validRepoName.MatchString(name) || name == "." || name == ".." {
		return "", "", tandem.Errorf(tandem.EINVALID, "%q is not a GitHub repository; write it as owner/name.", s)
	}
	return owner, name, nil
}

// parseRef splits "owner/name#N", an issue or pull request.
func parseRef(s string) (owner, name string, number int, err error) {
	bad := tandem.Errorf(tandem.EINVALID, "%q is not a GitHub issue or pull request; write it as owner/name#123.", s)
	repo, n, ok := strings.Cut(s, "#")
	if !ok {
		return "", "", 0, bad
	}
	if owner, name, err = parseRepo(repo); err != nil {
		return "", "", 0, bad
	}
	if number, err = parseNumber(n); err != nil {
		return "", "", 0, bad
	}
	return owner, name, number, nil
}

// parseNumber reads a positive issue number written in decimal digits
// only (strconv.Atoi would take "+12").
func parseNumber(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.Atoi(s)
	if err == nil && n < 1 {
		err = strconv.ErrRange
	}
	return n, err
}

// checkBody refuses an empty body (which GitHub refuses too) or one over
// GitHub's limit; kind names it for people ("The comment").
func checkBody(kind, body string, required bool) error {
	if required && strings.TrimSpace(body) == "" {
		return tandem.Errorf(tandem.EINVALID, "%s is empty.", kind)
	}
	if n := utf8.RuneCountInString(body); n > maxBody {
		return tandem.Errorf(tandem.EINVALID, "%s has %d characters; GitHub takes at most %d.", kind, n, maxBody)
	}
	return nil
}

// refString writes owner/name#N.
func refString(owner, name string, number int) string {
	return owner + "/" + name + "#" + strconv.Itoa(number)
}
