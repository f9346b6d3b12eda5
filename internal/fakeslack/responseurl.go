package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// A response_url takes up to 5 posts within 30 minutes.
const (
	responseURLUses     = 5
	responseURLLifetime = 30 * time.Minute
)

type responseURL struct {
	created time.Time
	uses    int
	channel string
	user    string
}

// newResponseURLLocked registers a response_url for a command or action
// issued by user in channel.
func (s *Server) newResponseURLLocked(channel, user string) string {
	id := fmt.Sprintf("%s/%d/%016x", s.opts.TeamID, s.nextIDLocked(), s.rng.Uint64())
	s.responseURLs[id] = &responseURL{created: s.opts.Clock(), channel: channel, user: user}
	return s.baseURL + "/response/" + id
}

// handleResponseURL takes a JSON post to a response_url and records it as
// a message with Method "response_url": ephemeral unless response_type is
// "in_channel". The sixth use answers used_url, a use after 30 minutes
// expired_url.
func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil || r.Method != http.MethodPost {
		writeAPIError(w, fail("invalid_payload"))
		return
	}
	var msg struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ThreadTS        string          `json:"thread_ts"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
	}
	if json.Unmarshal(data, &msg) != nil {
		writeAPIError(w, fail("invalid_payload"))
		return
	}
	if string(msg.Blocks) == "null" {
		msg.Blocks = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["response_url"]++
	ru, ok := s.responseURLs[id]
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "invalid_url"})
		return
	case s.opts.Clock().Sub(ru.created) > responseURLLifetime:
		writeAPIError(w, fail("expired_url"))
		return
	case ru.uses >= responseURLUses:
		writeAPIError(w, fail("used_url"))
		return
	}
	if utf8.RuneCountInString(msg.Text) > maxTextLength {
		writeAPIError(w, fail("msg_too_long"))
		return
	}
	if msg.Blocks != nil {
		if aerr := validateBlocks(msg.Blocks, maxMessageBlocks); aerr != nil {
			writeAPIError(w, aerr)
			return
		}
	}
	if msg.Text == "" && !hasItems(msg.Blocks) && !msg.DeleteOriginal {
		writeAPIError(w, fail("no_text"))
		return
	}
	ru.uses++
	s.recordLocked(Message{
		Method: "response_url", Channel: ru.channel, ThreadTS: msg.ThreadTS, TS: s.nextTSLocked(),
		Text: msg.Text, User: ru.user, Blocks: msg.Blocks, Ephemeral: msg.ResponseType != "in_channel",
	})
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
