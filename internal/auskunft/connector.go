package auskunft

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/wache/wache"
)

// HTTPSource is a connector to an external system that speaks JSON over
// HTTP: it POSTs the query (kind, text or name fields, mode, purpose,
// limit) to URL and expects a Records object back (the same field names as
// the import format, plus relation and score). The external system keeps
// its own log of the purpose.
type HTTPSource struct {
	name     string
	url      string
	token    string
	client   *http.Client
	maxBytes int64
	now      func() time.Time
}

// HTTPOptions configure an HTTPSource.
type HTTPOptions struct {
	Token    string       // sent as "Authorization: Bearer …" when set
	Client   *http.Client // default: a client with a 10 s timeout
	MaxBytes int64        // largest response accepted, default 4 MiB
}

// NewHTTPSource returns a connector named name (shown in results and in
// missing_sources) for the endpoint rawURL (http or https).
func NewHTTPSource(name, rawURL string, opts HTTPOptions) (*HTTPSource, error) {
	if err := checkID("source name", name, true); err != nil {
		return nil, err
	}
	if name == "local" {
		return nil, invalid("source name local is reserved")
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("source %s: URL must be http(s)://host/…", name)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 4 << 20
	}
	return &HTTPSource{name: name, url: u.String(), token: opts.Token, client: opts.Client, maxBytes: opts.MaxBytes, now: time.Now}, nil
}

// Name implements Source.
func (h *HTTPSource) Name() string { return h.name }

// Search implements Source. Records that fail validation are dropped, so
// that a faulty remote cannot put malformed data in front of an officer.
func (h *HTTPSource) Search(ctx context.Context, q Query) (*Records, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", h.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", h.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("source %s: HTTP %d", h.name, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", h.name, err)
	}
	if int64(len(data)) > h.maxBytes {
		return nil, fmt.Errorf("source %s: response over %d bytes", h.name, h.maxBytes)
	}
	var r Records
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("source %s: bad response: %w", h.name, err)
	}
	return sanitize(&r, h.now().Format("2006-01-02")), nil
}

// sanitize keeps the valid records of a remote answer, within bounds.
func sanitize(r *Records, today string) *Records {
	const maxEach = 200
	out := &Records{Truncated: r.Truncated}
	okRel := func(rel string) bool {
		return rel == RelMatch || rel == RelCandidate || rel == RelHolder || rel == RelHeld
	}
	for _, p := range r.Persons {
		if len(out.Persons) < maxEach && p.Validate(today) == nil && okRel(p.Relation) && p.Score >= 0 && p.Score <= 1 {
			out.Persons = append(out.Persons, p)
		}
	}
	for _, v := range r.Vehicles {
		if len(out.Vehicles) < maxEach && v.Validate() == nil && okRel(v.Relation) {
			out.Vehicles = append(out.Vehicles, v)
		}
	}
	for _, d := range r.Documents {
		if len(out.Documents) < maxEach && d.Validate() == nil && okRel(d.Relation) {
			out.Documents = append(out.Documents, d)
		}
	}
	for _, a := range r.Alerts {
		if len(out.Alerts) < maxEach && a.Validate() == nil {
			out.Alerts = append(out.Alerts, a)
		}
	}
	return out
}

// fanOut asks every source in parallel. External sources get timeout; the
// local source is bounded by ctx only. Sources that fail or run out of
// time are returned as missing.
func fanOut(ctx context.Context, srcs []Source, q Query, timeout time.Duration) (got []sourced, missing []string, err error) {
	type answer struct {
		i    int
		recs *Records
		err  error
	}
	ch := make(chan answer, len(srcs))
	for i, s := range srcs {
		go func() {
			sctx := ctx
			if s.Name() != "local" && timeout > 0 {
				var cancel context.CancelFunc
				sctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			recs, err := s.Search(sctx, q)
			ch <- answer{i, recs, err}
		}()
	}
	answers := make([]answer, len(srcs))
	for range srcs {
		a := <-ch
		answers[a.i] = a
	}
	var firstErr error
	for i, a := range answers {
		if a.err != nil || a.recs == nil {
			missing = append(missing, srcs[i].Name())
			if firstErr == nil {
				firstErr = a.err
			}
			continue
		}
		got = append(got, sourced{name: srcs[i].Name(), recs: a.recs})
	}
	if len(got) == 0 {
		if ctx.Err() != nil {
			return nil, missing, fmt.Errorf("query: %w", ctx.Err())
		}
		return nil, missing, &wache.Error{Code: wache.EUNAVAILABLE, Message: "no data source answered", Err: firstErr}
	}
	return got, missing, nil
}
