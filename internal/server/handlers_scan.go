package server

import (
	"net/http"

	"github.com/wache/wache/internal/scan"
)

// The scan endpoints read a photo in memory (never stored) for clients that
// cannot run the recogniser themselves; the CLI and the browser app read
// photos on the device instead.

func (s *Server) handleScanMRZ() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := http.MaxBytesReader(w, r.Body, scan.DefaultMaxBytes+1)
		res, err := scan.ReadMRZ(r.Context(), body, scan.Limits{})
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) handleScanPlate() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := http.MaxBytesReader(w, r.Body, scan.DefaultMaxBytes+1)
		res, err := scan.ReadPlate(r.Context(), body, scan.Limits{})
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}
