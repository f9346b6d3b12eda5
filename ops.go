package tandem

import (
	"context"
	"net/http"
	"time"
)

// The optional abilities of providers. Each is a small interface checked with
// a type assertion; every method acts with the token client carries, so the
// provider itself decides what that identity may see and do. Errors are
// *Error with codes EUNAUTHORIZED (token refused), EFORBIDDEN/ENOTFOUND (this
// identity cannot see or change it), ERATELIMITED (whose limit, when it
// resets), EUNAVAILABLE (5xx, timeout), EINVALID (bad input, nothing sent).
// site is the link's chosen site (Jira cloud id), "" for other providers.

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

// ReviewRequestLister lists pull or merge requests waiting for login's review.
type ReviewRequestLister interface {
	ReviewRequests(ctx context.Context, client *http.Client, login string, limit int) ([]PullRequest, int, error)
}

// IssueLister lists login's open issues (Jira: assigned to them, not done,
// most recently updated first).
type IssueLister interface {
	OpenIssues(ctx context.Context, client *http.Client, site, login string, limit int) ([]Issue, int, error)
}

// IssueCreator creates an issue.
type IssueCreator interface {
	CreateIssue(ctx context.Context, client *http.Client, site string, n NewIssue) (Issue, error)
}

// Commenter comments on an issue or pull/merge request; ref is
// owner/repo#N, group/project#N, group/project!N or KEY-N. It returns the
// comment's URL.
type Commenter interface {
	Comment(ctx context.Context, client *http.Client, site, ref, body string) (string, error)
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

// FileCommitter commits a file through the provider's contents API.
type FileCommitter interface {
	CommitFile(ctx context.Context, client *http.Client, c FileCommit) (CommitResult, error)
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

// PullRequestStatuser shows a pull request's status.
type PullRequestStatuser interface {
	PullRequestStatus(ctx context.Context, client *http.Client, repo string, number int) (PullRequestStatus, error)
}

// IssueViewer shows one issue (Jira KEY-N).
type IssueViewer interface {
	Issue(ctx context.Context, client *http.Client, site, key string) (Issue, error)
}

// Transitioner moves an issue to a status by name, through the issue's
// workflow transitions. It fails with EINVALID naming the reachable statuses
// when none leads to status.
type Transitioner interface {
	Transition(ctx context.Context, client *http.Client, site, key, status string) (Issue, error)
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

// MeetingLister lists events of the primary calendar between from and to.
type MeetingLister interface {
	Meetings(ctx context.Context, client *http.Client, from, to time.Time, limit int) ([]Meeting, int, error)
}

// Document is one file found in a drive.
type Document struct {
	Title    string    `json:"title"`
	URL      string    `json:"url"`
	Kind     string    `json:"kind"`
	Modified time.Time `json:"modified"`
}

// DocumentSearcher finds documents by words.
type DocumentSearcher interface {
	SearchDocuments(ctx context.Context, client *http.Client, words string, limit int) ([]Document, int, error)
}
