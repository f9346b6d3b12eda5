package fakeslack

import (
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxRequestBody bounds what the fake reads of a request body.
const maxRequestBody = 4 << 20

// apiError is a Web API failure: {"ok":false,"error":code,...}.
type apiError struct {
	code     string
	messages []string // response_metadata.messages, as Slack sends them
}

func fail(code string, messages ...string) *apiError {
	return &apiError{code: code, messages: messages}
}

// tokenKind says which token a method expects.
type tokenKind int

const (
	botToken tokenKind = iota
	appToken
	// ownAuth methods check their own credentials (client id and secret,
	// or a user's token).
	ownAuth
)

type apiMethod struct {
	token tokenKind
	fn    func(*Server, *apiRequest) (map[string]any, *apiError)
}

// lookupMethod returns the Web API method the fake implements under name.
// Each runs with s.mu held.
func lookupMethod(name string) (apiMethod, bool) {
	switch name {
	case "apps.connections.open":
		return apiMethod{appToken, (*Server).appsConnectionsOpen}, true
	case "auth.test":
		return apiMethod{botToken, (*Server).authTest}, true
	case "chat.postMessage":
		return apiMethod{botToken, (*Server).chatPostMessage}, true
	case "chat.postEphemeral":
		return apiMethod{botToken, (*Server).chatPostEphemeral}, true
	case "chat.update":
		return apiMethod{botToken, (*Server).chatUpdate}, true
	case "users.info":
		return apiMethod{botToken, (*Server).usersInfo}, true
	case "conversations.info":
		return apiMethod{botToken, (*Server).conversationsInfo}, true
	case "conversations.open":
		return apiMethod{botToken, (*Server).conversationsOpen}, true
	case "conversations.members":
		return apiMethod{botToken, (*Server).conversationsMembers}, true
	case "conversations.replies":
		return apiMethod{botToken, (*Server).conversationsReplies}, true
	case "views.publish":
		return apiMethod{botToken, (*Server).viewsPublish}, true
	case "views.open":
		return apiMethod{botToken, (*Server).viewsOpen}, true
	case "reactions.add":
		return apiMethod{botToken, (*Server).reactionsAdd}, true
	case "reactions.remove":
		return apiMethod{botToken, (*Server).reactionsRemove}, true
	case "openid.connect.token":
		return apiMethod{ownAuth, (*Server).openIDToken}, true
	case "openid.connect.userInfo":
		return apiMethod{ownAuth, (*Server).openIDUserInfo}, true
	}
	return apiMethod{}, false
}

// apiRequest holds the arguments of one call, from a form or a JSON body.
type apiRequest struct {
	token string
	// basicUser and basicPass are HTTP Basic credentials, if sent.
	basicUser, basicPass string
	form                 url.Values
	body                 map[string]json.RawMessage
	size                 int
}

// str returns argument name as a string.
func (q *apiRequest) str(name string) string {
	if raw, ok := q.body[name]; ok {
		var v string
		if json.Unmarshal(raw, &v) == nil {
			return v
		}
		return string(raw)
	}
	return q.form.Get(name)
}

// rawJSON returns argument name as JSON: a JSON body's value as is (or the
// JSON inside a string), a form value parsed as JSON text.
func (q *apiRequest) rawJSON(name string) json.RawMessage {
	if raw, ok := q.body[name]; ok {
		var v string
		if json.Unmarshal(raw, &v) == nil {
			return json.RawMessage(v)
		}
		if string(raw) == "null" {
			return nil
		}
		return raw
	}
	if v := q.form.Get(name); v != "" {
		return json.RawMessage(v)
	}
	return nil
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	s.mu.Lock()
	s.calls[method]++
	if lim := s.limits[method]; lim != nil {
		lim.remaining--
		if lim.remaining <= 0 {
			delete(s.limits, method)
		}
		s.mu.Unlock()
		secs := int(math.Ceil(lim.retryAfter.Seconds()))
		s.logf("api %s -> 429 retry after %ds", method, secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	s.mu.Unlock()

	m, ok := lookupMethod(method)
	if !ok {
		s.logf("api %s -> unknown_method", method)
		writeAPIError(w, fail("unknown_method"))
		return
	}
	q, perr := parseAPIRequest(r)
	if perr != nil {
		s.logf("api %s -> %s", method, perr.code)
		writeAPIError(w, perr)
		return
	}
	if code := s.checkToken(m.token, q.token); code != "" {
		s.logf("api %s -> %s", method, code)
		writeAPIError(w, fail(code))
		return
	}
	s.mu.Lock()
	res, aerr := m.fn(s, q)
	s.mu.Unlock()
	if aerr != nil {
		s.logf("api %s -> %s", method, aerr.code)
		writeAPIError(w, aerr)
		return
	}
	s.logf("api %s -> ok", method)
	res["ok"] = true
	writeJSON(w, http.StatusOK, res)
}

// parseAPIRequest reads the arguments and the token. Form bodies carry the
// token in a "token" field (or a Bearer header); JSON bodies only in the
// Authorization header, as on Slack.
func parseAPIRequest(r *http.Request) (*apiRequest, *apiError) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		return nil, fail("request_timeout")
	}
	q := &apiRequest{form: r.URL.Query(), size: len(data)}
	q.basicUser, q.basicPass, _ = r.BasicAuth()
	bearer := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		bearer = strings.TrimPrefix(h, "Bearer ")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		if len(strings.TrimSpace(string(data))) > 0 && string(data) != "null" {
			if err := json.Unmarshal(data, &q.body); err != nil {
				return nil, fail("invalid_json")
			}
		}
		q.token = bearer
	case len(data) > 0:
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, fail("invalid_form_data")
		}
		for k, v := range vals {
			q.form[k] = append(q.form[k], v...)
		}
		fallthrough
	default:
		q.token = q.form.Get("token")
		if q.token == "" {
			q.token = bearer
		}
	}
	return q, nil
}

// checkToken returns "" when tok is the token kind expects, else Slack's error.
func (s *Server) checkToken(kind tokenKind, tok string) string {
	if kind == ownAuth {
		return ""
	}
	if code := s.opts.TokenErrors[tok]; code != "" && tok != "" {
		return code
	}
	want, other := s.opts.BotToken, s.opts.AppToken
	if kind == appToken {
		want, other = other, want
	}
	switch tok {
	case "":
		return "not_authed"
	case want:
		return ""
	case other:
		return "not_allowed_token_type"
	default:
		return "invalid_auth"
	}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error": e.code}
	if len(e.messages) > 0 {
		body["response_metadata"] = map[string]any{"messages": e.messages}
	}
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"ok":false,"error":"fatal_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (s *Server) appsConnectionsOpen(_ *apiRequest) (map[string]any, *apiError) {
	if s.closed {
		return nil, fail("fatal_error")
	}
	ticket := strconv.FormatUint(s.nextIDLocked(), 16) + "-" + strconv.FormatUint(s.rng.Uint64(), 16)
	s.tickets[ticket] = true
	u := "ws" + strings.TrimPrefix(s.baseURL, "http") + "/link/?ticket=" + ticket + "&app_id=" + url.QueryEscape(s.opts.AppID)
	return map[string]any{"url": u}, nil
}

func (s *Server) authTest(_ *apiRequest) (map[string]any, *apiError) {
	return map[string]any{
		"url":                   "https://" + s.opts.TeamDomain + ".slack.com/",
		"team":                  s.opts.TeamName,
		"user":                  s.opts.BotName,
		"team_id":               s.opts.TeamID,
		"user_id":               s.opts.BotUserID,
		"bot_id":                s.opts.BotID,
		"is_enterprise_install": false,
	}, nil
}

func (s *Server) usersInfo(q *apiRequest) (map[string]any, *apiError) {
	u, ok := s.users[q.str("user")]
	if !ok {
		return nil, fail("user_not_found")
	}
	return map[string]any{"user": s.userJSON(u)}, nil
}

func (s *Server) userJSON(u User) map[string]any {
	profile := map[string]any{
		"real_name":               u.RealName,
		"real_name_normalized":    u.RealName,
		"display_name":            u.Name,
		"display_name_normalized": u.Name,
		"team":                    s.opts.TeamID,
	}
	if u.ID == s.opts.BotUserID {
		profile["bot_id"] = s.opts.BotID
	}
	tz, label, offset := "Etc/UTC", "Coordinated Universal Time", 0
	if u.TZ != "" {
		// Slack reports the offset of the zone now, in seconds.
		tz, label = u.TZ, u.TZ
		if loc, err := time.LoadLocation(u.TZ); err == nil {
			_, offset = time.Now().In(loc).Zone()
		}
	}
	return map[string]any{
		"id": u.ID, "team_id": s.opts.TeamID, "name": u.Name, "deleted": u.Deleted,
		"real_name": u.RealName, "tz": tz, "tz_label": label, "tz_offset": offset,
		"is_admin": u.IsAdmin, "is_owner": u.IsOwner, "is_primary_owner": u.IsPrimaryOwner,
		"is_restricted": false, "is_ultra_restricted": false, "is_bot": u.IsBot,
		"is_app_user": false, "updated": 1700000000, "profile": profile,
	}
}

// lookupChannelLocked finds a conversation by id or "#name"; "D"+userID is
// the DM with a known user even if it was never opened.
func (s *Server) lookupChannelLocked(id string) (Channel, bool) {
	if c, ok := s.channels[id]; ok {
		return c, true
	}
	if name, ok := strings.CutPrefix(id, "#"); ok {
		for _, c := range s.channels {
			if c.Name == name && !c.IsIM {
				return c, true
			}
		}
	}
	if uid, ok := strings.CutPrefix(id, "D"); ok {
		if _, known := s.users[uid]; known {
			return Channel{ID: id, IsIM: true, User: uid, Creator: uid}, true
		}
	}
	return Channel{}, false
}

func (s *Server) channelJSON(c Channel) map[string]any {
	if c.IsIM {
		return map[string]any{
			"id": c.ID, "created": 1700000000, "is_im": true, "is_org_shared": false,
			"user": c.User, "is_user_deleted": false, "priority": 0, "is_open": true,
		}
	}
	return map[string]any{
		"id": c.ID, "name": c.Name, "name_normalized": c.Name,
		"is_channel": !c.IsPrivate, "is_group": c.IsPrivate, "is_im": false, "is_mpim": false,
		"is_private": c.IsPrivate, "created": 1700000000, "creator": c.Creator,
		"is_archived": false, "is_general": false, "is_member": c.Members == nil || slices.Contains(c.Members, s.opts.BotUserID),
		"is_shared": false, "is_ext_shared": false, "is_org_shared": false,
		"context_team_id": s.opts.TeamID,
	}
}

func (s *Server) conversationsInfo(q *apiRequest) (map[string]any, *apiError) {
	c, ok := s.lookupChannelLocked(q.str("channel"))
	if !ok {
		return nil, fail("channel_not_found")
	}
	return map[string]any{"channel": s.channelJSON(c)}, nil
}

func (s *Server) conversationsOpen(q *apiRequest) (map[string]any, *apiError) {
	var uid string
	if users := q.str("users"); users != "" {
		list := strings.Split(users, ",")
		if len(list) > 1 {
			// Multi-person DMs are not modelled.
			return nil, fail("fakeslack_mpim_unsupported")
		}
		uid = strings.TrimSpace(list[0])
		if _, ok := s.users[uid]; !ok {
			return nil, fail("user_not_found")
		}
	} else if ch := q.str("channel"); ch != "" {
		c, ok := s.lookupChannelLocked(ch)
		if !ok || !c.IsIM {
			return nil, fail("channel_not_found")
		}
		uid = c.User
	} else {
		return nil, fail("users_list_not_supplied")
	}
	c, _ := s.lookupChannelLocked("D" + uid)
	already := s.openDMs[uid]
	s.openDMs[uid] = true
	ch := map[string]any{"id": c.ID}
	if q.str("return_im") == "true" {
		ch = s.channelJSON(c)
	}
	return map[string]any{"channel": ch, "no_op": already, "already_open": already}, nil
}

func (s *Server) reactionsAdd(q *apiRequest) (map[string]any, *apiError) {
	key, name, err := s.reactionArgs(q)
	if err != nil {
		return nil, err
	}
	if slices.Contains(s.reactions[key], name) {
		return nil, fail("already_reacted")
	}
	s.reactions[key] = append(s.reactions[key], name)
	s.notifyLocked()
	return map[string]any{}, nil
}

func (s *Server) reactionsRemove(q *apiRequest) (map[string]any, *apiError) {
	key, name, err := s.reactionArgs(q)
	if err != nil {
		return nil, err
	}
	list := s.reactions[key]
	for i, n := range list {
		if n == name {
			s.reactions[key] = append(list[:i:i], list[i+1:]...)
			s.notifyLocked()
			return map[string]any{}, nil
		}
	}
	return nil, fail("no_reaction")
}

func (s *Server) reactionArgs(q *apiRequest) (key, name string, _ *apiError) {
	ch, ts := q.str("channel"), q.str("timestamp")
	if ch == "" || ts == "" {
		return "", "", fail("no_item_specified")
	}
	if _, ok := s.lookupChannelLocked(ch); !ok {
		return "", "", fail("channel_not_found")
	}
	name = strings.Trim(q.str("name"), ":")
	if name == "" || strings.ContainsAny(name, " ,") {
		return "", "", fail("invalid_name")
	}
	return ch + "/" + ts, name, nil
}
