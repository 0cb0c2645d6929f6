//go:build js

package client

import (
	"context"
	"errors"
	"fmt"
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
	upgrade := js.FuncOf(func(this js.Value, args []js.Value) any {
		db := req.Get("result")
		if !db.Get("objectStoreNames").Call("contains", idbStore).Bool() {
			db.Call("createObjectStore", idbStore)
		}
		return nil
	})
	defer upgrade.Release()
	req.Set("onupgradeneeded", upgrade)
	res, err := await(ctx, req, "onsuccess", "onerror", "onblocked")
	if err != nil {
		return nil, &wache.Error{Code: ESTORAGE, Message: "the browser's storage cannot be opened", Err: err}
	}
	return &IDBState{db: res}, nil
}

// await waits for one of the request's events: ok → its result, fail →
// its error. It must run on a goroutine of its own, never on the JS event
// loop (callbacks from JS run there).
func await(ctx context.Context, target js.Value, ok string, fail ...string) (js.Value, error) {
	type outcome struct {
		v   js.Value
		err error
	}
	ch := make(chan outcome, 1)
	send := func(o outcome) {
		select {
		case ch <- o:
		default:
		}
	}
	okf := js.FuncOf(func(this js.Value, args []js.Value) any {
		v := target.Get("result")
		send(outcome{v: v})
		return nil
	})
	defer okf.Release()
	target.Set(ok, okf)
	var fails []js.Func
	for _, ev := range fail {
		f := js.FuncOf(func(this js.Value, args []js.Value) any {
			msg := ev
			if e := target.Get("error"); ev == "onerror" && !e.IsUndefined() && !e.IsNull() {
				msg = e.Get("name").String() + ": " + e.Get("message").String()
			}
			send(outcome{err: errors.New(msg)})
			return nil
		})
		fails = append(fails, f)
		target.Set(ev, f)
	}
	defer func() {
		for _, f := range fails {
			f.Release()
		}
	}()
	// Requests are waited for even when ctx ends (bounded by idbTimeout):
	// a caller in the middle of processing a message must learn what
	// happened, or its memory (an MLS ratchet that moved) and the store
	// drift apart, and a read is quick anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), idbTimeout)
	defer cancel()
	select {
	case o := <-ch:
		return o.v, o.err
	case <-ctx.Done():
		return js.Undefined(), &wache.Error{Code: ESTORAGE, Message: "the browser's storage did not answer", Err: ctx.Err()}
	}
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
	v, err := await(ctx, st.Call("get", key), "onsuccess", "onerror")
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
	if len(val) == 0 {
		st.Call("delete", key)
	} else {
		a := js.Global().Get("Uint8Array").New(len(val))
		js.CopyBytesToJS(a, val)
		st.Call("put", a, key)
	}
	if _, err := await(ctx, tx, "oncomplete", "onerror", "onabort"); err != nil {
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
	if _, err := await(ctx, tx, "oncomplete", "onerror", "onabort"); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	return nil
}
