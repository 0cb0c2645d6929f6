package client_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

// rawState is an in-memory State whose raw bytes a test can inspect and
// damage.
type rawState struct {
	mu    sync.Mutex
	m     map[string][]byte
	loads int
}

func (s *rawState) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if v, ok := s.m[k]; ok {
		return append([]byte(nil), v...), nil
	}
	return nil, nil
}

func (s *rawState) Save(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	if len(v) == 0 {
		delete(s.m, k)
		return nil
	}
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *rawState) Erase(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = nil
	return nil
}

func (s *rawState) keys(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

func textMsg(conv string, seq int64, sender, text string) client.Message {
	return client.Message{ConvID: conv, Seq: seq, SenderID: sender, SenderEmail: sender + "@polizei.example",
		Time: time.Unix(1_800_000_000+seq, 0).UTC(), Payload: client.Payload{V: 1, Type: client.TypeText, Text: text}}
}

func receipt(conv string, seq int64, sender, kind string, of int64) client.Message {
	return client.Message{ConvID: conv, Seq: seq, SenderID: sender, Time: time.Unix(1_800_000_000+seq, 0).UTC(),
		Payload: client.Payload{V: 1, Type: client.TypeReceipt, Receipt: &client.Receipt{Kind: kind, Seq: of}}}
}

func seqs(es []client.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// TestHistoryBounded: thousands of messages in small chunks; paging works
// across chunks; only the newest MaxHistory are kept and dropped chunks
// are really deleted.
func TestHistoryBounded(t *testing.T) {
	old := client.MaxHistory
	client.MaxHistory = 300
	defer func() { client.MaxHistory = old }()
	ctx := context.Background()
	st := &rawState{}
	h := client.OpenHistory(st, "me")
	for i := int64(1); i <= 1000; i++ {
		if _, err := h.Record(ctx, textMsg("c1", i, "ben", fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Reopened: everything comes from the state.
	h = client.OpenHistory(st, "me")
	newest, err := h.Messages(ctx, "c1", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(newest) != 50 || newest[0].Seq != 951 || newest[49].Seq != 1000 {
		t.Fatalf("newest page: %v", seqs(newest))
	}
	var all []client.Entry
	before := int64(0)
	for {
		page, err := h.Messages(ctx, "c1", before, 120)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(page, all...)
		before = page[0].Seq
	}
	if len(all) < client.MaxHistory || len(all) > client.MaxHistory+100 {
		t.Fatalf("kept %d entries, want about %d", len(all), client.MaxHistory)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("gap or disorder at %d: %d after %d", i, all[i].Seq, all[i-1].Seq)
		}
	}
	if all[len(all)-1].Seq != 1000 {
		t.Fatalf("last %d", all[len(all)-1].Seq)
	}
	if n := len(st.keys("h_c1_")); n > client.MaxHistory/100+2 {
		t.Fatalf("%d chunks stored: dropped chunks were not deleted", n)
	}
	sum, err := h.Summary(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unread != 1000 || sum.Last == nil || sum.Last.Payload.Text != "m1000" {
		t.Fatalf("summary %+v", sum)
	}
	if err := h.MarkRead(ctx, "c1", 990); err != nil {
		t.Fatal(err)
	}
	if sum, _ = h.Summary(ctx, "c1"); sum.Unread != 10 {
		t.Fatalf("unread after reading to 990: %d, want 10", sum.Unread)
	}
	// A repeated delivery is not shown twice.
	if es, err := h.Record(ctx, textMsg("c1", 1000, "ben", "m1000")); err != nil || len(es) != 0 {
		t.Fatalf("duplicate recorded: %v %v", es, err)
	}
}

// TestHistoryRecentOnly: receipts and live fixes look at recent chunks
// only: a receipt in a long conversation without own messages does not
// decrypt the whole history.
func TestHistoryRecentOnly(t *testing.T) {
	ctx := context.Background()
	st := &rawState{}
	h := client.OpenHistory(st, "me")
	for i := int64(1); i <= 2000; i++ {
		if _, err := h.Record(ctx, textMsg("c", i, "ben", "m")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.keys("h_c_")); n < 15 {
		t.Fatalf("only %d chunks", n)
	}
	for _, m := range []client.Message{receipt("c", 2001, "clara", "delivered", 2000), receipt("c", 2002, "clara", "read", 3),
		{ConvID: "c", Seq: 2003, SenderID: "clara", Time: time.Now(), Payload: client.Payload{V: 1, Type: client.TypeLiveStop}}} {
		st.mu.Lock()
		st.loads = 0
		st.mu.Unlock()
		if _, err := h.Record(ctx, m); err != nil {
			t.Fatal(err)
		}
		if st.loads > 8 {
			t.Fatalf("%s loaded %d values", m.Payload.Type, st.loads)
		}
	}
}

// TestHistoryStates: own messages go pending → sent → delivered → read by
// receipts that cover everything before them; refused ones fail; a
// receipt never lowers a state.
func TestHistoryStates(t *testing.T) {
	ctx := context.Background()
	h := client.OpenHistory(&rawState{}, "me")
	now := time.Now()
	for i, id := range []string{"l1", "l2", "l3"} {
		if _, err := h.AddPending(ctx, "c", id, client.Payload{V: 1, Type: client.TypeText, Text: id}, now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Record(ctx, textMsg("c", 5, "ben", "dazwischen")); err != nil {
		t.Fatal(err)
	}
	es, _ := h.Messages(ctx, "c", 0, 10)
	if got := fmt.Sprint(seqs(es)); got != "[5 0 0 0]" {
		t.Fatalf("order with pending last: %s", got)
	}
	for _, c := range []struct {
		id  string
		seq int64
	}{{"l1", 6}, {"l2", 7}} {
		if es, err := h.MarkSent(ctx, "c", c.id, c.seq, time.Time{}); err != nil || len(es) != 1 || es[0].Status != client.StatusSent {
			t.Fatalf("mark sent %s: %+v %v", c.id, es, err)
		}
	}
	if es, err := h.MarkFailed(ctx, "c", "l3", "refused"); err != nil || len(es) != 1 || es[0].Status != client.StatusFailed {
		t.Fatalf("mark failed: %+v %v", es, err)
	}
	if es, _ := h.MarkSent(ctx, "c", "l3", 9, time.Time{}); len(es) != 0 {
		t.Fatal("a failed message became sent")
	}
	changed, err := h.Record(ctx, receipt("c", 8, "ben", "read", 6))
	if err != nil || len(changed) != 1 || changed[0].Seq != 6 || changed[0].Status != client.StatusRead {
		t.Fatalf("read receipt for 6: %+v %v", changed, err)
	}
	changed, _ = h.Record(ctx, receipt("c", 10, "ben", "delivered", 7))
	if len(changed) != 1 || changed[0].Seq != 7 || changed[0].Status != client.StatusDelivered {
		t.Fatalf("delivered receipt for 7: %+v", changed)
	}
	if changed, _ = h.Record(ctx, receipt("c", 11, "ben", "delivered", 6)); len(changed) != 0 {
		t.Fatalf("delivered lowered read: %+v", changed)
	}
	es, _ = h.Messages(ctx, "c", 0, 10)
	want := map[int64]string{5: client.StatusDelivered, 6: client.StatusRead, 7: client.StatusDelivered, 0: client.StatusFailed}
	for _, e := range es {
		if want[e.Seq] != e.Status {
			t.Errorf("seq %d: %s, want %s", e.Seq, e.Status, want[e.Seq])
		}
	}
	if len(es) != 4 {
		t.Fatalf("receipts must not be shown: %d entries", len(es))
	}
	// Read on another device of the same user clears the unread count.
	if _, err := h.Record(ctx, receipt("c", 12, "me", "read", 5)); err != nil {
		t.Fatal(err)
	}
	if sum, _ := h.Summary(ctx, "c"); sum.Unread != 0 {
		t.Fatalf("unread %d after reading on another device", sum.Unread)
	}
}

// TestHistoryLiveLocation: the fixes of one sharing update one entry; the
// stop closes it and is shown.
func TestHistoryLiveLocation(t *testing.T) {
	ctx := context.Background()
	h := client.OpenHistory(&rawState{}, "me")
	t0 := time.Unix(1_800_000_000, 0).UTC()
	until := t0.Add(15 * time.Minute)
	live := func(seq int64, lat float64, at time.Time) client.Message {
		return client.Message{ConvID: "c", Seq: seq, SenderID: "ben", Time: at, Payload: client.Payload{V: 1, Type: client.TypeLiveLocation,
			Location: &client.Location{Lat: lat, Lon: 7, Time: at, LiveUntil: &until}}}
	}
	for i := int64(1); i <= 5; i++ {
		if _, err := h.Record(ctx, live(i, 50+float64(i)/100, t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	es, _ := h.Messages(ctx, "c", 0, 50)
	if len(es) != 1 || es[0].Seq != 1 || es[0].Payload.Location.Lat != 50.05 {
		t.Fatalf("live sharing: %+v", es)
	}
	stop := client.Message{ConvID: "c", Seq: 6, SenderID: "ben", Time: t0.Add(6 * time.Minute), Payload: client.Payload{V: 1, Type: client.TypeLiveStop}}
	changed, err := h.Record(ctx, stop)
	if err != nil || len(changed) != 2 {
		t.Fatalf("stop: %+v %v", changed, err)
	}
	es, _ = h.Messages(ctx, "c", 0, 50)
	if len(es) != 2 || !es[0].Payload.Location.LiveUntil.Equal(stop.Time) || es[1].Payload.Type != client.TypeLiveStop {
		t.Fatalf("after stop: %+v", es)
	}
	// A fix after the stop opens a new entry.
	if _, err := h.Record(ctx, live(7, 51, t0.Add(7*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if es, _ = h.Messages(ctx, "c", 0, 50); len(es) != 3 {
		t.Fatalf("new sharing: %d entries", len(es))
	}
}

// TestHistoryCorrupt: damaged stored history gives ECORRUPT, never a panic.
func TestHistoryCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, key := range []string{"hx_c", "h_c_0"} {
		st := &rawState{}
		h := client.OpenHistory(st, "me")
		if _, err := h.Record(ctx, textMsg("c", 1, "ben", "x")); err != nil {
			t.Fatal(err)
		}
		st.m[key] = []byte("{garbage")
		h = client.OpenHistory(st, "me")
		_, err := h.Messages(ctx, "c", 0, 10)
		if wache.ErrorCode(err) != client.ECORRUPT {
			t.Fatalf("%s damaged: %v, want code %s", key, err, client.ECORRUPT)
		}
	}
}

func TestThumbnailValidation(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"data:image/jpeg;base64,/9j/4AAQ", true},
		{"data:image/png;base64,iVBORw0KGgo=", true},
		{"data:image/svg+xml;base64,PHN2Zz4=", false},
		{"javascript:alert(1)", false},
		{"data:image/jpeg;base64,<script>", false},
		{"data:image/jpeg;base64," + strings.Repeat("A", client.MaxThumbnail), false},
	} {
		if err := client.ValidateThumbnail(c.in); (err == nil) != c.ok {
			t.Errorf("%.40q: %v", c.in, err)
		}
	}
}

func TestDrafts(t *testing.T) {
	ctx := context.Background()
	st := &rawState{}
	v, err := client.OpenVault(ctx, st, []byte("123456"))
	if err != nil {
		t.Fatal(err)
	}
	d := client.OpenDrafts(v)
	if err := d.Save(ctx, "c1", "Bitte Kennzeichen prüfen"); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Load(ctx, "c1"); err != nil || got != "Bitte Kennzeichen prüfen" {
		t.Fatalf("draft %q %v", got, err)
	}
	for k, raw := range st.m {
		if bytes.Contains(raw, []byte("Kennzeichen")) {
			t.Fatalf("draft stored in plaintext under %s", k)
		}
	}
	if got, _ := d.Load(ctx, "c2"); got != "" {
		t.Fatalf("no draft: %q", got)
	}
	if err := d.Save(ctx, "c1", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Load(ctx, "c1"); got != "" {
		t.Fatalf("cleared draft: %q", got)
	}
	for _, bad := range []string{strings.Repeat("x", client.MaxText+1), "\xff\xfe"} {
		if err := d.Save(ctx, "c1", bad); wache.ErrorCode(err) != wache.EINVALID {
			t.Fatalf("bad draft accepted: %v", err)
		}
	}
}

// histDevice is a logged-in device with the client core, its history in
// an encrypted vault, and the app's flush loop.
type histDevice struct {
	st   *rawState
	m    *client.Messenger
	h    *client.History
	prof *client.Profile
}

func newHistDevice(t *testing.T, n *harness.Node, email string) *histDevice {
	t.Helper()
	ctx := context.Background()
	_, p := n.Login(t, email)
	st := &rawState{}
	v, err := client.OpenVaultKDF(ctx, st, []byte("123456"), client.KDFParams{Time: 1, MemoryKiB: 8 * 1024, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SaveProfile(ctx, v, p); err != nil {
		t.Fatal(err)
	}
	m, err := client.OpenMessenger(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureKeyPackages(ctx, 5, 10); err != nil {
		t.Fatal(err)
	}
	d := &histDevice{st: st, m: m, h: client.OpenHistory(v, p.UserID), prof: p}
	// The history records inside processing, before the envelope counts
	// as processed (the app's way; see Messenger.Record).
	m.Record = func(ctx context.Context, msg client.Message) error {
		_, err := d.h.Record(ctx, msg)
		return err
	}
	return d
}

func (d *histDevice) send(t *testing.T, conv, text string) string {
	t.Helper()
	ctx := context.Background()
	p := client.Payload{V: 1, Type: client.TypeText, Text: text}
	id, err := d.m.Queue(ctx, conv, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.h.AddPending(ctx, conv, id, p, time.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

func (d *histDevice) flush(t *testing.T) int { return d.flushWithin(t, 10*time.Second) }

func (d *histDevice) flushWithin(t *testing.T, perItem time.Duration) int {
	t.Helper()
	ctx := context.Background()
	left, err := d.m.DeliverOutbox(ctx, perItem, func(x client.Delivery) {
		var err error
		if x.Err != nil {
			_, err = d.h.MarkFailed(ctx, x.ConvID, x.LocalID, x.Err.Error())
		} else {
			_, err = d.h.MarkSent(ctx, x.ConvID, x.LocalID, x.Seq, x.At)
		}
		if err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func (d *histDevice) entries(t *testing.T, conv string) []client.Entry {
	t.Helper()
	es, err := d.h.Messages(context.Background(), conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHistoryWithMessengers: two real devices through a real server. A
// message queued while the server is unreachable stays pending in the
// history, goes out on the next flush and becomes sent, then delivered
// and read by the other device's end-to-end receipts; the history is
// encrypted at rest and survives a restart.
func TestHistoryWithMessengers(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	anna := newHistDevice(t, n, "anna.schmidt@"+harness.Domain)
	ben := newHistDevice(t, n, "ben.mueller@"+harness.Domain)
	conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "direct", Members: []string{"ben.mueller@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*histDevice{anna, ben} {
		synced := make(chan struct{})
		var once sync.Once
		go d.m.Listen(ctx, client.ListenHandler{Synced: func() { once.Do(func() { close(synced) }) }})
		select {
		case <-synced:
		case <-time.After(10 * time.Second):
			t.Fatal("listen did not sync")
		}
	}

	// The link does not answer in time: the message waits in the outbox
	// (a deadline is no refusal).
	id := anna.send(t, conv.ID, "Kennzeichen B-XY 123 prüfen")
	if left := anna.flushWithin(t, time.Nanosecond); left != 1 {
		t.Fatalf("offline flush left %d, want 1", left)
	}
	if es := anna.entries(t, conv.ID); len(es) != 1 || es[0].Status != client.StatusPending || es[0].LocalID != id {
		t.Fatalf("offline: %+v", es)
	}
	if left := anna.flush(t); left != 0 {
		t.Fatalf("online flush left %d", left)
	}
	es := anna.entries(t, conv.ID)
	if len(es) != 1 || es[0].Status != client.StatusSent || es[0].Seq == 0 {
		t.Fatalf("after flush: %+v", es)
	}
	seq := es[0].Seq

	waitUntil(t, "ben to record the message", func() bool { return len(ben.entries(t, conv.ID)) == 1 })
	got := ben.entries(t, conv.ID)[0]
	if got.Payload.Text != "Kennzeichen B-XY 123 prüfen" || got.Mine || got.Seq != seq || got.SenderEmail != anna.prof.Email {
		t.Fatalf("ben has %+v", got)
	}
	if sum, _ := ben.h.Summary(ctx, conv.ID); sum.Unread != 1 {
		t.Fatalf("ben unread %d", sum.Unread)
	}

	// Ben's device confirms delivery, then reading (end-to-end receipts).
	for _, kind := range []string{client.StatusDelivered, client.StatusRead} {
		if _, err := ben.m.Queue(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeReceipt, Receipt: &client.Receipt{Kind: kind, Seq: seq}}); err != nil {
			t.Fatal(err)
		}
		ben.flush(t)
		waitUntil(t, "anna to see "+kind, func() bool { return anna.entries(t, conv.ID)[0].Status == kind })
	}
	if err := ben.h.MarkRead(ctx, conv.ID, seq); err != nil {
		t.Fatal(err)
	}
	if sum, _ := ben.h.Summary(ctx, conv.ID); sum.Unread != 0 || sum.Last == nil || sum.Last.Seq != seq {
		t.Fatalf("ben summary %+v", sum)
	}
	// Ben answers; anna records it.
	ben.send(t, conv.ID, "Erledigt, Halter ermittelt")
	ben.flush(t)
	waitUntil(t, "anna to record the answer", func() bool { return len(anna.entries(t, conv.ID)) == 2 })

	// At rest: no plaintext anywhere in the state.
	for _, d := range []*histDevice{anna, ben} {
		for k, raw := range d.st.m {
			if bytes.Contains(raw, []byte("B-XY 123")) || bytes.Contains(raw, []byte("Halter")) {
				t.Fatalf("plaintext in state key %s", k)
			}
		}
	}
	// Restart: a new vault on the same state with the PIN has it all.
	v, err := client.OpenVault(ctx, anna.st, []byte("123456"))
	if err != nil {
		t.Fatal(err)
	}
	es, err = client.OpenHistory(v, anna.prof.UserID).Messages(ctx, conv.ID, 0, 10)
	if err != nil || len(es) != 2 || es[0].Status != client.StatusRead || es[1].Payload.Text != "Erledigt, Halter ermittelt" {
		t.Fatalf("after restart: %+v %v", es, err)
	}
}

// TestBenchMLS runs the in-memory MLS measurement the browser exposes.
func TestBenchMLS(t *testing.T) {
	enc, dec, err := client.BenchMLS(20, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if enc <= 0 || dec <= 0 {
		t.Fatalf("enc %v dec %v", enc, dec)
	}
	t.Logf("native, loaded machine: encrypt %v, decrypt %v per 1 KiB message", enc, dec)
	if _, _, err := client.BenchMLS(0, 1); err == nil {
		t.Fatal("n=0 accepted")
	}
}

// FuzzHistoryState: whatever bytes a damaged or altered store holds for the
// history, reading and writing it gives entries or ECORRUPT, never a panic
// or a hang.
func FuzzHistoryState(f *testing.F) {
	f.Add([]byte(`{"first":0,"counts":[2],"read_seq":0,"unread":1,"max_seq":2}`), []byte(`[{"conv_id":"c","seq":1,"sender_id":"b","time":"2026-01-01T00:00:00Z","payload":{"v":1,"type":"text","text":"x"},"status":"delivered"}]`))
	f.Add([]byte(`{"first":-5,"counts":[-1,99999999]}`), []byte(`[]`))
	f.Add([]byte(`{"first":9223372036854775807,"counts":[1,1]}`), []byte(`null`))
	f.Add([]byte(`null`), []byte(`[{"seq":-1,"payload":{"type":"live_location","location":null}}]`))
	f.Fuzz(func(t *testing.T, index, chunk []byte) {
		ctx := context.Background()
		st := &rawState{m: map[string][]byte{"hx_c": index}}
		for n := -1; n < 3; n++ {
			st.m[fmt.Sprintf("h_c_%d", n)] = chunk
		}
		h := client.OpenHistory(st, "me")
		check := func(err error) {
			if err != nil && wache.ErrorCode(err) != client.ECORRUPT {
				t.Fatalf("error without code %s: %v", client.ECORRUPT, err)
			}
		}
		_, err := h.Messages(ctx, "c", 0, 50)
		check(err)
		_, err = h.Summary(ctx, "c")
		check(err)
		_, err = h.Record(ctx, textMsg("c", 5, "ben", "neu"))
		check(err)
		_, err = h.Record(ctx, receipt("c", 6, "ben", "read", 5))
		check(err)
		_, err = h.AddPending(ctx, "c", "l1", client.Payload{V: 1, Type: client.TypeText, Text: "x"}, time.Now())
		check(err)
		_, err = h.MarkSent(ctx, "c", "l1", 7, time.Now())
		check(err)
		check(h.MarkRead(ctx, "c", 7))
	})
}
