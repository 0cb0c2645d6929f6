package attach

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

var (
	testKey    = bytes.Repeat([]byte{0x42}, KeySize)
	testPrefix = []byte{1, 2, 3, 4, 5, 6, 7, 8}
)

// pseudo returns n deterministic pseudo-random bytes.
func pseudo(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func encryptFixed(t testing.TB, plain []byte) ([]byte, Ref) {
	t.Helper()
	var buf bytes.Buffer
	ref, err := encryptWith(bytes.NewReader(plain), &buf, testKey, testPrefix)
	if err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	ref.BlobID = "0123456789abcdef0123456789abcdef"
	return buf.Bytes(), ref
}

func TestRoundTripSizes(t *testing.T) {
	for _, n := range []int{0, 1, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3*ChunkSize + 17} {
		plain := pseudo(n, uint64(n))
		blob, ref := encryptFixed(t, plain)
		if int64(len(blob)) != CiphertextSize(int64(n)) {
			t.Errorf("size %d: blob is %d bytes, CiphertextSize says %d", n, len(blob), CiphertextSize(int64(n)))
		}
		sum := sha256.Sum256(plain)
		if ref.Size != int64(n) || !bytes.Equal(ref.SHA256, sum[:]) || !bytes.Equal(ref.Key, testKey) {
			t.Errorf("size %d: ref = size %d, sha %x", n, ref.Size, ref.SHA256)
		}
		var out bytes.Buffer
		if err := Decrypt(bytes.NewReader(blob), &out, ref); err != nil {
			t.Fatalf("size %d: decrypt: %v", n, err)
		}
		if !bytes.Equal(out.Bytes(), plain) {
			t.Fatalf("size %d: plaintext differs", n)
		}
	}
}

func TestFreshKeys(t *testing.T) {
	var a, b bytes.Buffer
	ra, err := Encrypt(bytes.NewReader([]byte("same")), &a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Encrypt(bytes.NewReader([]byte("same")), &b)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ra.Key, rb.Key) || bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two encryptions share a key or a ciphertext")
	}
}

// TestEncryptorMatchesEncrypt checks that the seekable encryptor produces
// the same blob as the streaming one, from any offset, and its Ref only
// after every chunk was produced.
func TestEncryptorMatchesEncrypt(t *testing.T) {
	for _, n := range []int{0, 5, ChunkSize, 4*ChunkSize + 3} {
		plain := pseudo(n, 7)
		want, wantRef := encryptFixed(t, plain)
		enc, err := newEncryptorWith(bytes.NewReader(plain), int64(n), testKey, testPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if enc.Size() != int64(len(want)) {
			t.Fatalf("size %d: Size %d, want %d", n, enc.Size(), len(want))
		}
		// Read a prefix, then "resume" from a smaller offset, as an
		// interrupted upload does.
		cut := int64(len(want)) / 2
		r, _ := enc.NewReader(0)
		first, _ := io.ReadAll(io.LimitReader(r, cut))
		if _, err := enc.Ref(); n > ChunkSize && err == nil {
			t.Errorf("size %d: Ref before all chunks were produced", n)
		}
		resume := cut / 3
		r2, _ := enc.NewReader(resume)
		rest, err := io.ReadAll(r2)
		if err != nil {
			t.Fatal(err)
		}
		got := append(first[:resume:resume], rest...)
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: encryptor output differs from Encrypt", n)
		}
		ref, err := enc.Ref()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ref.SHA256, wantRef.SHA256) || ref.Size != wantRef.Size {
			t.Fatalf("size %d: ref differs", n)
		}
		if _, err := enc.NewReader(enc.Size() + 1); err == nil {
			t.Error("reader past the end accepted")
		}
	}
}

func TestDecryptRejects(t *testing.T) {
	plain := pseudo(3*ChunkSize+100, 3)
	blob, ref := encryptFixed(t, plain)
	chunk := ChunkSize + TagSize
	c0, c1 := HeaderSize, HeaderSize+chunk // offsets of chunks 0 and 1
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), blob...)) }
	otherHash := append([]byte(nil), ref.SHA256...)
	otherHash[0] ^= 1
	tests := []struct {
		name string
		blob []byte
		ref  func(Ref) Ref
		want error
	}{
		{"flipped byte in chunk 0", mod(func(b []byte) []byte { b[c0+10] ^= 1; return b }), nil, ErrTampered},
		{"flipped tag of last chunk", mod(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), nil, ErrTampered},
		{"changed nonce prefix", mod(func(b []byte) []byte { b[5] ^= 1; return b }), nil, ErrTampered},
		{"bad magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), nil, ErrFormat},
		{"future version", mod(func(b []byte) []byte { b[3] = 2; return b }), nil, ErrFormat},
		{"swapped chunks 0 and 1", mod(func(b []byte) []byte {
			tmp := append([]byte(nil), b[c0:c0+chunk]...)
			copy(b[c0:], b[c1:c1+chunk])
			copy(b[c1:], tmp)
			return b
		}), nil, ErrTampered},
		{"truncated mid-chunk", blob[:len(blob)-50], nil, ErrTruncated},
		{"last chunk dropped", blob[:HeaderSize+3*chunk], nil, ErrTruncated},
		{"header only", blob[:HeaderSize], nil, ErrTruncated},
		{"half a header", blob[:5], nil, ErrTruncated},
		{"empty", nil, nil, ErrTruncated},
		{"trailing byte", append(append([]byte(nil), blob...), 0), nil, ErrTrailing},
		{"wrong SHA-256", blob, func(r Ref) Ref { r.SHA256 = otherHash; return r }, ErrHashMismatch},
		{"wrong key", blob, func(r Ref) Ref { r.Key = bytes.Repeat([]byte{7}, KeySize); return r }, ErrTampered},
		// A smaller size makes the real chunk 3 look final: its flag says otherwise.
		{"size claims one chunk less", blob[:HeaderSize+3*chunk], func(r Ref) Ref { r.Size = 3 * ChunkSize; return r }, ErrTampered},
		{"size claims more", blob, func(r Ref) Ref { r.Size += 10; return r }, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ref
			if tc.ref != nil {
				r = tc.ref(r)
			}
			err := Decrypt(bytes.NewReader(tc.blob), io.Discard, r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestFinalFlagDetectsTruncation shows that the final flag alone catches
// a blob cut at a chunk boundary: the last remaining chunk was sealed as
// not final.
func TestFinalFlagDetectsTruncation(t *testing.T) {
	plain := pseudo(2*ChunkSize, 9)
	blob, ref := encryptFixed(t, plain)
	ref.Size = ChunkSize // a reference that agrees with the cut blob
	err := Decrypt(bytes.NewReader(blob[:HeaderSize+ChunkSize+TagSize]), io.Discard, ref)
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want ErrTampered", err)
	}
}

func TestRefValidate(t *testing.T) {
	good := Ref{BlobID: "0123456789abcdef0123456789abcdef", Key: testKey, SHA256: make([]byte, 32), Size: 10, MIME: "image/jpeg", Name: "foto.jpg"}
	tests := []struct {
		name string
		f    func(*Ref)
		ok   bool
	}{
		{"good", func(*Ref) {}, true},
		{"no mime or name", func(r *Ref) { r.MIME, r.Name = "", "" }, true},
		{"short key", func(r *Ref) { r.Key = r.Key[:16] }, false},
		{"short hash", func(r *Ref) { r.SHA256 = r.SHA256[:31] }, false},
		{"negative size", func(r *Ref) { r.Size = -1 }, false},
		{"huge size", func(r *Ref) { r.Size = MaxSize + 1 }, false},
		{"upper-case id", func(r *Ref) { r.BlobID = "0123456789ABCDEF0123456789abcdef" }, false},
		{"path in id", func(r *Ref) { r.BlobID = "../../../../etc/passwd0123456789a" }, false},
		{"path in name", func(r *Ref) { r.Name = "../x" }, false},
		{"control in name", func(r *Ref) { r.Name = "a\nb" }, false},
		{"bad utf8 name", func(r *Ref) { r.Name = "\xff" }, false},
		{"bad mime", func(r *Ref) { r.MIME = "image/" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			r.Key = append([]byte(nil), good.Key...)
			r.SHA256 = append([]byte(nil), good.SHA256...)
			tc.f(&r)
			if err := r.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				b, _ := json.Marshal(r)
				if _, err := ParseRef(b); err != nil {
					t.Fatalf("ParseRef of a valid ref: %v", err)
				}
			}
		})
	}
}

// FuzzDecrypt feeds hostile blobs and references to the decryptor: it
// must return an error or the authentic plaintext, and never panic.
func FuzzDecrypt(f *testing.F) {
	plain := pseudo(ChunkSize+10, 1)
	blob, ref := encryptFixed(f, plain)
	f.Add(blob, ref.Size)
	f.Add(blob[:40], int64(0))
	f.Add([]byte("WAB\x01"), int64(5))
	f.Add([]byte{}, int64(-1))
	small, sref := encryptFixed(f, []byte("hallo"))
	f.Add(small, sref.Size)
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		r := ref
		r.Size = size
		var out bytes.Buffer
		err := Decrypt(bytes.NewReader(b), &out, r)
		if err == nil && !bytes.Equal(out.Bytes(), plain) {
			t.Fatalf("accepted a blob that is not the original (%d bytes out)", out.Len())
		}
	})
}

// FuzzParseRef: references come from other devices' messages.
func FuzzParseRef(f *testing.F) {
	f.Add([]byte(`{"blob_id":"0123456789abcdef0123456789abcdef","key":"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=","sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","size":5,"mime":"image/png","name":"a.png"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"size":-9223372036854775808}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRef(b)
		if err == nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("ParseRef accepted an invalid ref: %v", err)
			}
		}
	})
}
