package fakeslack

import (
	"encoding/json"
	"fmt"
	"time"
)

// triggerLifetime is how long a trigger_id can open a modal.
const triggerLifetime = 3 * time.Second

type homeView struct {
	id   string
	hash string
	view json.RawMessage
}

type trigger struct {
	issued time.Time
	user   string
	used   bool
}

// issueTriggerLocked registers a trigger_id (a fresh one if id is empty)
// and returns it.
func (s *Server) issueTriggerLocked(id, user string) string {
	now := s.opts.Clock()
	if id == "" {
		id = fmt.Sprintf("%d.%d.%016x", now.Unix(), s.nextIDLocked(), s.rng.Uint64())
	}
	s.triggers[id] = &trigger{issued: now, user: user}
	return id
}

// parseView decodes a view argument and checks its type and blocks.
func parseView(raw json.RawMessage, wantType string) (map[string]json.RawMessage, *apiError) {
	if raw == nil {
		return nil, fail("invalid_arguments", "missing required field: view")
	}
	if len(raw) > maxViewBytes {
		return nil, fail("view_too_large")
	}
	var view map[string]json.RawMessage
	if err := json.Unmarshal(raw, &view); err != nil {
		return nil, fail("invalid_arguments", "invalid `view`")
	}
	var typ string
	_ = json.Unmarshal(view["type"], &typ)
	if typ != wantType {
		return nil, fail("invalid_arguments", "invalid `view.type`")
	}
	if b, ok := view["blocks"]; ok && string(b) != "null" {
		if err := validateBlocks(b, maxViewBlocks); err != nil {
			return nil, err
		}
	}
	return view, nil
}

// viewJSON is the view object views.* return: the request's view plus the
// fields Slack fills in.
func (s *Server) viewJSON(view map[string]json.RawMessage, id, hash string) map[string]any {
	out := map[string]any{}
	for k, v := range view {
		out[k] = v
	}
	out["id"] = id
	out["team_id"] = s.opts.TeamID
	out["hash"] = hash
	out["app_id"] = s.opts.AppID
	out["bot_id"] = s.opts.BotID
	out["root_view_id"] = id
	out["app_installed_team_id"] = s.opts.TeamID
	out["state"] = map[string]any{"values": map[string]any{}}
	if _, ok := out["blocks"]; !ok {
		out["blocks"] = []any{}
	}
	return out
}

func (s *Server) newViewIDLocked() string {
	return fmt.Sprintf("V%08X", s.nextIDLocked())
}

func (s *Server) newHashLocked() string {
	return fmt.Sprintf("%d.%08x", s.opts.Clock().Unix(), s.rng.Uint32())
}

// viewsPublish stores user's Home tab: view_too_large over 250 kB,
// invalid_blocks over 100 blocks, hash_conflict on a stale hash.
func (s *Server) viewsPublish(q *apiRequest) (map[string]any, *apiError) {
	if q.size > maxViewBytes {
		return nil, fail("view_too_large")
	}
	user := q.str("user_id")
	if user == "" {
		return nil, fail("invalid_arguments", "missing required field: user_id")
	}
	if _, ok := s.users[user]; !ok {
		return nil, fail("user_not_found")
	}
	raw := q.rawJSON("view")
	view, err := parseView(raw, "home")
	if err != nil {
		return nil, err
	}
	hv := s.homeViews[user]
	if hash := q.str("hash"); hash != "" && hv != nil && hash != hv.hash {
		return nil, fail("hash_conflict")
	}
	if hv == nil {
		hv = &homeView{id: s.newViewIDLocked()}
		s.homeViews[user] = hv
	}
	hv.hash = s.newHashLocked()
	hv.view = append(json.RawMessage(nil), raw...)
	s.recordViewLocked(Message{Method: "views.publish", User: user, Blocks: view["blocks"], View: hv.view})
	return map[string]any{"view": s.viewJSON(view, hv.id, hv.hash)}, nil
}

// viewsOpen opens a modal with a trigger_id the fake issued (through a slash
// command or an interaction) less than 3 seconds ago, once.
func (s *Server) viewsOpen(q *apiRequest) (map[string]any, *apiError) {
	if q.size > maxViewBytes {
		return nil, fail("view_too_large")
	}
	t, ok := s.triggers[q.str("trigger_id")]
	if !ok {
		return nil, fail("invalid_arguments", "invalid `trigger_id`")
	}
	if t.used {
		return nil, fail("exchanged_trigger_id")
	}
	if s.opts.Clock().Sub(t.issued) > triggerLifetime {
		return nil, fail("expired_trigger_id")
	}
	raw := q.rawJSON("view")
	view, err := parseView(raw, "modal")
	if err != nil {
		return nil, err
	}
	t.used = true
	id := s.newViewIDLocked()
	s.recordViewLocked(Message{Method: "views.open", User: t.user, Blocks: view["blocks"], View: append(json.RawMessage(nil), raw...)})
	return map[string]any{"view": s.viewJSON(view, id, s.newHashLocked())}, nil
}
