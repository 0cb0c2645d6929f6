// Command wacheload is Wache's load generator for soak runs. It enrols
// devices through the real login flow (reading the codes the server writes
// to DATA/mail in demo mode), puts them into group conversations, keeps
// every device connected over WebSocket and sends stamped payloads at a
// fixed rate for a fixed time. It prints a progress line per second and a
// summary: envelopes sent, acknowledged and delivered, and send→ack and
// send→receive latency. It only talks to loopback addresses.
//
// Against a running server (loopback only):
//
//	wache serve --demo --data /tmp/wd --auth-rate 1000 &
//	wacheload --server http://127.0.0.1:8080 --data /tmp/wd --tokens /tmp/wd/load-tokens.json \
//	    --devices 1000 --senders 8 --rate 200 --duration 10m
//
// In-process (starts its own node on 127.0.0.1 with a temporary data
// directory, SQLite or --db postgres://…):
//
//	wacheload --devices 200 --senders 4 --rate 100 --duration 30s
//
// The exit status is 1 when a post failed or an acknowledged envelope did
// not reach every device of its conversation within --drain.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wache/wache/bench/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wacheload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c load.Config
	var serverLog bool
	fs.StringVar(&c.Server, "server", "", "base URL of a running `wache serve` on loopback; empty: start a node in-process")
	fs.StringVar(&c.DataDir, "data", "", "the server's --data directory (login codes are read from DATA/mail); in-process: default temporary")
	fs.StringVar(&c.DB, "db", "", "in-process node only: postgres://… URL (default SQLite in the data directory)")
	fs.StringVar(&c.Broker, "broker", "", "in-process node only: inproc (default) or nats-embedded")
	fs.StringVar(&c.Domain, "domain", "", "service email domain of the load users (default the demo domain polizei.example)")
	fs.StringVar(&c.Prefix, "prefix", "load", "load users are PREFIX-00000@DOMAIN, PREFIX-00001@DOMAIN, …")
	fs.StringVar(&c.Tokens, "tokens", "", "file that keeps enrolled device tokens for the next run against the same server")
	fs.IntVar(&c.Devices, "devices", 100, "devices (one user each), all connected over WebSocket")
	fs.IntVar(&c.Senders, "senders", 4, "how many of the devices also send")
	fs.IntVar(&c.Convs, "convs", 1, "group conversations; device i is a member of conversation i mod convs")
	fs.Float64Var(&c.Rate, "rate", 100, "envelopes per second over all senders; 0 sends as fast as acknowledgements return")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long to send (at most 24h)")
	fs.IntVar(&c.Size, "size", 1024, "payload bytes per envelope")
	fs.DurationVar(&c.Drain, "drain", 10*time.Second, "after sending, how long to wait for outstanding deliveries")
	fs.BoolVar(&serverLog, "server-log", false, "in-process node only: print its log (warnings and up) to stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: wacheload [flags]\n\nLoad generator for a Wache server on this machine. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wacheload: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	// The in-process node logs through c.Log, its migrations through the
	// default logger.
	c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if serverLog {
		c.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	slog.SetDefault(c.Log)
	if err := c.Validate(); err != nil {
		fmt.Fprintf(stderr, "wacheload: %v\n", err)
		return 2
	}
	c.Progress = stdout
	s, err := load.Run(ctx, c)
	if err != nil {
		fmt.Fprintf(stderr, "wacheload: %v\n", err)
		return 1
	}
	s.Write(stdout)
	if s.Failed > 0 || s.Delivered < s.Expected {
		fmt.Fprintf(stderr, "wacheload: %d posts failed, %d deliveries missing\n", s.Failed, max(0, s.Expected-s.Delivered))
		return 1
	}
	return 0
}
