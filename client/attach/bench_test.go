//go:build !js

package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wache/wache/client/attach"
	"github.com/wache/wache/internal/blob"
)

// pattern is a large plaintext that is computed, not stored: benchmarks
// of hundreds of megabytes then measure the transfer's memory, not the
// test's.
type pattern int64

func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(p) {
		return 0, io.EOF
	}
	n := len(b)
	if rest := int64(p) - off; int64(n) > rest {
		n = int(rest)
	}
	for i := 0; i < n; i++ {
		x := uint64(off+int64(i)) * 0x9e3779b97f4a7c15
		b[i] = byte(x >> 56)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (p pattern) sum() []byte {
	h := sha256.New()
	io.Copy(h, io.NewSectionReader(p, 0, int64(p)))
	return h.Sum(nil)
}

func BenchmarkEncrypt(b *testing.B) {
	plain := pseudo(16<<20, 1)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attach.Encrypt(bytes.NewReader(plain), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	plain := pseudo(16<<20, 1)
	var blob bytes.Buffer
	ref, err := attach.Encrypt(bytes.NewReader(plain), &blob)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if err := attach.Decrypt(bytes.NewReader(blob.Bytes()), io.Discard, ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpload: encrypt and upload 64 MiB through the real service
// (SQLite, loopback HTTP) per iteration.
func BenchmarkUpload(b *testing.B) {
	w := setup(b, "sqlite", blob.Options{Quota: 1 << 40}, nil)
	src := pattern(64 << 20)
	b.SetBytes(int64(src))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.aliceC.Upload(context.Background(), src, int64(src), attach.UploadOptions{ConvID: w.conv}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDownload: download, verify and decrypt 64 MiB per iteration.
func BenchmarkDownload(b *testing.B) {
	w := setup(b, "sqlite", blob.Options{}, nil)
	src := pattern(64 << 20)
	ref, err := w.aliceC.Upload(context.Background(), src, int64(src), attach.UploadOptions{ConvID: w.conv})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(src))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.bobC.Download(context.Background(), ref, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// heapPeak samples the live heap until stopped and returns its maximum.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkStream200MB uploads and downloads a 200 MB attachment and
// reports the peak live heap of the whole process (client and server):
// it stays a small constant, far below the attachment's size.
func BenchmarkStream200MB(b *testing.B) {
	w := setup(b, "sqlite", blob.Options{Quota: 1 << 40}, nil)
	src := pattern(200 << 20)
	want := src.sum()
	b.SetBytes(2 * int64(src)) // up and down
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		stop := heapPeak()
		ref, err := w.aliceC.Upload(context.Background(), src, int64(src), attach.UploadOptions{ConvID: w.conv})
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if err := w.bobC.Download(context.Background(), ref, h, nil); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, stop())
		if !bytes.Equal(h.Sum(nil), want) {
			b.Fatal("content differs")
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
