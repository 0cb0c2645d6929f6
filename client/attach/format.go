// Package attach encrypts attachments (photos, videos, voice notes,
// documents) on the device, uploads them resumably with the tus protocol and
// downloads and decrypts them again. The server only ever stores ciphertext;
// the key and the plaintext's SHA-256 travel inside the MLS message, as a Ref.
//
// # Blob format, version 1
//
// A blob is a 12-byte header followed by n sealed chunks:
//
//	header   = "WAB" 0x01 || prefix          (prefix: 8 random bytes)
//	chunk i  = AES-256-GCM-Seal(key, nonce_i, plaintext_i, ad_i)
//	nonce_i  = prefix || uint32_be(i)        (12 bytes)
//	ad_i     = header || final_i             (13 bytes; final_i = 0x01 for the last chunk, else 0x00)
//
// key is a fresh random 32-byte key per attachment. The plaintext is split
// into chunks of ChunkSize (64 KiB) bytes; only the last chunk may be
// shorter, and it is empty only when the whole plaintext is empty, so
// n = max(1, ceil(size / ChunkSize)) and a chunk is its plaintext plus a
// 16-byte tag. The ciphertext size therefore follows from the plaintext
// size alone (CiphertextSize): 12 + size + 16·n.
//
// The chunk index in the nonce detects reordered chunks, the final flag in
// the additional data detects a blob cut at a chunk boundary even without
// knowing its size, and the header in the additional data binds magic,
// version and prefix to every chunk. The Ref also carries the plaintext
// size (which makes the decryptor read exactly n chunks and reject trailing
// bytes) and the SHA-256 of the whole plaintext, checked at the end.
//
// Decrypt writes each chunk as soon as it is verified, so a 500 MB video
// never sits in memory; when it returns an error the output written so far
// must be discarded (DownloadFile does that itself).
//
// Nothing in this file depends on an operating system: the package is
// compiled to WebAssembly for the browser as well.
package attach

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Format constants.
const (
	ChunkSize  = 64 << 10 // plaintext bytes per chunk
	KeySize    = 32       // AES-256
	HeaderSize = 12       // magic (4) + nonce prefix (8)
	TagSize    = 16       // GCM tag per chunk
	// MaxSize bounds the plaintext of one attachment (the server's limit
	// is lower); it keeps the chunk counter far from overflowing.
	MaxSize = 1 << 40
)

var magic = [4]byte{'W', 'A', 'B', 1}

// Errors of Decrypt. Each is wrapped with the detail (chunk index, sizes);
// test with errors.Is.
var (
	// ErrFormat: the blob does not start with a version-1 header.
	ErrFormat = errors.New("attachment: not a Wache attachment blob (bad header)")
	// ErrTampered: a chunk failed authentication: it was altered or
	// reordered, or the key is wrong.
	ErrTampered = errors.New("attachment: chunk failed authentication (altered, reordered or wrong key)")
	// ErrTruncated: the blob ended before the size in the reference.
	ErrTruncated = errors.New("attachment: blob is truncated")
	// ErrTrailing: the blob goes on after its final chunk.
	ErrTrailing = errors.New("attachment: unexpected data after the final chunk")
	// ErrHashMismatch: every chunk verified but the plaintext's SHA-256
	// differs from the one in the reference.
	ErrHashMismatch = errors.New("attachment: SHA-256 of the content does not match the reference")
)

// numChunks is n = max(1, ceil(size/ChunkSize)).
func numChunks(size int64) int64 {
	if size <= 0 {
		return 1
	}
	return (size + ChunkSize - 1) / ChunkSize
}

// chunkLen is the plaintext length of chunk i of a plaintext of size bytes.
func chunkLen(size, i int64) int {
	if i < numChunks(size)-1 {
		return ChunkSize
	}
	return int(size - i*ChunkSize)
}

// CiphertextSize is the blob size for a plaintext of size bytes.
func CiphertextSize(size int64) int64 {
	return HeaderSize + size + TagSize*numChunks(size)
}

// sealer holds the per-attachment cipher state shared by encryption and
// decryption.
type sealer struct {
	aead   cipher.AEAD
	header [HeaderSize]byte
	nonce  [12]byte
	ad     [HeaderSize + 1]byte
}

func newSealer(key []byte, prefix []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("attachment: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("attachment: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("attachment: %w", err)
	}
	s := &sealer{aead: aead}
	copy(s.header[:4], magic[:])
	copy(s.header[4:], prefix)
	copy(s.nonce[:8], prefix)
	copy(s.ad[:], s.header[:])
	return s, nil
}

func (s *sealer) setChunk(i int64, final bool) {
	binary.BigEndian.PutUint32(s.nonce[8:], uint32(i))
	s.ad[HeaderSize] = 0
	if final {
		s.ad[HeaderSize] = 1
	}
}

func (s *sealer) seal(dst, plain []byte, i int64, final bool) []byte {
	s.setChunk(i, final)
	return s.aead.Seal(dst, s.nonce[:], plain, s.ad[:])
}

func (s *sealer) open(dst, sealed []byte, i int64, final bool) ([]byte, error) {
	s.setChunk(i, final)
	return s.aead.Open(dst, s.nonce[:], sealed, s.ad[:])
}

// freshKey returns a new random key and nonce prefix.
func freshKey() (key []byte, prefix []byte, err error) {
	b := make([]byte, KeySize+8)
	if _, err := rand.Read(b); err != nil {
		return nil, nil, fmt.Errorf("attachment: random key: %w", err)
	}
	return b[:KeySize], b[KeySize:], nil
}

// Encrypt reads the whole plaintext from r and writes the blob to w with a
// fresh key. The returned Ref has Key, SHA256 and Size set; the caller adds
// the blob id, MIME type and name. Memory use is one chunk, whatever the
// size.
func Encrypt(r io.Reader, w io.Writer) (Ref, error) {
	key, prefix, err := freshKey()
	if err != nil {
		return Ref{}, err
	}
	return encryptWith(r, w, key, prefix)
}

func encryptWith(r io.Reader, w io.Writer, key, prefix []byte) (Ref, error) {
	s, err := newSealer(key, prefix)
	if err != nil {
		return Ref{}, err
	}
	if _, err := w.Write(s.header[:]); err != nil {
		return Ref{}, fmt.Errorf("attachment: write: %w", err)
	}
	br := bufio.NewReaderSize(r, ChunkSize)
	plain := make([]byte, ChunkSize)
	out := make([]byte, 0, ChunkSize+TagSize)
	h := sha256.New()
	var size int64
	for i := int64(0); ; i++ {
		n, err := io.ReadFull(br, plain)
		final := false
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			final = true
		case err != nil:
			return Ref{}, fmt.Errorf("attachment: read plaintext: %w", err)
		default:
			// A full chunk is the last one if nothing follows it.
			if _, perr := br.Peek(1); perr == io.EOF {
				final = true
			} else if perr != nil {
				return Ref{}, fmt.Errorf("attachment: read plaintext: %w", perr)
			}
		}
		if n == 0 && i > 0 { // cannot happen: a full chunk before EOF is final
			return Ref{}, errors.New("attachment: internal chunking error")
		}
		size += int64(n)
		if size > MaxSize {
			return Ref{}, fmt.Errorf("attachment: larger than %d bytes", int64(MaxSize))
		}
		h.Write(plain[:n])
		out = s.seal(out[:0], plain[:n], i, final)
		if _, err := w.Write(out); err != nil {
			return Ref{}, fmt.Errorf("attachment: write: %w", err)
		}
		if final {
			break
		}
	}
	return Ref{Key: key, SHA256: h.Sum(nil), Size: size}, nil
}

// Decrypt reads a blob from r, verifies every chunk and the plaintext's
// SHA-256 against ref, and writes the plaintext to w as it goes. On any
// error the output is incomplete or unauthenticated and must be discarded.
func Decrypt(r io.Reader, w io.Writer, ref Ref) error {
	if err := ref.validateCrypto(); err != nil {
		return err
	}
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: no complete header", ErrTruncated)
		}
		return fmt.Errorf("attachment: read blob: %w", err)
	}
	if subtle.ConstantTimeCompare(hdr[:4], magic[:]) != 1 {
		return ErrFormat
	}
	s, err := newSealer(ref.Key, hdr[4:])
	if err != nil {
		return err
	}
	n := numChunks(ref.Size)
	buf := make([]byte, ChunkSize+TagSize)
	plain := make([]byte, 0, ChunkSize)
	h := sha256.New()
	for i := int64(0); i < n; i++ {
		sealed := buf[:chunkLen(ref.Size, i)+TagSize]
		if got, err := io.ReadFull(r, sealed); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("%w: chunk %d of %d has %d of %d bytes", ErrTruncated, i+1, n, got, len(sealed))
			}
			return fmt.Errorf("attachment: read blob: %w", err)
		}
		plain, err = s.open(plain[:0], sealed, i, i == n-1)
		if err != nil {
			return fmt.Errorf("%w: chunk %d of %d", ErrTampered, i+1, n)
		}
		h.Write(plain)
		if _, err := w.Write(plain); err != nil {
			return fmt.Errorf("attachment: write plaintext: %w", err)
		}
	}
	var one [1]byte
	if k, err := io.ReadFull(r, one[:]); k > 0 {
		return ErrTrailing
	} else if err != io.EOF {
		return fmt.Errorf("attachment: read blob: %w", err)
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), ref.SHA256) != 1 {
		return ErrHashMismatch
	}
	return nil
}

// Encryptor encrypts a plaintext that can be read at any offset (a file, a
// browser Blob) and produces the blob from any ciphertext offset. With a
// fixed key and prefix the ciphertext is deterministic, so an interrupted
// upload resumes by re-encrypting from the server's offset: no temporary
// file, and memory stays at one chunk.
//
// The SHA-256 is computed as the chunks are first produced, in order;
// Ref is available once every chunk has been produced.
type Encryptor struct {
	src    io.ReaderAt
	size   int64
	key    []byte
	s      *sealer
	h      hash.Hash
	hashed int64 // chunks hashed so far (a prefix)
}

// NewEncryptor prepares the encryption of size bytes of src with a fresh key.
func NewEncryptor(src io.ReaderAt, size int64) (*Encryptor, error) {
	key, prefix, err := freshKey()
	if err != nil {
		return nil, err
	}
	return newEncryptorWith(src, size, key, prefix)
}

func newEncryptorWith(src io.ReaderAt, size int64, key, prefix []byte) (*Encryptor, error) {
	if size < 0 || size > MaxSize {
		return nil, fmt.Errorf("attachment: size %d outside 0..%d", size, int64(MaxSize))
	}
	s, err := newSealer(key, prefix)
	if err != nil {
		return nil, err
	}
	return &Encryptor{src: src, size: size, key: key, s: s, h: sha256.New()}, nil
}

// Size is the ciphertext size.
func (e *Encryptor) Size() int64 { return CiphertextSize(e.size) }

// Ref returns the reference (key, SHA-256, size) once all chunks have been
// produced by readers.
func (e *Encryptor) Ref() (Ref, error) {
	if e.hashed < numChunks(e.size) {
		return Ref{}, fmt.Errorf("attachment: only %d of %d chunks encrypted so far", e.hashed, numChunks(e.size))
	}
	key := append([]byte(nil), e.key...)
	return Ref{Key: key, SHA256: e.h.Sum(nil), Size: e.size}, nil
}

// NewReader returns the ciphertext from offset off to the end. Readers of
// one Encryptor must not be used concurrently.
func (e *Encryptor) NewReader(off int64) (io.Reader, error) {
	if off < 0 || off > e.Size() {
		return nil, fmt.Errorf("attachment: offset %d outside 0..%d", off, e.Size())
	}
	return &encReader{e: e, off: off, plain: make([]byte, ChunkSize), out: make([]byte, 0, ChunkSize+TagSize)}, nil
}

type encReader struct {
	e     *Encryptor
	off   int64 // ciphertext offset of the next byte to return
	plain []byte
	out   []byte // current sealed chunk (or the header)
	outAt int64  // ciphertext offset of out[0]
}

func (r *encReader) Read(p []byte) (int, error) {
	if r.off >= r.e.Size() {
		return 0, io.EOF
	}
	if r.off < r.outAt || r.off >= r.outAt+int64(len(r.out)) {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.out[r.off-r.outAt:])
	r.off += int64(n)
	return n, nil
}

// fill produces the header or the chunk that contains r.off.
func (r *encReader) fill() error {
	e := r.e
	if r.off < HeaderSize {
		r.out = append(r.out[:0], e.s.header[:]...)
		r.outAt = 0
		return nil
	}
	i := (r.off - HeaderSize) / (ChunkSize + TagSize)
	n := chunkLen(e.size, i)
	plain := r.plain[:n]
	if k, err := e.src.ReadAt(plain, i*ChunkSize); k < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("attachment: read plaintext at %d: %w (did the file shrink?)", i*ChunkSize, err)
	}
	if i == e.hashed { // chunks are hashed once, in order
		e.h.Write(plain)
		e.hashed++
	}
	r.out = e.s.seal(r.out[:0], plain, i, i == numChunks(e.size)-1)
	r.outAt = HeaderSize + i*(ChunkSize+TagSize)
	return nil
}
