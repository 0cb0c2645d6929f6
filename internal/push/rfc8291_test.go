package push_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// The example of RFC 8291 Section 5 / Appendix A.
const (
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcASPublic  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	// Intermediate values the RFC publishes.
	rfcECDHSecret = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"
	rfcPRKKey     = "Snr3JMxaHVDXHWJn5wdC52WjpCtd2EIEGBykDcZW32k"
	rfcIKM        = "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg"
	rfcPRK        = "09_eUZGrsvxChDCGRCdkLiDXrReGOEVeSCdCcPBSJSc"
	rfcCEK        = "oIhVW04MRdy2XN9CiKLxTg"
	rfcNonce      = "4h_95klXJ5E_qnoN"
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// trace records the derived values of one decryption, for comparison with
// the RFC's intermediate values.
type trace struct {
	ecdhSecret, prkKey, ikm, prk, cek, nonce []byte
}

// decryptPush is the receiver's side of RFC 8291 §3.4 over the aes128gcm
// content coding of RFC 8188 §2, written independently of the library: it
// parses the header (salt, rs, keyid = sender's ephemeral public key),
// derives IKM, CEK and nonce, opens every record and strips the padding.
func decryptPush(body []byte, ua *ecdh.PrivateKey, auth []byte, tr *trace) ([]byte, error) {
	const hdr = 16 + 4 + 1
	if len(body) < hdr {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt := body[:16]
	rs := int(binary.BigEndian.Uint32(body[16:20]))
	idlen := int(body[20])
	if len(body) < hdr+idlen {
		return nil, errors.New("body shorter than its keyid")
	}
	if rs < 18 {
		return nil, fmt.Errorf("record size %d below the minimum 18", rs)
	}
	asPub, err := ecdh.P256().NewPublicKey(body[hdr : hdr+idlen])
	if err != nil {
		return nil, fmt.Errorf("keyid is not a P-256 point: %w", err)
	}
	secret, err := ua.ECDH(asPub)
	if err != nil {
		return nil, err
	}
	keyInfo := append([]byte("WebPush: info\x00"), ua.PublicKey().Bytes()...)
	keyInfo = append(keyInfo, asPub.Bytes()...)
	prkKey, err := hkdf.Extract(sha256.New, secret, auth)
	if err != nil {
		return nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prkKey, string(keyInfo), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	if tr != nil {
		*tr = trace{secret, prkKey, ikm, prk, cek, nonce}
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	var out []byte
	rest := body[hdr+idlen:]
	for seq := uint64(0); ; seq++ {
		n := min(rs, len(rest))
		if n <= gcm.Overhead() {
			return nil, errors.New("truncated record")
		}
		iv := bytes.Clone(nonce)
		ctr := binary.BigEndian.Uint64(iv[4:]) ^ seq // RFC 8188 §2.3: nonce XOR seq
		binary.BigEndian.PutUint64(iv[4:], ctr)
		plain, err := gcm.Open(nil, iv, rest[:n], nil)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", seq, err)
		}
		rest = rest[n:]
		last := len(rest) == 0
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		switch {
		case i < 0:
			return nil, errors.New("record without padding delimiter")
		case last && plain[i] != 2:
			return nil, errors.New("last record must end with delimiter 0x02")
		case !last && plain[i] != 1:
			return nil, errors.New("non-last record must end with delimiter 0x01")
		}
		out = append(out, plain[:i]...)
		if last {
			return out, nil
		}
	}
}

func rfcReceiver(t testing.TB) *ecdh.PrivateKey {
	t.Helper()
	ua, err := ecdh.P256().NewPrivateKey(b64(t, rfcUAPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()); got != rfcUAPublic {
		t.Fatalf("receiver public key %s, want the RFC's %s", got, rfcUAPublic)
	}
	return ua
}

// TestRFC8291Example decrypts the RFC's published message with the RFC's
// receiver key and auth secret and compares every intermediate value.
func TestRFC8291Example(t *testing.T) {
	ua := rfcReceiver(t)
	body := b64(t, rfcBody)
	if !bytes.Equal(body[:16], b64(t, rfcSalt)) || !bytes.Equal(body[21:86], b64(t, rfcASPublic)) {
		t.Fatal("RFC body header does not carry the RFC's salt and sender key")
	}
	var tr trace
	plain, err := decryptPush(body, ua, b64(t, rfcAuth), &tr)
	if err != nil {
		t.Fatalf("decrypt RFC 8291 example: %v", err)
	}
	if string(plain) != rfcPlaintext {
		t.Fatalf("plaintext %q, want %q", plain, rfcPlaintext)
	}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"ecdh_secret", tr.ecdhSecret, rfcECDHSecret},
		{"PRK_key", tr.prkKey, rfcPRKKey},
		{"IKM", tr.ikm, rfcIKM},
		{"PRK", tr.prk, rfcPRK},
		{"CEK", tr.cek, rfcCEK},
		{"NONCE", tr.nonce, rfcNonce},
	} {
		if got := base64.RawURLEncoding.EncodeToString(c.got); got != c.want {
			t.Errorf("%s = %s, want %s", c.name, got, c.want)
		}
	}
}

// TestRFC8291Tampered shows that the routine above can fail: a wrong auth
// secret, a flipped ciphertext bit, a cut body and a wrong receiver key are
// all refused.
func TestRFC8291Tampered(t *testing.T) {
	ua := rfcReceiver(t)
	other, _ := ecdh.P256().GenerateKey(rand.Reader)
	body := b64(t, rfcBody)
	auth := b64(t, rfcAuth)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	for _, c := range []struct {
		name string
		body []byte
		ua   *ecdh.PrivateKey
		auth []byte
	}{
		{"wrong auth", body, ua, flip(auth, 0)},
		{"flipped ciphertext", flip(body, len(body)-20), ua, auth},
		{"flipped tag", flip(body, len(body)-1), ua, auth},
		{"flipped salt", flip(body, 3), ua, auth},
		{"cut body", body[:len(body)-5], ua, auth},
		{"header only", body[:86], ua, auth},
		{"wrong receiver", body, other, auth},
		{"empty", nil, ua, auth},
	} {
		if plain, err := decryptPush(c.body, c.ua, c.auth, nil); err == nil {
			t.Errorf("%s: decrypted to %q, want an error", c.name, plain)
		}
	}
}

// captureClient records the request the library would send.
type captureClient struct {
	req  *http.Request
	body []byte
}

func (c *captureClient) Do(r *http.Request) (*http.Response, error) {
	c.req = r
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	c.body = b
	return &http.Response{StatusCode: 201, Body: io.NopCloser(bytes.NewReader(nil)), Header: http.Header{}}, nil
}

// TestLibraryEncryptsForReceiver: what the library encrypts for a receiver
// key decrypts with the independent routine, for several sizes.
func TestLibraryEncryptsForReceiver(t *testing.T) {
	vapidPriv, vapidPub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{`{"k":"alarm"}`, rfcPlaintext, "", string(bytes.Repeat([]byte("x"), 3000))} {
		ua, _ := ecdh.P256().GenerateKey(rand.Reader)
		auth := make([]byte, 16)
		rand.Read(auth)
		var cc captureClient
		sub := &webpush.Subscription{Endpoint: "https://push.example/x",
			Keys: webpush.Keys{P256dh: base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()), Auth: base64.RawURLEncoding.EncodeToString(auth)}}
		if _, err := webpush.SendNotificationWithContext(context.Background(), []byte(msg), sub,
			&webpush.Options{HTTPClient: &cc, Subscriber: "ops@polizei.example", TTL: 60,
				VAPIDPublicKey: vapidPub, VAPIDPrivateKey: vapidPriv}); err != nil {
			t.Fatalf("encrypt %d bytes: %v", len(msg), err)
		}
		if got := cc.req.Header.Get("Content-Encoding"); got != "aes128gcm" {
			t.Fatalf("Content-Encoding %q", got)
		}
		plain, err := decryptPush(cc.body, ua, auth, nil)
		if err != nil {
			t.Fatalf("decrypt library output (%d bytes): %v", len(msg), err)
		}
		if string(plain) != msg {
			t.Fatalf("round trip: got %d bytes, want %d", len(plain), len(msg))
		}
		// The same body must not open for a different auth secret.
		auth[0] ^= 1
		if _, err := decryptPush(cc.body, ua, auth, nil); err == nil {
			t.Fatal("library output opened with a wrong auth secret")
		}
	}
}
