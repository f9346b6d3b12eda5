package fakeslack

import (
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Paging of conversations.members, as Slack documents it: 100 members a page
// unless limit says otherwise, at most 1000.
const (
	membersDefaultLimit = 100
	membersMaxLimit     = 1000
)

// conversationsMembers answers conversations.members: the members of a
// conversation, a page at a time. A DM has its user and the bot; a channel
// with nil Members has everyone in the workspace. A private channel the bot
// is not in does not exist for the bot, as on Slack.
func (s *Server) conversationsMembers(q *apiRequest) (map[string]any, *apiError) {
	c, ok := s.lookupChannelLocked(q.str("channel"))
	if !ok {
		return nil, fail("channel_not_found")
	}
	members := s.membersLocked(c)
	if c.IsPrivate && !slices.Contains(members, s.opts.BotUserID) {
		return nil, fail("channel_not_found")
	}
	limit := membersDefaultLimit
	if l := q.str("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > membersMaxLimit {
			return nil, fail("invalid_limit")
		}
		if n > 0 {
			limit = n
		}
	}
	start := 0
	if cur := q.str("cursor"); cur != "" {
		var ok bool
		if start, ok = cursorStart(cur, members); !ok {
			return nil, fail("invalid_cursor")
		}
	}
	end := min(start+limit, len(members))
	next := ""
	if end < len(members) {
		next = memberCursor(members[end])
	}
	page := members[start:end]
	if page == nil {
		page = []string{}
	}
	return map[string]any{
		"members":           page,
		"response_metadata": map[string]any{"next_cursor": next},
	}, nil
}

// membersLocked lists who is in c, in a stable order. s.mu must be held.
func (s *Server) membersLocked(c Channel) []string {
	switch {
	case c.IsIM:
		if c.User == s.opts.BotUserID {
			return []string{c.User}
		}
		return []string{c.User, s.opts.BotUserID}
	case c.Members != nil:
		return slices.Clone(c.Members)
	}
	all := make([]string, 0, len(s.users))
	for id := range s.users {
		all = append(all, id)
	}
	sort.Strings(all)
	return all
}

// memberCursor is the opaque cursor of the page that starts at member id;
// Slack's look the same ("dXNlcjpVMDYxTkZUVDI=" is "user:U061NFTT2").
func memberCursor(id string) string {
	return base64.StdEncoding.EncodeToString([]byte("user:" + id))
}

// cursorStart finds where the page of cursor starts in members. It fails
// for a cursor the fake did not make, or whose member has left since.
func cursorStart(cursor string, members []string) (int, bool) {
	raw, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return 0, false
	}
	id, ok := strings.CutPrefix(string(raw), "user:")
	if !ok {
		return 0, false
	}
	i := slices.Index(members, id)
	return i, i >= 0
}
