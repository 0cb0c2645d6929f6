package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// AuskunftQuery runs a query (see the auskunft package for q and out).
// Results are for display only: the client core never stores them.
func (c *Client) AuskunftQuery(ctx context.Context, q, out any) error {
	return c.do(ctx, "POST", "/auskunft/query", q, out)
}

// AuskunftImport streams JSON Lines to the server (admins only) and decodes
// the import statistics into out. Large imports take long: ctx bounds it.
func (c *Client) AuskunftImport(ctx context.Context, r io.Reader, size int64, source string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", c.server+api.Version+"/auskunft/import?source="+url.QueryEscape(source), r)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/x-ndjson")
	return c.stream(req, func(body io.Reader) error { return json.NewDecoder(body).Decode(out) })
}

// AuditVerify checks the audit chain (auditors only).
func (c *Client) AuditVerify(ctx context.Context, out any) error {
	return c.do(ctx, "GET", "/audit/verify", nil, out)
}

// AuditFlags lists unusual-volume flags (auditors only).
func (c *Client) AuditFlags(ctx context.Context, from, to string, out any) error {
	return c.do(ctx, "GET", "/audit/flags?from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to), nil, out)
}

// AuditExport streams audit entries as JSON Lines into w (auditors only).
func (c *Client) AuditExport(ctx context.Context, from, to string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.server+api.Version+"/audit/export?from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to), nil)
	if err != nil {
		return err
	}
	return c.stream(req, func(body io.Reader) error { _, err := io.Copy(w, body); return err })
}

// stream sends a request whose body or answer may take long (no overall
// client timeout; ctx decides) and hands a successful answer to read.
func (c *Client) stream(req *http.Request, read func(io.Reader) error) error {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := &http.Client{Transport: c.hc.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return &wache.Error{Code: wache.EUNAVAILABLE, Message: "server unreachable: " + c.server, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return responseError(resp)
	}
	if err := read(resp.Body); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}
