package bot

import (
	"context"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
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

// endProgress forgets a finished turn's progress message.
func (b *Bot) endProgress(t tandem.Turn) {
	b.progress.mu.Lock()
	delete(b.progress.turns, t.ID)
	b.progress.mu.Unlock()
}
