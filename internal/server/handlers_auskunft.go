package server

import (
	"io"
	"net/http"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/auskunft"
)

// MaxImportBytes bounds one import upload.
const MaxImportBytes = 64 << 30

func auditCaller(r *http.Request) audit.Caller {
	u, d := caller(r)
	return audit.Caller{UserID: u.ID, DeviceID: d.ID, OrgID: u.OrgID, Roles: u.Roles}
}

func (s *Server) handleAuskunftQuery() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q auskunft.Query
		if err := decode(w, r, &q); err != nil {
			writeError(w, r, err)
			return
		}
		res, err := s.Auskunft.Query(r.Context(), auditCaller(r), q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// deadlineReader extends the connection's read deadline while data keeps
// coming, so a long import is not cut by the server's ReadTimeout but a
// stalled one still ends.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (d deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(60 * time.Second))
	return d.r.Read(p)
}

// handleAuskunftImport streams a JSON Lines body into the Auskunft store.
func (s *Server) handleAuskunftImport() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := http.MaxBytesReader(w, r.Body, MaxImportBytes)
		src := r.URL.Query().Get("source")
		if len(src) > 200 {
			src = src[:200]
		}
		stats, err := s.Auskunft.Import(r.Context(), auditCaller(r),
			deadlineReader{r: body, rc: http.NewResponseController(w)}, auskunft.ImportOptions{Source: src})
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, stats)
	}
}

func (s *Server) handleAuditVerify() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.Audit.Verify(r.Context(), auditCaller(r))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}
}

// timeRange reads from/to (YYYY-MM-DD or RFC 3339; default: everything).
func timeRange(r *http.Request) (from, to time.Time, err error) {
	parse := func(name string, def time.Time, endOfDay bool) (time.Time, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return def, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		t, err := time.ParseInLocation("2006-01-02", v, time.Local)
		if err != nil {
			return time.Time{}, wache.Errorf(wache.EINVALID, "%s must be YYYY-MM-DD or RFC 3339", name)
		}
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if from, err = parse("from", time.Unix(0, 0), false); err != nil {
		return
	}
	to, err = parse("to", time.Now().Add(24*time.Hour), true)
	if err == nil && to.Before(from) {
		err = wache.Errorf(wache.EINVALID, "to is before from")
	}
	return
}

// handleAuditExport streams entries as JSON Lines with their hashes, so
// that the data-protection officer can verify an export offline.
func (s *Server) handleAuditExport() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from, to, err := timeRange(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		// Check the role before the first byte: errors after it cannot
		// change the status any more.
		if !auditCaller(r).Has(wache.RoleAuditor) {
			writeError(w, r, wache.Errorf(wache.EFORBIDDEN, "only auditors read the audit log"))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", `attachment; filename="wache-audit.jsonl"`)
		if _, err := s.Audit.Export(r.Context(), auditCaller(r), from, to, w); err != nil {
			s.Log.Warn("audit export ended early", "err", err)
		}
	}
}

func (s *Server) handleAuditFlags() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from, to, err := timeRange(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		flags, err := s.Auskunft.Flags(r.Context(), auditCaller(r), from, to, 0)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"flags": flags})
	}
}
