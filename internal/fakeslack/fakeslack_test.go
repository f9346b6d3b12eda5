package fakeslack_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 5 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func startServer(t *testing.T, opts fakeslack.Options) *fakeslack.Server {
	t.Helper()
	srv := fakeslack.New(opts)
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func apiFor(srv *fakeslack.Server) *slack.Client {
	return slack.New(srv.BotToken(), slack.OptionAppLevelToken(srv.AppToken()), slack.OptionAPIURL(srv.APIURL()))
}

// harness runs a real slack-go socketmode client against the fake and
// records every event it emits.
type harness struct {
	api    *slack.Client
	client *socketmode.Client

	mu      sync.Mutex
	events  []socketmode.Event
	changed chan struct{}
}

// handler reacts to one event; ackAll acknowledges every request.
type handler func(h *harness, evt socketmode.Event)

func ackAll(h *harness, evt socketmode.Event) { h.ack(evt, nil) }

func (h *harness) ack(evt socketmode.Event, payload any) {
	switch evt.Type {
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive:
		if payload == nil {
			_ = h.client.Ack(*evt.Request)
		} else {
			_ = h.client.Ack(*evt.Request, payload)
		}
	}
}

func startClient(t *testing.T, srv *fakeslack.Server, handle handler, opts ...socketmode.Option) *harness {
	t.Helper()
	api := apiFor(srv)
	h := &harness{api: api, client: socketmode.New(api, opts...), changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = h.client.RunContext(ctx)
	}()
	go func() {
		for {
			select {
			case evt := <-h.client.Events:
				h.mu.Lock()
				h.events = append(h.events, evt)
				close(h.changed)
				h.changed = make(chan struct{})
				h.mu.Unlock()
				if handle != nil {
					handle(h, evt)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-runDone:
		case <-time.After(waitTimeout):
			t.Errorf("socketmode client did not stop")
		}
	})
	h.waitEvent(t, isType(socketmode.EventTypeHello))
	return h
}

func isType(typ socketmode.EventType) func(socketmode.Event) bool {
	return func(e socketmode.Event) bool { return e.Type == typ }
}

// waitEvent returns the first event (recorded ones included) matching pred.
func (h *harness) waitEvent(t *testing.T, pred func(socketmode.Event) bool) socketmode.Event {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		h.mu.Lock()
		events, ch := h.events, h.changed
		h.mu.Unlock()
		for _, e := range events {
			if pred(e) {
				return e
			}
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no matching socketmode event within %s", waitTimeout)
		}
	}
}

func (h *harness) count(pred func(socketmode.Event) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if pred(e) {
			n++
		}
	}
	return n
}

func eventsAPI(e socketmode.Event) bool { return e.Type == socketmode.EventTypeEventsAPI }

func TestHelloAndEventRoundTrip(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	h := startClient(t, srv, ackAll)
	h.waitEvent(t, isType(socketmode.EventTypeConnected))
	if got := h.waitEvent(t, isType(socketmode.EventTypeHello)).Request; got.NumConnections != 1 || got.ConnectionInfo.AppID != "A0TANDEM" {
		t.Errorf("hello = %+v, want num_connections 1 and app_id A0TANDEM", got)
	}

	ts := srv.NextTS()
	d, err := srv.SendEvent(testCtx(t), fakeslack.MessageEvent("D0USER", "U1", "hello <@U0BOT>", ts, ""))
	if err != nil {
		t.Fatalf("SendEvent: %v", err)
	}
	if !strings.HasPrefix(d.EventID, "Ev") || d.EnvelopeID == "" || d.AckAfter <= 0 {
		t.Errorf("delivery = %+v", d)
	}
	evt := h.waitEvent(t, eventsAPI)
	outer := evt.Data.(slackevents.EventsAPIEvent)
	cb := outer.Data.(*slackevents.EventsAPICallbackEvent)
	if outer.Type != slackevents.CallbackEvent || cb.EventID != d.EventID || outer.TeamID != "T0TANDEM" || outer.APIAppID != "A0TANDEM" {
		t.Errorf("outer event = %+v / %+v", outer, cb)
	}
	if len(cb.Authorizations) != 1 || cb.Authorizations[0].UserID != "U0BOT" {
		t.Errorf("authorizations = %+v", cb.Authorizations)
	}
	msg, ok := outer.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner event is %T", outer.InnerEvent.Data)
	}
	if msg.Channel != "D0USER" || msg.User != "U1" || msg.Text != "hello <@U0BOT>" || msg.TimeStamp != ts ||
		msg.EventTimeStamp != ts || msg.ChannelType != "im" || msg.ThreadTimeStamp != "" {
		t.Errorf("message event = %+v", msg)
	}
	if evt.Request.EnvelopeID != d.EnvelopeID || evt.Request.RetryAttempt != 0 || evt.Request.AcceptsResponsePayload {
		t.Errorf("envelope = %+v", evt.Request)
	}
	if srv.Acks() != 1 || len(srv.UnackedEnvelopes()) != 0 {
		t.Errorf("acks = %d, unacked = %v", srv.Acks(), srv.UnackedEnvelopes())
	}
}

func TestAppMentionInThreadAndNeverInDM(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	h := startClient(t, srv, ackAll)
	parent, reply := srv.NextTS(), srv.NextTS()
	if _, err := srv.SendEvent(testCtx(t), fakeslack.AppMentionEvent("C1", "U1", "<@U0BOT> go", reply, parent)); err != nil {
		t.Fatalf("SendEvent: %v", err)
	}
	outer := h.waitEvent(t, eventsAPI).Data.(slackevents.EventsAPIEvent)
	m, ok := outer.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok || m.ThreadTimeStamp != parent || m.TimeStamp != reply || m.Channel != "C1" {
		t.Fatalf("app_mention = %#v", outer.InnerEvent.Data)
	}
	if len(m.Blocks.BlockSet) != 1 {
		t.Errorf("app_mention has %d blocks, want the rich_text block", len(m.Blocks.BlockSet))
	}
	_, err := srv.SendEvent(testCtx(t), fakeslack.AppMentionEvent("D0USER", "U1", "<@U0BOT> hi", srv.NextTS(), ""))
	if !errors.Is(err, fakeslack.ErrMentionInDM) {
		t.Errorf("app_mention in DM: err = %v, want ErrMentionInDM", err)
	}
}

func TestManualRedeliveryCarriesRetryAttempt(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	h := startClient(t, srv, ackAll)
	first, err := srv.SendEvent(testCtx(t), fakeslack.MessageEvent("C1", "U1", "hi", srv.NextTS(), ""))
	if err != nil {
		t.Fatalf("SendEvent: %v", err)
	}
	again, err := srv.Redeliver(testCtx(t), first.EventID, 2)
	if err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	if again.EnvelopeID == first.EnvelopeID || again.EventID != first.EventID || again.RetryAttempt != 2 {
		t.Errorf("redelivery = %+v, first = %+v", again, first)
	}
	evt := h.waitEvent(t, func(e socketmode.Event) bool { return eventsAPI(e) && e.Request.RetryAttempt == 2 })
	if evt.Request.RetryReason != "timeout" || evt.Request.EnvelopeID != again.EnvelopeID {
		t.Errorf("redelivered envelope = %+v", evt.Request)
	}
	cb := evt.Data.(slackevents.EventsAPIEvent).Data.(*slackevents.EventsAPICallbackEvent)
	if cb.EventID != first.EventID {
		t.Errorf("redelivered event_id = %q, want %q", cb.EventID, first.EventID)
	}
	if _, err := srv.Redeliver(testCtx(t), "EvNOPE", 1); !errors.Is(err, fakeslack.ErrUnknownEvent) {
		t.Errorf("Redeliver unknown: err = %v", err)
	}
	if _, err := srv.Redeliver(testCtx(t), first.EventID, 4); err == nil {
		t.Errorf("Redeliver attempt 4: want an error, Slack stops at 3")
	}
}

func TestAutoRedeliverUntilAcked(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	srv.AutoRedeliver(true, 150*time.Millisecond)
	// The app drops the first delivery and acknowledges the retry.
	startClient(t, srv, func(h *harness, evt socketmode.Event) {
		if eventsAPI(evt) && evt.Request.RetryAttempt > 0 {
			h.ack(evt, nil)
		}
	})
	d, err := srv.SendEvent(testCtx(t), fakeslack.MessageEvent("C1", "U1", "hi", srv.NextTS(), ""))
	if err != nil {
		t.Fatalf("SendEvent: %v", err)
	}
	if d.RetryAttempt != 1 {
		t.Errorf("acked attempt = %d, want 1", d.RetryAttempt)
	}
	r := srv.Redeliveries()
	if len(r) != 1 || !r[0].Auto || r[0].Attempt != 1 || r[0].EventID != d.EventID || r[0].EnvelopeID != d.EnvelopeID || r[0].Reason != "timeout" {
		t.Errorf("redeliveries = %+v", r)
	}
	if un := srv.UnackedEnvelopes(); len(un) != 1 || un[0] != r[0].FromEnvelopeID {
		t.Errorf("unacked = %v, want the first envelope %s", un, r[0].FromEnvelopeID)
	}
}

func TestAutoRedeliverGivesUpAfterThirdAttempt(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	srv.AutoRedeliver(true, 100*time.Millisecond)
	h := startClient(t, srv, nil) // never acknowledges
	_, eventID, err := srv.DeliverEvent(fakeslack.MessageEvent("C1", "U1", "hi", srv.NextTS(), ""))
	if err != nil {
		t.Fatalf("DeliverEvent: %v", err)
	}
	gaveUp := func() bool {
		r := srv.Redeliveries()
		return len(r) > 0 && r[len(r)-1].GaveUp
	}
	if err := srv.WaitFor(testCtx(t), gaveUp); err != nil {
		t.Fatalf("never gave up: %v (redeliveries %+v)", err, srv.Redeliveries())
	}
	r := srv.Redeliveries()
	if len(r) != 4 || r[3].Attempt != 3 || r[3].EventID != eventID {
		t.Fatalf("redeliveries = %+v, want attempts 1, 2, 3 then give up", r)
	}
	for attempt := 0; attempt <= 3; attempt++ {
		h.waitEvent(t, func(e socketmode.Event) bool { return eventsAPI(e) && e.Request.RetryAttempt == attempt })
	}
	if n := len(srv.UnackedEnvelopes()); n != 4 {
		t.Errorf("unacked envelopes = %d, want 4", n)
	}
}

func TestSlashCommandAckPayload(t *testing.T) {
	srv := startServer(t, fakeslack.Options{Users: []fakeslack.User{{ID: "U1", Name: "ann"}}})
	h := startClient(t, srv, func(h *harness, evt socketmode.Event) {
		if evt.Type == socketmode.EventTypeSlashCommand {
			cmd := evt.Data.(slack.SlashCommand)
			h.ack(evt, map[string]any{"text": "pong " + cmd.Text})
		}
	})
	ack, err := srv.SendSlashCommand(testCtx(t), fakeslack.SlashCommand{Command: "/tandem", Text: "ping", UserID: "U1", ChannelID: "C1"})
	if err != nil {
		t.Fatalf("SendSlashCommand: %v", err)
	}
	var body struct{ Text string }
	if err := json.Unmarshal(ack, &body); err != nil || body.Text != "pong ping" {
		t.Errorf("ack payload = %s (%v), want text \"pong ping\"", ack, err)
	}
	evt := h.waitEvent(t, isType(socketmode.EventTypeSlashCommand))
	cmd := evt.Data.(slack.SlashCommand)
	if cmd.Command != "/tandem" || cmd.UserID != "U1" || cmd.UserName != "ann" || cmd.ChannelID != "C1" ||
		cmd.TeamID != "T0TANDEM" || cmd.ResponseURL == "" || cmd.TriggerID == "" {
		t.Errorf("slash command = %+v", cmd)
	}
	if !evt.Request.AcceptsResponsePayload || evt.Request.Type != "slash_commands" {
		t.Errorf("envelope = %+v", evt.Request)
	}
}

func TestSlashCommandNotAckedIsNotRedelivered(t *testing.T) {
	srv := startServer(t, fakeslack.Options{AckTimeout: 200 * time.Millisecond})
	srv.AutoRedeliver(true, 50*time.Millisecond)
	h := startClient(t, srv, nil)
	_, err := srv.SendSlashCommand(testCtx(t), fakeslack.SlashCommand{Command: "/tandem", UserID: "U1", ChannelID: "C1"})
	if !errors.Is(err, fakeslack.ErrNotAcked) {
		t.Fatalf("err = %v, want ErrNotAcked", err)
	}
	if n := h.count(isType(socketmode.EventTypeSlashCommand)); n != 1 {
		t.Errorf("client saw %d slash commands, want 1", n)
	}
	if r := srv.Redeliveries(); len(r) != 0 {
		t.Errorf("redeliveries = %+v, want none", r)
	}
}

func TestInteractionsAndViewsOpen(t *testing.T) {
	srv := startServer(t, fakeslack.Options{Users: []fakeslack.User{{ID: "U1", Name: "ann"}}})
	var openErrs []error
	var mu sync.Mutex
	h := startClient(t, srv, func(h *harness, evt socketmode.Event) {
		if evt.Type != socketmode.EventTypeInteractive {
			return
		}
		cb := evt.Data.(slack.InteractionCallback)
		switch cb.Type {
		case slack.InteractionTypeMessageAction:
			modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "T", false, false)}
			_, err1 := h.api.OpenView(cb.TriggerID, modal)
			_, err2 := h.api.OpenView(cb.TriggerID, modal)
			mu.Lock()
			openErrs = append(openErrs, err1, err2)
			mu.Unlock()
			h.ack(evt, nil)
		case slack.InteractionTypeViewSubmission:
			h.ack(evt, map[string]any{"response_action": "clear"})
		default:
			h.ack(evt, nil)
		}
	})
	ctx := testCtx(t)

	parent := srv.NextTS()
	if _, err := srv.SendInteraction(ctx, srv.BlockActionsPayload(fakeslack.BlockActionSpec{
		UserID: "U1", ChannelID: "C1", MessageTS: srv.NextTS(), ThreadTS: parent, ActionID: "approve", Value: "yes",
	})); err != nil {
		t.Fatalf("block_actions: %v", err)
	}
	cb := h.waitEvent(t, isType(socketmode.EventTypeInteractive)).Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 ||
		cb.ActionCallback.BlockActions[0].ActionID != "approve" || cb.Container.ThreadTs != parent || cb.User.ID != "U1" {
		t.Errorf("block_actions callback = %+v", cb)
	}

	if _, err := srv.SendInteraction(ctx, srv.MessageShortcutPayload(fakeslack.ShortcutSpec{
		CallbackID: "session", UserID: "U1", ChannelID: "C1", MessageTS: srv.NextTS(), ThreadTS: parent, MessageText: "x",
	})); err != nil {
		t.Fatalf("message_action: %v", err)
	}
	mu.Lock()
	errs := openErrs
	mu.Unlock()
	if len(errs) != 2 || errs[0] != nil || errs[1] == nil || errs[1].Error() != "exchanged_trigger_id" {
		t.Errorf("views.open errors = %v, want nil then exchanged_trigger_id", errs)
	}
	if v := srv.Views(); len(v) != 1 || v[0].Method != "views.open" || v[0].User != "U1" {
		t.Errorf("views = %+v", v)
	}

	ack, err := srv.SendInteraction(ctx, srv.ViewSubmissionPayload(fakeslack.SubmissionSpec{
		UserID: "U1", CallbackID: "cfg", Values: map[string]map[string]any{"b": {"a": map[string]any{"type": "plain_text_input", "value": "v"}}},
	}))
	if err != nil || !strings.Contains(string(ack), `"clear"`) {
		t.Fatalf("view_submission ack = %s, %v", ack, err)
	}
	sub := h.waitEvent(t, func(e socketmode.Event) bool {
		return e.Type == socketmode.EventTypeInteractive && e.Data.(slack.InteractionCallback).Type == slack.InteractionTypeViewSubmission
	})
	if !sub.Request.AcceptsResponsePayload || sub.Data.(slack.InteractionCallback).View.State.Values["b"]["a"].Value != "v" {
		t.Errorf("view_submission = %+v", sub.Request)
	}
}

func TestDisconnectAndDropLeadToReconnect(t *testing.T) {
	// A long grace: slack-go must leave on the disconnect frame itself, not
	// because the server closed the socket.
	srv := startServer(t, fakeslack.Options{DisconnectGrace: time.Minute})
	h := startClient(t, srv, ackAll)
	ctx := testCtx(t)
	if n := srv.Disconnect("refresh_requested"); n != 1 {
		t.Fatalf("Disconnect told %d connections, want 1", n)
	}
	if err := srv.WaitFor(ctx, func() bool { return srv.ConnectionsOpened() == 2 && srv.Connections() == 1 }); err != nil {
		t.Fatalf("no reconnect after disconnect: opened %d, open %d", srv.ConnectionsOpened(), srv.Connections())
	}
	if n := h.count(isType(socketmode.EventTypeErrorBadMessage)); n != 0 {
		t.Errorf("slack-go could not parse %d frames", n)
	}
	srv.DropConnections()
	if err := srv.WaitFor(ctx, func() bool { return srv.ConnectionsOpened() == 3 && srv.Connections() == 1 }); err != nil {
		t.Fatalf("no reconnect after drop: opened %d, open %d", srv.ConnectionsOpened(), srv.Connections())
	}
	if _, err := srv.SendEvent(ctx, fakeslack.MessageEvent("C1", "U1", "after", srv.NextTS(), "")); err != nil {
		t.Fatalf("SendEvent after reconnect: %v", err)
	}
	h.waitEvent(t, func(e socketmode.Event) bool {
		return e.Type == socketmode.EventTypeConnected && e.Data.(*socketmode.ConnectedEvent).ConnectionCount == 2
	})
	if n := h.count(isType(socketmode.EventTypeDisconnect)); n != 0 {
		t.Errorf("slack-go surfaced %d disconnect events; it handles them itself", n)
	}
}

func TestStopPingingMakesClientReconnect(t *testing.T) {
	srv := startServer(t, fakeslack.Options{PingInterval: 50 * time.Millisecond})
	startClient(t, srv, ackAll, socketmode.OptionPingInterval(300*time.Millisecond))
	srv.StopPinging(true)
	if err := srv.WaitFor(testCtx(t), func() bool { return srv.ConnectionsOpened() >= 2 }); err != nil {
		t.Fatalf("client did not reconnect without pings: %v", err)
	}
	srv.StopPinging(false)
	if _, err := srv.SendEvent(testCtx(t), fakeslack.MessageEvent("C1", "U1", "x", srv.NextTS(), "")); err != nil {
		t.Fatalf("SendEvent after pings resumed: %v", err)
	}
}

func TestRoundRobinOverConnections(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	a := startClient(t, srv, ackAll)
	b := startClient(t, srv, ackAll)
	if got := b.waitEvent(t, isType(socketmode.EventTypeHello)).Request.NumConnections; got != 2 {
		t.Errorf("second hello num_connections = %d, want 2", got)
	}
	for range 4 {
		if _, err := srv.SendEvent(testCtx(t), fakeslack.MessageEvent("C1", "U1", "x", srv.NextTS(), "")); err != nil {
			t.Fatalf("SendEvent: %v", err)
		}
	}
	if na, nb := a.count(eventsAPI), b.count(eventsAPI); na != 2 || nb != 2 {
		t.Errorf("events per connection = %d and %d, want 2 and 2", na, nb)
	}
}

func TestEventQueuedUntilConnected(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	envID, _, err := srv.DeliverEvent(fakeslack.MessageEvent("C1", "U1", "early", srv.NextTS(), ""))
	if err != nil {
		t.Fatalf("DeliverEvent: %v", err)
	}
	startClient(t, srv, ackAll)
	if d, err := srv.WaitAck(testCtx(t), envID); err != nil || d.EnvelopeID != envID {
		t.Fatalf("WaitAck = %+v, %v", d, err)
	}
	if _, err := srv.WaitAck(testCtx(t), "nope"); !errors.Is(err, fakeslack.ErrUnknownEnvelope) {
		t.Errorf("WaitAck unknown: %v", err)
	}
}

// dialRaw opens a Socket Mode connection without slack-go and returns its
// first frame.
func dialRaw(t *testing.T, srv *fakeslack.Server) (*websocket.Conn, map[string]any) {
	t.Helper()
	_, url, err := apiFor(srv).StartSocketModeContext(testCtx(t))
	if err != nil {
		t.Fatalf("apps.connections.open: %v", err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, readFrame(t, conn)
}

func readFrame(t *testing.T, conn *websocket.Conn) map[string]any {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	var frame map[string]any
	if err := conn.ReadJSON(&frame); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return frame
}

func TestEleventhConnectionIsRefused(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	for i := 1; i <= 10; i++ {
		if _, hello := dialRaw(t, srv); hello["type"] != "hello" || hello["num_connections"] != float64(i) {
			t.Fatalf("connection %d: first frame %v", i, hello)
		}
	}
	_, frame := dialRaw(t, srv)
	if frame["type"] != "disconnect" || frame["reason"] != "too_many_websockets" {
		t.Errorf("11th connection got %v, want disconnect too_many_websockets", frame)
	}
	if srv.Connections() != 10 || srv.ConnectionsOpened() != 10 {
		t.Errorf("connections = %d, opened = %d, want 10 and 10", srv.Connections(), srv.ConnectionsOpened())
	}
}

func TestLargeAckFramesAreIgnored(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	conn, _ := dialRaw(t, srv)
	envID, _, err := srv.DeliverEvent(fakeslack.MessageEvent("C1", "U1", "x", srv.NextTS(), ""))
	if err != nil {
		t.Fatalf("DeliverEvent: %v", err)
	}
	if env := readFrame(t, conn); env["envelope_id"] != envID || env["type"] != "events_api" {
		t.Fatalf("envelope = %v", env)
	}
	big := map[string]any{"envelope_id": envID, "payload": map[string]any{"pad": strings.Repeat("x", 20*1024)}}
	if err := conn.WriteJSON(big); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(testCtx(t), func() bool { return srv.IgnoredFrames() == 1 }); err != nil {
		t.Fatalf("large frame not ignored: %v", err)
	}
	if srv.Acks() != 0 {
		t.Fatalf("a 20 KB ack was accepted")
	}
	if err := conn.WriteJSON(map[string]any{"envelope_id": envID}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitAck(testCtx(t), envID); err != nil {
		t.Fatalf("small ack: %v", err)
	}
}

func TestBadAppTokenStopsSocketMode(t *testing.T) {
	srv := startServer(t, fakeslack.Options{})
	api := slack.New(srv.BotToken(), slack.OptionAppLevelToken("xapp-wrong"), slack.OptionAPIURL(srv.APIURL()))
	client := socketmode.New(api)
	ctx := testCtx(t)
	go func() {
		for {
			select {
			case <-client.Events:
			case <-ctx.Done():
				return
			}
		}
	}()
	err := client.RunContext(ctx)
	if err == nil || err.Error() != "invalid_auth" {
		t.Errorf("RunContext = %v, want invalid_auth", err)
	}
	if srv.ConnectionsOpened() != 0 {
		t.Errorf("a connection was opened with a bad app token")
	}
}

func TestAppHomeOpenedCarriesPublishedView(t *testing.T) {
	srv := startServer(t, fakeslack.Options{Users: []fakeslack.User{{ID: "U1"}}})
	h := startClient(t, srv, ackAll)
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "home", false, false), nil, nil),
	}}}
	if _, err := h.api.PublishView("U1", view, ""); err != nil {
		t.Fatalf("PublishView: %v", err)
	}
	if _, err := srv.SendEvent(testCtx(t), srv.AppHomeOpenedEvent("U1")); err != nil {
		t.Fatalf("SendEvent: %v", err)
	}
	inner := h.waitEvent(t, eventsAPI).Data.(slackevents.EventsAPIEvent).InnerEvent.Data
	ev, ok := inner.(*slackevents.AppHomeOpenedEvent)
	if !ok || ev.User != "U1" || ev.Tab != "home" || ev.View == nil || ev.View.ID == "" || len(ev.View.Blocks.BlockSet) != 1 {
		t.Errorf("app_home_opened = %#v", inner)
	}
}
