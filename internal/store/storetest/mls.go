package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

func commit(c *wache.Conversation, d *wache.Device, clientID string, epoch int64) *wache.Envelope {
	e := env(c, d, clientID)
	e.Kind, e.Epoch = wache.EnvCommit, epoch
	return e
}

// testCommitEpochs: a commit is accepted only for the current epoch and
// advances it; application messages do not; kind and epoch round-trip.
func testCommitEpochs(t *testing.T, f *fixture) {
	a, b := f.user(t, "a"), f.user(t, "b")
	da, db := f.device(t, a), f.device(t, b)
	c := f.group(t, a, b)
	app := env(c, da, "app-1")
	app.Epoch = 0
	f.appendOK(t, app, commit(c, da, "commit-0", 0))
	res, err := f.s.AppendEnvelopes(f.ctx, []*wache.Envelope{
		commit(c, db, "stale", 0),    // made for epoch 0: lost the race
		commit(c, db, "commit-1", 1), // current
		commit(c, da, "future", 5),   // from nowhere
		commit(c, db, "commit-1", 1), // a retry in the same batch
		{ConvID: c.ID, SenderID: a.ID, SenderDevice: da.ID, ClientID: "bad-kind", Kind: "proposal", Payload: []byte("x")},
	})
	must(t, err)
	wantCode(t, res[0].Err, wache.ECONFLICT)
	if res[1].Err != nil || res[1].Seq != 3 {
		t.Fatalf("current-epoch commit: %+v", res[1])
	}
	wantCode(t, res[2].Err, wache.ECONFLICT)
	if !res[3].Duplicate || res[3].Seq != 3 {
		t.Fatalf("retried commit: %+v", res[3])
	}
	wantCode(t, res[4].Err, wache.EINVALID)
	if n, err := f.s.CountAppEnvelopes(f.ctx, c.ID, 0, 100); err != nil || n != 1 {
		t.Fatalf("CountAppEnvelopes = %d, %v; want 1 (commits do not count)", n, err)
	}
	conv, err := f.s.Conversation(f.ctx, c.ID)
	must(t, err)
	if conv.Epoch != 2 || conv.LastSeq != 3 {
		t.Fatalf("epoch %d last seq %d, want 2 and 3", conv.Epoch, conv.LastSeq)
	}
	es, err := f.s.Envelopes(f.ctx, c.ID, 0, 10)
	must(t, err)
	want := []struct {
		kind  wache.EnvelopeKind
		epoch int64
	}{{wache.EnvApp, 0}, {wache.EnvCommit, 0}, {wache.EnvCommit, 1}}
	if len(es) != len(want) {
		t.Fatalf("%d envelopes, want %d", len(es), len(want))
	}
	for i, w := range want {
		if es[i].Kind != w.kind || es[i].Epoch != w.epoch {
			t.Errorf("envelope %d: %s@%d, want %s@%d", i, es[i].Kind, es[i].Epoch, w.kind, w.epoch)
		}
	}
}

// testCommitRace: many devices commit for the same epoch at once; exactly
// one wins.
func testCommitRace(t *testing.T, f *fixture) {
	const n = 8
	var users []*wache.User
	var devs []*wache.Device
	for i := 0; i < n; i++ {
		u := f.user(t, fmt.Sprintf("r%d", i))
		users = append(users, u)
		devs = append(devs, f.device(t, u))
	}
	c := f.group(t, users...)
	var wg sync.WaitGroup
	results := make([]store.AppendResult, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.s.AppendEnvelopes(f.ctx, []*wache.Envelope{commit(c, devs[i], "race", 0)})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = res[0]
		}()
	}
	wg.Wait()
	wins := 0
	for _, r := range results {
		if r.Err == nil {
			wins++
		} else {
			wantCode(t, r.Err, wache.ECONFLICT)
		}
	}
	conv, err := f.s.Conversation(f.ctx, c.ID)
	must(t, err)
	if wins != 1 || conv.Epoch != 1 || conv.LastSeq != 1 {
		t.Fatalf("%d winners, epoch %d, last seq %d; want 1, 1, 1", wins, conv.Epoch, conv.LastSeq)
	}
}

func testKeyPackages(t *testing.T, f *fixture) {
	a, b := f.user(t, "kpa"), f.user(t, "kpb")
	a1, a2, b1 := f.device(t, a), f.device(t, a), f.device(t, b)
	revoked := f.device(t, b)
	must(t, f.s.RevokeDevice(f.ctx, revoked.ID, revoked.CreatedAt))
	must(t, f.s.AddKeyPackages(f.ctx, a1.ID, []store.KeyPackage{{ID: "kp1", Data: []byte("a1-first")}, {ID: "kp2", Data: []byte("a1-second")}}))
	must(t, f.s.AddKeyPackages(f.ctx, a2.ID, []store.KeyPackage{{ID: "kp3", Data: []byte("a2")}}))
	must(t, f.s.AddKeyPackages(f.ctx, revoked.ID, []store.KeyPackage{{ID: "kp4", Data: []byte("revoked")}}))
	wantCode(t, f.s.AddKeyPackages(f.ctx, a1.ID, []store.KeyPackage{{ID: "kp1", Data: []byte("again")}}), wache.ECONFLICT)
	wantCode(t, f.s.AddKeyPackages(f.ctx, a1.ID, []store.KeyPackage{{ID: "kp5"}}), wache.EINVALID)
	big := make([]store.KeyPackage, store.MaxKeyPackages+1)
	for i := range big {
		big[i] = store.KeyPackage{ID: fmt.Sprintf("big%d", i), Data: []byte{1}}
	}
	wantCode(t, f.s.AddKeyPackages(f.ctx, b1.ID, big), wache.ETOOLARGE)
	if n, err := f.s.KeyPackageCount(f.ctx, b1.ID); err != nil || n != 0 {
		t.Fatalf("a refused batch left %d KeyPackages (%v)", n, err)
	}

	claimed, missing, err := f.s.ClaimKeyPackages(f.ctx, []string{a.ID, b.ID})
	must(t, err)
	got := map[string]string{}
	for _, c := range claimed {
		got[c.DeviceID] = string(c.Data)
		if len(c.SigningKey) != 32 {
			t.Errorf("claim without signing key")
		}
	}
	if len(got) != 2 || got[a1.ID] != "a1-first" || got[a2.ID] != "a2" {
		t.Fatalf("claimed %v", got)
	}
	if len(missing) != 1 || missing[0] != b1.ID {
		t.Fatalf("missing %v, want [%s] (revoked devices are not offered)", missing, b1.ID)
	}
	// Each KeyPackage is handed out once.
	claimed, missing, err = f.s.ClaimKeyPackages(f.ctx, []string{a.ID})
	must(t, err)
	if len(claimed) != 1 || string(claimed[0].Data) != "a1-second" || len(missing) != 1 || missing[0] != a2.ID {
		t.Fatalf("second claim: %+v missing %v", claimed, missing)
	}
	if n, _ := f.s.KeyPackageCount(f.ctx, a1.ID); n != 0 {
		t.Fatalf("%d left after claims", n)
	}
}

func testDeviceMessages(t *testing.T, f *fixture) {
	a, b := f.user(t, "dma"), f.user(t, "dmb")
	da, db := f.device(t, a), f.device(t, b)
	c := f.group(t, a, b)
	must(t, f.s.PutDeviceMessages(f.ctx, []wache.DeviceMessage{
		{ID: "m1", DeviceID: db.ID, ConvID: c.ID, SenderDevice: da.ID, Kind: "welcome", Payload: []byte("w1")},
		{ID: "m2", DeviceID: db.ID, ConvID: c.ID, SenderDevice: da.ID, Kind: "welcome", Payload: []byte("w2")},
	}))
	wantCode(t, f.s.PutDeviceMessages(f.ctx, []wache.DeviceMessage{{ID: "m3", DeviceID: "nobody", ConvID: c.ID, SenderDevice: da.ID, Kind: "welcome", Payload: []byte("x")}}), wache.ENOTFOUND)
	wantCode(t, f.s.PutDeviceMessages(f.ctx, []wache.DeviceMessage{{ID: "m4", DeviceID: db.ID, ConvID: c.ID, SenderDevice: da.ID, Kind: "welcome"}}), wache.EINVALID)
	ms, err := f.s.DeviceMessages(f.ctx, db.ID, 10)
	must(t, err)
	if len(ms) != 2 || string(ms[0].Payload) != "w1" || ms[1].ID != "m2" || ms[0].ConvID != c.ID {
		t.Fatalf("device messages: %+v", ms)
	}
	wantCode(t, f.s.DeleteDeviceMessage(f.ctx, da.ID, "m1"), wache.ENOTFOUND) // not a's
	must(t, f.s.DeleteDeviceMessage(f.ctx, db.ID, "m1"))
	ms, err = f.s.DeviceMessages(f.ctx, db.ID, 10)
	must(t, err)
	if len(ms) != 1 || ms[0].ID != "m2" {
		t.Fatalf("after delete: %+v", ms)
	}
}

func testAckBatch(t *testing.T, f *fixture) {
	a, b, x := f.user(t, "aba"), f.user(t, "abb"), f.user(t, "abx")
	da, db, dx := f.device(t, a), f.device(t, b), f.device(t, x)
	c := f.group(t, a, b)
	for i := 0; i < 5; i++ {
		f.appendOK(t, env(c, da, fmt.Sprintf("ab-%d", i)))
	}
	must(t, f.s.AckBatch(f.ctx, []store.AckItem{
		{DeviceID: da.ID, ConvID: c.ID, Seq: 3},
		{DeviceID: da.ID, ConvID: c.ID, Seq: 2}, // lower: ignored
		{DeviceID: db.ID, ConvID: c.ID, Seq: 5},
		{DeviceID: db.ID, ConvID: c.ID, Seq: 9}, // beyond the end: clamped
		{DeviceID: dx.ID, ConvID: c.ID, Seq: 1}, // not a member: skipped
		{DeviceID: "nobody", ConvID: c.ID, Seq: 1},
		{DeviceID: da.ID, ConvID: c.ID, Seq: -1},
	}))
	for _, tc := range []struct {
		d    *wache.Device
		want int64
	}{{da, 3}, {db, 5}} {
		cur, ok := f.cursor(t, tc.d, c)
		if !ok || cur.AckedSeq != tc.want {
			t.Errorf("device %s acked %d, want %d", tc.d.ID, cur.AckedSeq, tc.want)
		}
	}
	if _, ok := f.cursor(t, dx, c); ok {
		t.Error("a non-member got a cursor")
	}
	must(t, f.s.AckBatch(f.ctx, []store.AckItem{{DeviceID: da.ID, ConvID: c.ID, Seq: 1}}))
	if cur, _ := f.cursor(t, da, c); cur.AckedSeq != 3 {
		t.Errorf("ack batch lowered a cursor to %d", cur.AckedSeq)
	}
}
