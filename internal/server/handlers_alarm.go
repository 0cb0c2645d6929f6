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

// pathSeq reads the {seq} path value.
func pathSeq(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || n <= 0 {
		return 0, wache.Errorf(wache.EINVALID, "sequence number must be a positive integer")
	}
	return n, nil
}

func (s *Server) handlePostReceipt() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		seq, err := pathSeq(r)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		var req api.ReceiptRequest
		if err := decode(w, r, &req); err != nil {
			alarmError(w, r, err)
			return
		}
		if err := s.Alarms.Receipt(r.Context(), u, r.PathValue("id"), seq, req.State); err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"state": req.State})
	}
}

func (s *Server) handleReceipts() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		seq, err := pathSeq(r)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		limit, err := queryInt(r, "limit", 0)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		q := r.URL.Query()
		pending := false
		switch q.Get("pending") {
		case "", "0", "false":
		case "1", "true":
			pending = true
		default:
			writeError(w, r, wache.Errorf(wache.EINVALID, "pending must be 0 or 1"))
			return
		}
		if limit > 1<<20 {
			limit = 1 << 20 // the service refuses it with a clear message
		}
		out, err := s.Alarms.Receipts(r.Context(), u, r.PathValue("id"), seq, pending, int(limit), q.Get("after"))
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleCloseAckRequest() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		seq, err := pathSeq(r)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		if err := s.Alarms.CloseRequest(r.Context(), u, r.PathValue("id"), seq); err != nil {
			alarmError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleUnits() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		out, err := s.Alarms.Units(r.Context(), u)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handlePutAlarmPolicy() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		var req api.AlarmPolicy
		if err := decode(w, r, &req); err != nil {
			alarmError(w, r, err)
			return
		}
		out, err := s.Alarms.SetPolicy(r.Context(), u, r.PathValue("id"), req)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleAlarmPolicy() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		out, err := s.Alarms.Policy(r.Context(), u)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleRaiseAlarm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, d := caller(r)
		// Up to four envelopes and the held one: 5 × 64 KiB as base64.
		r.Body = http.MaxBytesReader(w, r.Body, 512<<10)
		var req api.RaiseAlarmRequest
		if err := decodeLarge(w, r, &req); err != nil {
			alarmError(w, r, err)
			return
		}
		a, err := s.Alarms.Raise(r.Context(), u, d, req)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		status := http.StatusCreated
		if a.Duplicate {
			status = http.StatusOK
		}
		writeJSON(w, status, a)
	}
}

func (s *Server) handleAlarms() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		limit, err := queryInt(r, "limit", 0)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		if limit > 1<<20 {
			limit = 1 << 20
		}
		out, err := s.Alarms.List(r.Context(), u, r.URL.Query().Get("state"), int(limit))
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleAlarm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, _ := caller(r)
		a, err := s.Alarms.Get(r.Context(), u, r.PathValue("id"))
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}

func (s *Server) handleAlarmResponse() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, d := caller(r)
		var req api.AlarmResponseRequest
		if err := decode(w, r, &req); err != nil {
			alarmError(w, r, err)
			return
		}
		a, err := s.Alarms.Respond(r.Context(), u, d, r.PathValue("id"), req)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}

func (s *Server) handleEndAlarm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, d := caller(r)
		var req api.EndAlarmRequest
		if err := decode(w, r, &req); err != nil {
			alarmError(w, r, err)
			return
		}
		a, err := s.Alarms.End(r.Context(), u, d, r.PathValue("id"), req)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}

func (s *Server) handleReplaceEscalation() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alarmsOff(w, r) {
			return
		}
		u, d := caller(r)
		var req api.AlarmEnvelope
		if err := decode(w, r, &req); err != nil {
			alarmError(w, r, err)
			return
		}
		a, err := s.Alarms.ReplaceEscalation(r.Context(), u, d, r.PathValue("id"), req)
		if err != nil {
			alarmError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}
