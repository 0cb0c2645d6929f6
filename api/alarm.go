package api

import "time"

// Message priorities (PostEnvelopeRequest.Priority, Envelope.Priority).
const (
	PriorityNormal = ""
	PriorityUrgent = "urgent"
	PriorityAlarm  = "alarm"
)

// Reminder interval bounds for acknowledgement requests, in seconds.
const (
	RemindDefaultSeconds = 120
	RemindMinSeconds     = 30
	RemindMaxSeconds     = 86400
)

// Receipt states, in increasing order: acknowledged implies read implies
// delivered.
const (
	ReceiptDelivered    = "delivered"
	ReceiptRead         = "read"
	ReceiptAcknowledged = "acknowledged"
)

// Frame types for alarms and reminders (server to client).
const (
	FrameReminder = "reminder" // ConvID, Seq: an ack-required message still waits for you
	FrameAlarm    = "alarm"    // Alarm: an alarm you can see changed
)

// ReceiptRequest is the body of
// POST /conversations/{id}/envelopes/{seq}/receipt.
type ReceiptRequest struct {
	State string `json:"state"` // delivered, read, acknowledged
}

// Receipts answers GET /conversations/{id}/envelopes/{seq}/receipts.
// The counts cover every recipient; Members is one page.
type Receipts struct {
	ConvID       string          `json:"conv_id"`
	Seq          int64           `json:"seq"`
	Priority     string          `json:"priority,omitempty"`
	Recipients   int             `json:"recipients"`
	Delivered    int             `json:"delivered"`
	Read         int             `json:"read"`
	Acknowledged int             `json:"acknowledged"`
	ClosedAt     *time.Time      `json:"closed_at,omitempty"`
	Members      []MemberReceipt `json:"members"`
}

type MemberReceipt struct {
	UserID         string     `json:"user_id"`
	Email          string     `json:"email"`
	DisplayName    string     `json:"display_name"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
	ReadAt         *time.Time `json:"read_at,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
}

// Alarm states.
const (
	AlarmRaised       = "raised"
	AlarmAcknowledged = "acknowledged"
	AlarmEscalated    = "escalated"
	AlarmEnded        = "ended"
	AlarmFalse        = "false_alarm"
)

// Alarm responses.
const (
	ResponseComing = "coming"
	ResponseCannot = "cannot"
)

// Alarm policy defaults and bounds.
const (
	AlarmMinComingDefault     = 2
	AlarmWindowDefaultSeconds = 60
	AlarmWindowMinSeconds     = 10
	AlarmWindowMaxSeconds     = 3600
	AlarmUpdateDefaultSeconds = 5
)

// AlarmPolicy is a unit's alarm policy (PUT /units/{id}/alarm-policy,
// GET /alarms/policy).
type AlarmPolicy struct {
	UnitID           string `json:"unit_id"`
	AlarmConvID      string `json:"alarm_conv_id"`
	DispatchConvID   string `json:"dispatch_conv_id"`
	EscalationConvID string `json:"escalation_conv_id,omitempty"`
	MinComing        int    `json:"min_coming"`
	WindowSeconds    int    `json:"window_seconds"`
	UpdateSeconds    int    `json:"update_seconds"` // live position interval
}

// Unit is one organisational unit (GET /units).
type Unit struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ParentID string `json:"parent_id,omitempty"`
}

// AlarmEnvelope is an MLS ciphertext for one conversation, made by the
// raising device.
type AlarmEnvelope struct {
	ConvID   string `json:"conv_id"`
	ClientID string `json:"client_id"`
	Epoch    int64  `json:"epoch"`
	Payload  []byte `json:"payload"`
}

// RaiseAlarmRequest is the body of POST /alarms. Envelopes are posted at
// once; Escalation is held by the server and posted only on escalation.
type RaiseAlarmRequest struct {
	ClientID   string          `json:"client_id"`
	Envelopes  []AlarmEnvelope `json:"envelopes"`
	Escalation *AlarmEnvelope  `json:"escalation,omitempty"`
}

// AlarmEnvelopeRef names an envelope the alarm posted.
type AlarmEnvelopeRef struct {
	ConvID string `json:"conv_id"`
	Seq    int64  `json:"seq"`
}

type Alarm struct {
	ID               string             `json:"id"`
	ClientID         string             `json:"client_id"`
	RaisedBy         string             `json:"raised_by"` // user id
	RaisedByEmail    string             `json:"raised_by_email"`
	RaisedByName     string             `json:"raised_by_name"`
	RaisedDevice     string             `json:"raised_device"`
	UnitID           string             `json:"unit_id"`
	State            string             `json:"state"`
	ConvIDs          []string           `json:"conv_ids"`
	EscalationConvID string             `json:"escalation_conv_id,omitempty"`
	MinComing        int                `json:"min_coming"`
	WindowSeconds    int                `json:"window_seconds"`
	RaisedAt         time.Time          `json:"raised_at"`
	Deadline         time.Time          `json:"deadline"`
	EscalatedAt      *time.Time         `json:"escalated_at,omitempty"`
	EndedAt          *time.Time         `json:"ended_at,omitempty"`
	EndedBy          string             `json:"ended_by,omitempty"`
	Responses        []AlarmResponse    `json:"responses"`
	Timeline         []AlarmEvent       `json:"timeline"`
	Envelopes        []AlarmEnvelopeRef `json:"envelopes"`
	Duplicate        bool               `json:"duplicate,omitempty"`
	// Partial marks the bounded copy a frame carries when older timeline
	// events or responses were left out (GET /alarms/{id} has them all).
	Partial bool `json:"partial,omitempty"`
}

type AlarmResponse struct {
	UserID      string    `json:"user_id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Response    string    `json:"response"` // coming, cannot
	ETASeconds  int       `json:"eta_s,omitempty"`
	At          time.Time `json:"at"`
}

// AlarmEvent is one line of an alarm's timeline. Event is one of raised,
// response, acknowledged, escalated, escalation_replaced, ended,
// false_alarm; By is a user id, or "" for the server.
type AlarmEvent struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	By     string    `json:"by,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

type AlarmResponseRequest struct {
	Response   string `json:"response"` // coming, cannot
	ETASeconds int    `json:"eta_s,omitempty"`
}

type EndAlarmRequest struct {
	FalseAlarm bool `json:"false_alarm,omitempty"`
}

type Alarms struct {
	Alarms []Alarm `json:"alarms"`
}
