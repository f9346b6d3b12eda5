package tandem

import "time"

// What provider operations read and write, as shown to people. The
// operations themselves are declared by each provider package (see package
// ops); their methods act with the token their client carries, so the
// provider itself decides what that identity may see and do, and fail with
// *Error codes EUNAUTHORIZED (token refused), EFORBIDDEN/ENOTFOUND (this
// identity cannot see or change it), ERATELIMITED (whose limit, when it
// resets), EUNAVAILABLE (5xx, timeout) or EINVALID (bad input, nothing
// sent).

// Issue is an issue (GitHub, GitLab, Jira) as shown to people.
type Issue struct {
	Key      string    `json:"key"` // owner/repo#12, group/project#3, OPS-12
	Title    string    `json:"title"`
	URL      string    `json:"url"`
	State    string    `json:"state,omitempty"` // open/closed, or the Jira status name
	Type     string    `json:"type,omitempty"`  // Jira issue type
	Assignee string    `json:"assignee,omitempty"`
	Body     string    `json:"body,omitempty"`
	Updated  time.Time `json:"updated"`
}

// NewIssue is what creating an issue needs. Container is owner/repo
// (GitHub), group/project (GitLab) or the project key (Jira).
type NewIssue struct {
	Container string
	Title     string
	Body      string
	Type      string // Jira issue type, "" for the default (Task)
}

// FileCommit is a create-or-update of one file on a branch.
type FileCommit struct {
	Repo, Branch, Path, Message string
	Content                     []byte
}

// CommitResult is what a commit produced: its SHA and its author's login,
// which must be the sender's.
type CommitResult struct {
	SHA         string `json:"sha"`
	AuthorLogin string `json:"author_login"`
	URL         string `json:"url"`
	Created     bool   `json:"created"` // false: an existing file was updated
}

// PullRequestStatus is a pull request's checks, reviews and mergeability.
type PullRequestStatus struct {
	PullRequest PullRequest `json:"pull_request"`
	State       string      `json:"state"`
	Mergeable   string      `json:"mergeable"` // "yes", "no", "unknown"
	Checks      []Check     `json:"checks"`
	Reviews     []Review    `json:"reviews"`
}

// Check is one CI check run.
type Check struct {
	Name, Status, Conclusion string
}

// Review is one reviewer's latest verdict.
type Review struct {
	Reviewer, State string
}

// Meeting is one calendar event.
type Meeting struct {
	Title    string    `json:"title"`
	URL      string    `json:"url"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	AllDay   bool      `json:"all_day,omitempty"`
	Location string    `json:"location,omitempty"`
}

// Document is one file found in a drive.
type Document struct {
	Title    string    `json:"title"`
	URL      string    `json:"url"`
	Kind     string    `json:"kind"`
	Modified time.Time `json:"modified"`
}
