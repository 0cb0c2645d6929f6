//go:build js && wasm

// Command wasm is the browser app's bridge: the Go client core (MLS,
// payloads, outbox, encrypted state) compiled to WebAssembly, exposed to
// the TypeScript UI as window.wache, a narrow async API plus events. The UI
// never sees a key: it hands in text and files and gets back decrypted
// messages. See docs/design/webapp.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall/js"

	"github.com/wache/wache"
	"github.com/wache/wache/client"
)

func main() {
	b := newBridge()
	api := js.Global().Get("Object").New()
	for name, fn := range b.methods() {
		api.Set(name, b.promise(name, fn))
	}
	for name, fn := range b.alarmMethods() { // issue 6: alarm.go
		api.Set(name, b.promise(name, fn))
	}
	for name, fn := range b.auskunftMethods() { // Auskunft and scanner: auskunft.go, scan.go
		api.Set(name, b.promise(name, fn))
	}
	api.Set("on", js.FuncOf(b.on))
	js.Global().Set("wache", api)
	// The UI waits for this event (or finds window.wache already set).
	js.Global().Call("dispatchEvent", js.Global().Get("Event").New("wache-ready"))
	select {} // keep the Go runtime alive for callbacks
}

// method is one API call: it runs on its own goroutine (never on the JS
// event loop, so it may wait for the network and IndexedDB) and returns a
// value that is handed to JS as JSON, or []byte as a Uint8Array.
type method func(ctx context.Context, args []js.Value) (any, error)

// promise wraps a method as a JS function returning a Promise. A panic in
// the core becomes a rejected promise, never a dead app.
func (b *bridge) promise(name string, fn method) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		args = append([]js.Value(nil), args...)
		var resolve, reject js.Value
		exec := js.FuncOf(func(this js.Value, pargs []js.Value) any {
			resolve, reject = pargs[0], pargs[1]
			return nil
		})
		p := js.Global().Get("Promise").New(exec)
		exec.Release()
		if !passive[name] || (name == "messages" && paging(args)) {
			b.touch(name)
		}
		go func() {
			var (
				res any
				err error
			)
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("bridge %s: %v", name, r)
					}
				}()
				res, err = fn(context.Background(), args)
			}()
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			v, cerr := toJS(res)
			if cerr != nil {
				reject.Invoke(jsError(cerr))
				return
			}
			resolve.Invoke(v)
		}()
		return p
	})
}

// passive methods are what the UI calls by itself when events arrive
// (refreshing the list, the open chat): they are no sign of a person at
// the device and do not hold off the auto-lock, or a busy group would keep
// an unattended phone unlocked. Paging back in a chat is (scrolling).
var passive = map[string]bool{"init": true, "me": true, "chats": true, "chat": true, "messages": true,
	"markRead": true, "devices": true, "draft": true, "bench": true}

func paging(args []js.Value) bool {
	return len(args) > 1 && args[1].Type() == js.TypeObject && args[1].Get("beforeSeq").Type() == js.TypeNumber
}

// toJS converts a result: []byte → Uint8Array, nil → undefined, anything
// else through JSON (the UI gets plain objects with the contract's names).
func toJS(v any) (js.Value, error) {
	switch x := v.(type) {
	case nil:
		return js.Undefined(), nil
	case []byte:
		a := js.Global().Get("Uint8Array").New(len(x))
		js.CopyBytesToJS(a, x)
		return a, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return js.Undefined(), err
	}
	return js.Global().Get("JSON").Call("parse", string(b)), nil
}

// arg decodes argument i (a JS object or value) into v through JSON.
func arg(args []js.Value, i int, v any) error {
	if i >= len(args) || args[i].IsUndefined() || args[i].IsNull() {
		return nil
	}
	s := js.Global().Get("JSON").Call("stringify", args[i])
	if s.Type() != js.TypeString {
		return wache.Errorf(wache.EINVALID, "argument %d is not JSON", i+1)
	}
	if err := json.Unmarshal([]byte(s.String()), v); err != nil {
		return wache.Errorf(wache.EINVALID, "argument %d: %v", i+1, err)
	}
	return nil
}

func argString(args []js.Value, i int) (string, error) {
	var s string
	if i >= len(args) || args[i].Type() != js.TypeString {
		return "", wache.Errorf(wache.EINVALID, "argument %d must be a string", i+1)
	}
	s = args[i].String()
	if len(s) > 64<<10 {
		return "", wache.Errorf(wache.EINVALID, "argument %d is too long", i+1)
	}
	return s, nil
}

func argInt(args []js.Value, i int) (int64, error) {
	if i >= len(args) || args[i].Type() != js.TypeNumber {
		return 0, wache.Errorf(wache.EINVALID, "argument %d must be a number", i+1)
	}
	f := args[i].Float()
	if f != float64(int64(f)) {
		return 0, wache.Errorf(wache.EINVALID, "argument %d must be a whole number", i+1)
	}
	return int64(f), nil
}

// Error codes of the JS API (the contract's names).
const (
	codeLocked  = "ELOCKED"
	codeCorrupt = "ECORRUPT"
	codeNetwork = "ENETWORK"
)

// bridgeError is an error with a JS API code set by the bridge itself.
type bridgeError struct {
	code, msg string
	err       error
}

func (e *bridgeError) Error() string { return e.code + ": " + e.msg }
func (e *bridgeError) Unwrap() error { return e.err }

func errLocked() error {
	return &bridgeError{code: codeLocked, msg: "Die App ist gesperrt: bitte mit der PIN entsperren. / The app is locked: unlock it with the PIN."}
}

// jsCode maps an error to the contract's code.
func jsCode(err error) string {
	var be *bridgeError
	if errors.As(err, &be) {
		return be.code
	}
	if errors.Is(err, client.ErrRevoked) {
		return "EREVOKED"
	}
	code := wache.ErrorCode(err)
	switch code {
	case client.ECORRUPT:
		return codeCorrupt
	case client.ESTORAGE:
		return "ESTORAGE"
	case wache.EUNAVAILABLE:
		return codeNetwork
	case wache.EREVOKED:
		return "EREVOKED"
	case wache.ERATELIMIT:
		return "ERATELIMIT"
	case wache.ENOTFOUND:
		return "ENOTFOUND"
	case wache.ETOOLARGE:
		return "ETOOLARGE"
	case wache.EINTERNAL:
		if errors.Is(err, client.ErrWrongPassphrase) || strings.Contains(err.Error(), "corrupt") {
			return codeCorrupt // a record that does not open with the right PIN
		}
		return "EINTERNAL"
	}
	return "E" + strings.ToUpper(code)
}

// German first: the app's users are German police officers; the English
// part carries the detail (and is what the tests and logs look at).
var germanPrefix = map[string]string{
	"EINVALID":      "Ungültige Eingabe",
	"EUNAUTHORIZED": "Nicht angemeldet oder Anmeldung abgelaufen",
	"EREVOKED":      "Dieses Gerät wurde gesperrt; die Daten wurden gelöscht",
	"EFORBIDDEN":    "Keine Berechtigung",
	"ENOTFOUND":     "Nicht gefunden",
	"ECONFLICT":     "Konflikt",
	"ETOOLARGE":     "Zu groß",
	"ERATELIMIT":    "Zu viele Versuche, bitte später erneut",
	"EEXPIRED":      "Abgelaufen",
	codeNetwork:     "Keine Verbindung zum Server",
	codeCorrupt:     "Die lokalen Daten sind beschädigt: bitte abmelden und das Gerät neu anmelden",
	"ESTORAGE":      "Der Speicher des Browsers ist nicht verfügbar (privates Fenster?)",
	"EINTERNAL":     "Interner Fehler",
}

func jsMessage(code string, err error) string {
	var be *bridgeError
	if errors.As(err, &be) {
		return be.msg
	}
	en := wache.ErrorMessage(err)
	if code == codeCorrupt {
		en = "local data is damaged: log out and enrol this device again"
	} else if code == "EINTERNAL" && err != nil {
		en = err.Error() // the bridge's own failures: detail for the report
	}
	if de, ok := germanPrefix[code]; ok {
		return de + ". / " + en
	}
	return en
}

func jsError(err error) js.Value {
	code := jsCode(err)
	e := js.Global().Get("Error").New(jsMessage(code, err))
	e.Set("code", code)
	return e
}

// Events: on(name, cb) → unsubscribe function.
type listeners struct {
	mu   sync.Mutex
	next int
	m    map[string]map[int]js.Value
}

var eventNames = map[string]bool{"message": true, "chats": true, "connection": true, "progress": true,
	"locked": true, "revoked": true, "error": true, "alarm": true}

func (b *bridge) on(this js.Value, args []js.Value) any {
	// A panic here would stop the Go runtime (and the app): bad calls are
	// reported on the console and get an unsubscribe function that does
	// nothing.
	if len(args) < 2 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeFunction || !eventNames[args[0].String()] {
		js.Global().Get("console").Call("error", "wache.on(event, callback): unknown event or no callback")
		return js.FuncOf(func(js.Value, []js.Value) any { return nil })
	}
	name := args[0].String()
	l := &b.ls
	l.mu.Lock()
	l.next++
	id := l.next
	if l.m[name] == nil {
		l.m[name] = map[int]js.Value{}
	}
	l.m[name][id] = args[1]
	l.mu.Unlock()
	if name == "connection" { // tell a new listener where things stand
		b.mu.Lock()
		st := b.conn
		b.mu.Unlock()
		go b.emit("connection", st)
	}
	var off js.Func
	off = js.FuncOf(func(js.Value, []js.Value) any {
		l.mu.Lock()
		delete(l.m[name], id)
		l.mu.Unlock()
		return nil
	})
	return off
}

// emit calls every listener of an event with v (as JSON). A listener that
// throws does not stop the others.
func (b *bridge) emit(name string, v any) {
	b.ls.mu.Lock()
	cbs := make([]js.Value, 0, len(b.ls.m[name]))
	for _, cb := range b.ls.m[name] {
		cbs = append(cbs, cb)
	}
	b.ls.mu.Unlock()
	if len(cbs) == 0 {
		return
	}
	if v == nil {
		v = struct{}{}
	}
	jv, err := toJS(v)
	if err != nil {
		return
	}
	for _, cb := range cbs {
		func() {
			defer func() { _ = recover() }()
			cb.Invoke(jv)
		}()
	}
}
