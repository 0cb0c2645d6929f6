//go:build !js

package client

import (
	"net/http"

	"github.com/coder/websocket"
	"github.com/wache/wache/api"
)

func dialOptions(token string) *websocket.DialOptions {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	return &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{api.Subprotocol}}
}
