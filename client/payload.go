package client

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// DevMode marks payloads that are NOT encrypted. It exists only until the
// MLS client core lands; the server cannot tell the difference, which is
// the point: it never interprets payloads.
const DevMode = "unencrypted-dev"

// DevMessage is the development payload: a typed, versioned JSON document.
type DevMessage struct {
	V    int    `json:"v"`
	Mode string `json:"mode"`
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// MaxText bounds a text message so that it fits an envelope.
const MaxText = 16 << 10

// EncodeDevText encodes a text message.
func EncodeDevText(text string) ([]byte, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("text is not valid UTF-8")
	}
	if len(text) > MaxText {
		return nil, fmt.Errorf("text is %d bytes; the limit is %d", len(text), MaxText)
	}
	return json.Marshal(DevMessage{V: 1, Mode: DevMode, Type: "text", Text: text})
}

// DecodeDev decodes a payload from another device. Anything it cannot read
// becomes an "unsupported" message, never a crash.
func DecodeDev(b []byte) DevMessage {
	var m DevMessage
	if err := json.Unmarshal(b, &m); err != nil || m.V != 1 || m.Mode != DevMode || m.Type != "text" || !utf8.ValidString(m.Text) {
		return DevMessage{V: 1, Mode: DevMode, Type: "unsupported"}
	}
	return m
}
