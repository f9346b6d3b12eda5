package inbox

import (
	"sync"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// Job is a turn picked to run, with its text parsed once: the command
// (which carries its operation) or why the text is none goes with the turn
// to the slot it takes, its execution and its reply.
type Job struct {
	tandem.TurnRecord
	Cmd turns.Command // or why the text is none (Cmd.Err), for the sender
	// Hold is the session lease the turn is picked under: a change is
	// marked running only while it is still this runner's.
	Hold tandem.Hold
	// FreeSlot gives back the turn's slot of its provider's pool once the
	// turn is done with the provider, so that its reply and its record do
	// not keep another turn from the provider (nil: no slot taken; the
	// runner gives it back at the end otherwise). Idempotent.
	FreeSlot func()
}

// Pool names the pool of slots the turn runs in: the provider it needs, or
// "" for none (help, session controls, commands that combine providers,
// text that is no command).
func (j Job) Pool() string { return string(j.Cmd.Provider()) }

// parse makes a picked turn a Job: with the command kept when its message
// was recognised (Keep), or else by parsing its text now.
func (r *Runner) parse(rec tandem.TurnRecord) Job {
	if p, ok := r.parsed.take(rec.Turn); ok {
		return Job{TurnRecord: rec, Cmd: p.cmd}
	}
	return Job{TurnRecord: rec, Cmd: r.cfg.Parse(rec.Turn.Text)}
}

// Keep keeps cmd, parsed from recorded turn t's text to recognise it as a
// turn, until t is picked, so that its text is not parsed again.
func (r *Runner) Keep(t tandem.Turn, cmd turns.Command) { r.parsed.put(t, parsed{cmd: cmd}) }

// PoolOf names the provider pool t's turn will run in, t being recorded:
// from its kept command, or else from its text, which it then keeps for
// the pick (so it is parsed once either way).
func (r *Runner) PoolOf(t tandem.Turn) string {
	if p, ok := r.parsed.peek(t); ok {
		return string(p.cmd.Provider())
	}
	cmd := r.cfg.Parse(t.Text)
	r.Keep(t, cmd)
	return string(cmd.Provider())
}

// Kept returns how many turns have a kept command not yet picked or
// forgotten.
func (r *Runner) Kept() int { return r.parsed.size() }

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

// maxParsed bounds the sessions whose parsed turns are kept: with a deeper
// backlog, a turn is parsed again when it is picked, rather than kept in
// memory.
const maxParsed = 4096

// put keeps v for t, which is recorded.
func (p *parsedTurns) put(t tandem.Turn, v parsed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[t.Session] == nil && len(p.m) >= maxParsed {
		return
	}
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

// peek returns what was kept for t, keeping it.
func (p *parsedTurns) peek(t tandem.Turn) (parsed, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[t.Session][t.ID]
	return v, ok
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

// size returns how many turns have a kept command.
func (p *parsedTurns) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, byID := range p.m {
		n += len(byID)
	}
	return n
}
