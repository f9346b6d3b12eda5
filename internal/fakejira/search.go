package fakejira

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The fake's JQL is just enough for Tandem: clauses joined by AND on
// assignee, reporter, project, status, statusCategory, issuetype and key
// with = and != (IS and IS NOT for EMPTY), values as words, quoted strings
// or currentUser(), and ORDER BY updated, created or key, ASC or DESC. It
// refuses the rest with a 400 rather than guessing.

type clause struct {
	field, op, value string
	function         bool // value was currentUser()
}

type sortKey struct {
	field string
	desc  bool
}

type jql struct {
	clauses []clause
	order   []sortKey
}

type jqlToken struct {
	kind string // "word", "string", "op", "comma"
	text string
}

func lexJQL(q string) ([]jqlToken, error) {
	var out []jqlToken
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, errors.New("Error in the JQL Query: Missing closing quote.")
			}
			out = append(out, jqlToken{"string", b.String()})
			i = j + 1
		case r == '!' && i+1 < len(rs) && rs[i+1] == '=':
			out = append(out, jqlToken{"op", "!="})
			i += 2
		case r == '=':
			out = append(out, jqlToken{"op", "="})
			i++
		case r == ',':
			out = append(out, jqlToken{"comma", ","})
			i++
		case strings.ContainsRune("~<>()!", r):
			return nil, fmt.Errorf("Error in the JQL Query: the fake does not support '%c'.", r)
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune("=!,()\"'~<>", rs[j]) {
				j++
			}
			w := string(rs[i:j])
			if j+1 < len(rs) && rs[j] == '(' && rs[j+1] == ')' {
				w += "()"
				j += 2
			}
			out = append(out, jqlToken{"word", w})
			i = j
		}
	}
	return out, nil
}

var (
	errUnbounded = errors.New("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
	jqlFields    = []string{"assignee", "reporter", "project", "status", "statuscategory", "issuetype", "type", "key", "issuekey"}
)

func parseJQL(q string) (jql, error) {
	toks, err := lexJQL(q)
	if err != nil {
		return jql{}, err
	}
	var out jql
	i := 0
	peek := func() jqlToken {
		if i < len(toks) {
			return toks[i]
		}
		return jqlToken{}
	}
	isWord := func(t jqlToken, w string) bool { return t.kind == "word" && strings.EqualFold(t.text, w) }
	for i < len(toks) && !isWord(peek(), "order") {
		if len(out.clauses) > 0 {
			switch t := peek(); {
			case isWord(t, "and"):
				i++
			case isWord(t, "or"):
				return jql{}, errors.New("Error in the JQL Query: the fake supports AND only.")
			default:
				return jql{}, fmt.Errorf("Error in the JQL Query: Expecting either 'OR' or 'AND' but got '%s'.", t.text)
			}
		}
		f := peek()
		if f.kind != "word" {
			return jql{}, fmt.Errorf("Error in the JQL Query: Expecting a field name but got '%s'.", f.text)
		}
		i++
		c := clause{field: strings.ToLower(f.text)}
		if !slices.Contains(jqlFields, c.field) {
			return jql{}, fmt.Errorf("Field '%s' does not exist or you do not have permission to view it.", f.text)
		}
		switch t := peek(); {
		case t.kind == "op":
			c.op = t.text
			i++
		case isWord(t, "is"):
			i++
			c.op = "="
			if isWord(peek(), "not") {
				c.op = "!="
				i++
			}
			if !isWord(peek(), "empty") && !isWord(peek(), "null") {
				return jql{}, errors.New("Error in the JQL Query: IS takes EMPTY or NULL only.")
			}
		default:
			return jql{}, fmt.Errorf("Error in the JQL Query: Expecting operator but got '%s'.", t.text)
		}
		v := peek()
		if v.kind != "word" && v.kind != "string" {
			return jql{}, errors.New("Error in the JQL Query: Expecting a value.")
		}
		i++
		c.value = v.text
		switch {
		case v.kind == "word" && strings.EqualFold(v.text, "currentUser()"):
			c.function = true
		case v.kind == "word" && strings.HasSuffix(v.text, "()"):
			return jql{}, fmt.Errorf("Unable to find JQL function '%s'.", v.text)
		case v.kind == "word" && (strings.EqualFold(v.text, "empty") || strings.EqualFold(v.text, "null")):
			c.value = ""
		}
		out.clauses = append(out.clauses, c)
	}
	if i < len(toks) {
		i++ // ORDER
		if !isWord(peek(), "by") {
			return jql{}, errors.New("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
		}
		i++
		for {
			f := peek()
			if f.kind != "word" {
				return jql{}, errors.New("Error in the JQL Query: Expecting a field name after 'ORDER BY'.")
			}
			i++
			k := sortKey{field: strings.ToLower(f.text)}
			if !slices.Contains([]string{"updated", "created", "key"}, k.field) {
				return jql{}, fmt.Errorf("Not able to sort using field '%s'.", f.text)
			}
			if t := peek(); isWord(t, "asc") || isWord(t, "desc") {
				k.desc = isWord(t, "desc")
				i++
			}
			out.order = append(out.order, k)
			if peek().kind != "comma" {
				break
			}
			i++
		}
		if i < len(toks) {
			return jql{}, fmt.Errorf("Error in the JQL Query: Unexpected '%s' at the end.", peek().text)
		}
	}
	return out, nil
}

// check refuses values that name nothing on the site, as Jira does.
func (q jql) check(st *site, viewer string) error {
	for _, c := range q.clauses {
		if c.value == "" || c.function {
			continue
		}
		ok := true
		switch c.field {
		case "status":
			_, ok = statusNamed(c.value)
		case "statuscategory":
			ok = slices.ContainsFunc(statuses, func(x status) bool { return categoryIs(x, c.value) })
		case "issuetype", "type":
			_, ok = issueTypeNamed(c.value)
		case "project":
			p := findProject(st, c.value)
			ok = p != nil && p.visible(viewer)
		}
		if !ok {
			return fmt.Errorf("The value '%s' does not exist for the field '%s'.", c.value, c.field)
		}
	}
	if len(q.clauses) == 0 {
		return errUnbounded
	}
	return nil
}

func categoryIs(st status, v string) bool {
	return strings.EqualFold(st.catName, v) || strings.EqualFold(st.catKey, v) || strconv.Itoa(st.catID) == v
}

func findProject(st *site, v string) *project {
	for _, p := range st.projects {
		if strings.EqualFold(p.key, v) || p.id == v || strings.EqualFold(p.name, v) {
			return p
		}
	}
	return nil
}

// matches reports whether it satisfies every clause for viewer. The
// caller holds s.mu.
func (s *Server) matches(q jql, st *site, it *issue, viewer string) bool {
	for _, c := range q.clauses {
		var ok bool
		switch c.field {
		case "assignee", "reporter":
			who := it.assignee
			if c.field == "reporter" {
				who = it.reporter
			}
			switch {
			case c.function:
				ok = who == viewer
			case c.value == "":
				ok = who == ""
			default:
				u := s.users[who]
				ok = u != nil && (strings.EqualFold(u.Email, c.value) || u.AccountID == c.value || strings.EqualFold(u.Name, c.value))
			}
		case "status":
			ok = strings.EqualFold(it.status, c.value)
		case "statuscategory":
			cur, _ := statusNamed(it.status)
			ok = categoryIs(cur, c.value)
		case "issuetype", "type":
			ok = strings.EqualFold(it.typ, c.value)
		case "project":
			ok = it.project == findProject(st, c.value)
		case "key", "issuekey":
			ok = strings.EqualFold(it.key, c.value)
		}
		if c.op == "!=" {
			ok = !ok
		}
		if !ok {
			return false
		}
	}
	return true
}

// run returns the issues of st that viewer can see and q selects, sorted.
// The caller holds s.mu.
func (s *Server) run(q jql, st *site, viewer string) []*issue {
	var out []*issue
	for _, it := range st.issues {
		if it.project.visible(viewer) && s.matches(q, st, it, viewer) {
			out = append(out, it)
		}
	}
	order := q.order
	if len(order) == 0 {
		order = []sortKey{{"created", true}}
	}
	slices.SortFunc(out, func(a, b *issue) int {
		for _, k := range order {
			var c int
			switch k.field {
			case "updated":
				c = a.updated.Compare(b.updated)
			case "created":
				c = a.created.Compare(b.created)
			case "key":
				c = cmp.Or(cmp.Compare(a.project.key, b.project.key), cmp.Compare(issueNumber(a), issueNumber(b)))
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

func issueNumber(it *issue) int {
	_, n, _ := strings.Cut(it.key, "-")
	v, _ := strconv.Atoi(n)
	return v
}

type searchParams struct {
	JQL           string   `json:"jql"`
	NextPageToken string   `json:"nextPageToken"`
	MaxResults    int      `json:"maxResults"`
	Fields        []string `json:"fields"`
}

// searchJQL serves GET and POST /search/jql, Jira Cloud's enhanced search:
// token pagination (nextPageToken, isLast) and no total; only ids unless
// fields are asked for.
func (s *Server) searchJQL(w http.ResponseWriter, r *http.Request, c caller) {
	var in searchParams
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			jiraError(w, http.StatusBadRequest, []string{"The request body is not valid JSON."}, nil)
			return
		}
	} else {
		q := r.URL.Query()
		in.JQL, in.NextPageToken, in.Fields = q.Get("jql"), q.Get("nextPageToken"), q["fields"]
		if v := q.Get("maxResults"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				jiraError(w, http.StatusBadRequest, []string{"maxResults must be a number."}, nil)
				return
			}
			in.MaxResults = n
		}
	}
	q, err := parseJQL(in.JQL)
	if err == nil {
		err = q.check(c.site, c.key)
	}
	if err != nil {
		jiraError(w, http.StatusBadRequest, []string{err.Error()}, nil)
		return
	}
	want := fieldSet(in.Fields, "id")
	limit := 5000 // ids only
	for f, on := range want {
		if on && f != "id" && f != "key" {
			limit = 100
		}
	}
	if in.MaxResults < 1 {
		in.MaxResults = 50
	}
	in.MaxResults = min(in.MaxResults, limit)
	start := 0
	if in.NextPageToken != "" {
		if start, err = readPageToken(in.NextPageToken, in.JQL); err != nil {
			jiraError(w, http.StatusBadRequest, []string{err.Error()}, nil)
			return
		}
	}
	all := s.run(q, c.site, c.key)
	issues := []obj{}
	end := min(start+in.MaxResults, len(all))
	for _, it := range all[min(start, len(all)):end] {
		issues = append(issues, s.issueJSON(c.site, it, want, c.key))
	}
	out := obj{"issues": issues, "isLast": end >= len(all)}
	if end < len(all) {
		out["nextPageToken"] = pageToken(end, in.JQL)
	}
	writeJSON(w, http.StatusOK, out)
}

// approximateCount serves POST /search/approximate-count, the count that
// the enhanced search no longer gives. The fake's count is exact.
func (s *Server) approximateCount(w http.ResponseWriter, r *http.Request, c caller) {
	var in struct {
		JQL string `json:"jql"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jiraError(w, http.StatusBadRequest, []string{"The request body is not valid JSON."}, nil)
		return
	}
	q, err := parseJQL(in.JQL)
	if err == nil {
		err = q.check(c.site, c.key)
	}
	if err != nil {
		jiraError(w, http.StatusBadRequest, []string{err.Error()}, nil)
		return
	}
	writeJSON(w, http.StatusOK, obj{"count": len(s.run(q, c.site, c.key))})
}

// pageToken is opaque to clients; the fake binds it to the query.
func pageToken(offset int, q string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s", offset, queryHash(q)))
}

func readPageToken(tok, q string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	n, h, ok := strings.Cut(string(b), ":")
	offset, convErr := strconv.Atoi(n)
	if err != nil || !ok || convErr != nil || offset < 0 || h != queryHash(q) {
		return 0, errors.New("The provided next page token is invalid or expired.")
	}
	return offset, nil
}

func queryHash(q string) string {
	h := sha256.Sum256([]byte(q))
	return hex.EncodeToString(h[:6])
}
