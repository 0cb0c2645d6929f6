package attach

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// BlobsPath is the API path of the blob endpoints (tus creation URL).
const BlobsPath = api.Version + "/blobs/"

// Progress reports transferred ciphertext bytes out of total. It is called
// from the transferring goroutine; it may go backwards when an interrupted
// upload resumes from the server's offset.
type Progress func(done, total int64)

// Client uploads and downloads attachment blobs as one device. Uploads use
// a small tus 1.0 client of its own (creation, HEAD, PATCH): the Go tus
// clients on the module proxy are unmaintained and want either the whole
// file or a seekable stream of the ciphertext, while this one re-encrypts
// from the server's offset and runs unchanged in the browser (wasm).
type Client struct {
	server string
	token  string
	hc     *http.Client

	// MaxPatch bounds the bytes of one PATCH request; 0 sends the rest of
	// the blob in one request. In the browser (GOOS=js) the default is
	// 8 MiB because fetch buffers request bodies there.
	MaxPatch int64
	// StallTimeout aborts a request that moves no byte for this long
	// (default 60 s); the transfer then resumes.
	StallTimeout time.Duration
	// MaxRetries is how many attempts in a row may fail without progress
	// before a transfer gives up (default 8).
	MaxRetries int
	// RetryMin and RetryMax bound the backoff between attempts
	// (default 250 ms and 15 s).
	RetryMin, RetryMax time.Duration
}

// New returns a client for the server at base URL with a device token. hc
// may be nil; it must not have an overall Timeout (transfers are long:
// they are bounded by StallTimeout and ctx instead).
func New(server, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, wache.Errorf(wache.EINVALID, "server must be an http(s) URL, e.g. https://wache.polizei.example")
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{server: u.String(), token: token, hc: hc, MaxPatch: defaultMaxPatch,
		StallTimeout: 60 * time.Second, MaxRetries: 8, RetryMin: 250 * time.Millisecond, RetryMax: 15 * time.Second}, nil
}

func (c *Client) blobURL(id string) string { return c.server + BlobsPath + id }

// UploadOptions describe an upload.
type UploadOptions struct {
	ConvID   string // the conversation whose members may download it
	MIME     string // copied into the Ref (never sent to the server)
	Name     string // copied into the Ref (never sent to the server)
	Progress Progress
}

// Upload encrypts size bytes of src with a fresh key and uploads the blob
// to conversation o.ConvID. An interrupted connection is resumed from the
// server's offset (HEAD, then PATCH from there). Memory use is a few
// chunks, whatever the size. The returned Ref goes into the message.
func (c *Client) Upload(ctx context.Context, src io.ReaderAt, size int64, o UploadOptions) (Ref, error) {
	if o.ConvID == "" {
		return Ref{}, wache.Errorf(wache.EINVALID, "upload needs a conversation id")
	}
	if err := (Ref{MIME: o.MIME, Name: o.Name}).validateMeta(); err != nil {
		return Ref{}, wache.Errorf(wache.EINVALID, "%s", err.Error())
	}
	enc, err := NewEncryptor(src, size)
	if err != nil {
		return Ref{}, err
	}
	id, err := c.UploadEncrypted(ctx, o.ConvID, enc, o.Progress)
	if err != nil {
		return Ref{}, err
	}
	ref, err := enc.Ref()
	if err != nil {
		return Ref{}, err
	}
	ref.BlobID, ref.MIME, ref.Name = id, o.MIME, o.Name
	return ref, ref.Validate()
}

// UploadEncrypted creates a blob for enc's ciphertext and uploads it,
// resuming after interruptions, and returns the blob id.
func (c *Client) UploadEncrypted(ctx context.Context, convID string, enc *Encryptor, progress Progress) (string, error) {
	total := enc.Size()
	rt := c.retrier()
	var id string
	for {
		var err error
		if id, err = c.create(ctx, convID, total); err == nil {
			break
		}
		if err := rt.fail(ctx, err); err != nil {
			return "", err
		}
	}
	rt.ok()
	if progress != nil {
		progress(0, total)
	}
	var offset int64
	needHead := false
	for offset < total {
		var err error
		if needHead {
			var off int64
			if off, err = c.head(ctx, id, total); err == nil {
				if off > offset {
					rt.ok() // the failed request still moved bytes
				}
				offset, needHead = off, false
				if progress != nil {
					progress(offset, total)
				}
				continue
			}
		} else {
			n := total - offset
			if c.MaxPatch > 0 && n > c.MaxPatch {
				n = c.MaxPatch
			}
			var off int64
			if off, err = c.patch(ctx, id, enc, offset, n, total, progress); err == nil {
				offset = off
				rt.ok()
				continue
			}
			needHead = true
		}
		if err := rt.fail(ctx, err); err != nil {
			return "", err
		}
	}
	return id, nil
}

// retrier counts failed attempts in a row and waits between them with
// exponential backoff.
type retrier struct {
	c        *Client
	failures int
	wait     time.Duration
}

func (c *Client) retrier() *retrier { return &retrier{c: c, wait: c.RetryMin} }

// ok records progress.
func (r *retrier) ok() { r.failures, r.wait = 0, r.c.RetryMin }

// fail records a failed attempt and waits before the next one; it returns
// the error to give up with, or nil to try again.
func (r *retrier) fail(ctx context.Context, err error) error {
	if !retryable(err) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
	}
	r.failures++
	if r.failures > r.c.MaxRetries {
		return fmt.Errorf("giving up after %d attempts: %w", r.failures, err)
	}
	t := time.NewTimer(r.wait)
	defer t.Stop()
	r.wait = min(2*r.wait, r.c.RetryMax)
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
	case <-t.C:
		return nil
	}
}

// retryable: network failures, server errors and lock/offset races.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch wache.ErrorCode(err) {
	case wache.EUNAVAILABLE, wache.EINTERNAL, wache.ECONFLICT:
		return true
	}
	return false
}

func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// send runs a request bounded by StallTimeout per byte moved; body (if
// any) and the response body reset the watchdog as they move.
func (c *Client) send(ctx context.Context, method, u string, body io.Reader, length int64, hdr map[string]string) (*http.Response, context.CancelCauseFunc, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := newWatchdog(c.StallTimeout, cancel)
	var rb io.Reader
	if body != nil {
		rb = &touchReader{r: body, w: w}
	}
	req, err := c.newRequest(ctx, method, u, rb)
	if err != nil {
		w.stop()
		cancel(nil)
		return nil, nil, err
	}
	if body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		w.stop()
		cause := context.Cause(ctx)
		cancel(nil)
		if errors.Is(cause, errStalled) {
			err = cause
		}
		return nil, nil, &wache.Error{Code: wache.EUNAVAILABLE, Message: "server unreachable or connection lost: " + c.server, Err: err}
	}
	resp.Body = &touchBody{ReadCloser: resp.Body, w: w}
	return resp, func(err error) { w.stop(); cancel(err) }, nil
}

var errStalled = errors.New("transfer stalled")

// watchdog cancels a request when no byte moved for a while.
type watchdog struct {
	mu sync.Mutex
	d  time.Duration
	t  *time.Timer
}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	if d <= 0 {
		d = 60 * time.Second
	}
	return &watchdog{d: d, t: time.AfterFunc(d, func() { cancel(errStalled) })}
}

func (w *watchdog) touch() {
	w.mu.Lock()
	w.t.Reset(w.d)
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.t.Stop()
	w.mu.Unlock()
}

type touchReader struct {
	r io.Reader
	w *watchdog
}

func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.touch()
	return n, err
}

type touchBody struct {
	io.ReadCloser
	w *watchdog
}

func (t *touchBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.w.touch()
	return n, err
}

// httpError turns an error response into a *wache.Error with the server's
// code and message.
func httpError(resp *http.Response) error {
	var e api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
		return &wache.Error{Code: e.Error.Code, Message: e.Error.Message}
	}
	code := wache.EINTERNAL
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		code = wache.EUNAVAILABLE
	case http.StatusNotFound:
		code = wache.ENOTFOUND
	case http.StatusConflict, http.StatusLocked:
		code = wache.ECONFLICT
	case http.StatusRequestedRangeNotSatisfiable:
		code = wache.EINVALID
	default:
		if resp.StatusCode < 500 {
			code = wache.EINVALID
		}
	}
	return wache.Errorf(code, "server answered %s", resp.Status)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// create is the tus creation request; it returns the blob id.
func (c *Client) create(ctx context.Context, convID string, total int64) (string, error) {
	resp, done, err := c.send(ctx, http.MethodPost, c.server+BlobsPath, nil, 0, map[string]string{
		"Upload-Length":   strconv.FormatInt(total, 10),
		"Upload-Metadata": "conv_id " + base64.StdEncoding.EncodeToString([]byte(convID)),
	})
	if err != nil {
		return "", err
	}
	defer done(nil)
	defer drain(resp)
	if resp.StatusCode != http.StatusCreated {
		return "", httpError(resp)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", wache.Errorf(wache.EINTERNAL, "server sent a malformed upload location")
	}
	id := loc.Path[strings.LastIndexByte(loc.Path, '/')+1:]
	if !ValidBlobID(id) {
		return "", wache.Errorf(wache.EINTERNAL, "server sent a malformed blob id")
	}
	return id, nil
}

// head asks the server how many bytes of the upload it holds.
func (c *Client) head(ctx context.Context, id string, total int64) (int64, error) {
	resp, done, err := c.send(ctx, http.MethodHead, c.blobURL(id), nil, 0, nil)
	if err != nil {
		return 0, err
	}
	defer done(nil)
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return 0, httpError(resp)
	}
	return parseOffset(resp, total)
}

func parseOffset(resp *http.Response, total int64) (int64, error) {
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 || off > total {
		return 0, wache.Errorf(wache.EINTERNAL, "server sent a bad Upload-Offset")
	}
	return off, nil
}

// patch sends n ciphertext bytes from offset and returns the new offset.
func (c *Client) patch(ctx context.Context, id string, enc *Encryptor, offset, n, total int64, progress Progress) (int64, error) {
	r, err := enc.NewReader(offset)
	if err != nil {
		return 0, err
	}
	src := &sourceReader{r: r}
	var body io.Reader = io.LimitReader(src, n)
	if progress != nil {
		body = &progressReader{r: body, done: offset, total: total, fn: progress}
	}
	resp, done, err := c.send(ctx, http.MethodPatch, c.blobURL(id), body, n, map[string]string{
		"Upload-Offset": strconv.FormatInt(offset, 10),
		"Content-Type":  "application/offset+octet-stream",
	})
	if serr := src.failed(); serr != nil { // the local file, not the network, failed: retrying cannot help
		if err == nil {
			drain(resp)
			done(nil)
		}
		return 0, wache.Errorf(wache.EINVALID, "the attachment could not be read while uploading: %v", serr)
	}
	if err != nil {
		return 0, err
	}
	defer done(nil)
	defer drain(resp)
	if resp.StatusCode != http.StatusNoContent {
		return 0, httpError(resp)
	}
	off, err := parseOffset(resp, total)
	if err != nil {
		return 0, err
	}
	if off != offset+n {
		// The server kept fewer bytes than were sent: resume from its offset.
		return 0, wache.Errorf(wache.ECONFLICT, "server stored %d of %d bytes", off-offset, n)
	}
	return off, nil
}

// sourceReader remembers a failure of the plaintext source.
// The transport may still read the body after Do returned, hence the lock.
type sourceReader struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return n, err
}

func (s *sourceReader) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

type progressReader struct {
	r           io.Reader
	done, total int64
	fn          Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.fn(p.done, p.total)
	}
	return n, err
}

// Download fetches the blob of ref, verifies and decrypts it, and writes
// the plaintext to w as it arrives. A cut connection is resumed with a
// Range request. On error the output must be discarded. progress (may be
// nil) counts ciphertext bytes received.
func (c *Client) Download(ctx context.Context, ref Ref, w io.Writer, progress Progress) error {
	if err := ref.Validate(); err != nil {
		return wache.Errorf(wache.EINVALID, "%s", err.Error())
	}
	rr := &rangeReader{c: c, ctx: ctx, id: ref.BlobID, total: CiphertextSize(ref.Size), progress: progress, size: -1, rt: c.retrier()}
	defer rr.close()
	err := Decrypt(rr, w, ref)
	if rr.err != nil { // the transport's own error explains a short read best
		return rr.err
	}
	return err
}

// rangeReader reads a blob over HTTP and reconnects with a Range request
// from where it stopped when the connection breaks.
type rangeReader struct {
	c        *Client
	ctx      context.Context
	id       string
	total    int64 // expected size
	size     int64 // size the server announced (-1: not yet known)
	etag     string
	off      int64
	body     io.ReadCloser
	done     context.CancelCauseFunc
	progress Progress
	rt       *retrier
	err      error // permanent transport error
}

func (r *rangeReader) close() {
	if r.body != nil {
		r.body.Close()
		r.done(nil)
		r.body = nil
	}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.size >= 0 && r.off >= r.size {
			return 0, io.EOF
		}
		if r.body == nil {
			if err := r.open(); err != nil {
				if r.err == nil {
					r.err = r.rt.fail(r.ctx, err)
				}
				continue
			}
		}
		n, err := r.body.Read(p)
		if n > 0 {
			r.off += int64(n)
			r.rt.ok()
			if r.progress != nil {
				r.progress(r.off, r.total)
			}
			return n, nil
		}
		if err == nil {
			continue
		}
		r.close()
		if err == io.EOF && r.off >= r.size {
			return 0, io.EOF
		}
		// Cut off: reconnect from r.off.
		r.err = r.rt.fail(r.ctx, &wache.Error{Code: wache.EUNAVAILABLE, Message: "connection lost during download", Err: err})
	}
	return 0, r.err
}

func (r *rangeReader) open() error {
	hdr := map[string]string{}
	if r.off > 0 {
		hdr["Range"] = "bytes=" + strconv.FormatInt(r.off, 10) + "-"
		if r.etag != "" {
			hdr["If-Range"] = r.etag
		}
	}
	resp, done, err := r.c.send(r.ctx, http.MethodGet, r.c.blobURL(r.id), nil, 0, hdr)
	if err != nil {
		return err
	}
	switch {
	case r.off == 0 && resp.StatusCode == http.StatusOK:
		r.size = resp.ContentLength
		r.etag = resp.Header.Get("ETag")
		if r.size < 0 || r.size > r.total {
			r.size = r.total + 1 // let Decrypt see the trailing byte
		}
	case r.off > 0 && resp.StatusCode == http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(r.off, 10)+"-") {
			drain(resp)
			done(nil)
			return wache.Errorf(wache.EINTERNAL, "server resumed the download at the wrong offset")
		}
	case r.off > 0 && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		drain(resp)
		done(nil)
		r.size = r.off // the blob is shorter than announced
		return nil
	default:
		err := httpError(resp)
		if r.off > 0 && resp.StatusCode == http.StatusOK { // If-Range failed: the blob changed
			r.err = wache.Errorf(wache.ECONFLICT, "the blob changed while it was downloaded")
			err = r.err
		}
		drain(resp)
		done(nil)
		return err
	}
	r.body, r.done = resp.Body, done
	return nil
}
