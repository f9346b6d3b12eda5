package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
)

// opLong is what every operator command's help says of where it runs.
const opLong = `It runs inside the tandem serve that holds the database, through its admin
socket <TANDEM_DB>.sock, when one answers; otherwise it opens the database
itself (the bot stopped, or TANDEM_DATABASE_URL). It never creates a
database or a key file: tandem serve does, on its first start.`

func apikeyCmd(run opRunner) *cobra.Command {
	c := group(&cobra.Command{
		Use:   "apikey",
		Short: "Create, list or revoke API keys (works while serve runs)",
		Long: `Apikey manages the keys of Tandem's HTTP API and MCP server. A key acts as
the Slack user it was created for.

` + opLong,
		Example: `  tandem apikey create --user U012AB3CD ci
  tandem apikey list --user U012AB3CD
  tandem apikey revoke tdm_3f9a`,
		Annotations: map[string]string{"environment": envSection(slices.Concat(storeEnv, []string{"TANDEM_TEAM"})...)},
	})
	c.AddCommand(apikeyCreateCmd(run), apikeyListCmd(run), apikeyRevokeCmd(run))
	return c
}

func apikeyCreateCmd(run opRunner) *cobra.Command {
	var user, name, expires, team, scope string
	c := &cobra.Command{
		Use:   "create [NAME] --user U…",
		Short: "Create a key that acts as a Slack user once they allow it; prints the key alone on stdout",
		Long: `Create makes an API key that acts as the Slack user --user and prints the
key alone on stdout, for scripts. The key runs nothing until that user
allows it: nobody acts as a person without their consent. While tandem
serve runs, Tandem asks them by direct message (Allow, Decline); they can
also type /tandem apikey approve PREFIX, or press Allow in Tandem's App
Home. The name (--name or the argument) is how
you recognise it in tandem apikey list. A key has the read scope unless
--scope write says otherwise: a read key runs commands that only read, and
its free-form requests come back with their changes proposed, not made.

` + opLong,
		Example: `  tandem apikey create --user U012AB3CD ci
  tandem apikey create --user U012AB3CD --name ci --expires never
  tandem apikey create --user U012AB3CD deploy --scope write
  TANDEM_TEAM=T012AB3CD tandem apikey create --user U012AB3CD ci   # tandem serve stopped`,
		Args:        maxArgs(1),
		Annotations: map[string]string{"environment": envSection(slices.Concat(storeEnv, []string{"TANDEM_TEAM"})...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return badUsage("give the key's name once: --name %q or %q", name, args[0])
				}
				name = args[0]
			}
			if user == "" || name == "" {
				return badUsage("tandem apikey create needs --user U… and a name (--name NAME, or NAME as the argument)")
			}
			if err := checkUserID(user); err != nil {
				return err
			}
			if _, err := tandem.ParseScope(scope); err != nil {
				return badValue("--scope %q is not a key scope; use read or write", scope)
			}
			return run(cmd, args, func(env opEnv) error {
				if team == "" {
					team = env.team
				}
				if team == "" {
					return badUsage("tandem apikey create needs --team T… when no tandem serve is running (or set TANDEM_TEAM)")
				}
				key, rec, err := env.keys.CreateTextScoped(cmd.Context(), team, user, name, expires, scope, "operator")
				if err != nil {
					return errors.New(tandem.ErrorMessage(err))
				}
				fmt.Fprintln(cmd.OutOrStdout(), key) // the key alone, for scripts
				// It acts as user only once they allow it.
				asked := "once tandem serve runs, they allow it with /tandem apikey approve " + rec.Prefix + " or from Tandem's App Home"
				if env.bot != nil {
					asked = "Tandem asked them by direct message; they can also type /tandem apikey approve " + rec.Prefix
					if err := env.bot.AskKeyApproval(cmd.Context(), rec); err != nil {
						asked = "Slack refused Tandem's direct message (" + err.Error() + "); they can type /tandem apikey approve " + rec.Prefix
					}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s runs nothing until %s allows it: %s.\n", rec.Prefix, user, asked)
				return nil
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "Slack member id (U… or W…) of the user the key acts as (required)")
	c.Flags().StringVar(&name, "name", "", "a name to recognise the key by (or give it as the argument)")
	c.Flags().StringVar(&expires, "expires", "90d", "lifetime: 30d, 12h or never")
	c.Flags().StringVar(&scope, "scope", "read", "what the key may do: read (reads; changes only proposed) or write (may also make changes)")
	c.Flags().StringVar(&team, "team", "", "Slack team id (T…); default: the running tandem serve's, else TANDEM_TEAM")
	return c
}

func apikeyListCmd(run opRunner) *cobra.Command {
	var f listFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List API keys: prefix, name, scope, creator, dates and state",
		Long:  "List prints every API key, or those of one user.\n\n" + opLong,
		Example: `  tandem apikey list
  tandem apikey list --user U012AB3CD --json`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(slices.Concat(storeEnv, []string{"TANDEM_TEAM"})...)},
		RunE: f.runE(run, func(cmd *cobra.Command, env opEnv) error {
			keys, err := env.keys.List(cmd.Context(), f.team, f.user)
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			if f.json {
				return json.NewEncoder(stdout).Encode(keys)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PREFIX\tNAME\tSCOPE\tCREATOR\tCREATED\tEXPIRES\tLAST USED\tSTATE")
			now := time.Now()
			for _, k := range keys {
				state := "active"
				if !k.Revoked.IsZero() {
					state = "revoked"
				} else if k.Expired(now) {
					state = "expired"
				} else if k.Pending {
					state = "pending" // its person has not allowed it yet
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.Name, k.EffectiveScope(), k.Creator, day(k.CreatedAt), day(k.Expires), day(k.LastUsed), state)
			}
			return tw.Flush()
		}),
	}
	f.add(c, "only the keys of this Slack member id (U… or W…)")
	return c
}

// listFlags are the flags of an operator's list command: one member's
// rows (--user), one team's (--team) and JSON (--json).
type listFlags struct {
	user, team string
	json       bool
}

func (f *listFlags) add(c *cobra.Command, userHelp string) {
	c.Flags().StringVar(&f.user, "user", "", userHelp)
	c.Flags().StringVar(&f.team, "team", "", "Slack team id (T…); default: the running tandem serve's, else TANDEM_TEAM")
	c.Flags().BoolVar(&f.json, "json", false, "print JSON")
}

// runE runs list through the operator's environment, once --user is a
// member id, with --team defaulted to the running tandem serve's team (or
// TANDEM_TEAM). It fails with a usage error on a malformed --user.
func (f *listFlags) runE(run opRunner, list func(*cobra.Command, opEnv) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if f.user != "" {
			if err := checkUserID(f.user); err != nil {
				return err
			}
		}
		return run(cmd, args, func(env opEnv) error {
			if f.team == "" {
				f.team = env.team
			}
			return list(cmd, env)
		})
	}
}

func apikeyRevokeCmd(run opRunner) *cobra.Command {
	return &cobra.Command{
		Use:         "revoke PREFIX",
		Short:       "Revoke the API key with this prefix (from tandem apikey list)",
		Long:        "Revoke makes the key with this prefix stop working at once.\n\n" + opLong,
		Example:     "  tandem apikey revoke tdm_3f9a",
		Args:        exactArgs(1, "the key's PREFIX (from tandem apikey list)"),
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, args, func(env opEnv) error {
				k, err := env.keys.Revoke(cmd.Context(), args[0], "", "operator")
				if err != nil {
					return errors.New(tandem.ErrorMessage(err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%s) of %s\n", k.Prefix, k.Name, k.Creator)
				return nil
			})
		},
	}
}

// slackUserID is a Slack member id: U… or W… (Enterprise Grid), uppercase
// letters and digits.
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// checkUserID refuses what is not a Slack member id (a name, an email, a
// display name), saying where to find the id.
func checkUserID(user string) error {
	if slackUserID.MatchString(user) {
		return nil
	}
	return badValue(`--user %q is not a Slack user id: it needs the person's Slack member id (U… or W…, such as U012AB3CD); in Slack, open their profile, click ⋯ (More) and choose "Copy member ID"`, user)
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func auditCmd(run opRunner) *cobra.Command {
	var session, user, since string
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "audit",
		Short: "Print the audit trail: who acted as whom (works while serve runs)",
		Long:  "Audit prints the audit trail: who acted as whom, in which session, with which\nprovider, why, and the outcome.\n\n" + opLong,
		Example: `  tandem audit --since 24h
  tandem audit --session T012AB3CD/C024BE91L/1712345678.000100 --json
  tandem audit --user U012AB3CD --limit 20`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			f := tandem.AuditFilter{User: user, Limit: limit}
			if session != "" {
				k, err := parseSession(session)
				if err != nil {
					return err
				}
				f.Session = &k
			}
			if since != "" {
				d, err := parseSince(since)
				if err != nil {
					return err
				}
				f.Since = time.Now().Add(-d)
			}
			return run(cmd, args, func(env opEnv) error {
				return printAudit(cmd.Context(), env, f, asJSON, cmd.OutOrStdout())
			})
		},
	}
	c.Flags().StringVar(&session, "session", "", "a session as team/channel/thread_ts")
	c.Flags().StringVar(&user, "user", "", "records where this Slack user acted or was acted as")
	c.Flags().StringVar(&since, "since", "", "only records newer than this (24h, 7d)")
	c.Flags().IntVar(&limit, "limit", 0, "only the newest N records")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, one record a line")
	return c
}

// parseSession reads team/channel/thread_ts.
func parseSession(s string) (tandem.SessionKey, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return tandem.SessionKey{}, badValue("--session %q: it takes team/channel/thread_ts, such as T012AB3CD/C024BE91L/1712345678.000100", s)
	}
	return tandem.SessionKey{Team: parts[0], Channel: parts[1], ThreadTS: parts[2]}, nil
}

func printAudit(ctx context.Context, env opEnv, f tandem.AuditFilter, asJSON bool, stdout io.Writer) error {
	recs, err := env.db.Audit(ctx, f)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range recs {
			enc.Encode(r)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSESSION\tACTION\tACTOR\tAS\tPROVIDER\tREASON\tOUTCOME\tDETAIL")
	for _, r := range recs {
		sess := "-"
		if r.Session.Team != "" {
			sess = r.Session.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), sess, r.Action, r.Actor, dash(r.Effective), dash(string(r.Provider)), dash(string(r.Reason)), r.Outcome, r.Detail)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseSince reads 24h, 90m or 7d.
func parseSince(s string) (time.Duration, error) {
	d, err := app.ParseDuration(s)
	if err != nil {
		return 0, badValue("--since %q: use a duration such as 24h or 7d", s)
	}
	return d, nil
}
