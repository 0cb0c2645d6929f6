//go:build js

package client

import (
	"github.com/coder/websocket"
	"github.com/wache/wache/api"
)

// Browsers cannot set headers on a WebSocket: the token travels as a
// second subprotocol, which the server accepts (never in the URL).
func dialOptions(token string) *websocket.DialOptions {
	return &websocket.DialOptions{Subprotocols: []string{api.Subprotocol, "wache.bearer." + token}}
}
