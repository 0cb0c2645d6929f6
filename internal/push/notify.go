package push

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"github.com/wache/wache"
)

// recordSize is the aes128gcm record size: every push body is exactly this
// long (86-byte header, padded plaintext, 16-byte tag), whatever its kind.
const recordSize = 256

// maxIDsPerQuery bounds the IN list of one subscription lookup.
const maxIDsPerQuery = 500

// ttl is how long a push service keeps an undelivered push (RFC 8030 §5.2):
// an alarm or a reminder an hour later is stale, a waiting message is not.
func ttl(kind string) int {
	if kind == KindMessage {
		return 24 * 3600
	}
	return 3600
}

type job struct {
	sub      Subscription
	deviceID string
	kind     string
	urgency  string
	attempt  int // tries made so far
}

// maxWait is the longest a push is held back for a retry: an alarm or a
// reminder minutes late is still worth a wake-up, one an hour late is not
// (its TTL); a push service asking for longer gets the push dropped.
func maxWait(kind string) time.Duration {
	if kind == KindMessage {
		return 10 * time.Minute
	}
	return time.Minute
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3: seconds or an
// HTTP date); 0 if absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// transient reports whether a push service's answer is worth another try
// (RFC 8030 §8.4: 429 with Retry-After; 5xx: the service is in trouble).
func transient(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// normalize validates n and applies the kinds' urgency rules.
func normalize(n Notification) (Notification, error) {
	switch n.Kind {
	case KindAlarm:
		n.Urgency = UrgencyHigh // an alarm is never less than high
		return n, nil
	case KindReminder:
		if n.Urgency == "" {
			n.Urgency = UrgencyHigh
		}
	case KindMessage:
		if n.Urgency == "" {
			n.Urgency = UrgencyNormal
		}
	default:
		return n, wache.Errorf(wache.EINVALID, "push kind must be alarm, message or reminder")
	}
	if n.Urgency != UrgencyNormal && n.Urgency != UrgencyHigh {
		return n, wache.Errorf(wache.EINVALID, "push urgency must be normal or high")
	}
	return n, nil
}

// Notify queues a push to every subscription of the given (not revoked)
// devices and returns without waiting for the push services: the caller's
// latency never depends on a slow push service. The sends run on at most
// Workers connections, each bounded by Timeout; failures are logged and
// counted, dead subscriptions (404/410) removed. Notify fails for a bad
// notification, when the subscriptions cannot be read, and (EUNAVAILABLE)
// when the queue is full and some pushes were dropped.
func (s *Service) Notify(ctx context.Context, deviceIDs []string, n Notification) error {
	n, err := normalize(n)
	if err != nil {
		return err
	}
	s.closeMu.RLock()
	closed := s.closed
	s.closeMu.RUnlock()
	if closed {
		return errClosed
	}
	ids := slices.Clone(deviceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] == "" {
		ids = ids[1:]
	}
	dropped, total := 0, 0
	for chunk := range slices.Chunk(ids, maxIDsPerQuery) {
		subs, devs, err := s.lookup(ctx, chunk)
		if err != nil {
			return err
		}
		for i, sub := range subs {
			total++
			if !s.enqueue(job{sub: sub, deviceID: devs[i], kind: n.Kind, urgency: n.Urgency}) {
				dropped++
			}
		}
	}
	if dropped > 0 {
		s.sent.WithLabelValues("dropped").Add(float64(dropped))
		s.log.WarnContext(ctx, "push queue full; pushes dropped", "kind", n.Kind, "dropped", dropped, "of", total)
		return wache.Errorf(wache.EUNAVAILABLE, "push queue full: %d of %d pushes dropped", dropped, total)
	}
	return nil
}

// lookup returns the subscriptions of the devices that are not revoked.
func (s *Service) lookup(ctx context.Context, ids []string) ([]Subscription, []string, error) {
	q := `SELECT s.endpoint, s.p256dh, s.auth, s.device_id FROM push_subscriptions s
		JOIN devices d ON d.id = s.device_id
		WHERE d.revoked_at IS NULL AND s.device_id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("push: read subscriptions: %w", err)
	}
	defer rows.Close()
	var subs []Subscription
	var devs []string
	for rows.Next() {
		var sub Subscription
		var dev string
		if err := rows.Scan(&sub.Endpoint, &sub.P256dh, &sub.Auth, &dev); err != nil {
			return nil, nil, fmt.Errorf("push: read subscriptions: %w", err)
		}
		subs, devs = append(subs, sub), append(devs, dev)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("push: read subscriptions: %w", err)
	}
	return subs, devs, nil
}

func (s *Service) enqueue(j job) bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	s.pendMu.Lock()
	s.pending++
	s.pendMu.Unlock()
	select {
	case s.jobs <- j:
		return true
	default:
		s.done()
		return false
	}
}

func (s *Service) done() {
	s.pendMu.Lock()
	s.pending--
	if s.pending == 0 {
		for _, c := range s.idle {
			close(c)
		}
		s.idle = nil
	}
	s.pendMu.Unlock()
}

// Flush waits until every queued push has been answered or has failed (for
// tests and an orderly shutdown).
func (s *Service) Flush(ctx context.Context) error {
	s.pendMu.Lock()
	if s.pending == 0 {
		s.pendMu.Unlock()
		return nil
	}
	c := make(chan struct{})
	s.idle = append(s.idle, c)
	s.pendMu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("push flush: %w", ctx.Err())
	}
}

func (s *Service) worker() {
	defer s.workers.Done()
	for j := range s.jobs {
		s.send(j)
		s.done()
	}
}

// send delivers one push. Nothing of the endpoint's path or keys reaches
// the log: the endpoint is a capability URL.
func (s *Service) send(j job) {
	ctx, cancel := context.WithTimeout(s.base, s.opts.Timeout)
	defer cancel()
	host := endpointHost(j.sub.Endpoint)
	resp, err := webpush.SendNotificationWithContext(ctx, payload(j.kind),
		&webpush.Subscription{Endpoint: j.sub.Endpoint, Keys: webpush.Keys{P256dh: j.sub.P256dh, Auth: j.sub.Auth}},
		&webpush.Options{
			HTTPClient:      s.client,
			RecordSize:      recordSize,
			Subscriber:      s.subject,
			Topic:           j.kind, // a newer push of the same kind replaces a waiting one
			TTL:             ttl(j.kind),
			Urgency:         webpush.Urgency(j.urgency),
			VAPIDPublicKey:  s.pub,
			VAPIDPrivateKey: s.priv,
		})
	if err != nil {
		if s.retry(j, 0) {
			return
		}
		s.sent.WithLabelValues("failed").Inc()
		s.log.Warn("push failed", "device", j.deviceID, "host", host, "kind", j.kind, "attempts", j.attempt+1, "err", safeErr(err))
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case transient(resp.StatusCode) && s.retry(j, retryAfter(resp.Header, s.opts.Now())):
		s.log.Info("push deferred", "device", j.deviceID, "host", host, "kind", j.kind, "status", resp.StatusCode, "attempt", j.attempt+1)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		s.sent.WithLabelValues("ok").Inc()
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		// RFC 8030 §7.3: the subscription expired or was unsubscribed.
		s.sent.WithLabelValues("gone").Inc()
		if _, err := s.db.Exec(ctx, `DELETE FROM push_subscriptions WHERE endpoint = ? AND device_id = ?`,
			j.sub.Endpoint, j.deviceID); err != nil {
			s.log.Warn("delete expired push subscription", "device", j.deviceID, "host", host, "err", err)
			return
		}
		s.log.Info("push subscription expired; removed", "device", j.deviceID, "host", host, "status", resp.StatusCode)
	default:
		s.sent.WithLabelValues("failed").Inc()
		s.log.Warn("push rejected", "device", j.deviceID, "host", host, "kind", j.kind, "status", resp.StatusCode, "attempts", j.attempt+1)
	}
}

// retry queues j again after the backoff (RetryBase doubled per try) or
// the push service's wait if that is longer; false when j has had its
// tries, the wait is too long for its kind, or the service is closing. The
// push stays pending (Flush waits for it) until its last try.
func (s *Service) retry(j job, wait time.Duration) bool {
	if j.attempt+1 >= s.opts.Attempts {
		return false
	}
	d := max(s.opts.RetryBase<<j.attempt, wait)
	if d > maxWait(j.kind) {
		return false
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	s.sent.WithLabelValues("retried").Inc()
	j.attempt++
	s.pendMu.Lock()
	s.pending++
	s.pendMu.Unlock()
	time.AfterFunc(d, func() {
		if !s.enqueue(j) {
			s.sent.WithLabelValues("dropped").Inc()
		}
		s.done() // the pending count taken by retry; enqueue took its own
	})
	return true
}

// payload is the whole plaintext of a push.
func payload(kind string) []byte { return []byte(`{"k":"` + kind + `"}`) }

func endpointHost(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host
	}
	return "?"
}

// safeErr drops the URL that *url.Error puts into its message.
func safeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

var errNotPublic = errors.New("push endpoint resolves to a non-public address")

// newClient is the default push client: bounded times, no redirects (a
// push service never redirects; following one would let an endpoint steer
// the server elsewhere) and, unless dev, refusal to connect to non-public
// addresses at dial time, after DNS resolution. A proxy from the
// environment (HTTPS_PROXY) is still reachable.
func newClient(dev bool, timeout time.Duration) *http.Client {
	plain := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dial := plain.DialContext
	if !dev {
		guarded := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || !publicAddr(ap.Addr()) {
					return errNotPublic
				}
				return nil
			}}
		proxy := proxyAddr()
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if proxy != "" && addr == proxy {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// proxyAddr is the host:port of the environment's HTTPS proxy, if any.
func proxyAddr() string {
	u, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: "push.example"}})
	if err != nil || u == nil {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
