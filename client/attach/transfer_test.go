//go:build !js

package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/client/attach"
	"github.com/wache/wache/internal/blob"
	"github.com/wache/wache/internal/blob/blobtest"
)

// TestMain quiets the migration log lines (slog.Default) that would
// interleave with benchmark output; WACHE_TEST_LOG=1 keeps them.
func TestMain(m *testing.M) {
	if os.Getenv("WACHE_TEST_LOG") != "1" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}

func pseudo(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

type world struct {
	env              *blobtest.Env
	alice, bob, eve  *blobtest.Device
	conv             string
	aliceC, bobC, eC *attach.Client
}

func newClient(t testing.TB, url string, d *blobtest.Device) *attach.Client {
	t.Helper()
	c, err := attach.New(url, d.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.RetryMin, c.RetryMax = 10*time.Millisecond, 200*time.Millisecond
	c.StallTimeout = 10 * time.Second
	return c
}

// setup starts a blob service; alice and bob share a conversation, eve is
// in none. Clients talk to url(env) (default: the server itself).
func setup(t testing.TB, backend string, opts blob.Options, url func(*blobtest.Env) string) *world {
	t.Helper()
	w := &world{env: blobtest.Start(t, backend, opts)}
	w.alice, w.bob, w.eve = w.env.User(t, "anna.alt"), w.env.User(t, "ben.berg"), w.env.User(t, "eva.ernst")
	w.conv = w.env.Conv(t, w.alice, w.bob)
	u := w.env.URL
	if url != nil {
		u = url(w.env)
	}
	w.aliceC, w.bobC, w.eC = newClient(t, u, w.alice), newClient(t, u, w.bob), newClient(t, u, w.eve)
	return w
}

func TestRoundTrip20MB(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			w := setup(t, backend, blob.Options{}, nil)
			ctx := context.Background()
			plain := pseudo(20<<20, 1)
			var last, calls int64
			ref, err := w.aliceC.Upload(ctx, bytes.NewReader(plain), int64(len(plain)), attach.UploadOptions{
				ConvID: w.conv, MIME: "video/mp4", Name: "einsatz.mp4",
				Progress: func(done, total int64) { last, calls = done, calls+1 },
			})
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			total := attach.CiphertextSize(int64(len(plain)))
			if last != total || calls < 2 {
				t.Errorf("progress ended at %d of %d after %d calls", last, total, calls)
			}
			sum := sha256.Sum256(plain)
			if ref.Size != int64(len(plain)) || !bytes.Equal(ref.SHA256, sum[:]) || ref.MIME != "video/mp4" || ref.Name != "einsatz.mp4" {
				t.Fatalf("ref = %+v", ref)
			}
			// The server holds exactly the ciphertext, never the plaintext.
			onDisk, err := os.ReadFile(filepath.Join(w.env.Dir, ref.BlobID))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(onDisk)) != total || bytes.Contains(onDisk, plain[1000:1064]) {
				t.Fatalf("stored blob: %d bytes (want %d) or contains plaintext", len(onDisk), total)
			}
			var out bytes.Buffer
			var got int64
			if err := w.bobC.Download(ctx, ref, &out, func(done, _ int64) { got = done }); err != nil {
				t.Fatalf("download: %v", err)
			}
			if !bytes.Equal(out.Bytes(), plain) {
				t.Fatal("downloaded plaintext differs")
			}
			if got != total {
				t.Errorf("download progress ended at %d of %d", got, total)
			}
		})
	}
}

// cutProxy forwards TCP to a target and, once, cuts the connection after
// a number of bytes in one direction.
type cutProxy struct {
	ln             net.Listener
	target         string
	upCut, downCut int64 // cut after this many bytes (0: never)
	cut            atomic.Bool
	up, down       atomic.Int64 // bytes forwarded
	wg             sync.WaitGroup
	mu             sync.Mutex
	conns          []net.Conn
}

func newCutProxy(t testing.TB, target string, upCut, downCut int64) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, upCut: upCut, downCut: downCut}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns { // idle keep-alive connections
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, &p.up, p.upCut)
		go p.pipe(c, s, &p.down, p.downCut)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn, count *atomic.Int64, limit int64) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			total := count.Add(int64(n))
			if limit > 0 && total > limit && p.cut.CompareAndSwap(false, true) {
				keep := int64(n) - (total - limit)
				if keep > 0 {
					dst.Write(buf[:keep])
				}
				return // both sides close: the connection is cut
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestUploadResumesAfterCut(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			var proxy *cutProxy
			w := setup(t, backend, blob.Options{}, func(e *blobtest.Env) string {
				proxy = newCutProxy(t, e.URL[len("http://"):], 6<<20, 0)
				return proxy.URL()
			})
			plain := pseudo(12<<20, 2)
			var mu sync.Mutex
			var seen []int64
			ref, err := w.aliceC.Upload(context.Background(), bytes.NewReader(plain), int64(len(plain)), attach.UploadOptions{
				ConvID: w.conv, Progress: func(done, _ int64) { mu.Lock(); seen = append(seen, done); mu.Unlock() },
			})
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			if !proxy.cut.Load() {
				t.Fatal("the proxy never cut the connection")
			}
			// Progress went back to the server's offset once: not to zero.
			resumedAt := int64(-1)
			for i := 1; i < len(seen); i++ {
				if seen[i] < seen[i-1] {
					resumedAt = seen[i]
				}
			}
			if resumedAt <= 0 {
				t.Fatalf("no resume from a non-zero offset seen in progress (resumed at %d)", resumedAt)
			}
			total := attach.CiphertextSize(int64(len(plain)))
			if up := proxy.up.Load(); up > total+total/2 {
				t.Errorf("%d bytes went up for a %d-byte blob: the upload restarted instead of resuming", up, total)
			}
			var out bytes.Buffer
			if err := newClient(t, w.env.URL, w.bob).Download(context.Background(), ref, &out, nil); err != nil {
				t.Fatalf("download: %v", err)
			}
			if !bytes.Equal(out.Bytes(), plain) {
				t.Fatal("plaintext differs after a resumed upload")
			}
		})
	}
}

func TestDownloadResumesAfterCut(t *testing.T) {
	var proxy *cutProxy
	w := setup(t, "sqlite", blob.Options{}, func(e *blobtest.Env) string {
		proxy = newCutProxy(t, e.URL[len("http://"):], 0, 3<<20)
		return proxy.URL()
	})
	plain := pseudo(8<<20, 3)
	ref, err := newClient(t, w.env.URL, w.alice).Upload(context.Background(), bytes.NewReader(plain), int64(len(plain)), attach.UploadOptions{ConvID: w.conv})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	var out bytes.Buffer
	if err := w.bobC.Download(context.Background(), ref, &out, nil); err != nil {
		t.Fatalf("download: %v", err)
	}
	if !proxy.cut.Load() {
		t.Fatal("the proxy never cut the connection")
	}
	total := attach.CiphertextSize(int64(len(plain)))
	if down := proxy.down.Load(); down > total+total/4 {
		t.Errorf("%d bytes came down for a %d-byte blob: the download restarted instead of resuming", down, total)
	}
	if !bytes.Equal(out.Bytes(), plain) {
		t.Fatal("plaintext differs after a resumed download")
	}
}

// TestDownloadRejectsDamagedBlob damages the stored ciphertext on the
// server's disk and expects the receiving device to refuse it.
func TestDownloadRejectsDamagedBlob(t *testing.T) {
	chunk := int64(attach.ChunkSize + attach.TagSize)
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		ref    func(r attach.Ref) attach.Ref
		want   error
	}{
		{"tampered chunk", func(b []byte) []byte { b[attach.HeaderSize+chunk+100] ^= 1; return b }, nil, attach.ErrTampered},
		{"truncated blob", func(b []byte) []byte { return b[:len(b)-1000] }, nil, attach.ErrTruncated},
		{"truncated at a chunk boundary", func(b []byte) []byte { return b[:attach.HeaderSize+2*chunk] }, nil, attach.ErrTruncated},
		{"reordered chunks", func(b []byte) []byte {
			c1 := append([]byte(nil), b[attach.HeaderSize:attach.HeaderSize+chunk]...)
			copy(b[attach.HeaderSize:], b[attach.HeaderSize+chunk:attach.HeaderSize+2*chunk])
			copy(b[attach.HeaderSize+chunk:], c1)
			return b
		}, nil, attach.ErrTampered},
		{"extra bytes", func(b []byte) []byte { return append(b, 1, 2, 3) }, nil, attach.ErrTrailing},
		{"wrong SHA-256", nil, func(r attach.Ref) attach.Ref { r.SHA256 = bytes.Repeat([]byte{1}, 32); return r }, attach.ErrHashMismatch},
	}
	w := setup(t, "sqlite", blob.Options{}, nil)
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain := pseudo(5*attach.ChunkSize+123, 4)
			ref, err := w.aliceC.Upload(ctx, bytes.NewReader(plain), int64(len(plain)), attach.UploadOptions{ConvID: w.conv})
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage != nil {
				p := filepath.Join(w.env.Dir, ref.BlobID)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tc.damage(b), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.ref != nil {
				ref = tc.ref(ref)
			}
			err = w.bobC.Download(ctx, ref, io.Discard, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAccessAndLimits(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			w := setup(t, backend, blob.Options{MaxSize: 1 << 20, Quota: 3 << 20}, nil)
			ctx := context.Background()
			small := pseudo(1000, 5)
			ref, err := w.aliceC.Upload(ctx, bytes.NewReader(small), int64(len(small)), attach.UploadOptions{ConvID: w.conv})
			if err != nil {
				t.Fatal(err)
			}
			big := pseudo(900<<10, 6)
			tests := []struct {
				name string
				run  func() error
				code string
			}{
				{"non-member download", func() error { return w.eC.Download(ctx, ref, io.Discard, nil) }, wache.ENOTFOUND},
				{"non-member upload", func() error {
					_, err := w.eC.Upload(ctx, bytes.NewReader(small), int64(len(small)), attach.UploadOptions{ConvID: w.conv})
					return err
				}, wache.ENOTFOUND},
				{"unknown conversation", func() error {
					_, err := w.aliceC.Upload(ctx, bytes.NewReader(small), int64(len(small)), attach.UploadOptions{ConvID: "nope"})
					return err
				}, wache.ENOTFOUND},
				{"oversize", func() error {
					b := pseudo(2<<20, 7)
					_, err := w.aliceC.Upload(ctx, bytes.NewReader(b), int64(len(b)), attach.UploadOptions{ConvID: w.conv})
					return err
				}, wache.ETOOLARGE},
				{"bad token", func() error {
					return newClient(t, w.env.URL, &blobtest.Device{Token: "wch_nope"}).Download(ctx, ref, io.Discard, nil)
				}, wache.EUNAUTHORIZED},
				{"member download", func() error { return w.bobC.Download(ctx, ref, io.Discard, nil) }, ""},
				// 3 MiB quota: the 1000 bytes above, then three 900 KiB uploads fit and the fourth does not.
				{"quota 1", func() error { return upload(w, big) }, ""},
				{"quota 2", func() error { return upload(w, big) }, ""},
				{"quota 3", func() error { return upload(w, big) }, ""},
				{"quota exhausted", func() error { return upload(w, big) }, wache.ERATELIMIT},
				{"other user has own quota", func() error {
					_, err := w.bobC.Upload(ctx, bytes.NewReader(big), int64(len(big)), attach.UploadOptions{ConvID: w.conv})
					return err
				}, ""},
			}
			for _, tc := range tests {
				err := tc.run()
				if got := wache.ErrorCode(err); got != tc.code {
					t.Errorf("%s: got %v (code %q), want code %q", tc.name, err, got, tc.code)
				}
			}
		})
	}
}

func upload(w *world, b []byte) error {
	_, err := w.aliceC.Upload(context.Background(), bytes.NewReader(b), int64(len(b)), attach.UploadOptions{ConvID: w.conv})
	return err
}

func TestFiles(t *testing.T) {
	w := setup(t, "sqlite", blob.Options{}, nil)
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "Lagebild.jpg")
	plain := append([]byte("\xff\xd8\xff\xe0"), pseudo(300<<10, 8)...)
	if err := os.WriteFile(src, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := w.aliceC.UploadFile(ctx, src, attach.UploadOptions{ConvID: w.conv})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Name != "Lagebild.jpg" || ref.MIME != "image/jpeg" || ref.Kind() != "photo" {
		t.Errorf("ref name %q mime %q kind %q", ref.Name, ref.MIME, ref.Kind())
	}
	dst := filepath.Join(dir, "out.jpg")
	if err := w.bobC.DownloadFile(ctx, ref, dst, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, plain) {
		t.Fatal("downloaded file differs")
	}
	// A damaged blob leaves no file behind, not even a temporary one.
	p := filepath.Join(w.env.Dir, ref.BlobID)
	b, _ := os.ReadFile(p)
	b[len(b)-5] ^= 1
	os.WriteFile(p, b, 0o600)
	bad := filepath.Join(dir, "bad.jpg")
	if err := w.bobC.DownloadFile(ctx, ref, bad, nil); !errors.Is(err, attach.ErrTampered) {
		t.Fatalf("damaged download: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries after a failed download, want 2", len(entries))
	}
	if _, err := w.aliceC.UploadFile(ctx, dir, attach.UploadOptions{ConvID: w.conv}); wache.ErrorCode(err) != wache.EINVALID {
		t.Errorf("uploading a directory: %v", err)
	}
}

// failingSource fails to read past a given offset, like a file on a
// removed SD card.
type failingSource struct {
	pattern
	after int64
}

func (f failingSource) ReadAt(b []byte, off int64) (int, error) {
	if off+int64(len(b)) > f.after {
		return 0, errors.New("input/output error")
	}
	return f.pattern.ReadAt(b, off)
}

func TestUploadSourceFails(t *testing.T) {
	w := setup(t, "sqlite", blob.Options{}, nil)
	start := time.Now()
	_, err := w.aliceC.Upload(context.Background(), failingSource{pattern(4 << 20), 1 << 20}, 4<<20, attach.UploadOptions{ConvID: w.conv})
	if wache.ErrorCode(err) != wache.EINVALID {
		t.Fatalf("got %v, want an EINVALID read error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s: a local read error must not be retried", time.Since(start))
	}
}
