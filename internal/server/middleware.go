package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wache/wache"
	"golang.org/x/time/rate"
)

type ctxKey int

const (
	keyUser ctxKey = iota
	keyDevice
)

// caller returns the authenticated user and device of the request.
func caller(r *http.Request) (*wache.User, *wache.Device) {
	u, _ := r.Context().Value(keyUser).(*wache.User)
	d, _ := r.Context().Value(keyDevice).(*wache.Device)
	return u, d
}

// bearer extracts the token from the Authorization header, or for
// WebSockets from browsers (which cannot set headers) from the
// "wache.bearer.<token>" subprotocol. Never from the URL: URLs end up in logs.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	for _, p := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, v := range strings.Split(p, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(v), "wache.bearer."); ok {
				return t
			}
		}
	}
	return ""
}

// authed requires a valid, unrevoked device token.
func (s *Server) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeError(w, r, wache.Errorf(wache.EUNAUTHORIZED, "missing bearer token; log in first"))
			return
		}
		u, d, err := s.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx := context.WithValue(context.WithValue(r.Context(), keyUser, u), keyDevice, d)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limited applies the per-address rate limit of the login endpoints.
func (s *Server) limited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.limiter.allow(clientIP(r)) {
			writeError(w, r, wache.Errorf(wache.ERATELIMIT, "too many login requests from this address; wait a moment"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ipLimiter is a token bucket per client address, forgetting idle ones.
type ipLimiter struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	idle  time.Duration
	m     map[string]*ipEntry
	last  time.Time
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(perSec float64, burst int, idle time.Duration) *ipLimiter {
	return &ipLimiter{r: rate.Limit(perSec), burst: burst, idle: idle, m: map[string]*ipEntry{}}
}

func (l *ipLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.last) > l.idle {
		for k, e := range l.m {
			if now.Sub(e.seen) > l.idle {
				delete(l.m, k)
			}
		}
		l.last = now
	}
	e := l.m[ip]
	if e == nil {
		e = &ipEntry{lim: rate.NewLimiter(l.r, l.burst)}
		l.m[ip] = e
	}
	e.seen = now
	return e.lim.Allow()
}

// secureHeaders sets conservative headers on every response: the API
// serves JSON only and must never be framed, sniffed or cached.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics" || r.URL.Path == "/healthz" {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("Cache-Control", "no-store")
		}
		if s.HSTS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// underlying connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one line per request: route pattern (never the raw
// URL, which may carry search terms), status, size and duration.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.httpm.requests.WithLabelValues(route, http.StatusText(sw.status)).Inc()
		s.httpm.seconds.WithLabelValues(route).Observe(d.Seconds())
		level := slog.LevelDebug
		if sw.status >= 400 {
			level = slog.LevelInfo
		}
		s.Log.Log(r.Context(), level, "http", "route", route, "status", sw.status, "bytes", sw.bytes, "ms", d.Milliseconds())
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic", "route", r.Pattern, "panic", v, "stack", string(debug.Stack()))
				writeError(w, r, wache.Errorf(wache.EINTERNAL, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wache_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		seconds:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wache_http_request_seconds", Help: "HTTP request duration by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.seconds)
	}
	return m
}
