package bot

import (
	"sync"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// parseText reads a turn's text as a command. It is a variable so that a
// test can count the parses a turn costs.
var parseText = turns.Parse

// job is a turn picked to run, with its text parsed once: the command
// (which carries its operation) or why the text is none goes with the turn
// to the slot it takes, its execution and its reply.
type job struct {
	tandem.TurnRecord
	cmd turns.Command // or why the text is none (cmd.Err), for the sender
}

// pool names the pool of slots the turn runs in: the provider it needs, or
// "" for none (help, session controls, commands that combine providers,
// text that is no command).
func (j job) pool() string { return string(j.cmd.Provider()) }

// mutating reports whether the turn changes something at a provider, which
// must never be silently re-run.
func (j job) mutating() bool { return j.cmd.Mutating() }

// parse makes a picked turn a job: with the command parsed when its message
// was recognised here, or else by parsing its text now.
func (b *Bot) parse(rec tandem.TurnRecord) job {
	if p, ok := b.parsed.take(rec.Turn); ok {
		return job{TurnRecord: rec, cmd: p.cmd}
	}
	return job{TurnRecord: rec, cmd: parseText(rec.Turn.Text)}
}

// parsed is a text already read as a command.
type parsed struct {
	cmd turns.Command
	n   uint64 // when it was kept (parsedTurns.n)
}

// parsedTurns keeps, until the turn is picked, the command of a recorded
// turn whose text was parsed to recognise it (a plain message in a
// session's thread must be exactly a command), so it is not parsed again.
type parsedTurns struct {
	mu sync.Mutex
	n  uint64                                  // puts so far
	m  map[tandem.SessionKey]map[string]parsed // by session, then turn id
}

// put keeps v for t, which is recorded.
func (p *parsedTurns) put(t tandem.Turn, v parsed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[tandem.SessionKey]map[string]parsed{}
	}
	if p.m[t.Session] == nil {
		p.m[t.Session] = map[string]parsed{}
	}
	p.n++
	v.n = p.n
	p.m[t.Session][t.ID] = v
}

// take returns and forgets what was kept for t.
func (p *parsedTurns) take(t tandem.Turn) (parsed, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[t.Session][t.ID]
	if ok {
		delete(p.m[t.Session], t.ID)
		if len(p.m[t.Session]) == 0 {
			delete(p.m, t.Session)
		}
	}
	return v, ok
}

// mark returns a point in time for forget.
func (p *parsedTurns) mark() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// forget drops what was kept for key's turns up to mark: kept before a
// read found the session with no unfinished turn, or before another
// replica was found running it, its turn will not be picked here.
func (p *parsedTurns) forget(key tandem.SessionKey, mark uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, v := range p.m[key] {
		if v.n <= mark {
			delete(p.m[key], id)
		}
	}
	if len(p.m[key]) == 0 {
		delete(p.m, key)
	}
}

// size returns how many turns have a kept command, for tests.
func (p *parsedTurns) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, byID := range p.m {
		n += len(byID)
	}
	return n
}
