package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/store"
)

// schedulesOp runs an operator command and returns its stdout, stderr and
// error.
func (e *env) schedulesOp(args ...string) (string, string, error) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(ctxFor(e.t), args, e.getenv, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// schedulesOK runs an operator command that must succeed, and returns its
// stdout.
func (e *env) schedulesOK(args ...string) string {
	e.t.Helper()
	out, stderr, err := e.schedulesOp(args...)
	if err != nil {
		e.t.Fatalf("tandem %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// schedulesJSON lists the schedules as tandem schedules list --json prints
// them, by their creator.
func (e *env) schedulesJSON(args ...string) map[string]scheduleRow {
	e.t.Helper()
	var rows []scheduleRow
	out := e.schedulesOK(append([]string{"schedules", "list", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		e.t.Fatalf("tandem schedules list --json: %v\n%s", err, out)
	}
	by := map[string]scheduleRow{}
	for _, r := range rows {
		by[r.Creator] = r
	}
	return by
}

// TestSchedulesCommands: schedules made in Slack are listed by tandem
// schedules list, and paused, resumed and deleted through the running
// serve, which says so in each thread; an unknown id fails; with serve
// stopped the listing reads the database and the actions refuse.
func TestSchedulesCommands(t *testing.T) {
	e := newEnv(t)
	e.start()
	alice, _ := e.mention("UALICE", "every weekday at 9:00 whoami", "")
	e.reply(alice, "Scheduled: whoami")
	bob, _ := e.mention("UBOB", "every day at 17:30 Europe/Berlin whoami", "")
	e.reply(bob, "Scheduled: whoami")

	list, stderr, err := e.schedulesOp("schedules", "list")
	if err != nil || !strings.Contains(stderr, "running inside") {
		t.Fatalf("tandem schedules list did not run inside serve: %v\n%s", err, stderr)
	}
	t.Logf("tandem schedules list:\n%s", list)
	for _, want := range []string{"ID", "CREATOR", "THREAD", "UALICE", "UBOB", "T0TANDEM/" + channel + "/" + alice, "T0TANDEM/" + channel + "/" + bob,
		"whoami", "Every Monday to Friday at 09:00", "Every day at 17:30 Europe/Berlin", "runs as <@UALICE>", "active"} {
		if !strings.Contains(list, want) {
			t.Errorf("tandem schedules list lacks %q:\n%s", want, list)
		}
	}
	rows := e.schedulesJSON()
	a, b := rows["UALICE"], rows["UBOB"]
	if len(rows) != 2 || a.ID == "" || b.ID == "" || a.Session.ThreadTS != alice || a.Text != "whoami" || a.Paused || a.Next.IsZero() ||
		!strings.Contains(a.Description, "runs as <@UALICE>") {
		t.Fatalf("tandem schedules list --json: %+v", rows)
	}
	if only := e.schedulesJSON("--user", "UBOB"); len(only) != 1 || only["UBOB"].ID != b.ID {
		t.Errorf("--user UBOB lists %+v", only)
	}
	if none := e.schedulesJSON("--channel", "C0ELSEWHERE"); len(none) != 0 {
		t.Errorf("--channel C0ELSEWHERE lists %+v", none)
	}

	out, stderr, err := e.schedulesOp("schedules", "pause", a.ID, "--operator", "ops-oncall")
	if err != nil || !strings.Contains(stderr, "running inside") || !strings.Contains(out, "Paused the schedule `whoami`") || !strings.Contains(out, "operator ops-oncall") {
		t.Errorf("tandem schedules pause: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	e.reply(alice, "An operator paused the schedule `whoami` of <@UALICE>")
	if p := e.schedulesJSON()["UALICE"]; !p.Paused || p.PausedWhy != "paused by an operator" {
		t.Errorf("after pause, the listing has %+v", p)
	}
	if list := e.schedulesOK("schedules", "list", "--user", "UALICE"); !strings.Contains(list, "paused (paused by an operator)") {
		t.Errorf("after pause, tandem schedules list:\n%s", list)
	}
	if e.inThread(bob, "paused") != 0 {
		t.Error("pausing Alice's schedule told Bob's thread")
	}

	if out := e.schedulesOK("schedules", "resume", a.ID); !strings.Contains(out, "Resumed the schedule `whoami`") {
		t.Errorf("tandem schedules resume: %s", out)
	}
	e.reply(alice, "An operator resumed the schedule")
	if p := e.schedulesJSON()["UALICE"]; p.Paused || p.Next.IsZero() {
		t.Errorf("after resume, the listing has %+v", p)
	}

	if out := e.schedulesOK("schedules", "delete", a.ID); !strings.Contains(out, "Deleted the schedule `whoami` ("+a.ID+")") {
		t.Errorf("tandem schedules delete: %s", out)
	}
	e.reply(alice, "An operator deleted the schedule")
	if rows := e.schedulesJSON(); len(rows) != 1 || rows["UBOB"].ID != b.ID {
		t.Errorf("after delete, the listing has %+v", rows)
	}

	for _, id := range []string{a.ID, "sch_000000000000"} {
		out, _, err := e.schedulesOp("schedules", "pause", id)
		if exitStatus(err) != 1 || !strings.Contains(err.Error(), "There is no schedule "+id) || out != "" {
			t.Errorf("tandem schedules pause %s (no such schedule): exit %d, %v, stdout %q", id, exitStatus(err), err, out)
		}
	}

	e.schedulesOK("schedules", "pause", b.ID)
	e.reply(bob, "An operator paused the schedule")
	audit := e.schedulesOK("audit", "--session", "T0TANDEM/"+channel+"/"+alice)
	for _, want := range []string{"schedule.pause", "schedule.resume", "schedule.delete", "operator ops-oncall"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit trail lacks %s:\n%s", want, audit)
		}
	}

	e.stop()
	db, err := store.Open(e.db, store.Options{Keyring: testKeyring(t)})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.Schedules(ctxFor(t), tandem.ScheduleFilter{})
	db.Close()
	if err != nil || len(stored) != 1 || stored[0].ID != b.ID || !stored[0].Paused || stored[0].PausedWhy != "paused by an operator" {
		t.Errorf("the store holds %+v (%v), want only Bob's schedule, paused by an operator", stored, err)
	}

	out, stderr, err = e.schedulesOp("schedules", "list")
	if err != nil || !strings.Contains(stderr, "opened") || !strings.Contains(out, b.ID) || !strings.Contains(out, "paused (paused by an operator)") || strings.Contains(out, a.ID) {
		t.Errorf("tandem schedules list with serve stopped: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	for _, action := range []string{"pause", "resume", "delete"} {
		out, _, err := e.schedulesOp("schedules", action, b.ID)
		if exitStatus(err) != 1 || !strings.Contains(err.Error(), "run it while tandem serve is running") || out != "" {
			t.Errorf("tandem schedules %s with serve stopped: exit %d, %v, stdout %q", action, exitStatus(err), err, out)
		}
	}
}

// TestSchedulesHelp: each schedules command's help shows its usage, flags,
// environment and examples; a missing id is a usage error.
func TestSchedulesHelp(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		path  string
		flags []string
		env   []string
	}{
		{"schedules", nil, []string{"TANDEM_DB", "TANDEM_DATABASE_URL", "TANDEM_TEAM"}},
		{"schedules list", []string{"--user", "--channel", "--team", "--json"}, []string{"TANDEM_DB", "TANDEM_DATABASE_URL", "TANDEM_TEAM"}},
		{"schedules pause", []string{"--operator"}, []string{"TANDEM_DB", "TANDEM_DATABASE_URL"}},
		{"schedules resume", []string{"--operator"}, []string{"TANDEM_DB", "TANDEM_DATABASE_URL"}},
		{"schedules delete", []string{"--operator"}, []string{"TANDEM_DB", "TANDEM_DATABASE_URL"}},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(strings.Fields(c.path), "--help"), func(string) string { return "" }, &stdout, &stderr); err != nil {
			t.Fatalf("tandem %s --help: %v\n%s", c.path, err, stderr.String())
		}
		help := stdout.String()
		if !strings.Contains(help, "Usage:\n  tandem "+c.path) || !strings.Contains(help, "Examples:\n  tandem schedules") {
			t.Errorf("tandem %s --help lacks its usage or examples:\n%s", c.path, help)
		}
		flags := flagNames(help)
		slices.Sort(flags)
		want := append(slices.Clone(c.flags), "--help")
		slices.Sort(want)
		if c.path != "schedules" && !slices.Equal(flags, want) {
			t.Errorf("tandem %s --help lists the flags %v, want %v", c.path, flags, want)
		}
		for _, v := range c.env {
			if !strings.Contains(help, "\n  "+v+" ") {
				t.Errorf("tandem %s --help does not name %s under Environment:\n%s", c.path, v, help)
			}
		}
	}
	for _, args := range [][]string{{"schedules"}, {"schedules", "pause"}, {"schedules", "delete", "a", "b"}, {"schedules", "list", "--user", "alice"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("tandem %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}
