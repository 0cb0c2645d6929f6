package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/push"
)

var errNoPush = wache.Errorf(wache.EUNAVAILABLE, "push notifications are not configured on this server")

// readPushBody reads a small, bounded request body for the push endpoints.
func readPushBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, push.MaxSubscriptionBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, wache.Errorf(wache.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
		}
		return nil, wache.Errorf(wache.EINVALID, "cannot read request body")
	}
	return b, nil
}

// handleVAPIDKey: GET /api/v1/push/vapid-key — the applicationServerKey.
func (s *Server) handleVAPIDKey() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Push == nil {
			writeError(w, r, errNoPush)
			return
		}
		writeJSON(w, http.StatusOK, api.VAPIDKey{PublicKey: s.Push.PublicKey()})
	}
}

// handlePushSubscribe: POST /api/v1/push/subscriptions — registers (or
// refreshes) a subscription of the calling device.
func (s *Server) handlePushSubscribe() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Push == nil {
			writeError(w, r, errNoPush)
			return
		}
		_, d := caller(r)
		body, err := readPushBody(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		sub, err := push.ParseSubscription(body, s.Push.Dev())
		if err != nil {
			writeError(w, r, err)
			return
		}
		n, err := s.Push.Subscribe(r.Context(), d.ID, sub)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, api.PushSubscriptions{Count: n})
	}
}

// handlePushUnsubscribe: DELETE /api/v1/push/subscriptions — removes one of
// the calling device's subscriptions (ENOTFOUND for anybody else's).
func (s *Server) handlePushUnsubscribe() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Push == nil {
			writeError(w, r, errNoPush)
			return
		}
		_, d := caller(r)
		body, err := readPushBody(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		endpoint, err := push.ParseUnsubscribe(body)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := s.Push.Unsubscribe(r.Context(), d.ID, endpoint); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
