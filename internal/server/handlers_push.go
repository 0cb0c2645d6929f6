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

// pushBody wraps call in the steps the subscription routes share: refuse
// when push is off, read the bounded body, write an error or the result
// (http.StatusNoContent writes no body).
func (s *Server) pushBody(call func(r *http.Request, d *wache.Device, body []byte) (int, any, error)) http.HandlerFunc {
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
		status, out, err := call(r, d, body)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeResult(w, status, out)
	}
}

// handlePushSubscribe: POST /api/v1/push/subscriptions — registers (or
// refreshes) a subscription of the calling device.
func (s *Server) handlePushSubscribe() http.HandlerFunc {
	return s.pushBody(func(r *http.Request, d *wache.Device, body []byte) (int, any, error) {
		sub, err := push.ParseSubscription(body, s.Push.Dev())
		if err != nil {
			return 0, nil, err
		}
		n, err := s.Push.Subscribe(r.Context(), d.ID, sub)
		return http.StatusOK, api.PushSubscriptions{Count: n}, err
	})
}

// handlePushUnsubscribe: DELETE /api/v1/push/subscriptions — removes one of
// the calling device's subscriptions (ENOTFOUND for anybody else's).
func (s *Server) handlePushUnsubscribe() http.HandlerFunc {
	return s.pushBody(func(r *http.Request, d *wache.Device, body []byte) (int, any, error) {
		endpoint, err := push.ParseUnsubscribe(body)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.Push.Unsubscribe(r.Context(), d.ID, endpoint)
	})
}
