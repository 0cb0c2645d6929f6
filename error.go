// Package wache holds Wache's domain types and the one error type shared by
// every layer. It depends on nothing else in the project, so that storage,
// transport and client code can all speak the same language.
package wache

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the server and to one exit
// path in the CLI; callers branch on the code, never on the message.
const (
	EINVALID       = "invalid"        // bad input from the caller
	EUNAUTHORIZED  = "unauthorized"   // no or unknown credentials
	EREVOKED       = "device_revoked" // the device was revoked: erase local state
	EFORBIDDEN     = "forbidden"      // authenticated, but not allowed
	ENOTFOUND      = "not_found"      // no such thing (or not visible to the caller)
	ECONFLICT      = "conflict"       // clashes with existing state
	ETOOLARGE      = "too_large"      // over a size limit
	ERATELIMIT     = "rate_limited"   // too many attempts; try later
	EEXPIRED       = "expired"        // a code or session ran out
	EUNAVAILABLE   = "unavailable"    // shutting down or a dependency is down
	EINTERNAL      = "internal"       // a bug or an unexpected failure
	EUNIMPLEMENTED = "unimplemented"
)

// Error is an application error with a machine-readable code and a message
// that is safe to show to the user. Wrapped internal errors stay out of the
// message so that nothing internal leaks to clients.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Non-application
// errors get a generic message so that internals never reach a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
