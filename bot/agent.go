package bot

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

// progressLines keeps, per running agent turn, the message that shows its
// progress and the lines shown so far.
type progressLines struct {
	mu    sync.Mutex
	turns map[string]*progressMessage
}

type progressMessage struct {
	ts    string
	lines []string
}

// Progress shows an agent turn's progress in its thread, in one message it
// posts at the first line and updates with each next one. A failure is
// logged: progress is a courtesy, the reply still comes.
func (p people) Progress(ctx context.Context, t tandem.Turn, line string) {
	b := p.b
	b.progress.mu.Lock()
	if b.progress.turns == nil {
		b.progress.turns = map[string]*progressMessage{}
	}
	m := b.progress.turns[t.ID]
	if m == nil {
		m = &progressMessage{}
		b.progress.turns[t.ID] = m
	}
	m.lines = append(m.lines, line)
	text := tandem.Escape(strings.Join(m.lines, "\n"))
	ts := m.ts
	b.progress.mu.Unlock()
	blocks := []slack.Block{slackview.Section(slackview.Clip(text, slackview.MaxSectionText))}
	if ts != "" {
		if _, _, _, err := b.api.UpdateMessageContext(ctx, t.Session.Channel, ts, slack.MsgOptionText(slackview.Clip(text, 3000), false), slack.MsgOptionBlocks(blocks...)); err != nil {
			b.log.Warn("update agent progress", "turn", t.ID, "err", err)
		}
		return
	}
	ts, err := b.postThreadTS(ctx, t, text, blocks)
	if err != nil {
		b.log.Warn("post agent progress", "turn", t.ID, "err", err)
		return
	}
	b.progress.mu.Lock()
	m.ts = ts
	b.progress.mu.Unlock()
}

// postProposal posts an agent turn's answer with its proposal card: each
// change spelled out whole (the engine proposes none that showsChanges
// says would not fit), and Do it and Cancel buttons that only its sender's
// press answers.
func (b *Bot) postProposal(ctx context.Context, t tandem.Turn, res turns.Result, attr string) error {
	r := res.Reply
	who := fmt.Sprintf("*Proposed changes*, made as <@%s> only if <@%s> presses *Do it* within %d minutes:", res.Proposal.User, t.User, int(turns.ProposalTTL.Minutes()))
	// The model's answer gives way, so that who the changes run as is
	// never clipped off the card.
	room := max(slackview.MaxSectionText-len("*"+tandem.Escape(r.Title)+"*\n")-len("\n\n"+who), len("…"))
	if r.Text != "" {
		r.Text = slackview.Clip(r.Text, room) + "\n\n"
	}
	r.Text += who
	r.Items = changeItems(agent.Summaries(res.Proposal.Changes))
	r.Buttons = []tandem.Button{
		{Text: "Do it", ActionID: slackview.ActionProposalDo, Value: res.Proposal.ID, Primary: true},
		{Text: "Cancel", ActionID: slackview.ActionProposalCancel, Value: res.Proposal.ID},
	}
	return b.postThread(ctx, t, "Proposed changes: "+tandem.Escape(res.Proposal.Changes[0].Summary), slackview.Reply(r, attr))
}

// changeItems are the lines of a proposal card: each change's summary,
// escaped.
func changeItems(summaries []string) []tandem.Item {
	items := make([]tandem.Item, len(summaries))
	for i, s := range summaries {
		items[i] = tandem.Item{Text: tandem.Escape(s)}
	}
	return items
}

// showsChanges reports whether a proposal card lists every one of these
// changes whole within Slack's limits (turns.Config.ShowsChanges). The
// card's head and buttons take blocks of their own, so the items alone
// decide.
func showsChanges(summaries []string) bool {
	return slackview.ShowsWhole(tandem.Reply{Items: changeItems(summaries)})
}

// pressProposal answers a press of a proposal card's button: the presser
// alone is told when the press does nothing; the card shows what happened.
func (b *Bot) pressProposal(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	private, card := b.engine.Press(ctx, a.Value, cb.User.ID, a.ActionID == slackview.ActionProposalDo)
	if private != "" {
		thread := cb.Message.ThreadTimestamp
		key := tandem.SessionKey{Channel: cb.Channel.ID, ThreadTS: thread}
		if err := b.postEphemeral(ctx, key, cb.User.ID, private, []slack.Block{slackview.Section(private)}); err != nil {
			b.log.Warn("answer a proposal press", "err", err)
		}
	}
	if card != "" {
		b.answered(ctx, cb, card)
	}
}

// endProgress forgets a finished turn's progress message.
func (b *Bot) endProgress(t tandem.Turn) {
	b.progress.mu.Lock()
	delete(b.progress.turns, t.ID)
	b.progress.mu.Unlock()
}

// threadPage is how many of a thread's messages an agent turn reads: the
// planner keeps the newest that fit its budget (agent.DefaultHistoryTokens).
const threadPage = 200

// Thread returns the messages of key's thread sent before ts, oldest first,
// for an agent turn: who wrote each (a mention; another app by its name),
// whether it is Tandem's own, and its text, but not the text of one
// edited at or after before. It reads one page of conversations.replies
// (threadPage messages).
func (c chat) Thread(ctx context.Context, key tandem.SessionKey, before string) ([]agent.ThreadMessage, error) {
	var msgs []slack.Message
	err := c.b.withRateLimit(ctx, func() error {
		var err error
		msgs, _, _, err = c.b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: key.Channel, Timestamp: key.ThreadTS, Latest: before, Limit: threadPage,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []agent.ThreadMessage
	for _, m := range msgs {
		if m.Timestamp >= before && before != "" {
			continue
		}
		// Only Tandem's own messages are Tandem's: another app's (a
		// webhook, a workflow, another bot) is named as that app, so its
		// text cannot pass for an earlier reply of Tandem.
		bot := m.User != "" && m.User == c.b.userID
		author := "<@" + m.User + ">"
		switch {
		case bot:
			author = "Tandem"
		case m.User == "" || m.BotID != "":
			author = "another app: " + cmp.Or(m.Username, m.BotID, "unknown")
		}
		text, _ := stripMention(m.Text, c.b.userID)
		if !bot && before != "" && m.Edited != nil && m.Edited.Timestamp >= before {
			// Slack keeps an edited message's ts: its text now may have
			// been written after the turn's message, which would let
			// anyone rewrite what a waiting turn plans from.
			text = "(edited after this request; its new text is not shown)"
		}
		out = append(out, agent.ThreadMessage{Author: author, Bot: bot, Text: text})
	}
	return out, nil
}

// RunTool runs one operation for an MCP call of key, as its creator
// (turns.Engine.RunTool).
func (b *Bot) RunTool(ctx context.Context, key tandem.APIKey, op string, args map[string]string) (string, *tandem.Identity, error) {
	return b.engine.RunTool(ctx, key, op, args)
}

// KeyNeedsLink DMs key's creator, with a Connect button, that a call of
// their key stopped for want of their link at p.
func (p people) KeyNeedsLink(ctx context.Context, key tandem.APIKey, provider tandem.ProviderID, expired bool) {
	t := tandem.Turn{Session: tandem.SessionKey{Team: key.Team}, APIKey: key.Prefix, APIKeyName: key.Name}
	p.b.tellKeyCreator(ctx, t, key.Creator, provider, expired)
}
