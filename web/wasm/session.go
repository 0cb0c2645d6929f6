//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
)

// Argon2id costs of the PIN vault in the browser. WebAssembly runs Argon2
// on one thread without SIMD, about 3–4× slower than native Go: 32 MiB and
// three passes keep unlocking near a second on a mid-range phone while a
// guess still costs an attacker 32 MiB of memory (docs/design/webapp.md).
var browserKDF = client.KDFParams{Time: 3, MemoryKiB: 32 * 1024, Threads: 1}

const (
	dbName     = "wache"
	minPIN     = 6
	keyPkgMin  = 5
	keyPkgFill = 10
)

// session is everything that exists only while the app is unlocked.
type session struct {
	vault  *client.Vault
	m      *client.Messenger
	hist   *client.History
	drafts *client.Drafts
	prof   *client.Profile
	cancel context.CancelFunc
	kick   chan struct{} // wake the outbox flusher
	redial chan struct{} // reconnect now (the browser is online again)

	sendMu sync.Mutex // Queue and the core's own flush never interleave

	mu       sync.Mutex
	names    map[string]string // user id → display name
	convs    map[string]api.Conversation
	live     map[string]time.Time // live location: conversation → until
	lastLive map[string]time.Time
	receipt  map[string]int64          // conversation → highest seq a delivered receipt is due for
	sentRcpt map[string]int64          // conversation → highest seq a receipt was sent for
	readRcpt map[string]int64          // conversation → highest seq a read receipt was sent for
	named    map[string]bool           // conversations whose member names were fetched
	recorded map[string][]client.Entry // history changes waiting for onMessage
}

type bridge struct {
	ls listeners

	startMu   sync.Mutex    // one unlock or enrolment at a time
	chatsKick chan struct{} // coalesces "chats" events

	mu       sync.Mutex
	server   string
	idb      *client.IDBState
	s        *session // nil while locked or logged out
	conn     connEvent
	autoLock time.Duration
	lastUse  time.Time
	log      *slog.Logger
}

type connEvent struct {
	State   string `json:"state"` // online, connecting, offline
	RetryIn int    `json:"retry_in_s,omitempty"`
}

func newBridge() *bridge {
	b := &bridge{ls: listeners{m: map[string]map[int]js.Value{}}, autoLock: 5 * time.Minute, lastUse: time.Now(),
		conn: connEvent{State: "offline"},
		log:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	b.chatsKick = make(chan struct{}, 1)
	go b.autoLocker()
	go b.chatsEmitter()
	b.watchNetwork()
	return b
}

// touch records activity (every API call) for the auto-lock.
func (b *bridge) touch(string) {
	b.mu.Lock()
	b.lastUse = time.Now()
	b.mu.Unlock()
}

func (b *bridge) autoLocker() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for range t.C {
		b.mu.Lock()
		due := b.s != nil && b.autoLock > 0 && time.Since(b.lastUse) >= b.autoLock
		b.mu.Unlock()
		if due {
			b.lockNow()
		}
	}
}

// watchNetwork follows the browser's online/offline events: offline is
// shown at once, online reconnects at once instead of after the backoff.
func (b *bridge) watchNetwork() {
	w := js.Global()
	if w.Get("addEventListener").IsUndefined() {
		return
	}
	w.Call("addEventListener", "online", js.FuncOf(func(js.Value, []js.Value) any {
		b.mu.Lock()
		s := b.s
		b.mu.Unlock()
		if s != nil {
			select {
			case s.redial <- struct{}{}:
			default:
			}
		}
		return nil
	}))
	w.Call("addEventListener", "offline", js.FuncOf(func(js.Value, []js.Value) any {
		go b.setConn(connEvent{State: "offline"})
		return nil
	}))
}

func (b *bridge) setConn(c connEvent) {
	b.mu.Lock()
	b.conn = c
	b.mu.Unlock()
	b.emit("connection", c)
}

// current returns the unlocked session or ELOCKED.
func (b *bridge) current() (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.s == nil {
		return nil, errLocked()
	}
	return b.s, nil
}

// currentWith is current plus the first argument as a string (a
// conversation, alarm or device id): the preamble of most methods.
func (b *bridge) currentWith(args []js.Value) (*session, string, error) {
	s, err := b.current()
	if err != nil {
		return nil, "", err
	}
	id, err := argString(args, 0)
	if err != nil {
		return nil, "", err
	}
	return s, id, nil
}

func (b *bridge) openDB(ctx context.Context) (*client.IDBState, error) {
	b.mu.Lock()
	idb := b.idb
	b.mu.Unlock()
	if idb != nil {
		return idb, nil
	}
	idb, err := client.OpenIDBState(ctx, dbName)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.idb = idb
	b.mu.Unlock()
	return idb, nil
}

func (b *bridge) serverURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.server
}

type initResult struct {
	State string `json:"state"`
	Email string `json:"email,omitempty"`
}

func (b *bridge) init(ctx context.Context, args []js.Value) (any, error) {
	var o struct {
		Server string `json:"server"`
	}
	if err := arg(args, 0, &o); err != nil {
		return nil, err
	}
	if o.Server == "" {
		o.Server = js.Global().Get("location").Get("origin").String()
	}
	if _, err := client.New(o.Server, ""); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.server = strings.TrimRight(o.Server, "/")
	s := b.s
	b.mu.Unlock()
	if s != nil {
		return initResult{State: "unlocked", Email: s.prof.Email}, nil
	}
	idb, err := b.openDB(ctx)
	if err != nil {
		return nil, err
	}
	hdr, err := idb.Load(ctx, "vault")
	if err != nil {
		return nil, err
	}
	if hdr == nil {
		return initResult{State: "new"}, nil
	}
	return initResult{State: "locked"}, nil
}

func (b *bridge) requestCode(ctx context.Context, args []js.Value) (any, error) {
	email, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	c, err := client.New(b.serverURL(), "")
	if err != nil {
		return nil, err
	}
	return nil, c.RequestCode(ctx, strings.TrimSpace(email))
}

func checkPIN(pin string) error {
	if len([]rune(pin)) < minPIN || len(pin) > 256 {
		return &bridgeError{code: "EINVALID", msg: fmt.Sprintf("Die PIN braucht mindestens %d Zeichen. / The PIN needs at least %d characters.", minPIN, minPIN)}
	}
	return nil
}

// verify enrols this browser as a device: the code proves the mailbox, a
// new device key is made and stored in a fresh vault sealed by the PIN.
func (b *bridge) verify(ctx context.Context, args []js.Value) (any, error) {
	var o struct {
		Email, Code, DeviceName, PIN string
	}
	if err := arg(args, 0, &o); err != nil {
		return nil, err
	}
	if o.Email == "" || o.Code == "" {
		return nil, wache.Errorf(wache.EINVALID, "email and code are needed")
	}
	if err := checkPIN(o.PIN); err != nil {
		return nil, err
	}
	if o.DeviceName == "" {
		o.DeviceName = "Browser"
	}
	idb, err := b.openDB(ctx)
	if err != nil {
		return nil, err
	}
	c, err := client.New(b.serverURL(), "")
	if err != nil {
		return nil, err
	}
	b.startMu.Lock()
	defer b.startMu.Unlock()
	prof, err := c.Verify(ctx, strings.TrimSpace(o.Email), o.Code, o.DeviceName)
	if err != nil {
		return nil, err
	}
	b.endSession()
	if err := idb.Erase(ctx); err != nil { // a previous enrolment's data
		return nil, err
	}
	v, err := client.OpenVaultKDF(ctx, idb, []byte(o.PIN), browserKDF)
	if err != nil {
		return nil, err
	}
	if err := client.SaveProfile(ctx, v, prof); err != nil {
		return nil, err
	}
	if err := b.startSession(ctx, v); err != nil {
		return nil, err
	}
	return initResult{State: "unlocked", Email: prof.Email}, nil
}

func (b *bridge) unlock(ctx context.Context, args []js.Value) (any, error) {
	pin, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	b.startMu.Lock()
	defer b.startMu.Unlock()
	if s, _ := b.current(); s != nil {
		return initResult{State: "unlocked", Email: s.prof.Email}, nil
	}
	idb, err := b.openDB(ctx)
	if err != nil {
		return nil, err
	}
	v, err := client.OpenVault(ctx, idb, []byte(pin))
	if errors.Is(err, client.ErrWrongPassphrase) {
		return nil, &bridgeError{code: "EUNAUTHORIZED", msg: "Falsche PIN. / Wrong PIN.", err: err}
	} else if err != nil {
		if strings.Contains(err.Error(), "corrupt") {
			return nil, &wache.Error{Code: client.ECORRUPT, Message: "vault header unreadable", Err: err}
		}
		return nil, err
	}
	if err := b.startSession(ctx, v); err != nil {
		return nil, err
	}
	s, _ := b.current()
	return initResult{State: "unlocked", Email: s.prof.Email}, nil
}

// startSession opens the client core on the unlocked vault and starts the
// live connection and the outbox flusher.
func (b *bridge) startSession(ctx context.Context, v *client.Vault) error {
	prof, err := client.LoadProfile(ctx, v)
	if err != nil {
		return &wache.Error{Code: client.ECORRUPT, Message: "profile unreadable", Err: err}
	}
	if prof == nil { // enrolment broke off between vault and profile
		return &wache.Error{Code: client.ECORRUPT, Message: "enrolment incomplete"}
	}
	release, err := tabLock(ctx)
	if err != nil {
		return err
	}
	m, err := client.OpenMessenger(ctx, v)
	if err != nil {
		release()
		if wache.ErrorCode(err) == wache.EINTERNAL {
			return &wache.Error{Code: client.ECORRUPT, Message: "client state unreadable", Err: err}
		}
		return err
	}
	m.Log = b.log
	sctx, cancelCtx := context.WithCancel(context.Background())
	cancel := func() { cancelCtx(); release() }
	s := &session{vault: v, m: m, hist: client.OpenHistory(v, prof.UserID), drafts: client.OpenDrafts(v), prof: prof,
		cancel: cancel, kick: make(chan struct{}, 1), redial: make(chan struct{}, 1),
		names: map[string]string{}, convs: map[string]api.Conversation{},
		live: map[string]time.Time{}, lastLive: map[string]time.Time{},
		receipt: map[string]int64{}, sentRcpt: map[string]int64{}, readRcpt: map[string]int64{},
		named: map[string]bool{}, recorded: map[string][]client.Entry{}}
	m.Record = func(ctx context.Context, msg client.Message) error { return b.recordMessage(ctx, s, msg) }
	m.OnMessage = func(msg client.Message) { b.onMessage(sctx, s, msg) }
	b.mu.Lock()
	if b.s != nil {
		b.mu.Unlock()
		cancel()
		return nil // unlocked twice at once: keep the first
	}
	b.s = s
	b.lastUse = time.Now()
	b.mu.Unlock()
	go b.connect(sctx, s)
	go b.flusher(sctx, s)
	go b.receipts(sctx, s)
	return nil
}

// endSession stops the session: the keys are dropped (Go cannot wipe the
// AES key schedule from memory; unreachable, it is collected).
func (b *bridge) endSession() *session {
	b.mu.Lock()
	s := b.s
	b.s = nil
	b.mu.Unlock()
	if s != nil {
		s.cancel()
	}
	return s
}

func (b *bridge) lockNow() {
	if b.endSession() != nil {
		b.setConn(connEvent{State: "offline"})
		b.emit("locked", nil)
	}
}

func (b *bridge) lock(ctx context.Context, args []js.Value) (any, error) {
	b.lockNow()
	return nil, nil
}

// logout erases everything local; when online it also revokes this
// device on the server, so that its keys are worth nothing anywhere.
func (b *bridge) logout(ctx context.Context, args []js.Value) (any, error) {
	s := b.endSession()
	if s != nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.m.API.RevokeDevice(rctx, s.prof.DeviceID); err != nil {
			b.log.Warn("revoke own device at logout", "err", err)
		}
		cancel()
	}
	idb, err := b.openDB(ctx)
	if err != nil {
		return nil, err
	}
	if err := idb.Erase(ctx); err != nil {
		return nil, err
	}
	b.setConn(connEvent{State: "offline"})
	return nil, nil
}

func (b *bridge) setAutoLock(ctx context.Context, args []js.Value) (any, error) {
	n, err := argInt(args, 0)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 24*60 {
		return nil, wache.Errorf(wache.EINVALID, "auto-lock must be 0 (off) to 1440 minutes")
	}
	b.mu.Lock()
	b.autoLock = time.Duration(n) * time.Minute
	b.mu.Unlock()
	return nil, nil
}

// connect keeps the live connection: Listen reconnects with backoff by
// itself; this loop restarts it when the browser reports it is online
// again, and ends the session when the device was revoked.
func (b *bridge) connect(ctx context.Context, s *session) {
	delay := 250 * time.Millisecond
	for ctx.Err() == nil {
		b.setConn(connEvent{State: "connecting"})
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.redial:
				cancel()
			case <-lctx.Done():
			}
		}()
		err := s.m.Listen(lctx, client.ListenHandler{
			Connected: func() {
				delay = 250 * time.Millisecond
				b.setConn(connEvent{State: "online"})
				go b.afterConnect(ctx, s)
			},
			Synced: func() {
				b.chatsChanged()
				s.wake()
			},
			Alarm:    func(a api.Alarm) { go b.onAlarmFrame(s, a) },
			Reminder: func(conv string, seq int64) { b.onReminder(s, conv, seq) },
			Disconnect: func(err error) {
				if jsCode(err) == codeCorrupt { // a damaged record stops processing: say so
					b.reportError(err)
				}
				delay = min(2*delay, 15*time.Second)
				b.setConn(connEvent{State: "offline", RetryIn: int((delay + time.Second - 1) / time.Second)})
			},
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, client.ErrRevoked) || wache.ErrorCode(err) == wache.EREVOKED:
			b.revoked()
			return
		case wache.ErrorCode(err) == wache.EUNAUTHORIZED:
			b.setConn(connEvent{State: "offline"})
			b.emit("error", map[string]string{"code": "EUNAUTHORIZED", "message": jsMessage("EUNAUTHORIZED", err)})
			return
		case errors.Is(err, context.Canceled):
			continue // redial
		}
		// Refused for another reason (forbidden, …): try again later
		// rather than in a tight loop.
		b.setConn(connEvent{State: "offline", RetryIn: 30})
		select {
		case <-ctx.Done():
			return
		case <-s.redial:
		case <-time.After(30 * time.Second):
		}
	}
}

// afterConnect stocks KeyPackages (others add this device to groups with
// them) and sends what waited in the outbox.
func (b *bridge) afterConnect(ctx context.Context, s *session) {
	kctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.m.EnsureKeyPackages(kctx, keyPkgMin, keyPkgFill); err != nil && ctx.Err() == nil {
		b.log.Warn("key packages", "err", err)
	}
	s.wake()
}

// revoked: the server revoked this device (lost phone, remote wipe). The
// local data is erased at once.
func (b *bridge) revoked() {
	b.endSession()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if idb, err := b.openDB(ctx); err == nil {
		if err := idb.Erase(ctx); err != nil {
			b.log.Error("erase after revocation", "err", err)
		}
	}
	b.setConn(connEvent{State: "offline"})
	b.emit("revoked", nil)
}

func (s *session) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flusher sends the outbox whenever woken (a send, a reconnect) and every
// 30 s, and moves the history's entries from pending to sent or failed.
func (b *bridge) flusher(ctx context.Context, s *session) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
		left, err := s.m.DeliverOutbox(ctx, 20*time.Second, func(d client.Delivery) {
			var es []client.Entry
			var err error
			if d.Err != nil {
				es, err = s.hist.MarkFailed(ctx, d.ConvID, d.LocalID, jsMessage(jsCode(d.Err), d.Err))
			} else {
				es, err = s.hist.MarkSent(ctx, d.ConvID, d.LocalID, d.Seq, d.At)
			}
			if err != nil {
				b.reportError(err)
			}
			for _, e := range es {
				b.emit("message", map[string]any{"conv_id": e.ConvID, "message": s.toMsg(e)})
			}
			if len(es) > 0 {
				b.chatsChanged()
			}
		})
		if err != nil && ctx.Err() == nil {
			b.reportError(err)
		}
		if left == 0 && err == nil {
			// What the core queues itself (acknowledgements of alarms)
			// goes through its own flush; app messages are all out, so it
			// cannot take one from under the history.
			s.sendMu.Lock()
			fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			if n, err := s.m.OutboxLen(fctx); err == nil && n == 0 {
				_, _ = s.m.FlushOutbox(fctx)
			}
			cancel()
			s.sendMu.Unlock()
		}
	}
}

// reportError tells the UI about a failure it did not ask for.
func (b *bridge) reportError(err error) {
	code := jsCode(err)
	b.log.Warn("background", "code", code, "err", err)
	b.emit("error", map[string]string{"code": code, "message": jsMessage(code, err)})
}

// tabLock makes this tab the only one running the client core on this
// origin's IndexedDB: two tabs advancing the same MLS state would corrupt
// it. It uses the Web Locks API; the lock is held until release is called
// or the tab closes. Browsers without the API get no protection (all
// current ones have it).
func tabLock(ctx context.Context) (release func(), err error) {
	locks := js.Global().Get("navigator").Get("locks")
	if locks.IsUndefined() || locks.IsNull() {
		return func() {}, nil
	}
	got := make(chan bool, 1)
	var free js.Value // resolves the promise that holds the lock
	cb := js.FuncOf(func(this js.Value, args []js.Value) any {
		if len(args) == 0 || args[0].IsNull() {
			got <- false
			return nil
		}
		exec := js.FuncOf(func(this js.Value, pargs []js.Value) any {
			free = pargs[0]
			return nil
		})
		p := js.Global().Get("Promise").New(exec)
		exec.Release()
		got <- true
		return p
	})
	opts := js.Global().Get("Object").New()
	opts.Set("ifAvailable", true)
	locks.Call("request", "wache-client-core", opts, cb)
	select {
	case ok := <-got:
		cb.Release()
		if !ok {
			return nil, &bridgeError{code: "EBUSY", msg: "Wache ist schon in einem anderen Tab geöffnet. / Wache is already open in another tab."}
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return nil, &bridgeError{code: "EBUSY", msg: "Die Sperre für diesen Tab kam nicht. / The tab lock was not granted."}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if !free.IsUndefined() {
				free.Invoke()
			}
		})
	}, nil
}

// chatsChanged announces a changed chat list. The UI reloads the list on
// it, so a burst of messages gives one event per 250 ms, not one each.
func (b *bridge) chatsChanged() {
	select {
	case b.chatsKick <- struct{}{}:
	default:
	}
}

func (b *bridge) chatsEmitter() {
	for range b.chatsKick {
		b.emit("chats", nil)
		time.Sleep(250 * time.Millisecond)
	}
}
