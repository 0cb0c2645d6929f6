//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"strings"
	"syscall/js"

	"github.com/wache/wache"
)

// auskunftMethods are the Auskunft and scanner calls (the patrol pillars
// besides the messenger; docs/design/webapp.md).
func (b *bridge) auskunftMethods() map[string]method {
	return map[string]method{
		"auskunft": b.auskunft, "scanMRZ": b.scanMRZ, "scanPlate": b.scanPlate,
	}
}

// auskunftQuery is what the UI may ask (the server's query shape,
// docs/API.md): only these fields go to the server.
type auskunftQuery struct {
	Kind    string `json:"kind"`
	Text    string `json:"text,omitempty"`
	Surname string `json:"surname,omitempty"`
	Given   string `json:"given,omitempty"`
	DOB     string `json:"dob,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Purpose string `json:"purpose"`
	Limit   int    `json:"limit,omitempty"`
}

var auskunftKinds = map[string]bool{"plate": true, "vin": true, "document": true, "person": true}

// check refuses what is malformed before it costs a round trip; the
// server checks again and decides on role, rate and purpose (whose
// refusals are audited there, so an empty purpose still goes to it).
func (q *auskunftQuery) check() error {
	q.Kind = strings.TrimSpace(q.Kind)
	if !auskunftKinds[q.Kind] {
		return wache.Errorf(wache.EINVALID, "unknown query kind %q", q.Kind)
	}
	if q.Mode != "" && q.Mode != "wanted" && q.Mode != "full" {
		return wache.Errorf(wache.EINVALID, "unknown query mode %q", q.Mode)
	}
	for _, s := range []string{q.Text, q.Surname, q.Given, q.DOB, q.Purpose} {
		if len(s) > 1000 {
			return wache.Errorf(wache.EINVALID, "query field too long")
		}
	}
	return nil
}

// auskunft runs a query and hands the server's result through unchanged
// (hit, warnings, alerts, records; ordered for display by the server).
// Like the core, the bridge never stores it.
func (b *bridge) auskunft(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var q auskunftQuery
	if err := arg(args, 0, &q); err != nil {
		return nil, err
	}
	if err := q.check(); err != nil {
		return nil, err
	}
	var res json.RawMessage
	if err := s.m.API.AuskunftQuery(ctx, q, &res); err != nil {
		return nil, err
	}
	return res, nil
}
