//go:build js

package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"github.com/wache/wache"
)

// IDBState keeps the device State in the browser's IndexedDB: database
// name, one object store "state", key → bytes (Uint8Array). Values are
// opaque to it; wrapped in a Vault they are sealed before they get here.
// Every write waits for its transaction to complete, so a value reported
// saved survives a reload or a crash of the tab.
type IDBState struct {
	db js.Value
}

const idbStore = "state"

// idbTimeout bounds every IndexedDB request: a blocked database (another
// tab upgrading it) must not hang the app.
var idbTimeout = 20 * time.Second

// OpenIDBState opens (or creates) the IndexedDB database name.
func OpenIDBState(ctx context.Context, name string) (*IDBState, error) {
	idb := js.Global().Get("indexedDB")
	if idb.IsUndefined() || idb.IsNull() {
		return nil, wache.Errorf(ESTORAGE, "this browser offers no IndexedDB (private mode?): the app cannot store its keys")
	}
	req := idb.Call("open", name, 1)
	w := newWaiter(req)
	w.on("onupgradeneeded", false, func(js.Value) (js.Value, error, bool) {
		db := req.Get("result")
		if !db.Get("objectStoreNames").Call("contains", idbStore).Bool() {
			db.Call("createObjectStore", idbStore)
		}
		return js.Value{}, nil, false
	})
	w.on("onsuccess", true, func(js.Value) (js.Value, error, bool) { return req.Get("result"), nil, true })
	w.on("onerror", true, func(js.Value) (js.Value, error, bool) { return js.Value{}, eventError(req, "onerror"), true })
	// Blocked (another tab holds an older version open) is not the end of
	// the request: success or error still follow, and are still handled.
	w.on("onblocked", false, func(js.Value) (js.Value, error, bool) { return js.Value{}, errors.New("onblocked"), true })
	// A database that opens after the caller gave up is closed again, so
	// that it does not block a later open.
	w.late = func(v js.Value) {
		if !v.IsUndefined() && !v.IsNull() {
			v.Call("close")
		}
	}
	res, err := w.wait(ctx)
	if err != nil {
		return nil, &wache.Error{Code: ESTORAGE, Message: "the browser's storage cannot be opened", Err: err}
	}
	return &IDBState{db: res}, nil
}

// waiter turns the events of one IndexedDB request or transaction into a
// result a goroutine waits for. Its callbacks stay registered until the
// target's last event (a request's success or error, a transaction's
// complete or abort) and are released there, never earlier: a callback
// released while the request is still pending would be called anyway
// ("call to released function"), e.g. the abort that follows a failed
// write's error event, or the completion of a write that outlived its
// waiter's timeout.
type waiter struct {
	target js.Value
	ch     chan outcome
	funcs  []js.Func
	events []string
	// late receives a result that came after the waiter gave up.
	late func(js.Value)

	mu   sync.Mutex
	gone bool // wait returned
	done bool // the target's last event came: funcs released
}

type outcome struct {
	v   js.Value
	err error
}

func newWaiter(target js.Value) *waiter {
	return &waiter{target: target, ch: make(chan outcome, 1)}
}

// on handles event ev: fn says what it means and whether it settles the
// wait; final marks the target's last event.
func (w *waiter) on(ev string, final bool, fn func(js.Value) (js.Value, error, bool)) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		var e js.Value
		if len(args) > 0 {
			e = args[0]
		}
		v, err, settle := fn(e)
		w.mu.Lock()
		gone := w.gone
		if final {
			w.done = true
		}
		w.mu.Unlock()
		if settle {
			select {
			case w.ch <- outcome{v: v, err: err}:
			default: // settled before (an error event, then abort)
			}
		}
		if gone && err == nil && settle && w.late != nil {
			w.late(v)
		}
		if final {
			w.release()
		}
		return nil
	})
	w.funcs = append(w.funcs, f)
	w.events = append(w.events, ev)
	w.target.Set(ev, f)
}

// release unregisters and frees the callbacks. It runs inside the last
// callback: releasing the running js.Func is allowed, and nothing can
// call the others any more once they are unset.
func (w *waiter) release() {
	for _, ev := range w.events {
		w.target.Set(ev, js.Null())
	}
	for _, f := range w.funcs {
		f.Release()
	}
	w.funcs = nil
}

// wait returns the first settling outcome. Requests are waited for even
// when ctx ends (bounded by idbTimeout): a caller in the middle of
// processing a message must learn what happened, or its memory (an MLS
// ratchet that moved) and the store drift apart, and a read is quick
// anyway. It must run on a goroutine of its own, never on the JS event
// loop (callbacks from JS run there).
func (w *waiter) wait(ctx context.Context) (js.Value, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), idbTimeout)
	defer cancel()
	var o outcome
	select {
	case o = <-w.ch:
	case <-ctx.Done():
		o = outcome{v: js.Undefined(), err: &wache.Error{Code: ESTORAGE, Message: "the browser's storage did not answer", Err: ctx.Err()}}
	}
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	return o.v, o.err
}

// eventError describes the error of a failed request or transaction.
func eventError(target js.Value, ev string) error {
	if e := target.Get("error"); !e.IsUndefined() && !e.IsNull() {
		return errors.New(e.Get("name").String() + ": " + e.Get("message").String())
	}
	return errors.New(ev)
}

// awaitRequest waits for a request's result (success or error: both end
// the request).
func awaitRequest(ctx context.Context, req js.Value) (js.Value, error) {
	w := newWaiter(req)
	w.on("onsuccess", true, func(js.Value) (js.Value, error, bool) { return req.Get("result"), nil, true })
	w.on("onerror", true, func(e js.Value) (js.Value, error, bool) {
		// Handled here: the transaction it belongs to ends by itself
		// (a read-only one has nothing to undo).
		return js.Value{}, eventError(req, "onerror"), true
	})
	return w.wait(ctx)
}

// awaitTx waits until a transaction has committed. An error event (a
// failed request bubbling up) is followed by abort, which ends it.
func awaitTx(ctx context.Context, tx js.Value) error {
	w := newWaiter(tx)
	w.on("oncomplete", true, func(js.Value) (js.Value, error, bool) { return js.Value{}, nil, true })
	w.on("onerror", false, func(e js.Value) (js.Value, error, bool) {
		if t := e.Get("target"); e.Truthy() && t.Truthy() { // the request that failed
			return js.Value{}, eventError(t, "onerror"), true
		}
		return js.Value{}, eventError(tx, "onerror"), true
	})
	w.on("onabort", true, func(js.Value) (js.Value, error, bool) { return js.Value{}, eventError(tx, "onabort"), true })
	_, err := w.wait(ctx)
	return err
}

func (s *IDBState) store(mode string) (tx, store js.Value, err error) {
	defer func() { // transaction() throws on a closed database
		if r := recover(); r != nil {
			err = fmt.Errorf("IndexedDB: %v", r)
		}
	}()
	tx = s.db.Call("transaction", idbStore, mode)
	return tx, tx.Call("objectStore", idbStore), nil
}

// Load returns the value of key; nil, nil when absent.
func (s *IDBState) Load(ctx context.Context, key string) ([]byte, error) {
	_, st, err := s.store("readonly")
	if err != nil {
		return nil, err
	}
	var req js.Value
	if err := request(func() { req = st.Call("get", key) }); err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	v, err := awaitRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	if v.IsUndefined() || v.IsNull() {
		return nil, nil
	}
	if !v.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, corrupt(key, fmt.Errorf("stored value is a %s, not bytes", v.Type()))
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, nil
}

// Save stores val under key; nil or empty deletes the key. It returns when
// the transaction has committed.
func (s *IDBState) Save(ctx context.Context, key string, val []byte) error {
	tx, st, err := s.store("readwrite")
	if err != nil {
		return err
	}
	if err := request(func() {
		if len(val) == 0 {
			st.Call("delete", key)
		} else {
			a := js.Global().Get("Uint8Array").New(len(val))
			js.CopyBytesToJS(a, val)
			st.Call("put", a, key)
		}
	}); err != nil {
		return fmt.Errorf("write %q: %w", key, err)
	}
	if err := awaitTx(ctx, tx); err != nil {
		return fmt.Errorf("write %q: %w", key, err)
	}
	return nil
}

// Erase removes every value (logout, remote wipe).
func (s *IDBState) Erase(ctx context.Context) error {
	tx, st, err := s.store("readwrite")
	if err != nil {
		return err
	}
	st.Call("clear")
	if err := awaitTx(ctx, tx); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	return nil
}

// request runs a call that JS may refuse by throwing (a closed database,
// a finished transaction) and returns that as an error.
func request(call func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("IndexedDB: %v", r)
		}
	}()
	call()
	return nil
}
