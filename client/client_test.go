package client

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache/api"
)

func FuzzDecodeDev(f *testing.F) {
	good, _ := EncodeDevText("Lage ruhig")
	f.Add(good)
	f.Add([]byte(`{"v":2,"mode":"unencrypted-dev","type":"text","text":"x"}`))
	f.Add([]byte(`{"v":1,"mode":"unencrypted-dev","type":"text","text":"\ud800"}`))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := DecodeDev(b)
		if m.Type != "text" && m.Type != "unsupported" {
			t.Fatalf("unexpected type %q", m.Type)
		}
		if m.Type == "unsupported" && m.Text != "" {
			t.Fatal("unsupported message carries text")
		}
	})
}

func TestDevPayload(t *testing.T) {
	for _, tc := range []struct {
		text    string
		wantErr bool
	}{
		{"Hallo", false},
		{"Grüße aus der Wache ✓", false},
		{strings.Repeat("x", MaxText), false},
		{strings.Repeat("x", MaxText+1), true},
		{"\xff\xfe", true},
	} {
		b, err := EncodeDevText(tc.text)
		if (err != nil) != tc.wantErr {
			t.Fatalf("EncodeDevText(%.10q): err %v", tc.text, err)
		}
		if err == nil {
			if m := DecodeDev(b); m.Type != "text" || m.Text != tc.text {
				t.Fatalf("round trip: %+v", m)
			}
		}
	}
	if m := DecodeDev([]byte(`{"v":1,"mode":"mls","type":"sticker"}`)); m.Type != "unsupported" {
		t.Fatalf("unknown type decoded as %q", m.Type)
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
