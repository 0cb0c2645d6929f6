package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
)

// common holds the flags every client command shares.
type common struct {
	server, home, passFile string
	json                   bool
	env                    *Env
}

func newFlags(name, usageLine string, env *Env) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	c := &common{env: env}
	home := env.Getenv("WACHE_HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(h, ".wache")
		}
	}
	fs.StringVar(&c.server, "server", env.Getenv("WACHE_SERVER"), "server URL (WACHE_SERVER; default: the one you logged in to)")
	fs.StringVar(&c.home, "home", home, "profile directory of this device (WACHE_HOME)")
	fs.BoolVar(&c.json, "json", false, "print data as JSON")
	fs.StringVar(&c.passFile, "passphrase-file", "", "file holding the passphrase of the local encrypted data (or WACHE_PASSPHRASE)")
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: wache %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs, c
}

func (c *common) files() client.FileState { return client.FileState{Dir: c.home} }

// passphrase returns the passphrase of the local encrypted store: from
// WACHE_PASSPHRASE, from --passphrase-file, or asked on the terminal.
func (c *common) passphrase(confirm bool) ([]byte, error) {
	if c.passFile != "" {
		b, err := os.ReadFile(c.passFile)
		if err != nil {
			return nil, &exitError{2, fmt.Errorf("--passphrase-file: %w", err)}
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if p := c.env.Getenv("WACHE_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	if !c.env.Interactive || c.env.ReadPassword == nil {
		return nil, &exitError{2, fmt.Errorf("the local data is encrypted: set WACHE_PASSPHRASE or pass --passphrase-file")}
	}
	fmt.Fprint(c.env.Stderr, "Passphrase for the local data of this device: ")
	p, err := c.env.ReadPassword()
	fmt.Fprintln(c.env.Stderr)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(c.env.Stderr, "Repeat the passphrase: ")
		q, err := c.env.ReadPassword()
		fmt.Fprintln(c.env.Stderr)
		if err != nil {
			return nil, err
		}
		if string(p) != string(q) {
			return nil, &exitError{2, fmt.Errorf("the passphrases differ")}
		}
	}
	return p, nil
}

// state opens the device's encrypted local store.
func (c *common) state(ctx context.Context, create bool) (client.State, error) {
	if !create {
		if b, err := c.files().Load(ctx, "vault"); err != nil {
			return nil, err
		} else if b == nil {
			return nil, wache.Errorf(wache.EUNAUTHORIZED, "not logged in (profile %s); run 'wache login EMAIL' first", c.home)
		}
	}
	pass, err := c.passphrase(create)
	if err != nil {
		return nil, err
	}
	v, err := client.OpenVault(ctx, c.files(), pass)
	if errors.Is(err, client.ErrWrongPassphrase) {
		return nil, &exitError{3, err}
	}
	return v, err
}

// session opens the local store and the messenger of this device.
func (c *common) session(ctx context.Context) (*client.Messenger, error) {
	st, err := c.state(ctx, false)
	if err != nil {
		return nil, err
	}
	m, err := client.OpenMessenger(ctx, st)
	if err != nil {
		if wache.ErrorCode(err) == wache.EUNAUTHORIZED {
			return nil, wache.Errorf(wache.EUNAUTHORIZED, "not logged in (profile %s); run 'wache login EMAIL' first", c.home)
		}
		return nil, err
	}
	if c.server != "" && c.server != m.Profile().Server {
		cl, err := client.New(c.server, m.Profile().Token)
		if err != nil {
			return nil, err
		}
		m.API = cl
	}
	return m, nil
}

// wiped handles a revoked device: the local data goes, as the server asked.
func (c *common) wiped(ctx context.Context, err error) error {
	if errors.Is(err, client.ErrRevoked) || wache.ErrorCode(err) == wache.EREVOKED {
		if werr := c.files().Erase(ctx); werr != nil {
			return fmt.Errorf("device revoked, but erasing local data failed: %w", werr)
		}
		return wache.Errorf(wache.EREVOKED, "this device was revoked; its local data has been erased. Log in again to continue")
	}
	return err
}

func (c *common) printJSON(v any) error {
	enc := json.NewEncoder(c.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdLogin(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("login", "login [--code CODE] [--device-name NAME] EMAIL", env)
	code := fs.String("code", env.Getenv("WACHE_CODE"), "the code from the login mail (WACHE_CODE); without it a code is requested")
	host, _ := os.Hostname()
	name := fs.String("device-name", envOr(env, "WACHE_DEVICE_NAME", "CLI "+host), "name of this device in your device list")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected one EMAIL argument")}
	}
	email := fs.Arg(0)
	if c.server == "" {
		return &exitError{2, fmt.Errorf("which server? pass --server URL or set WACHE_SERVER")}
	}
	cl, err := client.New(c.server, "")
	if err != nil {
		return err
	}
	if *code == "" {
		if err := cl.RequestCode(ctx, email); err != nil {
			return err
		}
		if !env.Interactive {
			fmt.Fprintf(env.Stdout, "A login code was sent to %s.\nFinish with: wache login --server %s --code CODE %s\n", email, cl.Server(), email)
			return nil
		}
		fmt.Fprintf(env.Stderr, "A login code was sent to %s.\nCode: ", email)
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return &exitError{2, fmt.Errorf("no code entered")}
		}
		*code = strings.TrimSpace(line)
	} else if *code == "-" {
		line, _ := bufio.NewReader(io.LimitReader(env.Stdin, 64)).ReadString('\n')
		*code = strings.TrimSpace(line)
	}
	p, err := cl.Verify(ctx, email, *code, *name)
	if err != nil {
		return err
	}
	// A new login starts a new device: forget the old one's state.
	if err := c.files().Erase(ctx); err != nil {
		return err
	}
	st, err := c.state(ctx, true)
	if err != nil {
		return err
	}
	if err := client.SaveProfile(ctx, st, p); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	m, err := client.OpenMessenger(ctx, st)
	if err != nil {
		return err
	}
	// Publish KeyPackages so that colleagues can add this device to groups.
	if err := m.EnsureKeyPackages(ctx, keyPackageMin, keyPackageBatch); err != nil {
		return fmt.Errorf("publish this device's keys: %w", err)
	}
	if c.json {
		return c.printJSON(map[string]string{"email": p.Email, "user_id": p.UserID, "device_id": p.DeviceID, "server": p.Server})
	}
	fmt.Fprintf(env.Stdout, "Angemeldet / logged in as %s (device %s, %s)\n", p.Email, p.DeviceName, p.DeviceID)
	return nil
}

// KeyPackage stock kept on the server for each device.
const (
	keyPackageMin   = 20
	keyPackageBatch = 50
)

func cmdLogout(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("logout", "logout", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	if err := m.API.RevokeDevice(ctx, m.Profile().DeviceID); err != nil && wache.ErrorCode(err) != wache.EREVOKED && wache.ErrorCode(err) != wache.EUNAUTHORIZED {
		return fmt.Errorf("revoke this device on the server: %w", err)
	}
	if err := c.files().Erase(ctx); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "Abgemeldet / logged out; local data erased.")
	return nil
}

func cmdWhoami(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("whoami", "whoami [--json]", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cl := m.API
	me, err := cl.Me(ctx)
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(me)
	}
	fmt.Fprintf(env.Stdout, "%s <%s>  roles: %s\ndevice: %s (%s)\nserver: %s\n", me.User.DisplayName, me.User.Email,
		strings.Join(me.User.Roles, ","), me.Device.Name, me.Device.ID, cl.Server())
	return nil
}

func cmdDevices(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("devices", "devices [--json] | devices revoke DEVICE_ID", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cl := m.API
	if fs.NArg() > 0 {
		if fs.Arg(0) != "revoke" || fs.NArg() != 2 {
			return &exitError{2, fmt.Errorf("usage: wache devices revoke DEVICE_ID")}
		}
		if err := cl.RevokeDevice(ctx, fs.Arg(1)); err != nil {
			return c.wiped(ctx, err)
		}
		fmt.Fprintf(env.Stdout, "Device %s revoked.\n", fs.Arg(1))
		return nil
	}
	ds, err := cl.Devices(ctx)
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(ds)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tSTATUS")
	for _, d := range ds {
		status := "active"
		if d.RevokedAt != nil {
			status = "revoked " + d.RevokedAt.Local().Format("2006-01-02 15:04")
		}
		if d.Current {
			status += " (this device)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, d.Name, d.CreatedAt.Local().Format("2006-01-02 15:04"), status)
	}
	return tw.Flush()
}

// sessionChat opens the session and resolves ref to one of its
// conversations (see resolveChat).
func (c *common) sessionChat(ctx context.Context, ref string) (*client.Messenger, *api.Conversation, error) {
	m, err := c.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	cv, err := resolveChat(ctx, m.API, ref)
	if err != nil {
		return nil, nil, c.wiped(ctx, err)
	}
	return m, cv, nil
}

// resolveChat accepts a conversation id or a unique name.
func resolveChat(ctx context.Context, cl *client.Client, ref string) (*api.Conversation, error) {
	list, err := cl.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	return pickOne(list, ref,
		func(cv *api.Conversation) string { return cv.ID },
		func(cv *api.Conversation) bool { return strings.EqualFold(cv.Name, ref) },
		"no conversation %q; see 'wache chats'", "%d conversations are named %q; use the id")
}

// pickOne returns the item of list whose id (when id is not nil) is ref,
// else the only one match accepts: none is ENOTFOUND with notFound
// (formatted with ref), several EINVALID with ambiguous (formatted with
// their count and ref), so that every command names things the same way.
func pickOne[T any](list []T, ref string, id func(*T) string, match func(*T) bool, notFound, ambiguous string) (*T, error) {
	var hits []*T
	for i := range list {
		x := &list[i]
		if id != nil && id(x) == ref {
			return x, nil
		}
		if match(x) {
			hits = append(hits, x)
		}
	}
	switch len(hits) {
	case 0:
		return nil, wache.Errorf(wache.ENOTFOUND, notFound, ref)
	case 1:
		return hits[0], nil
	}
	return nil, wache.Errorf(wache.EINVALID, ambiguous, len(hits), ref)
}

func cmdChats(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("chats", "chats [--json]", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cl := m.API
	list, err := cl.Conversations(ctx)
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(list)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tMEMBERS\tUNREAD")
	for _, cv := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", cv.ID, cv.Kind, cv.Name, cv.MemberCount, cv.Unread)
	}
	return tw.Flush()
}

func cmdChat(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stderr, `Usage:
  wache chat new --name NAME --members a@x,b@x [--kind group|channel|direct]
  wache chat show CHAT [--json]
  wache chat add CHAT EMAIL [--role member|poster|admin]
  wache chat remove CHAT EMAIL
CHAT is a conversation id or its unique name.`)
		if len(args) == 0 {
			return &exitError{2, nil}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs, c := newFlags("chat "+sub, "chat "+sub+" …", env)
	var name, members, kind, role *string
	switch sub {
	case "new":
		name = fs.String("name", "", "name of the group or channel")
		members = fs.String("members", "", "comma-separated service emails of the other members")
		kind = fs.String("kind", "group", "group, channel or direct")
	case "add":
		role = fs.String("role", "member", "member, poster (may write in channels) or admin")
	case "show", "remove":
	default:
		return &exitError{2, fmt.Errorf("unknown subcommand %q: new, show, add or remove", sub)}
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cl := m.API
	switch sub {
	case "new":
		var ms []string
		for _, m := range strings.Split(*members, ",") {
			if m = strings.TrimSpace(m); m != "" {
				ms = append(ms, m)
			}
		}
		cv, err := m.CreateChat(ctx, api.CreateConversationRequest{Kind: *kind, Name: *name, Members: ms})
		if err != nil {
			return c.wiped(ctx, err)
		}
		if c.json {
			return c.printJSON(cv)
		}
		if cv.Existing {
			fmt.Fprintf(env.Stdout, "Existing direct chat: %s\n", cv.ID)
		} else {
			fmt.Fprintf(env.Stdout, "Created %s %q: %s\n", cv.Kind, cv.Name, cv.ID)
		}
		return nil
	case "show":
		if fs.NArg() != 1 {
			return &exitError{2, fmt.Errorf("usage: wache chat show CHAT")}
		}
		ref, err := resolveChat(ctx, cl, fs.Arg(0))
		if err != nil {
			return c.wiped(ctx, err)
		}
		cv, err := cl.Conversation(ctx, ref.ID)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(cv)
		}
		fmt.Fprintf(env.Stdout, "%s %q (%s), %d members, last message #%d\n", cv.Kind, cv.Name, cv.ID, cv.MemberCount, cv.LastSeq)
		for _, m := range cv.Members {
			fmt.Fprintf(env.Stdout, "  %-7s %s <%s>\n", m.Role, m.DisplayName, m.Email)
		}
		return nil
	case "add", "remove":
		if fs.NArg() != 2 {
			return &exitError{2, fmt.Errorf("usage: wache chat %s CHAT EMAIL", sub)}
		}
		ref, err := resolveChat(ctx, cl, fs.Arg(0))
		if err != nil {
			return c.wiped(ctx, err)
		}
		email := strings.ToLower(strings.TrimSpace(fs.Arg(1)))
		if sub == "add" {
			if err := m.AddMember(ctx, ref.ID, email, *role); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s added to %s.\n", email, ref.Name)
			return nil
		}
		if err := m.RemoveMember(ctx, ref.ID, email); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s removed from %s; they cannot read what follows.\n", email, ref.Name)
		return nil
	}
	return nil
}

func cmdSend(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("send", "send CHAT TEXT [--priority urgent|alarm] [--ack [--remind 2m]]   (TEXT '-' reads standard input)", env)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up retrying after this long (the message stays in the outbox)")
	prio := fs.String("priority", "", "urgent or alarm (default normal)")
	ack := fs.Bool("ack", false, "ask the recipients to acknowledge (Quittieren); see 'wache receipts CHAT SEQ'")
	remind := fs.Duration("remind", 0, "with --ack: remind those who have not acknowledged at this interval (default: the server's, 2m)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	opts := client.SendOptions{Priority: *prio, AckRequired: *ack, RemindAfter: *remind}
	if err := opts.Validate(); err != nil {
		return &exitError{2, errors.New(describe(err))}
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected CHAT and TEXT")}
	}
	text := fs.Arg(1)
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(env.Stdin, client.MaxText+1))
		if err != nil {
			return err
		}
		text = strings.TrimRight(string(b), "\n")
	}
	p := client.Payload{V: 1, Type: client.TypeText, Text: text}
	if err := p.Validate(); err != nil {
		return &exitError{2, err}
	}
	return c.sendPayloadWith(ctx, fs.Arg(0), p, *timeout, opts)
}

func cmdSendLocation(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("send-location", "send-location CHAT LAT LON [--accuracy M]", env)
	acc := fs.Float64("accuracy", 0, "accuracy in metres")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up retrying after this long (the message stays in the outbox)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected CHAT, LAT and LON")}
	}
	lat, err1 := strconv.ParseFloat(fs.Arg(1), 64)
	lon, err2 := strconv.ParseFloat(fs.Arg(2), 64)
	if err1 != nil || err2 != nil {
		return &exitError{2, fmt.Errorf("LAT and LON are decimal degrees, e.g. 51.2277 6.7735")}
	}
	p := client.Payload{V: 1, Type: client.TypeLocation, Location: &client.Location{Lat: lat, Lon: lon, Accuracy: *acc, Time: time.Now().UTC()}}
	if err := p.Validate(); err != nil {
		return &exitError{2, err}
	}
	return c.sendPayload(ctx, fs.Arg(0), p, *timeout)
}

func (c *common) sendPayload(ctx context.Context, chat string, p client.Payload, timeout time.Duration) error {
	return c.sendPayloadWith(ctx, chat, p, timeout, client.SendOptions{})
}

func (c *common) sendPayloadWith(ctx context.Context, chat string, p client.Payload, timeout time.Duration, opts client.SendOptions) error {
	m, cv, err := c.sessionChat(ctx, chat)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := m.FlushOutbox(sctx); err != nil {
		return err
	}
	if err := m.Sync(sctx, cv.ID); err != nil { // join or catch up first: encrypt for the current epoch
		return c.wiped(ctx, err)
	}
	res, err := m.SendWith(sctx, cv.ID, p, opts)
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.env.Stdout, "Gesendet / sent (#%d)\n", res.Seq)
	if opts.AckRequired {
		fmt.Fprintf(c.env.Stdout, "Quittungen / receipts: wache receipts %s %d\n", cv.ID, res.Seq)
	}
	return nil
}

// message is how the CLI shows one received item.
type message struct {
	ConvID        string            `json:"conv_id"`
	Seq           int64             `json:"seq"`
	Sender        string            `json:"sender"`
	SenderEmail   string            `json:"sender_email"`
	SenderID      string            `json:"sender_id"`
	Time          time.Time         `json:"time"`
	Type          string            `json:"type"`
	Text          string            `json:"text,omitempty"`
	Location      *client.Location  `json:"location,omitempty"`
	Attachment    *attachmentInfo   `json:"attachment,omitempty"`
	Alarm         *client.AlarmInfo `json:"alarm,omitempty"`
	AlarmID       string            `json:"alarm_id,omitempty"`
	Priority      string            `json:"priority,omitempty"`
	AckRequired   bool              `json:"ack_required,omitempty"`
	Undecryptable string            `json:"undecryptable,omitempty"`
}

// attachmentInfo is what the CLI shows of an attachment (never the key).
type attachmentInfo struct {
	Name string `json:"name"`
	MIME string `json:"mime"`
	Size int64  `json:"size"`
}

// names caches display names of conversation members.
type names struct {
	cl *client.Client
	m  map[string]string
}

func (n *names) of(ctx context.Context, convID, userID string) string {
	if name, ok := n.m[userID]; ok {
		return name
	}
	if cv, err := n.cl.Conversation(ctx, convID); err == nil {
		for _, m := range cv.Members {
			n.m[m.UserID] = m.DisplayName
		}
	}
	if name, ok := n.m[userID]; ok {
		return name
	}
	return userID
}

func (c *common) show(ctx context.Context, nm *names, cm client.Message) error {
	msg := message{ConvID: cm.ConvID, Seq: cm.Seq, SenderID: cm.SenderID, SenderEmail: cm.SenderEmail,
		Sender: nm.of(ctx, cm.ConvID, cm.SenderID), Time: cm.Time, Type: cm.Payload.Type, Text: cm.Payload.Text,
		Location: cm.Payload.Location, Undecryptable: cm.Undecryptable,
		Alarm: cm.Payload.Alarm, AlarmID: cm.Payload.AlarmID, Priority: cm.Priority, AckRequired: cm.AckRequired}
	if a := cm.Payload.Attachment; a != nil {
		msg.Attachment = &attachmentInfo{Name: a.Name, MIME: a.MIME, Size: a.Size}
	}
	if cm.Undecryptable != "" {
		msg.Type = "undecryptable"
	}
	if c.json {
		b, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.env.Stdout, "%s\n", b)
		return err
	}
	var text string
	switch {
	case cm.Undecryptable != "":
		text = "[nicht lesbar / unreadable: " + cm.Undecryptable + "]"
	case msg.Type == client.TypeText:
		text = msg.Text
		if r := cm.Payload.ReplyTo; r != nil {
			text = fmt.Sprintf("(Antwort auf / reply to #%d) %s", r.Seq, text)
		}
	case msg.Type == client.TypeLocation || msg.Type == client.TypeLiveLocation:
		l := msg.Location
		text = fmt.Sprintf("📍 %.5f, %.5f (±%.0f m, %s)", l.Lat, l.Lon, l.Accuracy, l.Time.Local().Format("15:04:05"))
	case msg.Type == client.TypeLiveStop:
		text = "📍 Live-Standort beendet / live location ended"
	case msg.Type == client.TypeAttachment:
		text = fmt.Sprintf("📎 %s (%s, %d bytes): wache fetch %s %d FILE", msg.Attachment.Name, msg.Attachment.MIME, msg.Attachment.Size, cm.ConvID, cm.Seq)
	case msg.Type == client.TypeAlarm:
		text = "🚨 SOS"
		if a := msg.Alarm; a.Note != "" {
			text += ": " + a.Note
		}
		if l := msg.Alarm.Location; l != nil {
			text += fmt.Sprintf(" 📍 %.5f, %.5f (±%.0f m)", l.Lat, l.Lon, l.Accuracy)
		}
		text += " — antworten / answer: wache respond ALARM coming|cannot (wache alarms)"
	case msg.Type == client.TypeReceipt:
		return nil
	default:
		text = "[nicht unterstützte Nachricht / unsupported message]"
	}
	switch cm.Priority {
	case api.PriorityUrgent:
		text = "[DRINGEND / URGENT] " + text
	case api.PriorityAlarm:
		text = "[ALARM] " + text
	}
	if cm.AckRequired {
		text += fmt.Sprintf("  (bitte quittieren / please acknowledge: wache ack %s %d)", cm.ConvID, cm.Seq)
	}
	_, err := fmt.Fprintf(c.env.Stdout, "[%s] #%d %s: %s\n", msg.Time.Local().Format("2006-01-02 15:04:05"), msg.Seq, msg.Sender, text)
	return err
}

func cmdRead(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("read", "read CHAT [--json]", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected CHAT")}
	}
	m, cv, err := c.sessionChat(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	nm := &names{cl: m.API, m: map[string]string{}}
	var msgs []client.Message
	m.OnMessage = func(msg client.Message) {
		if msg.ConvID == cv.ID {
			msgs = append(msgs, msg)
		}
	}
	if err := m.Sync(ctx, cv.ID); err != nil {
		return c.wiped(ctx, err)
	}
	for _, msg := range msgs {
		if err := c.show(ctx, nm, msg); err != nil {
			return err
		}
		if err := m.MarkRead(ctx, msg); err != nil { // shown: "read" for ack-required messages
			return err
		}
	}
	if len(msgs) == 0 && !c.json {
		fmt.Fprintln(env.Stderr, "Keine neuen Nachrichten / no new messages.")
	}
	return nil
}

func cmdListen(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("listen", "listen [--json]   (Ctrl-C ends)", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	if _, err := m.FlushOutbox(ctx); err != nil {
		return err
	}
	nm := &names{cl: m.API, m: map[string]string{}}
	m.OnMessage = func(msg client.Message) {
		if err := c.show(ctx, nm, msg); err != nil {
			fmt.Fprintf(env.Stderr, "wache listen: %v\n", err)
			return
		}
		if err := m.MarkRead(ctx, msg); err != nil {
			fmt.Fprintf(env.Stderr, "wache listen: %v\n", err)
		}
	}
	rep := &alarmReporter{c: c}
	err = m.Listen(ctx, client.ListenHandler{
		Reminder: c.printReminder,
		Alarm:    func(a api.Alarm) { rep.alarmFrame(&a) },
		Disconnect: func(err error) {
			fmt.Fprintf(env.Stderr, "Verbindung unterbrochen / connection lost (%s); reconnecting…\n", describe(err))
		},
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return c.wiped(ctx, err)
}

func cmdVersion(_ context.Context, _ []string, env *Env) error {
	fmt.Fprintf(env.Stdout, "wache %s\n", Version)
	return nil
}
