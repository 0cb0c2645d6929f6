package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/bench/load"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/harness"
)

// The two benchmarks below split "SOS press → decrypted on every device"
// (BenchmarkSOSFanout, where 1,000 full client cores share the cores with
// the server) into what the server path costs and what one phone adds:
// SOS → decrypted on a phone ≈ server delivery to that phone + the phone's
// own processing of the envelope.

// sosUnit creates a unit and returns a function that adds officers to it.
func sosUnit(b *testing.B, ctx context.Context, n *harness.Node) (unitID string, mkUser func(email string)) {
	unit := &wache.Unit{ID: accounts.NewID(), OrgID: n.App.Org, Name: "Bench Unit"}
	if err := n.App.Store.CreateUnit(ctx, unit); err != nil {
		b.Fatal(err)
	}
	return unit.ID, func(email string) {
		u := &wache.User{ID: accounts.NewID(), OrgID: n.App.Org, UnitID: unit.ID, Email: email, DisplayName: email,
			Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: time.Now().UTC()}
		if err := n.App.Store.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
}

// sosDevice logs a real device in (login flow, MLS identity, KeyPackages)
// and opens its client core on st.
func sosDevice(b *testing.B, ctx context.Context, n *harness.Node, email string, st client.State, kps int) *client.Messenger {
	_, p := n.Login(b, email)
	if err := client.SaveProfile(ctx, st, p); err != nil {
		b.Fatal(err)
	}
	m, err := client.OpenMessenger(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.EnsureKeyPackages(ctx, kps, kps); err != nil {
		b.Fatal(err)
	}
	return m
}

// sosGroup creates an MLS group conversation of creator with members
// (KeyPackages are claimed for at most 99 users at once; the rest are
// added one commit each, in order).
func sosGroup(b *testing.B, ctx context.Context, creator *client.Messenger, name string, members []string) string {
	const claimMax = 99 // users per KeyPackage claim, the creator included
	first := members[:min(len(members), claimMax-1)]
	conv, err := creator.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: name, Members: first})
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range members[len(first):] {
		if err := creator.AddMember(ctx, conv.ID, e, ""); err != nil {
			b.Fatal(err)
		}
	}
	return conv.ID
}

// waitJoined waits until m has joined conv (its Welcome processed).
func waitJoined(b *testing.B, ctx context.Context, m *client.Messenger, conv string) {
	for t0 := time.Now(); ; {
		if g, _ := m.Group(ctx, conv); g != nil {
			return
		}
		if time.Since(t0) > 2*time.Minute {
			b.Fatalf("%s did not join %s", m.Profile().Email, conv)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawReader is a device that only reads its WebSocket: it notes when each
// alarm envelope came off the socket and lets Listen acknowledge the
// cursor (api.FrameAck), as a real device does after processing.
type rawReader struct {
	t    *arrivals
	seen map[string]bool // only Listen's goroutine touches it
}

func (r *rawReader) Process(_ context.Context, env api.Envelope, fn func(api.Envelope) error) (bool, error) {
	if env.Priority == api.PriorityAlarm {
		k := fmt.Sprintf("%s/%d", env.ConvID, env.Seq)
		if !r.seen[k] { // a redelivery after a reconnect is not the arrival
			r.seen[k] = true
			r.t.arrived(k, time.Now())
		}
	}
	return true, fn(env)
}

// arrivals collects the arrival times of each alarm envelope over all
// readers; done closes when every reader has it.
type arrivals struct {
	devices int
	mu      sync.Mutex
	by      map[string]*arrival1
}

type arrival1 struct {
	at   []time.Time
	done chan struct{}
}

func (a *arrivals) get(k string) *arrival1 {
	x := a.by[k]
	if x == nil {
		x = &arrival1{done: make(chan struct{}), at: make([]time.Time, 0, a.devices)}
		a.by[k] = x
	}
	return x
}

func (a *arrivals) arrived(k string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.get(k)
	x.at = append(x.at, t)
	if len(x.at) == a.devices {
		close(x.done)
	}
}

// BenchmarkSOSDelivery measures the server path of an SOS at 1,000 online
// devices: from the press (RaiseSOS called on a real raising device: policy,
// catch-up, encryption for the alarm, dispatch and escalation groups,
// POST /alarms; the server's relay posts, group commit, alarm row, fan-out)
// until the alarm envelope is read off each device's WebSocket. The 1,000
// receiving devices (100 officers × 10 devices) are raw WebSocket readers
// of the real API (client.Client.Listen): they read frames, note the
// alarm envelope's arrival and acknowledge the cursor, but do not decrypt —
// they are members of the alarm conversation on the server only (the relay
// delivers by conversation membership), so they get the ciphertext. The
// MLS groups hold the raising devices alone. One process, loopback.
// Reported: p50/p99/max over every device's arrival, until the first and
// the last device (p50/p99 over alarms), raise returned (RaiseSOS's
// answer) and the process CPU per alarm from the press until the last
// arrival (raising client, server and the readers' side of 1,000
// connections together).
//
// One iteration is one alarm; the server allows 3 per device in 10
// minutes, so use -benchtime Nx with N ≤ 17:
//
//	go test -run '^$' -bench SOSDelivery -benchtime 10x -timeout 20m ./internal/e2e/
func BenchmarkSOSDelivery(b *testing.B) {
	for _, be := range []struct {
		name string
		o    harness.Options
	}{{"sqlite", harness.Options{}}, {"postgres", harness.Options{Postgres: true}}} {
		b.Run(be.name+"/devices=1000", func(b *testing.B) { benchSOSDelivery(b, be.o, 100, 10) })
	}
}

func benchSOSDelivery(b *testing.B, o harness.Options, users, perUser int) {
	const raisers = 6 // 3 alarms per device per 10 minutes: 17 iterations after the warm-up
	devices := users * perUser
	if err := load.RaiseFileLimit(uint64(2*devices + 512)); err != nil {
		b.Skipf("file limit: %v", err)
	}
	n := harness.Start(b, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unitID, mkUser := sosUnit(b, ctx, n)
	start := time.Now()

	// The raising devices: real client cores, each in the three groups.
	var rs []*client.Messenger
	var rMails []string
	for i := 0; i < raisers; i++ {
		e := fmt.Sprintf("sosraiser%02d@%s", i, harness.Domain)
		mkUser(e)
		rs, rMails = append(rs, sosDevice(b, ctx, n, e, &client.MemState{}, 4)), append(rMails, e)
	}
	alarmConv := sosGroup(b, ctx, rs[0], "Alarm", rMails[1:])
	dispatch := sosGroup(b, ctx, rs[0], "Leitstelle", rMails[1:])
	esc := sosGroup(b, ctx, rs[0], "Nachbarn", rMails[1:])
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, m := range rs {
		synced := make(chan struct{})
		var once sync.Once
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The client core without the periodic group reconciliation,
			// which would try to add the readers to the MLS group.
			_ = m.API.Listen(ctx, m, client.ListenHandler{
				Envelope:      func(context.Context, api.Envelope) error { return nil },
				DeviceMessage: m.HandleDeviceMessage,
				Synced:        func() { once.Do(func() { close(synced) }) },
			})
		}()
		select {
		case <-synced:
		case <-time.After(time.Minute):
			b.Fatalf("%s: listen did not sync", m.Profile().Email)
		}
	}
	for _, m := range rs[1:] {
		waitJoined(b, ctx, m, alarmConv)
		waitJoined(b, ctx, m, dispatch)
		waitJoined(b, ctx, m, esc)
	}

	// The readers: members of the alarm conversation on the server only,
	// each device enrolled directly in the store.
	var readers []*client.Client
	for u := 0; u < users; u++ {
		e := fmt.Sprintf("sosreader%03d@%s", u, harness.Domain)
		mkUser(e)
		if err := rs[0].API.AddMember(ctx, alarmConv, e, ""); err != nil {
			b.Fatal(err)
		}
		for d := 0; d < perUser; d++ {
			c, _ := n.Device(b, e)
			readers = append(readers, c)
		}
	}
	tr := &arrivals{devices: devices, by: map[string]*arrival1{}}
	synced := make(chan struct{}, devices)
	gate := make(chan struct{}, 32) // dial a few at a time
	for _, c := range readers {
		r := &rawReader{t: tr, seen: map[string]bool{}}
		var once, rel sync.Once
		release := func() { rel.Do(func() { <-gate }) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			gate <- struct{}{}
			_ = c.Listen(ctx, r, client.ListenHandler{
				Envelope:  func(context.Context, api.Envelope) error { return nil },
				Connected: release,
				Synced:    func() { once.Do(func() { synced <- struct{}{} }) },
			})
		}()
	}
	for i := 0; i < devices; i++ {
		select {
		case <-synced:
		case <-time.After(2 * time.Minute):
			b.Fatalf("only %d of %d readers synced", i, devices)
		}
	}
	admin, _ := n.Login(b, "admin@"+harness.Domain)
	if _, err := admin.SetAlarmPolicy(ctx, api.AlarmPolicy{UnitID: unitID, AlarmConvID: alarmConv, DispatchConvID: dispatch,
		EscalationConvID: esc, MinComing: 2, WindowSeconds: api.AlarmWindowMaxSeconds, UpdateSeconds: 5}); err != nil {
		b.Fatal(err)
	}
	setup := time.Since(start)
	b.Logf("%d readers online after %v", devices, setup)

	var all, first, last, raise []time.Duration
	var cpu time.Duration
	iter := func(i int) {
		r := rs[i%raisers]
		cpu0 := processCPU()
		sent := time.Now()
		a, err := r.RaiseSOS(ctx, client.SOS{Note: "Bench", Location: &client.Location{Lat: 51.2, Lon: 6.7, Accuracy: 10, Time: time.Now().UTC()}})
		if err != nil {
			b.Fatal(err)
		}
		raise = append(raise, time.Since(sent))
		var key string
		for _, e := range a.Envelopes {
			if e.ConvID == alarmConv {
				key = fmt.Sprintf("%s/%d", e.ConvID, e.Seq)
			}
		}
		if key == "" {
			b.Fatal("the alarm has no envelope in the alarm conversation")
		}
		tr.mu.Lock()
		x := tr.get(key)
		tr.mu.Unlock()
		select {
		case <-x.done:
		case <-time.After(time.Minute):
			tr.mu.Lock()
			got := len(x.at)
			tr.mu.Unlock()
			b.Fatalf("the alarm reached %d of %d devices in a minute", got, devices)
		}
		cpu += processCPU() - cpu0
		b.StopTimer()
		tr.mu.Lock()
		var worst time.Duration
		best := time.Hour
		for _, t := range x.at {
			all = append(all, t.Sub(sent))
			worst, best = max(worst, t.Sub(sent)), min(best, t.Sub(sent))
		}
		tr.mu.Unlock()
		first, last = append(first, best), append(last, worst)
		if _, err := r.API.EndAlarm(ctx, a.ID, false); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the end's frames and the raisers' receipts settle
		b.StartTimer()
	}
	iter(raisers*3 - 1) // warm-up: the last raiser's spare alarm
	all, first, last, raise, cpu = nil, nil, nil, nil, 0
	// WACHE_SOS_CPUPROFILE=file profiles the alarms alone (-cpuprofile
	// would mostly show the set-up of 1,000 connections).
	if path := os.Getenv("WACHE_SOS_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	i := 0
	for b.Loop() {
		if i >= raisers*3-1 {
			b.Fatalf("at most %d iterations (alarm rate limit per device): use -benchtime Nx", raisers*3-1)
		}
		iter(i)
		i++
	}
	slices.Sort(all)
	slices.Sort(first)
	slices.Sort(last)
	slices.Sort(raise)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(d []time.Duration, p float64) float64 { return ms(d[min(len(d)-1, int(p*float64(len(d))))]) }
	b.ReportMetric(pct(raise, 0.5), "raise-p50-ms")
	b.ReportMetric(pct(first, 0.5), "first-device-p50-ms")
	b.ReportMetric(pct(all, 0.5), "p50-ms")
	b.ReportMetric(pct(all, 0.99), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
	b.ReportMetric(pct(last, 0.5), "all-devices-p50-ms")
	b.ReportMetric(pct(last, 0.99), "all-devices-p99-ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(i), "cpu-ms/alarm")
	b.ReportMetric(float64(setup.Milliseconds()), "setup-ms")
}

// BenchmarkSOSDecrypt measures one receiving device's processing of the
// SOS envelope: Messenger.Process of the alarm envelope in the unit's
// 112-leaf alarm group (MLS decryption, the alarm sighting and receipt
// queue kept, the group state exported and saved, the envelope marked
// seen, then the "delivered" receipt posted to the local server), on an
// in-memory State. Every iteration starts from a copy of the state the
// device had just before the alarm, with the group loaded (the copy and
// the opening are not timed). Reported: ns/op and p50/p99 of the whole
// Process, decrypted-p50/p99 until the message is handed to OnMessage
// (before the receipt's round trip), and the process CPU per Process (the
// server's answer to the receipt included).
//
//	go test -run '^$' -bench SOSDecrypt -benchtime 200x ./internal/e2e/
func BenchmarkSOSDecrypt(b *testing.B) {
	const others = 111 // with the raiser: 112 leaves
	n := harness.Start(b, harness.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unitID, mkUser := sosUnit(b, ctx, n)
	raiserMail := "sosraiser@" + harness.Domain
	mkUser(raiserMail)
	raiser := sosDevice(b, ctx, n, raiserMail, &client.MemState{}, 2)
	var mails []string
	recvSt := &cloneState{}
	var recv *client.Messenger
	for i := 0; i < others; i++ {
		e := fmt.Sprintf("sosofficer%03d@%s", i, harness.Domain)
		mkUser(e)
		var st client.State = &client.MemState{}
		if i == others-1 {
			st = recvSt
		}
		m := sosDevice(b, ctx, n, e, st, 2)
		if i == others-1 {
			recv = m // added last: it joins the final epoch
		}
		mails = append(mails, e)
	}
	alarmConv := sosGroup(b, ctx, raiser, "Alarm", mails)
	dispatch := sosGroup(b, ctx, raiser, "Leitstelle", mails[:1])
	if err := recv.Sync(ctx, alarmConv); err != nil {
		b.Fatal(err)
	}
	g, err := recv.Group(ctx, alarmConv)
	if err != nil || g == nil {
		b.Fatalf("the receiving device did not join the alarm group: %v", err)
	}
	if got := len(g.Members()); got != others+1 {
		b.Fatalf("alarm group has %d leaves, want %d", got, others+1)
	}
	snap := recvSt.clone() // the device just before the alarm
	admin, _ := n.Login(b, "admin@"+harness.Domain)
	if _, err := admin.SetAlarmPolicy(ctx, api.AlarmPolicy{UnitID: unitID, AlarmConvID: alarmConv, DispatchConvID: dispatch,
		MinComing: 2, WindowSeconds: api.AlarmWindowMaxSeconds, UpdateSeconds: 5}); err != nil {
		b.Fatal(err)
	}
	a, err := raiser.RaiseSOS(ctx, client.SOS{Note: "Bench", Location: &client.Location{Lat: 51.2, Lon: 6.7, Accuracy: 10, Time: time.Now().UTC()}})
	if err != nil {
		b.Fatal(err)
	}
	var env *api.Envelope
	for _, r := range a.Envelopes {
		if r.ConvID != alarmConv {
			continue
		}
		envs, err := recv.API.Envelopes(ctx, alarmConv, r.Seq-1, 1)
		if err != nil || len(envs) != 1 || envs[0].Priority != api.PriorityAlarm {
			b.Fatalf("alarm envelope %d: %v (%d found)", r.Seq, err, len(envs))
		}
		env = &envs[0]
	}
	if env == nil {
		b.Fatal("the alarm has no envelope in the alarm conversation")
	}

	var whole, handed []time.Duration
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		st := &client.MemState{}
		for k, v := range snap.m {
			if err := st.Save(ctx, k, v); err != nil {
				b.Fatal(err)
			}
		}
		m, err := client.OpenMessenger(ctx, st)
		if err != nil {
			b.Fatal(err)
		}
		if g, err := m.Group(ctx, alarmConv); err != nil || g == nil { // a running device has it loaded
			b.Fatalf("load group: %v", err)
		}
		var got time.Time
		m.OnMessage = func(msg client.Message) {
			if msg.Payload.Type == client.TypeAlarm && msg.Payload.Alarm != nil {
				got = time.Now()
			}
		}
		b.StartTimer()
		cpu0 := processCPU()
		t0 := time.Now()
		ok, err := m.Process(ctx, *env, nil)
		d := time.Since(t0)
		cpu += processCPU() - cpu0
		if err != nil || !ok || got.IsZero() {
			b.Fatalf("process the alarm: handed over %v, %v", ok, err)
		}
		whole, handed = append(whole, d), append(handed, got.Sub(t0))
	}
	slices.Sort(whole)
	slices.Sort(handed)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(d []time.Duration, p float64) float64 { return ms(d[min(len(d)-1, int(p*float64(len(d))))]) }
	b.ReportMetric(pct(whole, 0.5), "p50-ms")
	b.ReportMetric(pct(whole, 0.99), "p99-ms")
	b.ReportMetric(pct(handed, 0.5), "decrypted-p50-ms")
	b.ReportMetric(pct(handed, 0.99), "decrypted-p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(whole)), "cpu-ms/op")
	b.ReportMetric(float64(len(snap.m["g_"+alarmConv])), "group-state-bytes") // the key client.groupKey uses
}
