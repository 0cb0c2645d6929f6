package client

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client/attach"
)

func FuzzDecodePayload(f *testing.F) {
	good, _ := EncodePayload(Payload{Type: TypeText, Text: "Lage ruhig"})
	f.Add(good)
	loc, _ := EncodePayload(Payload{Type: TypeLocation, Location: &Location{Lat: 51.2, Lon: 6.7, Time: time.Unix(1e9, 0)}})
	f.Add(loc)
	f.Add([]byte(`{"v":2,"type":"text","text":"x"}`))
	f.Add([]byte(`{"v":1,"type":"location","location":{"lat":91,"lon":0,"time":"2026-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"v":1,"type":"text","text":"\ud800"}`))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := DecodePayload(b)
		if p.Type == TypeUnsupported {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded an invalid payload: %v", err)
		}
		if _, err := EncodePayload(p); err != nil {
			t.Fatalf("a decoded payload does not encode: %v", err)
		}
	})
}

func TestPayloads(t *testing.T) {
	now := time.Now().UTC()
	key := make([]byte, 32)
	for _, tc := range []struct {
		name string
		p    Payload
		ok   bool
	}{
		{"text", Payload{Type: TypeText, Text: "Grüße aus der Wache ✓"}, true},
		{"reply", Payload{Type: TypeText, Text: "ok", ReplyTo: &Quote{Seq: 4, Excerpt: "Treffpunkt?"}}, true},
		{"empty text", Payload{Type: TypeText}, false},
		{"long text", Payload{Type: TypeText, Text: strings.Repeat("x", MaxText+1)}, false},
		{"bad utf8", Payload{Type: TypeText, Text: "\xff"}, false},
		{"location", Payload{Type: TypeLocation, Location: &Location{Lat: 51.2, Lon: 6.7, Accuracy: 5, Time: now}}, true},
		{"latitude 91", Payload{Type: TypeLocation, Location: &Location{Lat: 91, Lon: 6.7, Time: now}}, false},
		{"longitude -181", Payload{Type: TypeLiveLocation, Location: &Location{Lat: 1, Lon: -181, Time: now}}, false},
		{"no time", Payload{Type: TypeLocation, Location: &Location{Lat: 1, Lon: 1}}, false},
		{"live stop", Payload{Type: TypeLiveStop}, true},
		{"attachment", Payload{Type: TypeAttachment, Attachment: &attach.Ref{BlobID: strings.Repeat("ab", 16), Key: key, SHA256: key, Size: 3, MIME: "image/jpeg"}}, true},
		{"attachment without key", Payload{Type: TypeAttachment, Attachment: &attach.Ref{BlobID: strings.Repeat("ab", 16), SHA256: key}}, false},
		{"receipt", Payload{Type: TypeReceipt, Receipt: &Receipt{Kind: "read", Seq: 3}}, true},
		{"bad receipt", Payload{Type: TypeReceipt, Receipt: &Receipt{Kind: "seen", Seq: 3}}, false},
		{"unknown type", Payload{Type: "sticker"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodePayload(tc.p)
			if (err == nil) != tc.ok {
				t.Fatalf("EncodePayload: %v", err)
			}
			if err == nil {
				if got := DecodePayload(b); got.Type != tc.p.Type || got.Text != tc.p.Text {
					t.Fatalf("round trip: %+v", got)
				}
			}
		})
	}
	if got := DecodePayload([]byte(`{"v":1,"type":"sticker","sticker":"x"}`)); got.Type != TypeUnsupported {
		t.Fatalf("unknown type decoded as %q", got.Type)
	}
}

func TestInboxDropsRepeats(t *testing.T) {
	ctx := context.Background()
	st := FileState{Dir: t.TempDir()}
	in, err := OpenInbox(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	fn := func(e api.Envelope) error { got = append(got, e.Seq); return nil }
	for _, seq := range []int64{1, 2, 2, 1, 3} {
		if _, err := in.Process(ctx, api.Envelope{ConvID: "c", Seq: seq}, fn); err != nil {
			t.Fatal(err)
		}
	}
	// After a restart the inbox remembers.
	in2, err := OpenInbox(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int64{3, 4} {
		if _, err := in2.Process(ctx, api.Envelope{ConvID: "c", Seq: seq}, fn); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("processed %v, want [1 2 3 4]", got)
	}
	// A failing handler leaves the item unprocessed.
	ran, err := in2.Process(ctx, api.Envelope{ConvID: "c", Seq: 5}, func(api.Envelope) error { return os.ErrClosed })
	if ran || err == nil || in2.Seen("c") != 4 {
		t.Fatalf("failed handler: ran=%v err=%v seen=%d", ran, err, in2.Seen("c"))
	}
}

func TestFileState(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "profile")
	st := FileState{Dir: dir}
	if b, err := st.Load(ctx, "profile"); b != nil || err != nil {
		t.Fatalf("empty state: %q %v", b, err)
	}
	if err := st.Save(ctx, "../escape", []byte("x")); err == nil {
		t.Fatal("a key with a path was accepted")
	}
	if err := SaveProfile(ctx, st, &Profile{Email: "a@b.c", Token: "wch_x"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "profile.json"))
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("profile file is readable by others: %v %v", fi.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inbox.json"), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenInbox(ctx, st); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt inbox: %v", err)
	}
	if err := st.Erase(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadProfile(ctx, st); p != nil || err != nil {
		t.Fatalf("profile after erase: %v %v", p, err)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond}
	for i := 0; i < 5; i++ {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if b.cur != 4*time.Millisecond {
		t.Fatalf("backoff grew to %v, want capped at 4ms", b.cur)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Backoff{Min: time.Hour, Max: time.Hour}).Wait(ctx); err == nil {
		t.Fatal("Wait ignored a cancelled context")
	}
}

func TestNewRejectsBadServer(t *testing.T) {
	for _, s := range []string{"", "ftp://x", "localhost:8080", "http://"} {
		if _, err := New(s, ""); err == nil {
			t.Errorf("New(%q) accepted", s)
		}
	}
	c, err := New("https://wache.polizei.example/", "")
	if err != nil || c.Server() != "https://wache.polizei.example" || c.wsURL() != "wss://wache.polizei.example/api/v1/ws" {
		t.Fatalf("New: %v %v", c, err)
	}
}
