package client

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/wache/wache/client/attach"
)

// Payload is what travels inside an MLS application message: a small,
// versioned, typed document. The server never sees it. Receivers show a
// type they do not know as "unsupported" and never fail on it.
type Payload struct {
	V          int         `json:"v"`
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	ReplyTo    *Quote      `json:"reply_to,omitempty"`
	Attachment *attach.Ref `json:"attachment,omitempty"` // key and hash travel only here
	Location   *Location   `json:"location,omitempty"`
	Receipt    *Receipt    `json:"receipt,omitempty"`
	// Thumbnail is a small preview of an attachment (a data: URL, see
	// ValidateThumbnail), so that receivers show it before downloading.
	Thumbnail string `json:"thumbnail,omitempty"`
	// Alarm is the content of an SOS (TypeAlarm).
	Alarm *AlarmInfo `json:"alarm,omitempty"`
	// AlarmID ties a live position or its end to an alarm (set by the
	// raising device once the server named the alarm).
	AlarmID string `json:"alarm_id,omitempty"`
}

// Payload types.
const (
	TypeText         = "text"
	TypeAttachment   = "attachment"
	TypeLocation     = "location"      // a one-off position
	TypeLiveLocation = "live_location" // one update of a live position
	TypeLiveStop     = "live_stop"     // the live position ends
	TypeReceipt      = "receipt"
	TypeAlarm        = "alarm"       // an SOS: note and position, for the alarm, dispatch and escalation groups
	TypeUnsupported  = "unsupported" // what a receiver makes of anything it cannot read
)

// Quote refers to an earlier message (reply).
type Quote struct {
	Seq     int64  `json:"seq"`
	Sender  string `json:"sender,omitempty"`
	Excerpt string `json:"excerpt,omitempty"`
}

// Location is a position fix.
type Location struct {
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	Accuracy float64   `json:"accuracy_m,omitempty"`
	Time     time.Time `json:"time"`
	// LiveUntil, on live updates, says how long the sharing lasts.
	LiveUntil *time.Time `json:"live_until,omitempty"`
}

// Receipt reports delivery or reading of a message.
type Receipt struct {
	Kind string `json:"kind"` // delivered or read
	Seq  int64  `json:"seq"`
}

// AlarmInfo is what an SOS says. The server never sees it: it knows only
// that an alarm exists, its state and who answered.
type AlarmInfo struct {
	// ClientID is the raising device's id for the alarm request (the
	// server's alarm id is unknown while encrypting); api.Alarm carries it.
	ClientID string    `json:"client_id"`
	Kind     string    `json:"kind"` // "sos"
	Note     string    `json:"note,omitempty"`
	Location *Location `json:"location,omitempty"` // nil without a position fix
}

// Alarm kinds and bounds.
const (
	AlarmKindSOS = "sos"
	MaxAlarmNote = 500
	maxIDLen     = 64
)

// ValidateAlarm checks an alarm's content.
func ValidateAlarm(a *AlarmInfo) error {
	switch {
	case a == nil:
		return fmt.Errorf("alarm content missing")
	case a.Kind != AlarmKindSOS:
		return fmt.Errorf("alarm kind must be %q", AlarmKindSOS)
	case a.ClientID == "" || len(a.ClientID) > maxIDLen:
		return fmt.Errorf("alarm client id missing or longer than %d bytes", maxIDLen)
	case !utf8.ValidString(a.Note) || len(a.Note) > MaxAlarmNote:
		return fmt.Errorf("alarm note must be valid UTF-8 of at most %d bytes", MaxAlarmNote)
	}
	if a.Location != nil {
		if err := ValidateLocation(a.Location); err != nil {
			return fmt.Errorf("alarm position: %w", err)
		}
	}
	return nil
}

// ValidateLocation checks a position for range and sanity.
func ValidateLocation(l *Location) error {
	switch {
	case l == nil:
		return fmt.Errorf("location missing")
	case math.IsNaN(l.Lat) || math.IsNaN(l.Lon) || l.Lat < -90 || l.Lat > 90:
		return fmt.Errorf("latitude must be between -90 and 90")
	case l.Lon < -180 || l.Lon > 180:
		return fmt.Errorf("longitude must be between -180 and 180")
	case math.IsNaN(l.Accuracy) || l.Accuracy < 0 || l.Accuracy > 100_000:
		return fmt.Errorf("accuracy must be between 0 and 100 km")
	case l.Time.IsZero():
		return fmt.Errorf("location time missing")
	}
	return nil
}

// Validate checks a payload before it is sent.
func (p *Payload) Validate() error {
	if p.V != 1 {
		return fmt.Errorf("payload version %d is not supported", p.V)
	}
	if !utf8.ValidString(p.Text) || len(p.Text) > MaxText {
		return fmt.Errorf("text must be valid UTF-8 of at most %d bytes", MaxText)
	}
	switch p.Type {
	case TypeText:
		if p.Text == "" {
			return fmt.Errorf("empty text")
		}
	case TypeAttachment:
		if p.Attachment == nil {
			return fmt.Errorf("attachment reference missing")
		}
		if err := p.Attachment.Validate(); err != nil {
			return fmt.Errorf("attachment reference: %w", err)
		}
	case TypeLocation, TypeLiveLocation:
		if err := ValidateLocation(p.Location); err != nil {
			return err
		}
	case TypeLiveStop:
	case TypeAlarm:
		if err := ValidateAlarm(p.Alarm); err != nil {
			return err
		}
	case TypeReceipt:
		if p.Receipt == nil || (p.Receipt.Kind != "delivered" && p.Receipt.Kind != "read") || p.Receipt.Seq <= 0 {
			return fmt.Errorf("receipt needs kind delivered or read and a sequence number")
		}
	default:
		return fmt.Errorf("unknown payload type %q", p.Type)
	}
	if len(p.AlarmID) > maxIDLen || (p.AlarmID != "" && p.Type != TypeLiveLocation && p.Type != TypeLiveStop && p.Type != TypeAlarm) {
		return fmt.Errorf("alarm reference invalid")
	}
	if err := ValidateThumbnail(p.Thumbnail); err != nil {
		return err
	}
	if p.ReplyTo != nil && (p.ReplyTo.Seq <= 0 || len(p.ReplyTo.Excerpt) > 500) {
		return fmt.Errorf("reply reference invalid")
	}
	return nil
}

// EncodePayload validates and encodes a payload.
func EncodePayload(p Payload) ([]byte, error) {
	if p.V == 0 {
		p.V = 1
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// DecodePayload reads a payload from another device. Anything malformed,
// out of range or of an unknown type becomes TypeUnsupported.
func DecodePayload(b []byte) Payload {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil || p.Validate() != nil {
		return Payload{V: 1, Type: TypeUnsupported}
	}
	return p
}

// MaxText bounds a text message so that it fits an envelope once encrypted.
const MaxText = 16 << 10
