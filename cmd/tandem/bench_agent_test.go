package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakellm"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/internal/paced"
)

// benchAgentAnswer ends every agent turn of BenchmarkAgentTurn.
const benchAgentAnswer = "Bench agent answer."

// benchAgentReads are the reads of BenchmarkAgentTurn's three-call turn,
// as tools, and the same reads as exact commands.
var (
	benchAgentTools    = []string{"github_my_prs", "github_review_requests", "gitlab_my_mrs"}
	benchAgentCommands = []string{benchPRCommand, "PRs waiting for my review", benchMRCommand}
)

// BenchmarkAgentTurn measures the bot's own work per agent turn and per
// tool call, against a fake OpenAI-compatible model that answers at once
// (its scripted answer costs microseconds; what remains of the model's
// share is the SDK's request and the loopback round trip, one per model
// request). Each iteration runs, one after the other, each in a new
// thread:
//
//	agent1: a free-form message whose model asks for 1 read, then answers
//	        (2 model requests);
//	agent3: the same with 3 reads, one a request (4 model requests);
//	plain3: the same 3 reads as exact commands, one after the other (no
//	        model).
//
// Each is timed from the event written by the fake Slack to the final
// reply recorded by it. It reports the p50 of each, ms-per-call (the
// difference of the agent p50s over the 2 extra calls: one read and one
// model round trip each), ms-per-turn (agent1's p50 less one call: the
// fixed cost of an agent turn with its first and last model requests), and
// agent3-over-plain3 (what planning the same reads costs over asking for
// them exactly). Nothing here asserts a time.
func BenchmarkAgentTurn(b *testing.B) {
	e := newBenchEnv(b, benchOptions{users: 4})
	model := fakellm.NewOpenAI(b, fakellm.Options{Key: testLLMKey, Script: func(c fakellm.Conversation) fakellm.Reply {
		tools := benchAgentTools[:1]
		if strings.Contains(c.Messages[0].Text, "three things") {
			tools = benchAgentTools
		}
		done := 0
		for _, m := range c.Messages {
			done += len(m.ToolResults)
		}
		if done < len(tools) {
			return fakellm.Call(tools[done], "{}")
		}
		return fakellm.Text(benchAgentAnswer)
	}})
	e.vars["TANDEM_LLM_URL"] = model.BaseURL()
	e.vars["TANDEM_LLM_API_KEY"] = testLLMKey
	e.vars["TANDEM_LLM_MODEL"] = "fake-model-1"
	e.start()
	ctx := context.Background()

	// turn sends text by user in a new thread and waits for the reply that
	// says want; it returns the time and the thread.
	turn := func(user, text, want string) (time.Duration, string) {
		ev, ts := e.mentionEvent(user, text)
		t0 := time.Now()
		if _, err := e.slack.SendEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := e.slack.WaitForMessage(wctx, func(m fakeslack.Message) bool {
			return m.Method == "chat.postMessage" && m.ThreadTS == ts && strings.Contains(plain(m), want)
		}); err != nil {
			b.Fatalf("no reply %q to %q: %v\n%s", want, text, err, e.logTail())
		}
		return time.Since(t0), ts
	}

	var agent1, agent3, plain3 []time.Duration
	var last1, last3 string
	requests0 := len(model.Requests())
	i := 0
	for b.Loop() {
		u := e.users[i%len(e.users)]
		i++
		d, ts := turn(u.slack, "what is the one thing waiting on me?", benchAgentAnswer)
		agent1, last1 = append(agent1, d), ts
		d, ts = turn(u.slack, "what are the three things waiting on me?", benchAgentAnswer)
		agent3, last3 = append(agent3, d), ts
		var sum time.Duration
		for _, c := range benchAgentCommands {
			d, _ := turn(u.slack, c, "ran as <@"+u.slack+">")
			sum += d
		}
		plain3 = append(plain3, sum)
	}
	b.StopTimer()
	// The last turns of each kind ran as their sender, with their calls.
	for thread, want := range map[string]string{last1: "· 1 call", last3: "· 3 calls"} {
		found := false
		for _, m := range e.slack.Messages() {
			found = found || (m.ThreadTS == thread && strings.Contains(plain(m), benchAgentAnswer) && strings.Contains(plain(m), want) && strings.Contains(plain(m), "GitHub: bench"))
		}
		if !found {
			b.Fatalf("no answer in %s saying %q and the sender's GitHub login\n%s", thread, want, e.logTail())
		}
	}
	perCall := (paced.Pct(agent3, 50) - paced.Pct(agent1, 50)) / 2
	b.ReportMetric(float64(len(model.Requests())-requests0)/float64(len(agent1)), "model-requests/iter")
	b.ReportMetric(paced.Pct(agent1, 50), "agent1-p50-ms")
	b.ReportMetric(paced.Pct(agent3, 50), "agent3-p50-ms")
	b.ReportMetric(paced.Pct(agent3, 99), "agent3-p99-ms")
	b.ReportMetric(paced.Pct(plain3, 50), "plain3-p50-ms")
	b.ReportMetric(perCall, "ms-per-call")
	b.ReportMetric(paced.Pct(agent1, 50)-perCall, "ms-per-turn")
	b.ReportMetric(paced.Pct(agent3, 50)-paced.Pct(plain3, 50), "agent3-over-plain3-ms")
}
