package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileEvent builds an event_callback payload around an inner event given
// as raw JSON.
func hostileEvent(inner string) []byte {
	return []byte(`{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":` + inner + `}`)
}

// jsonString encodes s as a JSON string literal.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// checkStripped holds for any text: stripping the bot's mentions never
// grows the text, leaves no mention of the bot behind, and keeps valid
// UTF-8 valid.
func checkStripped(t *testing.T, name, in, bot string) (string, bool) {
	t.Helper()
	out, found := stripMention(in, bot)
	if len(out) > len(in) {
		t.Errorf("%s: stripMention grew the text from %d to %d bytes", name, len(in), len(out))
	}
	for _, m := range mentionRe.FindAllStringSubmatch(out, -1) {
		if m[1] == bot {
			t.Errorf("%s: a mention of the bot survived stripping: %.40q", name, m[0])
		}
	}
	if utf8.ValidString(in) && !utf8.ValidString(out) {
		t.Errorf("%s: stripping made valid UTF-8 invalid", name)
	}
	return out, found
}

// Sizes of the hostile texts. Plain text is 1 MB; Slack itself cuts a
// message at 40,000 characters. Text dense with mentions is 64 KB, still
// more than Slack sends: every mention is a regexp match and a callback, and
// under -race 1 MB of them takes seconds without telling more.
const (
	mb         = 1 << 20
	dense      = 64 << 10
	mentionLen = len("<@UBOT>")
)

func TestDecodeCallbackHostileAccepted(t *testing.T) {
	tests := []struct {
		name      string
		payload   []byte
		eventType string
		human     bool   // fromHuman("UBOT")
		mentioned bool   // stripMention found the bot
		text      string // the stripped text, when short enough to compare
	}{
		{
			name:      "1 MB of text around a mention",
			payload:   hostileEvent(`{"type":"app_mention","user":"U1","ts":"1.1","channel":"C1","text":` + jsonString("<@UBOT> "+strings.Repeat("word ", mb/5)+"<@UBOT>") + `}`),
			eventType: "app_mention", human: true, mentioned: true,
		},
		{
			name:      "64 KB of bot mentions",
			payload:   hostileEvent(`{"type":"app_mention","user":"U1","text":` + jsonString(strings.Repeat("<@UBOT>", dense/mentionLen)) + `}`),
			eventType: "app_mention", human: true, mentioned: true, text: "",
		},
		{
			name:      "64 KB mention label",
			payload:   hostileEvent(`{"type":"app_mention","user":"U1","text":` + jsonString("<@UBOT|"+strings.Repeat("x", dense)+"> help") + `}`),
			eventType: "app_mention", human: true, mentioned: true, text: "help",
		},
		{
			name:      "64 KB unterminated mention",
			payload:   hostileEvent(`{"type":"app_mention","user":"U1","text":` + jsonString("<@UBOT|"+strings.Repeat("x", dense)) + `}`),
			eventType: "app_mention", human: true, mentioned: false,
		},
		{
			name:      "1 MB of whitespace",
			payload:   hostileEvent(`{"type":"message","user":"U1","text":` + jsonString(strings.Repeat(" \t\n\u00a0\u3000", mb/8)) + `}`),
			eventType: "message", human: true, mentioned: false, text: "",
		},
		{
			name:      "invalid UTF-8 in the raw payload",
			payload:   hostileEvent("{\"type\":\"message\",\"user\":\"U1\",\"text\":\"<@UBOT> \xff\xfe\xc0\x80 list\"}"),
			eventType: "message", human: true, mentioned: true, text: "\ufffd\ufffd\ufffd\ufffd list",
		},
		{
			name:      "lone surrogates and NUL escaped",
			payload:   hostileEvent(`{"type":"message","user":"U1","text":"<@UBOT>\u0000help\ud800\udfff\ud800"}`),
			eventType: "message", human: true, mentioned: true, text: "\x00help\U000103ff\ufffd",
		},
		{
			name:      "invalid UTF-8 inside a mention",
			payload:   hostileEvent("{\"type\":\"message\",\"user\":\"U1\",\"text\":\"<@UBOT|\xff> hi <@U\xffBOT>\"}"),
			eventType: "message", human: true, mentioned: true, text: "hi <@U\ufffdBOT>",
		},
		{
			name:      "mention split by another mention",
			payload:   hostileEvent(`{"type":"message","user":"U1","text":"<@UB<@UBOT>OT> <@<@UBOT>UBOT> <@UBOT<@UBOT>>"}`),
			eventType: "message", human: true, mentioned: true, text: "<@UB OT> <@ UBOT> <@UBOT >",
		},
		{
			name:      "unknown event type",
			payload:   hostileEvent(`{"type":"reaction_added","user":"U1","reaction":"+1","item":{"type":"message","channel":"C1","ts":"1.1"}}`),
			eventType: "reaction_added", human: true,
		},
		{
			name:      "unknown event type without a user",
			payload:   hostileEvent(`{"type":"tokens_revoked","tokens":{"oauth":["U1"],"bot":["B1"]}}`),
			eventType: "tokens_revoked", human: false,
		},
		{
			name:      "message without user, text, ts or channel",
			payload:   hostileEvent(`{"type":"message"}`),
			eventType: "message", human: false,
		},
		{
			name:      "message from the bot itself",
			payload:   hostileEvent(`{"type":"message","user":"UBOT","text":"<@UBOT> loop"}`),
			eventType: "message", human: false, mentioned: true, text: "loop",
		},
		{
			name:      "hidden edit that mentions the bot",
			payload:   hostileEvent(`{"type":"message","subtype":"message_changed","hidden":true,"user":"U1","text":"<@UBOT> whoami"}`),
			eventType: "message", human: false, mentioned: true, text: "whoami",
		},
		{
			name:      "nulls for every field",
			payload:   []byte(`{"type":"event_callback","team_id":null,"event_id":"Ev1","event":{"type":"message","user":null,"text":null,"hidden":null,"bot_id":null}}`),
			eventType: "message", human: false,
		},
		{
			name:      "nesting within the depth limit in an unknown field",
			payload:   hostileEvent(`{"type":"message","user":"U1","text":"hi","blocks":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}`),
			eventType: "message", human: true, text: "hi",
		},
		{
			name:      "thousands of unknown fields",
			payload:   hostileEvent(`{"type":"message","user":"U1","text":"hi"` + strings.Repeat(`,"x":{"y":[1,2,3]}`, 20000) + `}`),
			eventType: "message", human: true, text: "hi",
		},
		{
			name:      "duplicate keys (last one wins)",
			payload:   []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message","user":"UBOT","user":"U1","text":"a","text":"b"}}`),
			eventType: "message", human: true, text: "b",
		},
	}
	for _, tt := range tests {
		cb, err := decodeCallback(tt.payload)
		if err != nil {
			t.Errorf("%s: decodeCallback: %v", tt.name, err)
			continue
		}
		if cb.EventID == "" || cb.Event.Type != tt.eventType {
			t.Errorf("%s: event id %q, type %q; want an id and type %q", tt.name, cb.EventID, cb.Event.Type, tt.eventType)
		}
		if got := cb.Event.fromHuman("UBOT"); got != tt.human {
			t.Errorf("%s: fromHuman = %v, want %v", tt.name, got, tt.human)
		}
		text, found := checkStripped(t, tt.name, cb.Event.Text, "UBOT")
		if found != tt.mentioned {
			t.Errorf("%s: stripMention found = %v, want %v", tt.name, found, tt.mentioned)
		}
		if len(text) < 200 && len(tt.text)+len(text) > 0 && text != tt.text {
			t.Errorf("%s: stripped text %q, want %q", tt.name, text, tt.text)
		}
		if cb.Event.threadRoot() != cb.Event.TS && cb.Event.ThreadTS == "" {
			t.Errorf("%s: threadRoot %q without thread_ts", tt.name, cb.Event.threadRoot())
		}
	}
}

func TestDecodeCallbackHostileRefused(t *testing.T) {
	for name, payload := range map[string][]byte{
		"missing event_id":              []byte(`{"type":"event_callback","event":{"type":"message","user":"U1"}}`),
		"empty event_id":                []byte(`{"type":"event_callback","event_id":"","event":{"type":"message"}}`),
		"missing event":                 []byte(`{"type":"event_callback","event_id":"Ev1"}`),
		"event without a type":          hostileEvent(`{"user":"U1","text":"<@UBOT> help"}`),
		"event is null":                 []byte(`{"type":"event_callback","event_id":"Ev1","event":null}`),
		"event is a string":             []byte(`{"type":"event_callback","event_id":"Ev1","event":"message"}`),
		"not an event_callback":         []byte(`{"type":"url_verification","event_id":"Ev1","event":{"type":"message"}}`),
		"envelope type case":            []byte(`{"type":"Event_Callback","event_id":"Ev1","event":{"type":"message"}}`),
		"event_id is a number":          []byte(`{"type":"event_callback","event_id":1,"event":{"type":"message"}}`),
		"hidden is a string":            hostileEvent(`{"type":"message","hidden":"false"}`),
		"text is an object":             hostileEvent(`{"type":"message","text":{"$ne":""}}`),
		"nesting beyond the limit":      hostileEvent(`{"type":"message","blocks":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`),
		"1 MB of open brackets":         []byte(strings.Repeat("[", mb)),
		"1 MB of nested objects":        []byte(strings.Repeat(`{"event":`, mb/9)),
		"1 MB text, truncated":          []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message","text":"` + strings.Repeat("a", mb)),
		"trailing garbage":              append(hostileEvent(`{"type":"message"}`), []byte(` {}`)...),
		"invalid UTF-8 outside strings": []byte("{\"type\":\"event_callback\",\xff\"event_id\":\"Ev1\",\"event\":{\"type\":\"message\"}}"),
		"NUL byte outside strings":      []byte("{\"type\":\"event_callback\",\x00\"event_id\":\"Ev1\",\"event\":{\"type\":\"message\"}}"),
		"empty":                         nil,
		"null":                          []byte(`null`),
		"array of events":               []byte(`[` + string(hostileEvent(`{"type":"message"}`)) + `]`),
	} {
		if cb, err := decodeCallback(payload); err == nil {
			t.Errorf("%s: decodeCallback accepted it: %+v", name, cb.Event)
		} else if strings.Contains(err.Error(), "<@") || len(err.Error()) > 300 {
			t.Errorf("%s: the error echoes the payload: %.100q", name, err)
		}
	}
}

func TestStripMentionHostile(t *testing.T) {
	for name, in := range map[string]string{
		"1 MB of text with one mention": strings.Repeat("word ", mb/5) + "<@UBOT>",
		"invalid UTF-8 and mentions":    strings.Repeat("\xff<@UBOT>", dense/8),
		"only '<@'":                     strings.Repeat("<@", dense/2),
		"only '<@U'":                    strings.Repeat("<@U", dense/3),
		"an id without a close":         "<@U" + strings.Repeat("A", dense),
		"other people's mentions":       strings.Repeat("<@UOTHER|x> ", dense/12),
		"RTL and zero-width around":     "\u202e<@UBOT>\u200b help \u2066<@UBOT|\u200d>\u2069",
		"NUL inside":                    "<@UBOT>\x00<@UB\x00OT>",
	} {
		checkStripped(t, name, in, "UBOT")
		// An empty bot user id (not known yet) never matches anything.
		if out, found := stripMention(in, ""); found || len(out) > len(in) {
			t.Errorf("%s: stripMention with no bot id found a mention or grew the text", name)
		}
	}
}
