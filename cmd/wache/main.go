// Command wache is both the Wache server (`wache serve`) and its
// command-line client. Every command runs unattended from flags or
// environment variables; `--json` prints data for scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wache/wache"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		Interactive:  term.IsTerminal(int(os.Stdin.Fd())),
		ReadPassword: func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) }}
	os.Exit(run(ctx, os.Args[1:], env))
}

// Env is the outside world of a command, so that tests can drive run.
type Env struct {
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	Getenv      func(string) string
	Interactive bool // stdin is a terminal: prompts are allowed
	// ReadPassword reads a line from the terminal without echo.
	ReadPassword func() ([]byte, error)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env *Env) error
}

func commands() []command {
	return []command{
		{"serve", "run the server", cmdServe},
		{"login", "log this device in with a service email address", cmdLogin},
		{"logout", "revoke this device and erase its local data", cmdLogout},
		{"whoami", "show the logged-in user and device", cmdWhoami},
		{"devices", "list your devices; `devices revoke ID` revokes one", cmdDevices},
		{"chats", "list your conversations with unread counts", cmdChats},
		{"chat", "new | show | add | remove: manage conversations", cmdChat},
		{"send", "send a text message to a conversation (--priority, --ack)", cmdSend},
		{"send-location", "send your position (LAT LON) to a conversation", cmdSendLocation},
		{"send-file", "send a photo, video, voice message or document (encrypted)", cmdSendFile},
		{"fetch", "download and decrypt an attachment: fetch CHAT MSG OUT", cmdFetch},
		{"read", "print unread messages of a conversation and mark them read", cmdRead},
		{"listen", "stream new messages as they arrive", cmdListen},
		{"sos", "raise an alarm (SOS) with your position; `sos end` ends it", cmdSOS},
		{"alarms", "dispatch view of alarms; `alarms policy set` for admins", cmdAlarms},
		{"respond", "answer an alarm: respond ALARM coming|cannot [--eta 5m]", cmdRespond},
		{"ack", "acknowledge (quittieren) a message: ack CHAT SEQ", cmdAck},
		{"receipts", "who received, read, acknowledged a message: receipts CHAT SEQ", cmdReceipts},
		{"query", "Auskunft: query plate | vin | document | person (purpose required)", cmdQuery},
		{"auskunft", "import | generate: police data for Auskunft", cmdAuskunft},
		{"scan", "mrz | plate PHOTO: read an ID document or a licence plate (on this device)", cmdScan},
		{"audit", "verify | export | flags: the audit log (auditors)", cmdAudit},
		{"version", "print the version", cmdVersion},
	}
}

// Version is set at build time (-ldflags "-X main.Version=…").
var Version = "dev"

func usage(w io.Writer) {
	fmt.Fprintf(w, `wache: the Wache operations platform (server and client)

Usage: wache <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Client commands take --server URL (or WACHE_SERVER) and --home DIR (or
WACHE_HOME, default ~/.wache) and print data as JSON with --json.
Run 'wache <command> --help' for the flags of one command.

Messages are end-to-end encrypted (MLS, RFC 9420): the server relays and
stores ciphertext only. Alarms (SOS) and priority messages too: the server
knows that an alarm exists, its state and who answered, never the note or
the positions. This device's keys and messages are kept encrypted
on disk under a passphrase (WACHE_PASSPHRASE or --passphrase-file; asked on
the terminal otherwise).
`)
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func run(ctx context.Context, args []string, env *Env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], env)
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(env.Stderr, "wache %s: %s\n", c.name, ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(env.Stderr, "wache %s: %s\n", c.name, describe(err))
		switch wache.ErrorCode(err) {
		case wache.EINVALID:
			return 2
		case wache.EUNAUTHORIZED, wache.EREVOKED, wache.EFORBIDDEN:
			return 3
		case wache.EUNAVAILABLE:
			return 4
		}
		return 1
	}
	fmt.Fprintf(env.Stderr, "wache: unknown command %q (see 'wache --help')\n", args[0])
	return 2
}

// describe renders an error for a person: the message of an application
// error, or the error text for anything else.
func describe(err error) string {
	var e *wache.Error
	if errors.As(err, &e) {
		if e.Code == wache.EUNAVAILABLE && e.Err != nil {
			return e.Message + " (" + e.Err.Error() + ")"
		}
		return e.Message
	}
	return err.Error()
}

// parseArgs parses flags wherever they stand, so that `wache read CHAT
// --json` works as well as `wache read --json CHAT`. After "--" everything
// is positional (for a text starting with "-").
func parseArgs(fs *flag.FlagSet, args []string) error {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
