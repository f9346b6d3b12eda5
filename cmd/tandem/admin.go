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
	"time"

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

// op is an operator command. The same function runs inside tandem serve
// (through the admin socket) or against the database file directly.
type op func(ctx context.Context, env opEnv, args []string, stdout io.Writer) error

// ops are the operator commands that work while tandem serve runs.
var ops = map[string]op{
	"apikey":   apikeyOp,
	"audit":    auditOp,
	"sessions": sessionsOp,
}

// adminRequest and adminResponse are the admin socket's protocol: one JSON
// line each way.
type adminRequest struct {
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

type adminResponse struct {
	Stdout string `json:"stdout"`
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
	var out bytes.Buffer
	resp := adminResponse{}
	if f, ok := ops[req.Command]; !ok {
		resp.Error = "unknown command " + req.Command
	} else if err := f(ctx, opEnv{db: a.DB(), keys: a.Keys(), bot: a.Bot(), team: a.Bot().Team()}, req.Args, &out); err != nil {
		resp.Error = err.Error()
	}
	resp.Stdout = out.String()
	a.Logger().Info("operator command", "command", req.Command, "ok", resp.Error == "")
	json.NewEncoder(conn).Encode(resp)
}

// runOp runs an operator command: inside the running tandem serve when its
// admin socket answers, else against the database file. It says on stderr
// which it did.
func runOp(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := storeConfig(getenv)
	sock := socketPath(cfg.DBPath)
	if conn, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		defer conn.Close()
		fmt.Fprintf(stderr, "tandem: running inside the tandem serve that holds %s (admin socket %s)\n", cfg.DBPath, sock)
		if err := json.NewEncoder(conn).Encode(adminRequest{Command: name, Args: args}); err != nil {
			return fmt.Errorf("tandem: admin socket: %w", err)
		}
		var resp adminResponse
		if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
			return fmt.Errorf("tandem: admin socket: %w", err)
		}
		io.WriteString(stdout, resp.Stdout)
		if resp.Error != "" {
			return errors.New(resp.Error)
		}
		return nil
	}
	db, err := openStore(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stderr, "tandem: no tandem serve answers on %s; opened %s directly\n", sock, app.DescribeDB(cfg))
	return ops[name](ctx, opEnv{db: db, keys: &api.Keys{Store: db}, team: getenv("TANDEM_TEAM")}, args, stdout)
}
