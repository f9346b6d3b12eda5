package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandembot/tandem/api"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/bot"
)

// opEnv is what an operator command works with: the store, and when it
// runs inside tandem serve, the running bot (for commands that post to
// Slack) and its team.
type opEnv struct {
	db   app.DB
	keys *api.Keys
	bot  *bot.Bot // nil when the command opened the database itself
	team string
}

// opRunner gives the body of an operator command its opEnv: the
// command-line's runner sends the command to a running tandem serve through
// the admin socket, or opens the database; the admin socket's runs the body
// inside tandem serve. So the same command tree, with the same flags and
// checks, runs on both sides.
type opRunner func(cmd *cobra.Command, args []string, body func(env opEnv) error) error

// ops are the operator commands that work while tandem serve runs, each
// built around the runner that gives its bodies their opEnv.
var ops = map[string]func(opRunner) *cobra.Command{
	"apikey":    apikeyCmd,
	"audit":     auditCmd,
	"sessions":  sessionsCmd,
	"schedules": schedulesCmd,
}

// adminRequest and adminResponse are the admin socket's protocol: one JSON
// line each way.
type adminRequest struct {
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

type adminResponse struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr,omitempty"` // what the command says to the operator beside its output
	Error  string `json:"error,omitempty"`
}

func socketPath(dbPath string) string { return dbPath + ".sock" }

// serveAdmin listens on the admin socket beside the database until the
// returned func runs. The socket is owner-only from the moment it exists
// (listenPrivate) and each connection is served only when its peer runs as
// the same OS user as tandem (allowPeer): an operator command acts with the
// store's full power, so file permissions alone, which a umask or a parent
// directory's mode can get wrong, are not the only guard.
func serveAdmin(ctx context.Context, a *app.App) func() {
	log := a.Logger()
	path := socketPath(a.Config().DBPath)
	os.Remove(path) // a stale socket of a process that died; we hold the DB
	ln, err := listenPrivate(path)
	if err != nil {
		log.Warn("admin socket unavailable; operator commands need the bot stopped", "path", path, "err", err)
		return func() {}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		log.Warn("admin socket permissions", "err", err)
	}
	log.Info("admin socket listening", "path", path)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			uid, known, err := peerUID(conn)
			if err != nil {
				log.Warn("admin socket: refused a connection whose peer could not be identified", "err", err)
				conn.Close()
				continue
			}
			if known && !allowPeer(uid) {
				log.Warn("admin socket: refused a connection from another OS user", "peer_uid", uid, "uid", os.Getuid())
				conn.Close()
				continue
			}
			go adminConn(ctx, a, conn)
		}
	}()
	return func() { ln.Close(); os.Remove(path) }
}

// allowPeer reports whether a process running as uid may use the admin
// socket: only the OS user tandem runs as (not even root, who can become
// that user to run an operator command).
func allowPeer(uid uint32) bool {
	return uid == uint32(os.Getuid())
}

func adminConn(ctx context.Context, a *app.App, conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	var req adminRequest
	if err := json.NewDecoder(io.LimitReader(conn, 1<<20)).Decode(&req); err != nil {
		return
	}
	var out, errOut bytes.Buffer
	resp := adminResponse{}
	env := opEnv{db: a.DB(), keys: a.Keys(), bot: a.Bot(), team: a.Bot().Team()}
	if err := runInServe(ctx, env, req.Command, req.Args, &out, &errOut); err != nil {
		resp.Error = err.Error()
	}
	resp.Stdout, resp.Stderr = out.String(), errOut.String()
	a.Logger().Info("operator command", "command", req.Command, "ok", resp.Error == "")
	json.NewEncoder(conn).Encode(resp)
}

// runInServe runs an operator command that came through the admin socket
// with the running serve's env, writing its output to out and what it
// says to the operator to errOut.
func runInServe(ctx context.Context, env opEnv, command string, args []string, out, errOut io.Writer) error {
	build, ok := ops[command]
	if !ok {
		return fmt.Errorf("unknown command %s", command)
	}
	c := build(func(_ *cobra.Command, _ []string, body func(opEnv) error) error { return body(env) })
	// longFlags also takes the -json of an older tandem's command line; its
	// result is never nil (cobra would read os.Args).
	c.SetArgs(longFlags(c, args))
	c.SetOut(out)
	c.SetErr(errOut)
	c.SilenceErrors, c.SilenceUsage = true, true
	c.CompletionOptions.DisableDefaultCmd = true
	_, err := c.ExecuteContextC(ctx)
	return err
}

// cliRunner is the command line's opRunner: it runs the command inside the
// running tandem serve when its admin socket answers, else against the
// database, which must exist. It says on stderr which it did.
func cliRunner(getenv func(string) string, stderr io.Writer) opRunner {
	return func(cmd *cobra.Command, args []string, body func(opEnv) error) error {
		ctx := cmd.Context()
		cfg := storeConfig(getenv)
		sock := socketPath(cfg.DBPath)
		if conn, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			defer conn.Close()
			fmt.Fprintf(stderr, "tandem: running inside the tandem serve that holds %s (admin socket %s)\n", cfg.DBPath, sock)
			path := opPath(cmd)
			return askServe(conn, adminRequest{Command: path[0], Args: forwardArgs(path[1:], cmd, args)}, cmd.OutOrStdout(), stderr)
		}
		db, err := app.OpenExistingDB(ctx, cfg, app.NewLogger("text", stderr))
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Fprintf(stderr, "tandem: no tandem serve answers on %s; opened %s directly\n", sock, app.DescribeDB(cfg))
		return body(opEnv{db: db, keys: &api.Keys{Store: db}, team: strings.TrimSpace(getenv("TANDEM_TEAM"))})
	}
}

// askServe sends req through the admin socket and copies the answer's
// output to stdout, and what it says to the operator to stderr.
func askServe(conn net.Conn, req adminRequest, stdout, stderr io.Writer) error {
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("tandem: admin socket: %w", err)
	}
	var resp adminResponse
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		return fmt.Errorf("tandem: admin socket: %w", err)
	}
	io.WriteString(stdout, resp.Stdout)
	io.WriteString(stderr, resp.Stderr)
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return nil
}

// opPath is cmd's path below the root: the operator command and its
// subcommands ("apikey", "create").
func opPath(cmd *cobra.Command) []string {
	var path []string
	for c := cmd; c.HasParent(); c = c.Parent() {
		path = append([]string{c.Name()}, path...)
	}
	return path
}

// forwardArgs spells out the command line as parsed, for the admin socket:
// the subcommands, every flag given as --name=value, then the arguments.
func forwardArgs(sub []string, cmd *cobra.Command, args []string) []string {
	out := append([]string{}, sub...)
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "help" {
			out = append(out, "--"+f.Name+"="+f.Value.String())
		}
	})
	if len(args) > 0 {
		out = append(append(out, "--"), args...)
	}
	return out
}
