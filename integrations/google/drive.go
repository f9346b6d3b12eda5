package google

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	drive "google.golang.org/api/drive/v3"
	"google.golang.org/api/option"
)

const (
	// maxFilesPage is the largest page Drive's files.list gives.
	maxFilesPage = 1000
	// maxWords bounds a search, well inside what a URL can carry.
	maxWords = 500
)

const (
	fileFields      = "nextPageToken,files(id,name,mimeType,webViewLink,modifiedTime)"
	fileCountFields = "nextPageToken,files(id)"
)

// driveService returns the Drive client acting through client, which
// carries the token.
func (p *Provider) driveService(ctx context.Context, client *http.Client) (*drive.Service, error) {
	if p.apiErr != nil {
		return nil, p.apiErr
	}
	svc, err := drive.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(p.cfg.APIURL+"drive/v3/"))
	if err != nil {
		return nil, fmt.Errorf("google: drive client: %w", err)
	}
	svc.UserAgent = userAgent
	return svc, nil
}

// SearchDocuments returns up to limit (30 when limit is 0 or less) of the
// files not in the trash whose text or name holds every one of words, most
// relevant first as Drive ranks them, with their total count (counted up to
// 1000). Words in double quotes match as a phrase. Drive searches what the
// account client carries owns or was shared (My Drive and shared with me,
// not shared drives). Empty or overlong words give EINVALID; see mapError
// for Google's refusals.
func (p *Provider) SearchDocuments(ctx context.Context, client *http.Client, words string, limit int) ([]tandem.Document, int, error) {
	words = strings.Join(strings.Fields(words), " ")
	if words == "" {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "Say which words to search Google Drive for.")
	}
	if len(words) > maxWords {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "Search Google Drive with fewer words (at most %d characters).", maxWords)
	}
	if limit <= 0 {
		limit = defaultLimit
	}
	svc, err := p.driveService(ctx, client)
	if err != nil {
		return nil, 0, err
	}
	// No orderBy: Drive refuses one with fullText (403) and ranks by
	// relevance instead.
	call := svc.Files.List().Q(searchQuery(words)).PageSize(int64(min(limit, maxFilesPage))).Fields(fileFields).Context(ctx)
	var docs []tandem.Document
	total := 0
	for {
		res, err := call.Do()
		if err != nil {
			return nil, 0, mapError("search documents", "its Google Drive", err)
		}
		for _, f := range res.Files {
			total++
			if len(docs) == limit {
				continue
			}
			d := tandem.Document{Title: f.Name, URL: f.WebViewLink, Kind: kind(f.MimeType)}
			if f.ModifiedTime != "" {
				if d.Modified, err = time.Parse(time.RFC3339, f.ModifiedTime); err != nil {
					return nil, 0, fmt.Errorf("google: search documents: file %s modifiedTime: %w", f.Id, err)
				}
			}
			docs = append(docs, d)
		}
		if res.NextPageToken == "" || total >= countCap {
			return docs, min(total, countCap), nil
		}
		call.PageToken(res.NextPageToken).PageSize(maxFilesPage)
		if len(docs) == limit {
			call.Fields(fileCountFields)
		}
	}
}

// searchQuery is Drive's q for words. They go inside a single-quoted
// string, where Drive's only escapes are \\ and \', so a quote in the
// words cannot end the string and smuggle in other terms.
func searchQuery(words string) string {
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(words)
	return "fullText contains '" + esc + "' and trashed = false"
}

// kind names a file's type for people.
func kind(mimeType string) string {
	switch mimeType {
	case "application/vnd.google-apps.document":
		return "Google Doc"
	case "application/vnd.google-apps.spreadsheet":
		return "Google Sheet"
	case "application/vnd.google-apps.presentation":
		return "Google Slides"
	case "application/vnd.google-apps.form":
		return "Google Form"
	case "application/vnd.google-apps.drawing":
		return "Google Drawing"
	case "application/vnd.google-apps.folder":
		return "folder"
	case "application/pdf":
		return "PDF"
	}
	for _, prefix := range []string{"image", "video", "audio"} {
		if strings.HasPrefix(mimeType, prefix+"/") {
			return prefix
		}
	}
	return mimeType
}
