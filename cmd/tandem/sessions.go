package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// readinessReport computes every shared session's readiness (sessions with
// more than one editor), one pass over the sessions and the audit trail,
// and each user's links read once.
func readinessReport(ctx context.Context, env opEnv, channel string) ([]tandem.SessionReadiness, error) {
	recs, err := env.db.Audit(ctx, tandem.AuditFilter{})
	if err != nil {
		return nil, err
	}
	bySession := map[tandem.SessionKey][]tandem.AuditRecord{}
	for _, r := range recs {
		bySession[r.Session] = append(bySession[r.Session], r)
	}
	links := linkCache{db: env.db, links: map[[2]string][]tandem.Link{}}
	var out []tandem.SessionReadiness
	err = env.db.Sessions(ctx, func(s tandem.Session) error {
		if len(s.Editors) == 0 || (channel != "" && s.Key.Channel != channel) {
			return nil
		}
		r, err := turns.Readiness(ctx, s, bySession[s.Key], links)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// linkCache reads each user's links once, for a report over many sessions
// that share editors.
type linkCache struct {
	db    turns.LinkReader
	links map[[2]string][]tandem.Link // by team and user
}

func (c linkCache) Links(ctx context.Context, team, user string) ([]tandem.Link, error) {
	k := [2]string{team, user}
	if ls, ok := c.links[k]; ok {
		return ls, nil
	}
	ls, err := c.db.Links(ctx, team, user)
	if err != nil {
		return nil, err
	}
	c.links[k] = ls
	return ls, nil
}

func sessionsCmd(run opRunner) *cobra.Command {
	c := group(&cobra.Command{
		Use:   "sessions",
		Short: "Report, notify or keep-owner-credentials for shared sessions",
		Long: `Sessions looks at shared sessions (threads with more than one editor) whose
editors miss, or must reconnect, a provider the session used.

` + opLong,
		Example: `  tandem sessions report
  tandem sessions notify --send
  tandem sessions keep-owner-credentials --all-not-ready`,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
	})
	c.AddCommand(sessionsReportCmd(run), sessionsNotifyCmd(run), sessionsKeepCmd(run))
	return c
}

func sessionsReportCmd(run opRunner) *cobra.Command {
	var channel string
	var asJSON bool
	c := &cobra.Command{
		Use:   "report",
		Short: "List shared sessions and the editors each one is not ready for",
		Long:  "Report lists every shared session, ready or not, and for each editor who is\nnot ready the providers to connect or reconnect.\n\n" + opLong,
		Example: `  tandem sessions report
  tandem sessions report --channel C024BE91L --json`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, args, func(env opEnv) error {
				reports, err := readinessReport(cmd.Context(), env, channel)
				if err != nil {
					return err
				}
				return printReport(cmd.OutOrStdout(), reports, asJSON)
			})
		},
	}
	c.Flags().StringVar(&channel, "channel", "", "only sessions in this channel id")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func sessionsNotifyCmd(run opRunner) *cobra.Command {
	var channel string
	var send bool
	c := &cobra.Command{
		Use:   "notify",
		Short: "DM each editor who is not ready, once per gap (a dry run without --send)",
		Long:  "Notify lists the DMs it would send; with --send, it sends them through the running\ntandem serve, once per editor, provider and gap.\n\n" + opLong,
		Example: `  tandem sessions notify
  tandem sessions notify --send`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, args, func(env opEnv) error {
				reports, err := readinessReport(cmd.Context(), env, channel)
				if err != nil {
					return err
				}
				return notify(cmd.Context(), env, reports, send, cmd.OutOrStdout())
			})
		},
	}
	c.Flags().StringVar(&channel, "channel", "", "only sessions in this channel id")
	c.Flags().BoolVar(&send, "send", false, "send the DMs (needs tandem serve running; default: a dry run that lists them)")
	return c
}

func sessionsKeepCmd(run opRunner) *cobra.Command {
	var channel, session, operator string
	var allNotReady bool
	c := &cobra.Command{
		Use:   "keep-owner-credentials (--session T/C/TS | --all-not-ready)",
		Short: "Ask session owners to keep running everything as them (pending their approval)",
		Long: `Keep-owner-credentials asks the owner of each chosen session, in its thread, to
keep the old behaviour: everything runs as the owner. Each stays pending until
its owner approves. It needs tandem serve running.

` + opLong,
		Example: `  tandem sessions keep-owner-credentials --session T012AB3CD/C024BE91L/1712345678.000100
  tandem sessions keep-owner-credentials --all-not-ready --operator ops-oncall`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			if (session == "") == !allNotReady {
				return badUsage("tandem sessions keep-owner-credentials needs exactly one of --session T/C/TS or --all-not-ready")
			}
			var key tandem.SessionKey
			if session != "" {
				k, err := parseSession(session)
				if err != nil {
					return err
				}
				key = k
			}
			return run(cmd, args, func(env opEnv) error {
				if operator == "" {
					operator = operatorName()
				}
				var keys []tandem.SessionKey
				if allNotReady {
					reports, err := readinessReport(cmd.Context(), env, channel)
					if err != nil {
						return err
					}
					for _, r := range reports {
						if !r.Ready() && !r.Persistent {
							keys = append(keys, r.Session)
						}
					}
				} else {
					keys = append(keys, key)
				}
				return keepOwnerCredentials(cmd.Context(), env, keys, operator, cmd.OutOrStdout())
			})
		},
	}
	c.Flags().StringVar(&session, "session", "", "one session as team/channel/thread_ts")
	c.Flags().BoolVar(&allNotReady, "all-not-ready", false, "every session that is not ready")
	c.Flags().StringVar(&channel, "channel", "", "with --all-not-ready: only sessions in this channel id")
	c.Flags().StringVar(&operator, "operator", "", "your name, for the audit trail and the thread (default: your OS user name)")
	return c
}

func operatorName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "operator"
}

func printReport(w io.Writer, reports []tandem.SessionReadiness, asJSON bool) error {
	ready := 0
	for _, r := range reports {
		if r.Ready() {
			ready++
		}
	}
	if asJSON {
		type row struct {
			tandem.SessionReadiness
			Ready bool `json:"ready"`
		}
		rows := []row{}
		for _, r := range reports {
			rows = append(rows, row{r, r.Ready()})
		}
		return json.NewEncoder(w).Encode(map[string]any{"sessions": rows, "ready": ready, "not_ready": len(reports) - ready})
	}
	for _, r := range reports {
		mode := "per-message"
		if r.Persistent {
			mode = "persistent"
		} else if r.Pending {
			mode = "per-message (persistent pending the owner's approval)"
		}
		state := "ready"
		if !r.Ready() {
			state = "NOT READY"
		}
		fmt.Fprintf(w, "%s  %s  owner %s  %s  uses %s\n", r.Session, state, r.Owner, mode, joinIDs(r.Used))
		for _, e := range r.Editors {
			if e.Ready() {
				continue
			}
			var gaps []string
			if len(e.Missing) > 0 {
				gaps = append(gaps, "missing "+joinIDs(e.Missing))
			}
			if len(e.NeedsReconnect) > 0 {
				gaps = append(gaps, "needs reconnect "+joinIDs(e.NeedsReconnect))
			}
			fmt.Fprintf(w, "    %s: %s\n", e.User, strings.Join(gaps, "; "))
		}
	}
	fmt.Fprintf(w, "%d sessions ready, %d not ready\n", ready, len(reports)-ready)
	return nil
}

func joinIDs(ps []tandem.ProviderID) string {
	if len(ps) == 0 {
		return "nothing yet"
	}
	var s []string
	for _, p := range ps {
		s = append(s, string(p))
	}
	return strings.Join(s, ",")
}

// notify DMs each editor once per gap (user, provider, state), listing the
// providers to connect; a dry run unless send. A gap already notified is
// recorded in the store and never sent again.
func notify(ctx context.Context, env opEnv, reports []tandem.SessionReadiness, send bool, w io.Writer) error {
	type gaps struct {
		team            string
		missing, broken []tandem.ProviderID
		sessions        int
	}
	byUser := map[string]*gaps{}
	var order []string
	for _, r := range reports {
		for _, e := range r.Editors {
			if e.Ready() {
				continue
			}
			g, ok := byUser[e.User]
			if !ok {
				g = &gaps{team: r.Session.Team}
				byUser[e.User] = g
				order = append(order, e.User)
			}
			g.sessions++
			for _, p := range e.Missing {
				if !slices.Contains(g.missing, p) && !notified(ctx, env, g.team, e.User, p, "missing") {
					g.missing = append(g.missing, p)
				}
			}
			for _, p := range e.NeedsReconnect {
				if !slices.Contains(g.broken, p) && !notified(ctx, env, g.team, e.User, p, "reconnect") {
					g.broken = append(g.broken, p)
				}
			}
		}
	}
	if send && env.bot == nil {
		return errors.New("tandem sessions notify --send sends through the bot: run it while tandem serve is running")
	}
	sent := 0
	for _, u := range order {
		g := byUser[u]
		if len(g.missing)+len(g.broken) == 0 {
			continue
		}
		verb := "would DM"
		if send {
			if err := env.bot.NotifyEditor(ctx, g.team, u, g.missing, g.broken, g.sessions); err != nil {
				return fmt.Errorf("notify %s: %w", u, err)
			}
			for _, p := range g.missing {
				env.db.SetSetting(ctx, notifiedKey(g.team, u, p, "missing"), "sent")
			}
			for _, p := range g.broken {
				env.db.SetSetting(ctx, notifiedKey(g.team, u, p, "reconnect"), "sent")
			}
			verb = "sent DM to"
		}
		sent++
		fmt.Fprintf(w, "%s %s: connect %s; reconnect %s (%d sessions)\n", verb, u, joinIDs(g.missing), joinIDs(g.broken), g.sessions)
	}
	if !send {
		fmt.Fprintf(w, "dry run: %d editors would be notified; add --send to send\n", sent)
	} else {
		fmt.Fprintf(w, "%d editors notified\n", sent)
	}
	return nil
}

func notifiedKey(team, user string, p tandem.ProviderID, kind string) string {
	return "notified/" + team + "/" + user + "/" + string(p) + "/" + kind
}

func notified(ctx context.Context, env opEnv, team, user string, p tandem.ProviderID, kind string) bool {
	_, err := env.db.Setting(ctx, notifiedKey(team, user, p, kind))
	return err == nil
}

// keepOwnerCredentials asks the owners of the sessions keys to keep
// running as them (the old behaviour); each stays pending until its owner
// approves.
func keepOwnerCredentials(ctx context.Context, env opEnv, keys []tandem.SessionKey, operator string, w io.Writer) error {
	if env.bot == nil {
		return errors.New("tandem sessions keep-owner-credentials asks each owner in Slack: run it while tandem serve is running")
	}
	for _, k := range keys {
		s, err := env.bot.RequestPersistent(ctx, k, operator)
		if err != nil {
			return fmt.Errorf("%s: %s", k, tandem.ErrorMessage(err))
		}
		state := "pending the owner's approval"
		if s.Persistent() {
			state = "already persistent"
		}
		fmt.Fprintf(w, "%s: %s (owner %s)\n", k, state, s.Owner)
	}
	fmt.Fprintf(w, "%d sessions asked\n", len(keys))
	return nil
}
