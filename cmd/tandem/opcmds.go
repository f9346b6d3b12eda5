package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
)

// flags parses an operator command's flags, writing usage to a buffer that
// becomes the error (so it travels through the admin socket too).
func flags(name string, args []string, def func(*flag.FlagSet)) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var usage strings.Builder
	fs.SetOutput(&usage)
	def(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, usage.String())
	}
	return fs, nil
}

// apikeyOp: tandem apikey create|list|revoke.
func apikeyOp(ctx context.Context, env opEnv, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tandem apikey create --user U… --name NAME [--expires 90d|never] [--team T…] | list [--user U…] [--json] | revoke PREFIX")
	}
	var user, name, expires, team string
	var asJSON bool
	fs, err := flags("apikey "+args[0], args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "Slack user id the key acts as")
		fs.StringVar(&name, "name", "", "a name to recognise the key by")
		fs.StringVar(&expires, "expires", "90d", "lifetime: 30d, 12h or never")
		fs.StringVar(&team, "team", env.team, "Slack team id (default: the running bot's, or TANDEM_TEAM)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		if user == "" || name == "" {
			return errors.New("tandem apikey create needs --user U… and --name NAME")
		}
		if team == "" {
			return errors.New("tandem apikey create needs --team T… when no tandem serve is running (or set TANDEM_TEAM)")
		}
		key, _, err := env.keys.CreateText(ctx, team, user, name, expires, "operator")
		if err != nil {
			return errors.New(tandem.ErrorMessage(err))
		}
		fmt.Fprintln(stdout, key) // the key alone, for scripts
		return nil
	case "list":
		keys, err := env.keys.List(ctx, team, user)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(keys)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PREFIX\tNAME\tCREATOR\tCREATED\tEXPIRES\tLAST USED\tSTATE")
		now := time.Now()
		for _, k := range keys {
			state := "active"
			if !k.Revoked.IsZero() {
				state = "revoked"
			} else if k.Expired(now) {
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.Name, k.Creator, day(k.CreatedAt), day(k.Expires), day(k.LastUsed), state)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: tandem apikey revoke PREFIX")
		}
		k, err := env.keys.Revoke(ctx, fs.Arg(0), "", "operator")
		if err != nil {
			return errors.New(tandem.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "revoked %s (%s) of %s\n", k.Prefix, k.Name, k.Creator)
		return nil
	}
	return fmt.Errorf("tandem apikey: unknown action %q (create, list, revoke)", args[0])
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

// auditOp: tandem audit [--session S] [--user U] [--since 24h] [--json].
func auditOp(ctx context.Context, env opEnv, args []string, stdout io.Writer) error {
	var session, user, since string
	var asJSON bool
	var limit int
	if _, err := flags("audit", args, func(fs *flag.FlagSet) {
		fs.StringVar(&session, "session", "", "a session as team/channel/thread_ts")
		fs.StringVar(&user, "user", "", "records where this Slack user acted or was acted as")
		fs.StringVar(&since, "since", "", "only records newer than this (24h, 7d)")
		fs.IntVar(&limit, "limit", 0, "only the newest N records")
		fs.BoolVar(&asJSON, "json", false, "print JSON, one record a line")
	}); err != nil {
		return err
	}
	f := tandem.AuditFilter{User: user, Limit: limit}
	if session != "" {
		parts := strings.Split(session, "/")
		if len(parts) != 3 {
			return errors.New("--session takes team/channel/thread_ts")
		}
		f.Session = &tandem.SessionKey{Team: parts[0], Channel: parts[1], ThreadTS: parts[2]}
	}
	if since != "" {
		d, err := parseSince(since)
		if err != nil {
			return err
		}
		f.Since = time.Now().Add(-d)
	}
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
		return 0, fmt.Errorf("--since %q: use a duration such as 24h or 7d", s)
	}
	return d, nil
}
