package fakegoogle

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MIME types of Google's own file kinds.
const (
	MimeDocument     = "application/vnd.google-apps.document"
	MimeSpreadsheet  = "application/vnd.google-apps.spreadsheet"
	MimePresentation = "application/vnd.google-apps.presentation"
	MimeFolder       = "application/vnd.google-apps.folder"
)

// file is one file in a user's Drive.
type file struct {
	id          string
	owner       string // user key
	name        string
	mimeType    string
	description string
	content     string
	created     time.Time
	modified    time.Time
	trashed     bool
	starred     bool
	readers     []string // user keys the file is shared with
	writers     []string
}

// AddFile adds a file to login's Drive (an unknown login is added as a
// user) and returns its id. content is what a fullText search sees.
func (s *Server) AddFile(login, name, mimeType, content string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.ensureUser(login)
	now := s.now().UTC()
	f := &file{
		id:       fmt.Sprintf("1FAKE%028d", s.next()), // 33 characters, as Drive's ids
		owner:    key(u.Email),
		name:     name,
		mimeType: mimeType,
		content:  content,
		created:  now,
		modified: now,
	}
	// Files added in one instant still sort newest first, as the
	// order of creation says.
	for _, o := range s.files {
		if !f.modified.After(o.modified) {
			f.modified = o.modified.Add(time.Millisecond)
			f.created = f.modified
		}
	}
	s.files = append(s.files, f)
	return f.id
}

// ShareFile lets login read file id; it does nothing for an unknown id.
func (s *Server) ShareFile(id, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureUser(login)
	if f := s.file(id); f != nil && !slices.Contains(f.readers, key(login)) {
		f.readers = append(f.readers, key(login))
	}
}

// TrashFile moves file id to the trash; it does nothing for an unknown id.
func (s *Server) TrashFile(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.file(id); f != nil {
		f.trashed = true
	}
}

func (s *Server) file(id string) *file {
	for _, f := range s.files {
		if f.id == id {
			return f
		}
	}
	return nil
}

func (f *file) visibleTo(viewer string) bool {
	return f.owner == viewer || slices.Contains(f.readers, viewer) || slices.Contains(f.writers, viewer)
}

var fileSchema = schema{
	"kind": nil, "id": nil, "name": nil, "mimeType": nil, "description": nil, "starred": nil,
	"trashed": nil, "explicitlyTrashed": nil, "parents": nil, "spaces": nil, "version": nil,
	"webViewLink": nil, "iconLink": nil, "hasThumbnail": nil, "viewedByMe": nil,
	"createdTime": nil, "modifiedTime": nil, "modifiedByMeTime": nil, "owners": nil,
	"shared": nil, "ownedByMe": nil, "size": nil, "quotaBytesUsed": nil, "resourceKey": nil,
	"capabilities": nil, "permissions": nil, "driveId": nil, "webContentLink": nil, "fileExtension": nil,
}

var fileListSchema = schema{"kind": nil, "nextPageToken": nil, "incompleteSearch": nil, "files": fileSchema}

// defaultFileFields is what files.list returns without a fields
// parameter: much less than a client usually needs.
const defaultFileFields = "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)"

// orderKeys are the sort keys files.list accepts; the fake sorts by the
// ones it models and ignores the rest.
var orderKeys = []string{
	"createdTime", "folder", "modifiedByMeTime", "modifiedTime", "name", "name_natural",
	"quotaBytesUsed", "recency", "sharedWithMeTime", "starred", "viewedByMeTime",
}

// listFiles serves GET /drive/v3/files: the files the caller owns or that
// are shared with them, filtered by q.
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, c caller) {
	params := r.URL.Query()
	q, err := parseQuery(params.Get("q"))
	if err != nil {
		badRequest(w, "Invalid Value", "invalid", "q")
		return
	}
	orderBy := strings.TrimSpace(params.Get("orderBy"))
	if orderBy != "" && hasFullText(q) {
		msg := "Sorting is not supported for queries with fullText terms. Results are always in descending relevance order."
		apiError(w, http.StatusForbidden, msg, "", errItem{Domain: "global", Reason: "forbidden", Location: "orderBy", LocationType: "parameter"})
		return
	}
	type orderKey struct {
		name string
		desc bool
	}
	var order []orderKey
	if orderBy != "" {
		for _, part := range strings.Split(orderBy, ",") {
			f := strings.Fields(part)
			if len(f) == 0 || len(f) > 2 || !slices.Contains(orderKeys, f[0]) || (len(f) == 2 && f[1] != "desc") {
				badRequest(w, "Invalid Value", "invalid", "orderBy")
				return
			}
			order = append(order, orderKey{f[0], len(f) == 2})
		}
	}
	pageSize := 100
	if v := params.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			badRequest(w, "Invalid Value", "invalid", "pageSize")
			return
		}
		pageSize = n
	}
	if corpora := params.Get("corpora"); corpora != "" && corpora != "user" {
		badRequest(w, "The fake supports corpora=user only.", "invalid", "corpora")
		return
	}
	fingerprint := pageFingerprint(c.key, params, "q", "orderBy", "corpora")
	offset, ok := pageOffset(params.Get("pageToken"), fingerprint)
	if !ok {
		badRequest(w, "Invalid Value", "invalid", "pageToken")
		return
	}

	terms := fullTextTerms(q)
	score := func(f *file) int {
		n := 0
		for _, t := range terms {
			n += fullTextScore(f, t)
		}
		return n
	}
	var found []*file
	for _, f := range s.files {
		if f.visibleTo(c.key) && q.match(f, c.key) {
			found = append(found, f)
		}
	}
	slices.SortStableFunc(found, func(a, b *file) int {
		if len(terms) > 0 {
			if n := cmp.Compare(score(b), score(a)); n != 0 {
				return n
			}
		}
		for _, k := range order {
			n := 0
			switch k.name {
			case "createdTime":
				n = a.created.Compare(b.created)
			case "modifiedTime", "recency", "modifiedByMeTime":
				n = a.modified.Compare(b.modified)
			case "name", "name_natural":
				n = cmp.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
			case "folder":
				n = trueFirst(a.mimeType == MimeFolder, b.mimeType == MimeFolder)
			case "starred":
				n = trueFirst(a.starred, b.starred)
			}
			if k.desc {
				n = -n
			}
			if n != 0 {
				return n
			}
		}
		return b.modified.Compare(a.modified)
	})
	files := []map[string]any{}
	for _, f := range found[min(offset, len(found)):min(offset+pageSize, len(found))] {
		files = append(files, s.fileJSON(f, c))
	}
	out := map[string]any{"kind": "drive#fileList", "incompleteSearch": false, "files": files}
	if offset+pageSize < len(found) {
		out["nextPageToken"] = pageToken(offset+pageSize, fingerprint)
	}
	v, ok := selectFields(w, params.Get("fields"), defaultFileFields, fileListSchema, out)
	if ok {
		writeJSON(w, http.StatusOK, v)
	}
}

// trueFirst orders true before false.
func trueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// webViewLink is where a person opens f: the editor for Google's own
// kinds, the Drive viewer for others.
func (s *Server) webViewLink(f *file) string {
	switch f.mimeType {
	case MimeDocument:
		return s.URL() + "/document/d/" + f.id + "/edit?usp=drivesdk"
	case MimeSpreadsheet:
		return s.URL() + "/spreadsheets/d/" + f.id + "/edit?usp=drivesdk"
	case MimePresentation:
		return s.URL() + "/presentation/d/" + f.id + "/edit?usp=drivesdk"
	case MimeFolder:
		return s.URL() + "/drive/folders/" + f.id
	}
	return s.URL() + "/file/d/" + f.id + "/view?usp=drivesdk"
}

func (s *Server) fileJSON(f *file, c caller) map[string]any {
	owner := s.users[f.owner]
	o := map[string]any{
		"kind":              "drive#file",
		"id":                f.id,
		"name":              f.name,
		"mimeType":          f.mimeType,
		"starred":           f.starred,
		"trashed":           f.trashed,
		"explicitlyTrashed": f.trashed,
		"parents":           []string{"0AFAKE-root-" + localPart(owner.Email)},
		"spaces":            []string{"drive"},
		"version":           "1",
		"webViewLink":       s.webViewLink(f),
		"iconLink":          "https://drive-thirdparty.googleusercontent.com/16/type/" + f.mimeType,
		"hasThumbnail":      false,
		"viewedByMe":        true,
		"createdTime":       stampMillis(f.created),
		"modifiedTime":      stampMillis(f.modified),
		"owners": []map[string]any{{
			"kind": "drive#user", "displayName": owner.Name, "me": f.owner == c.key,
			"permissionId": owner.Sub, "emailAddress": owner.Email,
		}},
		"shared":    len(f.readers)+len(f.writers) > 0,
		"ownedByMe": f.owner == c.key,
	}
	if f.description != "" {
		o["description"] = f.description
	}
	if !strings.HasPrefix(f.mimeType, "application/vnd.google-apps.") {
		o["size"] = strconv.Itoa(len(f.content))
		o["quotaBytesUsed"] = strconv.Itoa(len(f.content))
	}
	return o
}
