package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/wache/wache/web"
)

// appCSP is the Content-Security-Policy of the browser app: scripts only
// from this origin (no inline script, no eval) except that WebAssembly may
// be compiled ('wasm-unsafe-eval', needed for the client core); images from
// data: and blob: URLs for thumbnails and decrypted photos; no framing.
// Inline styles stay allowed: they cannot run code, and UI libraries set
// style attributes for progress bars and the map.
const appCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; " +
	"manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// static serves the embedded browser app (web/dist).
func (s *Server) static() http.Handler { return staticHandler(web.Files()) }

// staticFile is one file of the app, read into memory at start: the app is
// a few MB and is served on every cold load, so it is hashed once for its
// ETag and never read from the embedded FS again.
type staticFile struct {
	body  []byte
	gz    []byte // precompressed twin (name.gz), if the build made one
	etag  string
	ctype string
}

// staticHandler serves fsys as the app: GET and HEAD only; index.html for
// the root and for extension-less paths (client-side routes); the .gz twin
// of a file when the browser accepts gzip; long caching for Vite's hashed
// assets and revalidation (ETag) for everything else, so that a new build
// is picked up at once.
func staticHandler(fsys fs.FS) http.Handler {
	files := map[string]*staticFile{}
	if web.Built(fsys) {
		_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".gz") {
				return nil
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil
			}
			sum := sha256.Sum256(b)
			f := &staticFile{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, ctype: contentType(p)}
			if gz, err := fs.ReadFile(fsys, p+".gz"); err == nil && gunzipEqual(gz, b) {
				f.gz = gz
			}
			files[p] = f
			return nil
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", appCSP)
		h.Set("Permissions-Policy", "geolocation=(self), camera=(self), microphone=(self), payment=(), usb=()")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if len(files) == 0 {
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, notBuiltPage)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		f, ok := files[name]
		if !ok && (name == "" || !strings.Contains(path.Base(name), ".")) {
			name, f, ok = "index.html", files["index.html"], true
		}
		if !ok {
			h.Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", f.ctype)
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", cacheControl(name))
		h.Set("Vary", "Accept-Encoding")
		if name == "sw.js" {
			h.Set("Service-Worker-Allowed", "/")
		}
		body := f.body
		if f.gz != nil && acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = f.gz
			h.Set("ETag", strings.TrimSuffix(f.etag, `"`)+`-gz"`)
			// The whole compressed body, with its length (the app shows
			// download progress from it); no ranges of a compressed body.
			h.Set("Content-Length", strconv.Itoa(len(body)))
			r.Header.Del("Range")
		}
		// ServeContent answers If-None-Match with 304 and handles ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// cacheControl: Vite names built assets by content hash (assets/x-Hash.js),
// so they never change; everything else (index.html, sw.js, the manifest,
// wache.wasm, which keeps its name) must be revalidated on every load.
func cacheControl(name string) string {
	if strings.HasPrefix(name, "assets/") {
		return "public, max-age=31536000, immutable"
	}
	return "no-cache"
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".webmanifest":
		return "application/manifest+json"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gunzipEqual checks that a .gz twin really is the file: a stale twin from
// an older build must never be served in its place.
func gunzipEqual(gz, want []byte) bool {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return false
	}
	got, err := io.ReadAll(io.LimitReader(zr, int64(len(want))+1))
	return err == nil && bytes.Equal(got, want)
}

const notBuiltPage = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Wache</title>
<h1>Wache</h1><p>The browser app is not part of this build. Run <code>make web</code> (or <code>make run</code>) and start the server again.</p>
<p lang="de">Die Browser-App ist in diesem Build nicht enthalten: <code>make web</code> ausführen und den Server neu starten.</p></html>
`
