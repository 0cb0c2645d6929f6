//go:build js && wasm

package main

// Run under Node: GOOS=js GOARCH=wasm go test -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./web/wasm/
// (the bridge as a whole is exercised by the browser tests in web/tests).

import (
	"errors"
	"fmt"
	"syscall/js"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/client"
)

func TestErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
	}{
		{wache.Errorf(wache.EINVALID, "x"), "EINVALID"},
		{wache.Errorf(wache.EUNAUTHORIZED, "x"), "EUNAUTHORIZED"},
		{wache.Errorf(wache.EREVOKED, "x"), "EREVOKED"},
		{client.ErrRevoked, "EREVOKED"},
		{&wache.Error{Code: wache.EUNAVAILABLE, Message: "server unreachable"}, "ENETWORK"},
		{&wache.Error{Code: client.ECORRUPT, Message: "x"}, "ECORRUPT"},
		{fmt.Errorf("local data %q: %w", "g_x", client.ErrWrongPassphrase), "ECORRUPT"},
		{fmt.Errorf("outbox is corrupt: %w", errors.New("json")), "ECORRUPT"},
		{errLocked(), "ELOCKED"},
		{wache.Errorf(client.ESTORAGE, "no IndexedDB"), "ESTORAGE"},
		{wache.Errorf(wache.ERATELIMIT, "x"), "ERATELIMIT"},
		{errors.New("boom"), "EINTERNAL"},
	} {
		if got := jsCode(c.err); got != c.code {
			t.Errorf("%v: %s, want %s", c.err, got, c.code)
		}
		e := jsError(c.err)
		if e.Get("code").String() != c.code || e.Get("message").String() == "" {
			t.Errorf("%v: JS error %v", c.err, e)
		}
	}
	if m := jsMessage("ENETWORK", &wache.Error{Code: wache.EUNAVAILABLE, Message: "server unreachable"}); m != "Keine Verbindung zum Server. / server unreachable" {
		t.Errorf("message %q", m)
	}
}

func TestToJS(t *testing.T) {
	v, err := toJS([]byte{1, 2, 3})
	if err != nil || !v.InstanceOf(js.Global().Get("Uint8Array")) || v.Get("length").Int() != 3 {
		t.Fatalf("bytes: %v %v", v, err)
	}
	v, err = toJS(msg{ConvID: "c", Seq: 7, Time: time.Unix(0, 0).UTC(), Type: "text", Text: "ä"})
	if err != nil || v.Get("seq").Int() != 7 || v.Get("text").String() != "ä" || !v.Get("reply_to").IsUndefined() {
		t.Fatalf("msg: %v %v", v, err)
	}
	if v, _ := toJS(nil); !v.IsUndefined() {
		t.Fatal("nil is not undefined")
	}
}

func TestArgs(t *testing.T) {
	obj := js.Global().Get("JSON").Call("parse", `{"beforeSeq": 40, "limit": 20}`)
	var o struct {
		BeforeSeq int64 `json:"beforeSeq"`
		Limit     int   `json:"limit"`
	}
	if err := arg([]js.Value{obj}, 0, &o); err != nil || o.BeforeSeq != 40 || o.Limit != 20 {
		t.Fatalf("%+v %v", o, err)
	}
	if err := arg([]js.Value{js.ValueOf("x")}, 0, &o); wache.ErrorCode(err) != wache.EINVALID {
		t.Fatalf("string into object: %v", err)
	}
	if _, err := argString([]js.Value{js.ValueOf(3)}, 0); wache.ErrorCode(err) != wache.EINVALID {
		t.Fatal("number accepted as string")
	}
	if _, err := argInt([]js.Value{js.ValueOf(1.5)}, 0); wache.ErrorCode(err) != wache.EINVALID {
		t.Fatal("fraction accepted")
	}
	if n, err := argInt([]js.Value{js.ValueOf(12)}, 0); err != nil || n != 12 {
		t.Fatal(n, err)
	}
}

func TestPreview(t *testing.T) {
	for _, c := range []struct {
		p    client.Payload
		want string
	}{
		{client.Payload{Type: client.TypeText, Text: "Lage\n\nruhig"}, "Lage ruhig"},
		{client.Payload{Type: client.TypeLocation}, "📍"},
		{client.Payload{Type: "alarm"}, "…"},
	} {
		if got := preview(c.p); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	if got := excerpt("äöüäöü", 3); got != "äöü…" {
		t.Errorf("excerpt %q", got)
	}
}
