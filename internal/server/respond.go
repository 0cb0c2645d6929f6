package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// maxJSONBody bounds every JSON request body; an envelope with a 64 KiB
// payload is ~88 KiB as base64.
const maxJSONBody = 128 << 10

var errNotFound = wache.Errorf(wache.ENOTFOUND, "no such endpoint")

// statusOf maps an error code to its HTTP status.
func statusOf(code string) int { return api.HTTPStatus(code) }

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := wache.ErrorCode(err)
	status := statusOf(code)
	if status >= 500 {
		slog.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "err", err)
	}
	var body ErrorBody
	body.Error.Code = code
	body.Error.Message = wache.ErrorMessage(err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "30")
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// decode reads a bounded JSON body into v, rejecting unknown fields and
// trailing data so that mistakes surface as clear errors.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	return decodeLarge(w, r, v)
}

// decodeLarge is decode for handlers that set their own body limit.
func decodeLarge(_ http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return wache.Errorf(wache.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return wache.Errorf(wache.EINVALID, "request body is empty; expected JSON")
		case errors.As(err, &se):
			return wache.Errorf(wache.EINVALID, "malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return wache.Errorf(wache.EINVALID, "field %q must be %s", te.Field, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return wache.Errorf(wache.EINVALID, "malformed JSON: unexpected end")
		default:
			return wache.Errorf(wache.EINVALID, "malformed request: %s", sanitize(err.Error()))
		}
	}
	if dec.More() {
		return wache.Errorf(wache.EINVALID, "request body has data after the JSON object")
	}
	return nil
}

// sanitize keeps decoder messages short and printable.
func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
