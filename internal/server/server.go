// Package server is Wache's HTTP API and WebSocket endpoint. It translates
// HTTP to calls of the services below it (accounts, convs, relay, …) and
// back; it holds no business rules of its own beyond authentication and
// request hygiene. All routes are in routes.go.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/alarm"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/auskunft"
	"github.com/wache/wache/internal/convs"
	"github.com/wache/wache/internal/push"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store"
)

// Server holds the services the HTTP layer exposes.
type Server struct {
	Store    store.Store
	Accounts *accounts.Service
	Convs    *convs.Service
	Relay    *relay.Relay
	Log      *slog.Logger
	Registry *prometheus.Registry // served at /metrics
	// Blobs serves encrypted attachments (tus uploads, downloads); it
	// authenticates every request itself.
	Blobs http.Handler
	// Auskunft answers police-data queries; Audit is the hash-chained log.
	Auskunft *auskunft.Service
	Audit    *audit.Log
	// Alarms serves receipts, acknowledgement requests and alarms (nil: off).
	Alarms *alarm.Service
	// Push keeps Web Push subscriptions (nil: push endpoints answer
	// EUNAVAILABLE).
	Push *push.Service

	// AuthRate and AuthBurst limit login requests per client address.
	AuthRate  float64 // per second
	AuthBurst int
	// Base ends live connections when the server shuts down.
	Base context.Context
	// HSTS adds Strict-Transport-Security (when serving TLS).
	HSTS bool

	limiter *ipLimiter
	httpm   *httpMetrics
	frames  *frameCache
	once    sync.Once
	handler http.Handler
}

// Handler returns the complete HTTP handler (built once).
func (s *Server) Handler() http.Handler {
	s.once.Do(func() { s.handler = s.build() })
	return s.handler
}

func (s *Server) build() http.Handler {
	if s.AuthRate <= 0 {
		s.AuthRate, s.AuthBurst = 0.5, 20
	}
	s.limiter = newIPLimiter(s.AuthRate, s.AuthBurst, 10*time.Minute)
	s.httpm = newHTTPMetrics(s.Registry)
	s.frames = newFrameCache(frameCacheSize)
	mux := http.NewServeMux()
	s.routes(mux)
	return s.recoverer(s.logRequests(s.secureHeaders(mux)))
}
