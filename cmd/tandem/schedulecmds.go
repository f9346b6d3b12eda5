package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

func schedulesCmd(run opRunner) *cobra.Command {
	c := group(&cobra.Command{
		Use:   "schedules",
		Short: "List, pause, resume or delete schedules (works while serve runs)",
		Long: `Schedules looks after the team's schedules: commands that run by themselves
in a Slack thread, each run acting as the person who made the schedule.
List works with or without tandem serve; pause, resume and delete act
through the running tandem serve, which says so in the schedule's thread.

` + opLong,
		Example: `  tandem schedules list
  tandem schedules pause sch_3f9a0c1d2e4b --operator alice
  tandem schedules delete sch_3f9a0c1d2e4b`,
		Annotations: map[string]string{"environment": envSection(slices.Concat(storeEnv, []string{"TANDEM_TEAM"})...)},
	})
	c.AddCommand(schedulesListCmd(run),
		scheduleActionCmd(run, turns.SchedulePause, "Pause a schedule: it stops running until resumed",
			"Pause stops the schedule's runs until it is resumed; the schedule's thread\nis told."),
		scheduleActionCmd(run, turns.ScheduleResume, "Resume a paused schedule from its next time",
			"Resume lets a paused schedule run again from its next time (runs missed\nwhile it was paused are not made up); the schedule's thread is told."),
		scheduleActionCmd(run, turns.ScheduleDelete, "Delete a schedule for good",
			"Delete removes the schedule for good; the schedule's thread is told."),
	)
	return c
}

// scheduleRow is one schedule as tandem schedules list --json prints it:
// the stored schedule and the words Slack shows for it.
type scheduleRow struct {
	tandem.Schedule
	Description string `json:"description"`
}

func schedulesListCmd(run opRunner) *cobra.Command {
	var f listFlags
	var channel string
	c := &cobra.Command{
		Use:   "list",
		Short: "List schedules: id, creator, thread, command, times and state",
		Long: `List prints every schedule of the team (or of one creator, or one channel):
its id, creator, thread (team/channel/thread_ts), command, when it runs,
whether it is paused and why, its last and next run. The team is the
running tandem serve's, else --team or TANDEM_TEAM; with none of them, every
team's.

` + opLong,
		Example: `  tandem schedules list
  tandem schedules list --user U012AB3CD --json
  TANDEM_TEAM=T012AB3CD tandem schedules list --channel C024BE91L   # tandem serve stopped`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(slices.Concat(storeEnv, []string{"TANDEM_TEAM"})...)},
		RunE: f.runE(run, func(cmd *cobra.Command, env opEnv) error {
			list, err := env.db.Schedules(cmd.Context(), tandem.ScheduleFilter{Team: f.team, Creator: f.user})
			if err != nil {
				return err
			}
			rows := []scheduleRow{}
			now := time.Now()
			for _, s := range list {
				if channel == "" || s.Session.Channel == channel {
					rows = append(rows, scheduleRow{s, turns.DescribeSchedule(s, now)})
				}
			}
			return printSchedules(cmd.OutOrStdout(), rows, f.json)
		}),
	}
	f.add(c, "only the schedules this Slack member id (U… or W…) made")
	c.Flags().StringVar(&channel, "channel", "", "only the schedules of threads in this channel id")
	return c
}

func printSchedules(w io.Writer, rows []scheduleRow, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATOR\tTHREAD\tCOMMAND\tSTATE\tLAST RUN\tNEXT RUN\tWHEN")
	for _, r := range rows {
		state := "active"
		if r.Paused {
			state = "paused"
			if r.PausedWhy != "" {
				state += " (" + r.PausedWhy + ")"
			}
		}
		next := r.Next
		if r.Paused {
			next = time.Time{} // a paused schedule does not run at its stored time
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Creator, r.Session, oneLine(r.Text), oneLine(state), instant(r.LastRun), instant(next), oneLine(r.Description))
	}
	return tw.Flush()
}

// oneLine keeps a cell of the table on its line and in its column.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func instant(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// scheduleActionCmd is tandem schedules pause, resume or delete: the running
// tandem serve takes the action as an operator and says so in the
// schedule's thread.
func scheduleActionCmd(run opRunner, action turns.ScheduleAction, short, long string) *cobra.Command {
	var operator string
	name := string(action)
	c := &cobra.Command{
		Use:   name + " ID",
		Short: short,
		Long: long + `
It needs tandem serve running: the command goes through its admin socket.
ID is a schedule's id, from tandem schedules list.

` + opLong,
		Example: fmt.Sprintf(`  tandem schedules %s sch_3f9a0c1d2e4b
  tandem schedules %s sch_3f9a0c1d2e4b --operator alice`, name, name),
		Args:        exactArgs(1, "the schedule's ID (from tandem schedules list)"),
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, args, func(env opEnv) error {
				if env.bot == nil {
					return fmt.Errorf("tandem schedules %s acts through the bot, which tells the schedule's thread: run it while tandem serve is running", name)
				}
				if operator == "" {
					operator = operatorName()
				}
				_, words, err := env.bot.ActOnSchedule(cmd.Context(), env.team, args[0], turns.Operator+" "+operator, action)
				if err != nil {
					return errors.New(tandem.ErrorMessage(err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s (operator %s)\n", words, operator)
				return nil
			})
		},
	}
	c.Flags().StringVar(&operator, "operator", "", "your name, for the audit trail and the output (default: your OS user name)")
	return c
}
