package server

import (
	"net/http"
	"strconv"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// Receipts, acknowledgement requests and alarms (internal/alarm). The
// service checks membership and roles on every call.

func (s *Server) alarmsOff(w http.ResponseWriter, r *http.Request) bool {
	if s.Alarms == nil {
		writeError(w, r, wache.Errorf(wache.EUNIMPLEMENTED, "alarms are not enabled on this server"))
		return true
	}
	return false
}

// alarmError writes err; a failure because the caller went away (a
// cancelled request) is EUNAVAILABLE, not an internal error: the client
// retries with the same ids.
func alarmError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && wache.ErrorCode(err) == wache.EINTERNAL {
		err = &wache.Error{Code: wache.EUNAVAILABLE, Message: "the request ended before it completed; retry", Err: err}
	}
	writeError(w, r, err)
}

// alarmCall is the part of an alarm handler that differs between routes:
// it reads the request, calls the service and returns the status and body
// of a success (http.StatusNoContent writes no body).
type alarmCall func(w http.ResponseWriter, r *http.Request, u *wache.User, d *wache.Device) (int, any, error)

// alarmHandler wraps call in the steps every alarm route shares: refuse
// when alarms are off, find the caller, write an error through alarmError
// or the result as JSON.
func (s *Server) alarmHandler(call alarmCall) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, d := caller(r)
		status, out, err := call(w, r, u, d)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeResult(w, status, out)
	}
}

// alarmJSON is alarmHandler for a route that takes a JSON body of type Req
// (bounded by decode) and answers 200 with what call returns.
func alarmJSON[Req any](s *Server, call func(r *http.Request, u *wache.User, d *wache.Device, req Req) (any, error)) http.HandlerFunc {
	return s.alarmHandler(func(w http.ResponseWriter, r *http.Request, u *wache.User, d *wache.Device) (int, any, error) {
		var req Req
		if err := decode(w, r, &req); err != nil {
			return 0, nil, err
		}
		out, err := call(r, u, d, req)
		return http.StatusOK, out, err
	})
}

// writeResult writes a success: out as JSON, or no body for
// http.StatusNoContent.
func writeResult(w http.ResponseWriter, status int, out any) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, out)
}

// pathSeq reads the {seq} path value.
func pathSeq(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || n <= 0 {
		return 0, wache.Errorf(wache.EINVALID, "sequence number must be a positive integer")
	}
	return n, nil
}

// queryLimit reads the optional "limit" query value; one beyond 1<<20 is
// passed on as 1<<20 for the service to refuse with a clear message.
func queryLimit(r *http.Request) (int, error) {
	limit, err := queryInt(r, "limit", 0)
	if err != nil {
		return 0, err
	}
	return int(min(limit, 1<<20)), nil
}

func (s *Server) handlePostReceipt() http.HandlerFunc {
	return s.alarmHandler(func(w http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		seq, err := pathSeq(r)
		if err != nil {
			return 0, nil, err
		}
		var req api.ReceiptRequest
		if err := decode(w, r, &req); err != nil {
			return 0, nil, err
		}
		if err := s.Alarms.Receipt(r.Context(), u, r.PathValue("id"), seq, req.State); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]string{"state": req.State}, nil
	})
}

func (s *Server) handleReceipts() http.HandlerFunc {
	return s.alarmHandler(func(_ http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		seq, err := pathSeq(r)
		if err != nil {
			return 0, nil, err
		}
		limit, err := queryLimit(r)
		if err != nil {
			return 0, nil, err
		}
		q := r.URL.Query()
		pending := false
		switch q.Get("pending") {
		case "", "0", "false":
		case "1", "true":
			pending = true
		default:
			return 0, nil, wache.Errorf(wache.EINVALID, "pending must be 0 or 1")
		}
		out, err := s.Alarms.Receipts(r.Context(), u, r.PathValue("id"), seq, pending, limit, q.Get("after"))
		return http.StatusOK, out, err
	})
}

func (s *Server) handleCloseAckRequest() http.HandlerFunc {
	return s.alarmHandler(func(_ http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		seq, err := pathSeq(r)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.Alarms.CloseRequest(r.Context(), u, r.PathValue("id"), seq)
	})
}

func (s *Server) handleUnits() http.HandlerFunc {
	return s.alarmHandler(func(_ http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		out, err := s.Alarms.Units(r.Context(), u)
		return http.StatusOK, out, err
	})
}

func (s *Server) handlePutAlarmPolicy() http.HandlerFunc {
	return alarmJSON(s, func(r *http.Request, u *wache.User, _ *wache.Device, req api.AlarmPolicy) (any, error) {
		return s.Alarms.SetPolicy(r.Context(), u, r.PathValue("id"), req)
	})
}

func (s *Server) handleAlarmPolicy() http.HandlerFunc {
	return s.alarmHandler(func(_ http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		out, err := s.Alarms.Policy(r.Context(), u)
		return http.StatusOK, out, err
	})
}

func (s *Server) handleRaiseAlarm() http.HandlerFunc {
	return s.alarmHandler(func(w http.ResponseWriter, r *http.Request, u *wache.User, d *wache.Device) (int, any, error) {
		// Up to four envelopes and the held one: 5 × 64 KiB as base64.
		r.Body = http.MaxBytesReader(w, r.Body, 512<<10)
		var req api.RaiseAlarmRequest
		if err := decodeLarge(w, r, &req); err != nil {
			return 0, nil, err
		}
		a, err := s.Alarms.Raise(r.Context(), u, d, req)
		if err != nil {
			return 0, nil, err
		}
		if a.Duplicate {
			return http.StatusOK, a, nil
		}
		return http.StatusCreated, a, nil
	})
}

func (s *Server) handleAlarms() http.HandlerFunc {
	return s.alarmHandler(func(_ http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		limit, err := queryLimit(r)
		if err != nil {
			return 0, nil, err
		}
		out, err := s.Alarms.List(r.Context(), u, r.URL.Query().Get("state"), limit)
		return http.StatusOK, out, err
	})
}

func (s *Server) handleAlarm() http.HandlerFunc {
	return s.alarmHandler(func(_ http.ResponseWriter, r *http.Request, u *wache.User, _ *wache.Device) (int, any, error) {
		a, err := s.Alarms.Get(r.Context(), u, r.PathValue("id"))
		return http.StatusOK, a, err
	})
}

func (s *Server) handleAlarmResponse() http.HandlerFunc {
	return alarmJSON(s, func(r *http.Request, u *wache.User, d *wache.Device, req api.AlarmResponseRequest) (any, error) {
		return s.Alarms.Respond(r.Context(), u, d, r.PathValue("id"), req)
	})
}

func (s *Server) handleEndAlarm() http.HandlerFunc {
	return alarmJSON(s, func(r *http.Request, u *wache.User, d *wache.Device, req api.EndAlarmRequest) (any, error) {
		return s.Alarms.End(r.Context(), u, d, r.PathValue("id"), req)
	})
}

func (s *Server) handleReplaceEscalation() http.HandlerFunc {
	return alarmJSON(s, func(r *http.Request, u *wache.User, d *wache.Device, req api.AlarmEnvelope) (any, error) {
		return s.Alarms.ReplaceEscalation(r.Context(), u, d, r.PathValue("id"), req)
	})
}
