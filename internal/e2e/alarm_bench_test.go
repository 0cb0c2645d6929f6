package e2e

import (
	"context"
	"fmt"
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

// cloneState is an in-memory State that can be copied.
type cloneState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *cloneState) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		return append([]byte(nil), v...), nil
	}
	return nil, nil
}

func (s *cloneState) Save(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *cloneState) Erase(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = nil
	return nil
}

func (s *cloneState) clone() *cloneState {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &cloneState{m: make(map[string][]byte, len(s.m))}
	for k, v := range s.m {
		c.m[k] = append([]byte(nil), v...)
	}
	return c
}

// BenchmarkSOSFanout measures an SOS press until the alarm is decrypted on
// every online device of the unit's alarm group: RaiseSOS on the raising
// device (policy, catch-up, encryption for the alarm, dispatch and
// escalation groups, one POST), the server's alarm row, relay posts, alarm
// frames and fan-out over WebSocket, and on each receiving device the full
// client core (MLS decryption, state saved, inbox, the automatic
// "delivered" receipt posted after the message is handed over). SQLite, one
// process, loopback. Metrics: p50/p99 over every device's decryption,
// all-devices (until the last device), raise (RaiseSOS returned),
// receipts-settled (every device's receipt accepted by the server) and
// cpu-ms/alarm (process CPU, client and server together, from the press
// until the receipts settled); received: the alarm envelope read from each
// device's WebSocket, before decryption.
//
// devices=1000 is 100 officers with 10 online devices each. Joining a
// 1,000-leaf MLS group costs seconds and ~1 GB per device with the current
// engine (docs/PERFORMANCE.md), so each officer's nine further devices run
// a copy of the first device's MLS state under their own device token: the
// server fans out to 1,000 devices and each decrypts for itself, in a
// 112-leaf group instead of a 1,012-leaf one (decryption cost grows with
// log2 of the group size; state saving with its size).
//
//	go test -run '^$' -bench SOSFanout -benchtime 20x -timeout 30m ./internal/e2e/
func BenchmarkSOSFanout(b *testing.B) {
	for _, c := range []struct{ users, perUser int }{{100, 1}, {100, 10}} {
		b.Run(fmt.Sprintf("devices=%d", c.users*c.perUser), func(b *testing.B) { benchSOS(b, c.users, c.perUser) })
	}
}

func benchSOS(b *testing.B, users, perUser int) {
	const raisers = 10 // the server allows 3 alarms per device per 10 minutes
	if b.N > raisers*3-1 {
		b.Skipf("at most %d iterations (alarm rate limit per device)", raisers*3-1)
	}
	if err := load.RaiseFileLimit(uint64(4*users*perUser + 512)); err != nil {
		b.Skipf("file limit: %v", err)
	}
	n := harness.Start(b, harness.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := n.App.Store
	unit := &wache.Unit{ID: accounts.NewID(), OrgID: n.App.Org, Name: "Bench Unit"}
	if err := st.CreateUnit(ctx, unit); err != nil {
		b.Fatal(err)
	}
	mkUser := func(email string) {
		u := &wache.User{ID: accounts.NewID(), OrgID: n.App.Org, UnitID: unit.ID, Email: email, DisplayName: email,
			Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: time.Now().UTC()}
		if err := st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	type dev struct {
		m     *client.Messenger
		st    *cloneState
		email string
		mu    sync.Mutex
		at    map[string]time.Time // alarm client id → decrypted
		recv  map[string]time.Time // "conv/seq" of an alarm envelope → frame read from the socket
	}
	open := func(email string, stt *cloneState, prof *client.Profile) *dev {
		if prof != nil {
			if err := client.SaveProfile(ctx, stt, prof); err != nil {
				b.Fatal(err)
			}
		}
		m, err := client.OpenMessenger(ctx, stt)
		if err != nil {
			b.Fatal(err)
		}
		d := &dev{m: m, st: stt, email: email, at: map[string]time.Time{}, recv: map[string]time.Time{}}
		m.OnMessage = func(msg client.Message) {
			if msg.Payload.Type == client.TypeAlarm && msg.Payload.Alarm != nil {
				d.mu.Lock()
				d.at[msg.Payload.Alarm.ClientID] = time.Now()
				d.mu.Unlock()
			}
		}
		return d
	}
	login := func(email string) *dev {
		mkUser(email)
		_, p := n.Login(b, email)
		d := open(email, &cloneState{}, p)
		if err := d.m.EnsureKeyPackages(ctx, 4, 4); err != nil { // one per group it joins
			b.Fatal(err)
		}
		return d
	}
	var raiseDevs, recv []*dev
	var raiserMails, recvMails []string
	for i := 0; i < raisers; i++ {
		e := fmt.Sprintf("sosraiser%02d@%s", i, harness.Domain)
		raiseDevs, raiserMails = append(raiseDevs, login(e)), append(raiserMails, e)
	}
	for i := 0; i < users; i++ {
		e := fmt.Sprintf("sosofficer%03d@%s", i, harness.Domain)
		recv, recvMails = append(recv, login(e)), append(recvMails, e)
	}
	leit := open("leitstelle@"+harness.Domain, &cloneState{}, func() *client.Profile { _, p := n.Login(b, "leitstelle@"+harness.Domain); return p }())
	if err := leit.m.EnsureKeyPackages(ctx, 2, 2); err != nil {
		b.Fatal(err)
	}
	neighbourMail := "sosneighbour@" + harness.Domain
	neighbour := login(neighbourMail)

	listen := func(d *dev) {
		synced := make(chan struct{})
		var once sync.Once
		// The client core without the periodic group reconciliation (each
		// of 1,000 devices would list every member's devices).
		go d.m.API.Listen(ctx, arrival{d.m, func(env api.Envelope) {
			if env.Priority == api.PriorityAlarm {
				k := fmt.Sprintf("%s/%d", env.ConvID, env.Seq)
				d.mu.Lock()
				if _, ok := d.recv[k]; !ok { // a redelivery after a reconnect is not the arrival
					d.recv[k] = time.Now()
				}
				d.mu.Unlock()
			}
		}}, client.ListenHandler{
			Envelope:      func(context.Context, api.Envelope) error { return nil },
			DeviceMessage: d.m.HandleDeviceMessage,
			Synced:        func() { once.Do(func() { close(synced) }) },
		})
		select {
		case <-synced:
		case <-time.After(60 * time.Second):
			b.Fatalf("%s: listen did not sync", d.email)
		}
	}
	start := time.Now()
	all := append(append(append(slices.Clone(raiseDevs), recv...), leit), neighbour)
	for _, d := range all[1:] {
		listen(d)
	}
	mk := func(name string, members []string) string {
		const claimMax = 99 // users per KeyPackage claim, the creator included
		first := members[:min(len(members), claimMax)]
		conv, err := raiseDevs[0].m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: name, Members: first})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range members[len(first):] {
			if err := raiseDevs[0].m.AddMember(ctx, conv.ID, e, ""); err != nil {
				b.Fatal(err)
			}
		}
		return conv.ID
	}
	b.Logf("%d devices online after %v; creating the groups", len(all), time.Since(start))
	alarmConv := mk("Alarm", append(slices.Clone(raiserMails[1:]), recvMails...))
	dispatch := mk("Leitstelle", append(slices.Clone(raiserMails[1:]), leit.email))
	esc := mk("Nachbarn", append(slices.Clone(raiserMails[1:]), neighbourMail))
	listen(raiseDevs[0])
	waitGroup := func(d *dev, conv string) {
		for t0 := time.Now(); ; {
			if g, _ := d.m.Group(ctx, conv); g != nil {
				return
			}
			if time.Since(t0) > 2*time.Minute {
				b.Fatalf("%s did not join %s", d.email, conv)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, d := range recv {
		waitGroup(d, alarmConv)
	}
	for _, d := range raiseDevs[1:] {
		waitGroup(d, alarmConv)
		waitGroup(d, dispatch)
		waitGroup(d, esc)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "setup-groups-ms")
	b.Logf("groups ready after %v", time.Since(start))

	// Further devices of each officer: the server enrols them; each runs a
	// copy of the officer's joined MLS state under its own token.
	for _, d := range recv[:users] {
		for j := 1; j < perUser; j++ {
			cl, _ := n.Device(b, d.email)
			cst := d.st.clone()
			p := *d.m.Profile()
			p.Token = cl.Token()
			c := open(d.email, cst, &p)
			listen(c)
			recv = append(recv, c)
		}
	}
	if len(recv) != users*perUser {
		b.Fatalf("%d receiving devices, want %d", len(recv), users*perUser)
	}
	admin, _ := n.Login(b, "admin@"+harness.Domain)
	if _, err := admin.SetAlarmPolicy(ctx, api.AlarmPolicy{UnitID: unit.ID, AlarmConvID: alarmConv, DispatchConvID: dispatch,
		EscalationConvID: esc, MinComing: 2, WindowSeconds: api.AlarmWindowMaxSeconds, UpdateSeconds: 5}); err != nil {
		b.Fatal(err)
	}

	b.Logf("%d receiving devices online after %v", len(recv), time.Since(start))
	var all50, last, raise []time.Duration
	var settled, arrived []time.Duration
	var cpu time.Duration
	iter := func(i int) {
		r := raiseDevs[i%raisers]
		cpu0 := processCPU()
		sent := time.Now()
		a, err := r.m.RaiseSOS(ctx, client.SOS{Note: "Bench", Location: &client.Location{Lat: 51.2, Lon: 6.7, Accuracy: 10, Time: time.Now().UTC()}})
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
		var worst time.Duration
		for _, d := range recv {
			for {
				d.mu.Lock()
				at, ok := d.at[a.ClientID]
				d.mu.Unlock()
				if ok {
					d.mu.Lock()
					arrived = append(arrived, d.recv[key].Sub(sent))
					d.mu.Unlock()
					all50 = append(all50, at.Sub(sent))
					worst = max(worst, at.Sub(sent))
					break
				}
				if time.Since(sent) > time.Minute {
					b.Fatalf("%s did not decrypt the alarm within a minute", d.email)
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		last = append(last, worst)
		b.StopTimer()
		// Let every device's "delivered" receipt reach the server (part of
		// the alarm's cost, not of the next one's latency), then end it.
		settle := time.Now()
		for _, d := range recv {
			for {
				q, _ := d.st.Load(ctx, "receipts_pending")
				if len(q) <= 2 { // absent or "[]"
					break
				}
				if time.Since(settle) > 2*time.Minute {
					b.Fatalf("%s: receipts still pending after 2 minutes", d.email)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		settled = append(settled, time.Since(sent))
		cpu += processCPU() - cpu0
		if _, err := leit.m.API.EndAlarm(ctx, a.ID, false); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		b.StartTimer()
	}
	iter(raisers*3 - 1) // warm-up: the last raiser's spare alarm
	all50, last, raise, settled, arrived, cpu = nil, nil, nil, nil, nil, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		iter(i)
	}
	b.StopTimer()
	slices.Sort(all50)
	slices.Sort(last)
	slices.Sort(raise)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(raise, 0.5), "raise-p50-ms")
	b.ReportMetric(pct(all50, 0.5), "p50-ms")
	b.ReportMetric(pct(all50, 0.99), "p99-ms")
	b.ReportMetric(pct(last, 0.5), "all-devices-p50-ms")
	b.ReportMetric(pct(last, 0.99), "all-devices-p99-ms")
	slices.Sort(settled)
	slices.Sort(arrived)
	b.ReportMetric(pct(arrived, 0.5), "received-p50-ms")
	b.ReportMetric(pct(arrived, 0.99), "received-p99-ms")
	b.ReportMetric(pct(settled, 0.5), "receipts-settled-p50-ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/alarm")
}

// arrival is the Messenger as Listen's Processor, noting when each
// envelope came off the socket (before decryption).
type arrival struct {
	m    *client.Messenger
	seen func(api.Envelope)
}

func (a arrival) Process(ctx context.Context, env api.Envelope, fn func(api.Envelope) error) (bool, error) {
	a.seen(env)
	return a.m.Process(ctx, env, fn)
}
