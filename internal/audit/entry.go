package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wache/wache"
)

// Caller is the authenticated identity on whose behalf a service acts. The
// server fills it from the request's token; services check roles on it.
type Caller struct {
	UserID   string
	DeviceID string
	OrgID    string
	Roles    []wache.Role
}

// Has reports whether the caller holds role r.
func (c Caller) Has(r wache.Role) bool { return slices.Contains(c.Roles, r) }

// Well-known actions. The log is generic: other services add their own
// (dotted, lower-case) action names.
const (
	ActionRetention = "audit.retention" // old entries were deleted (§ 76 BDSG)
	ActionExport    = "audit.export"    // an auditor exported entries
	ActionVerify    = "audit.verify"    // an auditor verified the chain
)

// Size limits of one entry; an event over a limit is refused, never cut.
const (
	MaxActionLen   = 64
	MaxIDLen       = 128 // actor, device, org
	MaxPurposeLen  = 1000
	MaxCriteriaLen = 8 << 10
	MaxResultLen   = 64
)

// Event is what a service records: who did what, why, with which criteria
// (a JSON object, never result data), and the class of the result.
type Event struct {
	Action   string // e.g. "auskunft.query"
	Actor    string // user id
	Device   string // device id
	Org      string // org id
	Purpose  string // the stated reason
	Criteria any    // JSON object: nil, a map, a struct or a json.RawMessage
	Result   string // result class, e.g. "hit", "no_hit", "denied"
}

// Entry is one stored, chained log entry.
type Entry struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Action   string          `json:"action"`
	Actor    string          `json:"actor"`
	Device   string          `json:"device"`
	Org      string          `json:"org"`
	Purpose  string          `json:"purpose"`
	Criteria json.RawMessage `json:"criteria"`
	Result   string          `json:"result"`
	PrevHash string          `json:"prev_hash"` // hex SHA-256 of the previous entry ("0"×64 for the first)
	Hash     string          `json:"hash"`      // hex SHA-256 of this entry
}

// ZeroHash is the prev_hash of the very first entry of a chain.
var ZeroHash = strings.Repeat("0", 64)

const hashDomain = "wache-audit-v1\x00"

// ComputeHash returns the hex SHA-256 of prev_hash || canonical encoding of
// e. The encoding is length-prefixed binary so that no two different
// entries share one: fields cannot bleed into each other.
func (e *Entry) ComputeHash() (string, error) {
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("entry %d: bad prev_hash", e.Seq)
	}
	h := sha256.New()
	h.Write([]byte(hashDomain))
	h.Write(prev)
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], uint64(e.Seq))
	h.Write(num[:])
	binary.BigEndian.PutUint64(num[:], uint64(e.At.UnixMicro()))
	h.Write(num[:])
	for _, f := range []string{e.Action, e.Actor, e.Device, e.Org, e.Purpose, string(e.Criteria), e.Result} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalCriteria encodes criteria as a compact JSON object with sorted
// keys and no HTML escaping, so that the stored text is what was hashed and
// an export reproduces it byte for byte.
func canonicalCriteria(c any) (json.RawMessage, error) {
	if c == nil {
		return json.RawMessage("{}"), nil
	}
	var raw []byte
	switch v := c.(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(c); err != nil {
			return nil, wache.Errorf(wache.EINVALID, "audit criteria: %v", err)
		}
	}
	if len(raw) > MaxCriteriaLen*2 {
		return nil, wache.Errorf(wache.ETOOLARGE, "audit criteria over %d bytes", MaxCriteriaLen)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, wache.Errorf(wache.EINVALID, "audit criteria must be a JSON object")
	}
	if dec.More() {
		return nil, wache.Errorf(wache.EINVALID, "audit criteria must be one JSON object")
	}
	out, err := encodeCanonical(obj)
	if err != nil {
		return nil, wache.Errorf(wache.EINVALID, "audit criteria: %v", err)
	}
	if len(out) > MaxCriteriaLen {
		return nil, wache.Errorf(wache.ETOOLARGE, "audit criteria over %d bytes", MaxCriteriaLen)
	}
	return out, nil
}

func encodeCanonical(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// validate checks an event's fields and returns its canonical criteria.
func (ev *Event) validate() (json.RawMessage, error) {
	if ev.Action == "" || len(ev.Action) > MaxActionLen {
		return nil, wache.Errorf(wache.EINVALID, "audit action must have 1..%d characters", MaxActionLen)
	}
	for _, r := range ev.Action {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
			return nil, wache.Errorf(wache.EINVALID, "audit action %q: only a-z, 0-9, '.', '_'", ev.Action)
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"actor", ev.Actor, MaxIDLen}, {"device", ev.Device, MaxIDLen}, {"org", ev.Org, MaxIDLen},
		{"purpose", ev.Purpose, MaxPurposeLen * 4}, {"result", ev.Result, MaxResultLen},
	} {
		if len(f.v) > f.max || !utf8.ValidString(f.v) {
			return nil, wache.Errorf(wache.EINVALID, "audit %s too long or not UTF-8", f.name)
		}
	}
	if utf8.RuneCountInString(ev.Purpose) > MaxPurposeLen {
		return nil, wache.Errorf(wache.EINVALID, "audit purpose over %d characters", MaxPurposeLen)
	}
	if ev.Actor == "" {
		return nil, wache.Errorf(wache.EINVALID, "audit actor is required")
	}
	return canonicalCriteria(ev.Criteria)
}
