package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

type ctxKey int

const keyCaller ctxKey = iota

// caller is the authenticated device of a request, and for creation the
// conversation it uploads to (checked before tusd sees the request).
type caller struct {
	user   *wache.User
	device *wache.Device
	convID string
}

// Limits of the creation headers.
const (
	maxMetadataHeader = 1024
	maxConvIDLen      = 200
)

// Handler returns the HTTP handler to mount at BasePath (and at BasePath
// without its trailing slash, for tus clients that POST there).
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	if s.closed.Load() {
		s.writeError(w, r, wache.Errorf(wache.EUNAVAILABLE, "the server is shutting down; try again shortly"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath)
	if !ok && r.URL.Path+"/" != BasePath {
		s.writeError(w, r, wache.Errorf(wache.ENOTFOUND, "no such endpoint"))
		return
	}
	if r.Header.Get("X-HTTP-Method-Override") != "" {
		s.writeError(w, r, wache.Errorf(wache.EINVALID, "X-HTTP-Method-Override is not supported"))
		return
	}
	if r.Method == http.MethodOptions {
		s.post.ServeHTTP(&tusWriter{ResponseWriter: w, s: s}, r) // tus discovery: versions, extensions, max size
		return
	}
	c, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), keyCaller, c))
	if rest == "" {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			s.writeStatus(w, r, http.StatusMethodNotAllowed, wache.Errorf(wache.EINVALID, "create uploads with POST"))
			return
		}
		s.create(w, r, c)
		return
	}
	if !validID(rest) {
		s.writeError(w, r, errNoBlob)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.download(w, r, c, rest)
	case http.MethodHead, http.MethodPatch, http.MethodDelete:
		s.owned(w, r, c, rest)
	default:
		w.Header().Set("Allow", "GET, HEAD, PATCH, DELETE, OPTIONS")
		s.writeStatus(w, r, http.StatusMethodNotAllowed, wache.Errorf(wache.EINVALID, "method not allowed"))
	}
}

// authenticate requires a valid device token in the Authorization header.
func (s *Service) authenticate(r *http.Request) (*caller, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return nil, wache.Errorf(wache.EUNAUTHORIZED, "missing bearer token; log in first")
	}
	u, d, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return nil, err
	}
	return &caller{user: u, device: d}, nil
}

// create validates a tus creation request before tusd handles it: the
// declared size, the quota's hard ceiling, the metadata (only conv_id: a
// file name or type would tell the server what the attachment is) and the
// uploader's membership.
func (s *Service) create(w http.ResponseWriter, r *http.Request, c *caller) {
	if r.Header.Get("Upload-Defer-Length") != "" || r.Header.Get("Upload-Concat") != "" {
		s.writeError(w, r, wache.Errorf(wache.EINVALID, "declare the blob's size in Upload-Length (deferred length and concatenation are not supported)"))
		return
	}
	size, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil || size < 0 {
		s.writeError(w, r, wache.Errorf(wache.EINVALID, "Upload-Length must be the blob's size in bytes"))
		return
	}
	if size > s.opts.MaxSize {
		s.writeError(w, r, wache.Errorf(wache.ETOOLARGE, "the attachment is %s; the limit is %s", humanBytes(size), humanBytes(s.opts.MaxSize)))
		return
	}
	if size > s.opts.Quota {
		s.writeError(w, r, wache.Errorf(wache.ETOOLARGE, "the attachment is %s, more than the whole upload quota of %s", humanBytes(size), humanBytes(s.opts.Quota)))
		return
	}
	md := r.Header.Get("Upload-Metadata")
	if len(md) > maxMetadataHeader {
		s.writeError(w, r, wache.Errorf(wache.EINVALID, "Upload-Metadata is longer than %d bytes", maxMetadataHeader))
		return
	}
	meta := handler.ParseMetadataHeader(md)
	convID := meta["conv_id"]
	if convID == "" {
		s.writeError(w, r, wache.Errorf(wache.EINVALID, "Upload-Metadata must name the conversation: conv_id <base64>"))
		return
	}
	if len(meta) != 1 {
		s.writeError(w, r, wache.Errorf(wache.EINVALID, "Upload-Metadata accepts only conv_id; file name and type belong in the encrypted message"))
		return
	}
	if len(convID) > maxConvIDLen || !utf8.ValidString(convID) {
		s.writeError(w, r, wache.Errorf(wache.ENOTFOUND, "no such conversation"))
		return
	}
	if _, err := s.members.Member(r.Context(), convID, c.user.ID); err != nil {
		if wache.ErrorCode(err) == wache.ENOTFOUND {
			err = wache.Errorf(wache.ENOTFOUND, "no such conversation")
		}
		s.writeError(w, r, err)
		return
	}
	c.convID = convID
	s.post.ServeHTTP(&tusWriter{ResponseWriter: w, s: s}, r)
}

// preCreate runs inside tusd's creation: it checks the quota and records
// the blob under a fresh id. tusd stores no metadata.
func (s *Service) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	c, _ := hook.Context.Value(keyCaller).(*caller)
	if c == nil || c.convID == "" {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, s.tusError(hook.Context, errors.New("blob: creation without a checked caller"))
	}
	r := &row{ID: newID(), ConvID: c.convID, Uploader: c.user.ID, Device: c.device.ID, Size: hook.Upload.Size, Created: s.opts.Now()}
	if err := s.reserve(hook.Context, r); err != nil {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, s.tusError(hook.Context, err)
	}
	s.log.DebugContext(hook.Context, "blob upload created", "blob", r.ID, "conv", r.ConvID, "size", r.Size)
	return handler.HTTPResponse{}, handler.FileInfoChanges{ID: r.ID, MetaData: handler.MetaData{}}, nil
}

// preFinish records the completion of an upload.
func (s *Service) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	if err := s.markComplete(hook.Context, hook.Upload.ID); err != nil {
		return handler.HTTPResponse{}, s.tusError(hook.Context, err)
	}
	s.log.InfoContext(hook.Context, "blob uploaded", "blob", hook.Upload.ID, "size", hook.Upload.Size)
	return handler.HTTPResponse{}, nil
}

// owned serves the tus requests on an upload, which only the uploading
// device may make; to anyone else the upload does not exist.
func (s *Service) owned(w http.ResponseWriter, r *http.Request, c *caller, id string) {
	b, err := s.getRow(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if b.Device != c.device.ID {
		s.writeError(w, r, errNoBlob)
		return
	}
	if r.Method == http.MethodDelete {
		if err := s.removeBlob(r.Context(), id); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Tus-Resumable", "1.0.0")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method == http.MethodPatch && b.Completed == nil && s.opts.Now().After(b.Created.Add(s.opts.UploadTimeout)) {
		s.writeError(w, r, wache.Errorf(wache.EEXPIRED, "the upload was not completed within %s; upload the attachment again", s.opts.UploadTimeout))
		return
	}
	// tusd takes the upload id from the whole path.
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = id, ""
	r2.URL = &u
	h := s.head
	if r.Method == http.MethodPatch {
		h = s.patch
	}
	h.ServeHTTP(&tusWriter{ResponseWriter: w, s: s}, r2)
}

// download streams a complete blob to a current member of its
// conversation, with Range support for resumed downloads.
func (s *Service) download(w http.ResponseWriter, r *http.Request, c *caller, id string) {
	ctx := r.Context()
	b, err := s.getRow(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.opts.Retention > 0 && b.Created.Before(s.opts.Now().Add(-s.opts.Retention)) {
		s.writeError(w, r, errNoBlob) // expired; the sweep has not come by yet
		return
	}
	if _, err := s.members.Member(ctx, b.ConvID, c.user.ID); err != nil {
		if wache.ErrorCode(err) == wache.ENOTFOUND {
			err = errNoBlob
		}
		s.writeError(w, r, err)
		return
	}
	ok, err := s.complete(ctx, b)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		s.writeError(w, r, wache.Errorf(wache.ECONFLICT, "the upload of this attachment is not finished yet"))
		return
	}
	f, err := os.Open(s.binPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		s.writeError(w, r, errNoBlob)
		return
	} else if err != nil {
		s.writeError(w, r, fmt.Errorf("open blob: %w", err))
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment")
	h.Set("Cache-Control", "no-store")
	h.Set("ETag", `"`+id+`"`) // content never changes: lets If-Range resume safely
	dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: s.opts.NetworkTimeout}
	http.ServeContent(dw, r, "", time.Time{}, f)
}

// deadlineWriter extends the write deadline before every write, so that a
// long download keeps going while a stalled reader is dropped.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) // unsupported writers (tests) just don't time out
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusOf maps an error code to its HTTP status.
func statusOf(code string) int { return api.HTTPStatus(code) }

// codeOf maps a status of tusd's own errors to an error code.
func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusPreconditionFailed, http.StatusUnsupportedMediaType:
		return wache.EINVALID
	case http.StatusUnauthorized:
		return wache.EUNAUTHORIZED
	case http.StatusForbidden:
		return wache.EFORBIDDEN
	case http.StatusNotFound:
		return wache.ENOTFOUND
	case http.StatusConflict, http.StatusLocked:
		return wache.ECONFLICT
	case http.StatusGone:
		return wache.EEXPIRED
	case http.StatusRequestEntityTooLarge:
		return wache.ETOOLARGE
	case http.StatusTooManyRequests:
		return wache.ERATELIMIT
	case http.StatusNotImplemented:
		return wache.EUNIMPLEMENTED
	case http.StatusServiceUnavailable:
		return wache.EUNAVAILABLE
	}
	if status >= 500 {
		return wache.EINTERNAL
	}
	return wache.EINVALID
}

// errorBody renders an error in the API's shape and gives its status and
// extra headers. Internal errors are logged and shown generically.
func (s *Service) errorBody(ctx context.Context, err error) (status int, body []byte, hdr map[string]string) {
	hdr = map[string]string{}
	var e api.Error
	var qe *quotaError
	if errors.As(err, &qe) {
		we := qe.wacheError()
		e.Error.Code, e.Error.Message = we.Code, we.Message
		if qe.retryAfter > 0 {
			hdr["Retry-After"] = strconv.FormatInt(int64(qe.retryAfter.Seconds())+1, 10)
		}
	} else {
		e.Error.Code, e.Error.Message = wache.ErrorCode(err), wache.ErrorMessage(err)
	}
	status = statusOf(e.Error.Code)
	if status >= 500 {
		s.log.ErrorContext(ctx, "blob request failed", "err", err)
	}
	if status == http.StatusUnauthorized {
		hdr["WWW-Authenticate"] = "Bearer"
	}
	if status == http.StatusTooManyRequests && hdr["Retry-After"] == "" {
		hdr["Retry-After"] = "30"
	}
	body, _ = json.Marshal(e)
	return status, append(body, '\n'), hdr
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, hdr := s.errorBody(r.Context(), err)
	s.writeBody(w, r, status, body, hdr)
}

// writeStatus writes err's body with an explicit status (405).
func (s *Service) writeStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	_, body, hdr := s.errorBody(r.Context(), err)
	s.writeBody(w, r, status, body, hdr)
}

func (s *Service) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte, hdr map[string]string) {
	h := w.Header()
	for k, v := range hdr {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Tus-Resumable", "1.0.0")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// tusError wraps an error for tusd, which sends it as the response.
func (s *Service) tusError(ctx context.Context, err error) error {
	status, body, hdr := s.errorBody(ctx, err)
	hdr["Content-Type"] = "application/json; charset=utf-8"
	return handler.Error{ErrorCode: "WACHE_" + strings.ToUpper(wache.ErrorCode(err)), Message: wache.ErrorMessage(err),
		HTTPResponse: handler.HTTPResponse{StatusCode: status, Body: string(body), Header: hdr}}
}

// tusWriter turns tusd's plain-text error responses into the API's JSON
// error shape, so that clients see one error format on every endpoint.
type tusWriter struct {
	http.ResponseWriter
	s       *Service
	status  int
	convert bool
	wrote   bool
}

func (w *tusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		h := w.Header()
		if code >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			w.convert = true
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Del("Content-Length")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.convert {
		return w.ResponseWriter.Write(b)
	}
	if w.wrote {
		return len(b), nil
	}
	w.wrote = true
	tusCode, msg, ok := strings.Cut(strings.TrimSpace(string(b)), ": ")
	if !ok {
		msg = tusCode
	}
	var e api.Error
	e.Error.Code = codeOf(w.status)
	e.Error.Message = "upload: " + msg
	if w.status >= 500 {
		// Internal details (paths, driver errors) stay in the log.
		e.Error.Message = "the upload was interrupted on the server; ask for its offset and resume"
		w.s.log.Warn("blob upload failed", "tus_error", tusCode, "status", w.status)
	}
	body, _ := json.Marshal(e)
	if _, err := w.ResponseWriter.Write(append(body, '\n')); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Unwrap lets tusd's http.ResponseController reach the connection (it sets
// read deadlines per chunk).
func (w *tusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
