package main

// Alarm commands (issue 6): SOS, the dispatch view, responses, priority
// acknowledgements and their receipts, and the admins' alarm policy.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
)

// positionSource gives the device's position: fixed from flags, or the
// last valid line of a file that another program keeps writing (re-read
// for every live update).
type positionSource struct {
	fixed *client.Location
	file  string
}

func (p *positionSource) none() bool { return p.fixed == nil && p.file == "" }

// current returns the position now (nil without a source).
func (p *positionSource) current() (*client.Location, error) {
	if p.fixed != nil {
		l := *p.fixed
		l.Time = time.Now().UTC()
		return &l, nil
	}
	if p.file == "" {
		return nil, nil
	}
	return readPositionFile(p.file)
}

// maxPositionFile bounds how much of a position file is read (its tail).
const maxPositionFile = 64 << 10

// readPositionFile reads the last "lat,lon[,accuracy]" line of a file.
// Lines that do not parse or are out of range are skipped, so a writer
// caught mid-line or a bad fix never becomes the position.
func readPositionFile(name string) (*client.Location, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("--position-file: %w", err)}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxPositionFile {
		if _, err := f.Seek(st.Size()-maxPositionFile, io.SeekStart); err != nil {
			return nil, err
		}
	}
	var last *client.Location
	sc := bufio.NewScanner(io.LimitReader(f, maxPositionFile))
	for sc.Scan() {
		if l, err := parsePosition(sc.Text()); err == nil {
			last = l
		}
	}
	if last == nil {
		return nil, &exitError{2, fmt.Errorf("--position-file %s holds no valid \"lat,lon[,accuracy]\" line", name)}
	}
	return last, nil
}

// parsePosition reads "lat,lon[,accuracy]" in decimal degrees and metres.
func parsePosition(line string) (*client.Location, error) {
	parts := strings.Split(strings.TrimSpace(line), ",")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("expected lat,lon[,accuracy]")
	}
	var v [3]float64
	for i, s := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		v[i] = x
	}
	l := &client.Location{Lat: v[0], Lon: v[1], Accuracy: v[2], Time: time.Now().UTC()}
	if err := client.ValidateLocation(l); err != nil {
		return nil, err
	}
	return l, nil
}

func cmdSOS(ctx context.Context, args []string, env *Env) error {
	if len(args) > 0 && args[0] == "end" {
		return cmdSOSEnd(ctx, args[1:], env)
	}
	fs, c := newFlags("sos", `sos [--note TEXT] [--lat LAT --lon LON [--accuracy M] | --position-file FILE] [--duration D]
       wache sos end [ALARM] [--false-alarm]

Raises an alarm (SOS) to your unit's alarm group and the dispatch group,
encrypted on this device; the server releases a copy to the escalation
group if too few colleagues answer "coming" in time. Then sends your live
position every few seconds until the alarm ends, Ctrl-C, or --duration.
A position file holds one "lat,lon[,accuracy]" per line; the last line is
used and the file is read again for every update.`, env)
	note := fs.String("note", "", "short note (at most 500 bytes), e.g. \"Angriff, Hauptbahnhof Ausgang Nord\"")
	var lat, lon optFloat
	fs.Var(&lat, "lat", "latitude in decimal degrees")
	fs.Var(&lon, "lon", "longitude in decimal degrees")
	acc := fs.Float64("accuracy", 0, "accuracy in metres")
	posFile := fs.String("position-file", "", "file with \"lat,lon[,accuracy]\" lines (the last counts), re-read for live updates")
	duration := fs.Duration("duration", 0, "stop sending live positions after this long (0: until the alarm ends or Ctrl-C)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	src := &positionSource{file: *posFile}
	switch {
	case lat.set != lon.set:
		return &exitError{2, fmt.Errorf("--lat and --lon go together")}
	case lat.set && *posFile != "":
		return &exitError{2, fmt.Errorf("use --lat/--lon or --position-file, not both")}
	case lat.set:
		src.fixed = &client.Location{Lat: lat.v, Lon: lon.v, Accuracy: *acc, Time: time.Now().UTC()}
	}
	loc, err := src.current()
	if err != nil {
		return err
	}
	sos := client.SOS{Note: *note, Location: loc}
	if err := sos.Validate(); err != nil { // before anything is sent
		return &exitError{2, errors.New(describe(err))}
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	a, err := m.RaiseSOS(ctx, sos)
	if err != nil {
		return c.wiped(ctx, err)
	}
	r := &alarmReporter{c: c}
	r.report("raised", a)
	upd := api.AlarmUpdateDefaultSeconds
	if act, _ := m.ActiveAlarm(ctx); act != nil && act.AlarmID == a.ID && act.UpdateSeconds > 0 {
		upd = act.UpdateSeconds
	}
	return c.liveAlarm(ctx, m, a, src, time.Duration(upd)*time.Second, *duration, r)
}

// liveAlarm sends live positions and prints changes of the alarm until it
// ends, ctx ends or the duration passed.
func (c *common) liveAlarm(ctx context.Context, m *client.Messenger, a *api.Alarm, src *positionSource, every, duration time.Duration, r *alarmReporter) error {
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	lctx, stopListen := context.WithCancel(ctx)
	defer stopListen()
	var mu sync.Mutex
	cur := a
	changed := make(chan struct{}, 1)
	set := func(x *api.Alarm) {
		mu.Lock()
		if x.ID == cur.ID {
			cur = x
		}
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	nm := &names{cl: m.API, m: map[string]string{}}
	m.OnMessage = func(msg client.Message) {
		if slices.Contains(a.ConvIDs, msg.ConvID) && msg.SenderID != m.Profile().UserID {
			_ = c.show(ctx, nm, msg)
			_ = m.MarkRead(ctx, msg)
		}
	}
	listenErr := make(chan error, 1)
	go func() {
		listenErr <- m.Listen(lctx, client.ListenHandler{
			Alarm: func(x api.Alarm) { set(&x) },
			Synced: func() { // frames may have been missed while offline
				if x, err := m.API.Alarm(lctx, a.ID); err == nil {
					set(x)
				}
			},
		})
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		mu.Lock()
		x := cur
		mu.Unlock()
		if !client.AlarmActive(x.State) {
			r.report("ended", x)
			// Ended (here or by dispatch): the live positions end too.
			return m.FinishAlarm(context.WithoutCancel(ctx), x)
		}
		select {
		case <-ctx.Done():
			if !c.json {
				fmt.Fprintf(c.env.Stderr, "Live-Standort angehalten; der Alarm läuft weiter. Beenden / to end it: wache sos end %s\n", x.ID)
			}
			return nil
		case err := <-listenErr:
			if ctx.Err() != nil {
				return nil
			}
			return c.wiped(ctx, err)
		case <-changed:
			r.report("update", x)
		case <-t.C:
			loc, err := src.current()
			if err != nil {
				fmt.Fprintf(c.env.Stderr, "wache sos: %s\n", describe(err))
				continue
			}
			if loc != nil {
				if _, err := m.SendAlarmPosition(ctx, x, *loc); err != nil && ctx.Err() == nil {
					fmt.Fprintf(c.env.Stderr, "wache sos: position not sent: %s\n", describe(err))
				}
			}
			if ok, err := m.RefreshEscalation(ctx, x); err != nil && ctx.Err() == nil {
				fmt.Fprintf(c.env.Stderr, "wache sos: escalation copy not renewed: %s\n", describe(err))
			} else if ok && !c.json {
				fmt.Fprintln(c.env.Stderr, "Eskalationskopie erneuert / escalation copy re-encrypted for the group's new epoch.")
			}
		}
	}
}

// alarmReporter prints what changed in an alarm, once per change.
type alarmReporter struct {
	c     *common
	mu    sync.Mutex
	state map[string]string // alarm id → state printed
	seen  map[string]string // alarm id/user id → response+eta printed
}

// alarmFrame prints an alarm change seen by `wache listen`.
func (r *alarmReporter) alarmFrame(a *api.Alarm) {
	r.mu.Lock()
	_, known := r.state[a.ID]
	r.mu.Unlock()
	if !known && !r.c.json {
		who := a.RaisedByName
		if who == "" {
			who = a.RaisedByEmail
		}
		fmt.Fprintf(r.c.env.Stdout, "🚨 ALARM %s von / from %s — antworten / answer: wache respond %s coming|cannot; Lage / view: wache alarms\n", a.ID, who, a.ID)
	}
	r.report("alarm", a)
}

func (r *alarmReporter) report(event string, a *api.Alarm) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c.json {
		_ = printJSONLine(r.c.env.Stdout, map[string]any{"event": event, "alarm": a})
		return
	}
	w := r.c.env.Stdout
	if event == "raised" {
		if a.Duplicate {
			fmt.Fprintf(w, "Alarm läuft bereits / alarm already active: %s (%s)\n", a.ID, a.State)
		} else {
			fmt.Fprintf(w, "ALARM ausgelöst / raised: %s — Alarmgruppe und Leitstelle benachrichtigt; Eskalation, wenn bis %s weniger als %d kommen\n",
				a.ID, a.Deadline.Local().Format("15:04:05"), a.MinComing)
		}
	}
	if r.state == nil {
		r.state, r.seen = map[string]string{}, map[string]string{}
	}
	if prev, ok := r.state[a.ID]; a.State != prev {
		if ok || a.State != api.AlarmRaised {
			fmt.Fprintf(w, "[%s] Alarm %s: %s\n", time.Now().Format("15:04:05"), a.ID, stateLabel(a.State))
		}
		r.state[a.ID] = a.State
	}
	for _, resp := range a.Responses {
		key := resp.Response + "/" + strconv.Itoa(resp.ETASeconds)
		if r.seen[a.ID+"/"+resp.UserID] == key {
			continue
		}
		r.seen[a.ID+"/"+resp.UserID] = key
		fmt.Fprintf(w, "[%s] %s\n", resp.At.Local().Format("15:04:05"), responseLine(resp))
	}
}

func printJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func stateLabel(s string) string {
	switch s {
	case api.AlarmRaised:
		return "ausgelöst / raised"
	case api.AlarmAcknowledged:
		return "bestätigt / acknowledged (genug Kräfte kommen / enough coming)"
	case api.AlarmEscalated:
		return "ESKALIERT / escalated (Nachbareinheiten alarmiert / neighbouring units alerted)"
	case api.AlarmEnded:
		return "beendet / ended"
	case api.AlarmFalse:
		return "Fehlalarm / false alarm"
	}
	return s
}

func responseLine(r api.AlarmResponse) string {
	who := r.DisplayName
	if who == "" {
		who = r.Email
	}
	if r.Response == api.ResponseComing {
		if r.ETASeconds > 0 {
			return fmt.Sprintf("%s kommt / coming, ETA %s", who, (time.Duration(r.ETASeconds) * time.Second).String())
		}
		return fmt.Sprintf("%s kommt / coming", who)
	}
	return fmt.Sprintf("%s kann nicht / cannot come", who)
}

// optFloat is a float flag that knows whether it was given.
type optFloat struct {
	v   float64
	set bool
}

func (f *optFloat) String() string {
	if !f.set {
		return ""
	}
	return strconv.FormatFloat(f.v, 'f', -1, 64)
}

func (f *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a decimal number")
	}
	f.v, f.set = v, true
	return nil
}

func cmdSOSEnd(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("sos end", "sos end [ALARM] [--false-alarm]   (without ALARM: this device's active alarm)", env)
	falseAlarm := fs.Bool("false-alarm", false, "end it as a false alarm")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected at most one ALARM")}
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	var id string
	if fs.NArg() == 1 {
		a, err := resolveAlarm(ctx, m.API, fs.Arg(0))
		if err != nil {
			return c.wiped(ctx, err)
		}
		id = a.ID
	} else {
		if act, err := m.ActiveAlarm(ctx); err != nil {
			return err
		} else if act != nil {
			id = act.AlarmID
		} else {
			list, err := m.API.Alarms(ctx, false, 0)
			if err != nil {
				return c.wiped(ctx, err)
			}
			for _, a := range list {
				if a.RaisedBy == m.Profile().UserID {
					id = a.ID
				}
			}
		}
		if id == "" {
			return wache.Errorf(wache.ENOTFOUND, "you have no active alarm; name one: wache sos end ALARM")
		}
	}
	a, err := m.EndAlarm(ctx, id, *falseAlarm)
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(a)
	}
	fmt.Fprintf(env.Stdout, "Alarm %s: %s\n", a.ID, stateLabel(a.State))
	return nil
}

// parseNoArgs is parseArgs for a command that takes flags only.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// resolveAlarm accepts an alarm id or a unique prefix of an active one.
func resolveAlarm(ctx context.Context, cl *client.Client, ref string) (*api.Alarm, error) {
	if a, err := cl.Alarm(ctx, ref); err == nil {
		return a, nil
	} else if wache.ErrorCode(err) != wache.ENOTFOUND && wache.ErrorCode(err) != wache.EINVALID {
		return nil, err
	}
	list, err := cl.Alarms(ctx, true, 0)
	if err != nil {
		return nil, err
	}
	return pickOne(list, ref, nil,
		func(a *api.Alarm) bool { return strings.HasPrefix(a.ID, ref) },
		"no alarm %q; see 'wache alarms'", "%d alarms start with %q; give more of the id")
}

func cmdRespond(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("respond", "respond ALARM coming|cannot [--eta 5m]", env)
	eta := fs.Duration("eta", 0, "when you will be there (with coming), e.g. 4m")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected ALARM and coming or cannot")}
	}
	resp := strings.ToLower(fs.Arg(1))
	switch resp {
	case "kommt", "komme":
		resp = api.ResponseComing
	case "nicht":
		resp = api.ResponseCannot
	}
	if resp != api.ResponseComing && resp != api.ResponseCannot {
		return &exitError{2, fmt.Errorf("answer coming or cannot")}
	}
	if *eta < 0 || *eta > 24*time.Hour || (*eta != 0 && resp != api.ResponseComing) {
		return &exitError{2, fmt.Errorf("--eta is between 0 and 24h and goes with coming")}
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	ref, err := resolveAlarm(ctx, m.API, fs.Arg(0))
	if err != nil {
		return c.wiped(ctx, err)
	}
	a, err := m.API.RespondAlarm(ctx, ref.ID, api.AlarmResponseRequest{Response: resp, ETASeconds: int(eta.Seconds())})
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(a)
	}
	fmt.Fprintf(env.Stdout, "Antwort gesendet / answer sent. Alarm %s: %s, %d kommen / coming.\n", a.ID, stateLabel(a.State), comingCount(a))
	return nil
}

func comingCount(a *api.Alarm) int {
	n := 0
	for _, r := range a.Responses {
		if r.Response == api.ResponseComing {
			n++
		}
	}
	return n
}

// alarmView is one alarm with what this device decrypted about it.
type alarmView struct {
	Alarm   api.Alarm             `json:"alarm"`
	Content *client.AlarmSighting `json:"content,omitempty"` // note and last known position (decrypted here)
}

func cmdAlarms(ctx context.Context, args []string, env *Env) error {
	if len(args) > 0 && args[0] == "policy" {
		return cmdAlarmPolicy(ctx, args[1:], env)
	}
	fs, c := newFlags("alarms", `alarms [--all] [--json] [--watch]
       wache alarms policy set --unit UNIT --alarm-chat CHAT --dispatch-chat CHAT [--escalation-chat CHAT] [--min-coming N] [--window 60s] [--update 5s]
       wache alarms policy show

The dispatch view: active alarms with state, raiser, who is coming (ETA),
the last known position (decrypted on this device from the raiser's live
positions) and the timeline. Reads new messages of the alarm conversations
(as 'wache read' does). --watch keeps the view current until Ctrl-C.`, env)
	all := fs.Bool("all", false, "include ended alarms")
	watch := fs.Bool("watch", false, "keep showing changes until Ctrl-C")
	limit := fs.Int("limit", 50, "at most this many alarms")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	nm := &names{cl: m.API, m: map[string]string{}}
	var other []client.Message
	m.OnMessage = func(msg client.Message) {
		if !isAlarmTraffic(msg) {
			other = append(other, msg)
		}
	}
	list, err := m.API.Alarms(ctx, *all, *limit)
	if err != nil {
		return c.wiped(ctx, err)
	}
	if !*watch {
		synced := map[string]bool{}
		for _, a := range list {
			for _, cv := range alarmConvIDs(&a) {
				if synced[cv] {
					continue
				}
				synced[cv] = true
				if err := m.Sync(ctx, cv); err != nil && wache.ErrorCode(err) != wache.ECONFLICT && wache.ErrorCode(err) != wache.EFORBIDDEN && wache.ErrorCode(err) != wache.ENOTFOUND {
					return c.wiped(ctx, err)
				}
			}
		}
		if err := c.printAlarms(ctx, m, nm, list); err != nil {
			return err
		}
		if len(other) > 0 && !c.json {
			fmt.Fprintln(env.Stdout, "\nNeue Nachrichten / new messages:")
			for _, msg := range other {
				if err := c.show(ctx, nm, msg); err != nil {
					return err
				}
				_ = m.MarkRead(ctx, msg)
			}
		}
		return nil
	}
	return c.watchAlarms(ctx, m, nm, *all, *limit, list)
}

func isAlarmTraffic(msg client.Message) bool {
	t := msg.Payload.Type
	return t == client.TypeAlarm || ((t == client.TypeLiveLocation || t == client.TypeLiveStop) && msg.Payload.AlarmID != "")
}

func alarmConvIDs(a *api.Alarm) []string {
	ids := slices.Clone(a.ConvIDs)
	if a.EscalationConvID != "" && a.EscalatedAt != nil && !slices.Contains(ids, a.EscalationConvID) {
		ids = append(ids, a.EscalationConvID)
	}
	return ids
}

// watchAlarms listens: alarm frames and decrypted positions redraw the view
// (at most once a second).
func (c *common) watchAlarms(ctx context.Context, m *client.Messenger, nm *names, all bool, limit int, list []api.Alarm) error {
	var mu sync.Mutex
	alarms := map[string]api.Alarm{}
	for _, a := range list {
		alarms[a.ID] = a
	}
	dirty := make(chan struct{}, 1)
	poke := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	m.OnMessage = func(msg client.Message) {
		if isAlarmTraffic(msg) {
			poke()
			return
		}
		_ = c.show(ctx, nm, msg)
		_ = m.MarkRead(ctx, msg)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- m.Listen(lctx, client.ListenHandler{
			Alarm: func(a api.Alarm) {
				mu.Lock()
				alarms[a.ID] = a
				mu.Unlock()
				poke()
			},
			Reminder: func(conv string, seq int64) { c.printReminder(conv, seq) },
			Synced: func() {
				if l, err := m.API.Alarms(lctx, all, limit); err == nil {
					mu.Lock()
					for _, a := range l {
						alarms[a.ID] = a
					}
					mu.Unlock()
					poke()
				}
			},
			Disconnect: func(err error) {
				fmt.Fprintf(c.env.Stderr, "Verbindung unterbrochen / connection lost (%s); reconnecting…\n", describe(err))
			},
		})
	}()
	poke()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return c.wiped(ctx, err)
		case <-dirty:
			pending = true
		case <-tick.C:
			if !pending {
				continue
			}
			pending = false
			mu.Lock()
			var l []api.Alarm
			for _, a := range alarms {
				if all || client.AlarmActive(a.State) {
					l = append(l, a)
				}
			}
			mu.Unlock()
			slices.SortFunc(l, func(a, b api.Alarm) int { return b.RaisedAt.Compare(a.RaisedAt) })
			if len(l) > limit {
				l = l[:limit]
			}
			if !c.json {
				fmt.Fprintf(c.env.Stdout, "\n=== %s ===\n", time.Now().Format("15:04:05"))
			}
			if err := c.printAlarms(ctx, m, nm, l); err != nil {
				return err
			}
		}
	}
}

func (c *common) printReminder(conv string, seq int64) {
	if c.json {
		_ = printJSONLine(c.env.Stdout, map[string]any{"event": "reminder", "conv_id": conv, "seq": seq})
		return
	}
	fmt.Fprintf(c.env.Stdout, "⏰ Erinnerung / reminder: Nachricht #%d wartet auf Quittung / awaits your acknowledgement: wache ack %s %d\n", seq, conv, seq)
}

func (c *common) printAlarms(ctx context.Context, m *client.Messenger, nm *names, list []api.Alarm) error {
	views := make([]alarmView, 0, len(list))
	for _, a := range list {
		content, err := m.AlarmContent(ctx, &a)
		if err != nil {
			return err
		}
		views = append(views, alarmView{Alarm: a, Content: content})
	}
	if c.json {
		if views == nil {
			views = []alarmView{}
		}
		return c.printJSON(views)
	}
	w := c.env.Stdout
	if len(views) == 0 {
		fmt.Fprintln(w, "Keine aktiven Alarme / no active alarms.")
		return nil
	}
	now := time.Now()
	for i, v := range views {
		a := v.Alarm
		if i > 0 {
			fmt.Fprintln(w)
		}
		who := a.RaisedByName
		if who == "" {
			who = a.RaisedByEmail
		}
		fmt.Fprintf(w, "🚨 %s  %s\n", a.ID, strings.ToUpper(stateLabel(a.State)))
		fmt.Fprintf(w, "   ausgelöst von / raised by %s <%s> um %s (vor %s)\n", who, a.RaisedByEmail,
			a.RaisedAt.Local().Format("15:04:05"), now.Sub(a.RaisedAt).Round(time.Second))
		if a.State == api.AlarmRaised {
			fmt.Fprintf(w, "   Eskalation / escalation at %s unless %d coming (in %s)\n", a.Deadline.Local().Format("15:04:05"),
				a.MinComing, max(0, a.Deadline.Sub(now)).Round(time.Second))
		}
		if v.Content != nil {
			if v.Content.Note != "" {
				fmt.Fprintf(w, "   Notiz / note: %s\n", v.Content.Note)
			}
			if l := v.Content.Location; l != nil {
				fmt.Fprintf(w, "   Position: %.5f, %.5f ±%.0f m (%s, vor %s; %d Updates)%s\n", l.Lat, l.Lon, l.Accuracy,
					l.Time.Local().Format("15:04:05"), now.Sub(l.Time).Round(time.Second), v.Content.Updates, stopped(v.Content.Stopped))
			} else {
				fmt.Fprintln(w, "   Position: keine / none sent")
			}
		} else {
			fmt.Fprintln(w, "   Inhalt / content: auf diesem Gerät nicht gelesen / not decrypted on this device (not a member of its groups?)")
		}
		var coming, cannot []string
		for _, r := range a.Responses {
			if r.Response == api.ResponseComing {
				s := r.DisplayName
				if r.ETASeconds > 0 {
					s += fmt.Sprintf(" (ETA %s)", (time.Duration(r.ETASeconds) * time.Second).String())
				}
				coming = append(coming, s)
			} else {
				cannot = append(cannot, r.DisplayName)
			}
		}
		fmt.Fprintf(w, "   Kommen / coming (%d/%d): %s\n", len(coming), a.MinComing, strings.Join(orNone(coming), ", "))
		if len(cannot) > 0 {
			fmt.Fprintf(w, "   Können nicht / cannot: %s\n", strings.Join(cannot, ", "))
		}
		if len(a.Timeline) > 0 {
			fmt.Fprintln(w, "   Verlauf / timeline:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, e := range a.Timeline {
				by := "Server"
				if e.By != "" {
					by = nm.userName(ctx, a, e.By)
				}
				fmt.Fprintf(tw, "     %s\t%s\t%s\t%s\n", e.At.Local().Format("15:04:05"), e.Event, by, e.Detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func stopped(b bool) string {
	if b {
		return " — Live-Standort beendet / live position ended"
	}
	return ""
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"—"}
	}
	return s
}

// userName names a user of an alarm: from its responses, its raiser, or
// the members of its conversations.
func (n *names) userName(ctx context.Context, a api.Alarm, userID string) string {
	if userID == a.RaisedBy && a.RaisedByName != "" {
		return a.RaisedByName
	}
	for _, r := range a.Responses {
		if r.UserID == userID && r.DisplayName != "" {
			return r.DisplayName
		}
	}
	if len(a.ConvIDs) > 0 {
		return n.of(ctx, a.ConvIDs[0], userID)
	}
	return userID
}

func cmdAlarmPolicy(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || (args[0] != "set" && args[0] != "show") {
		fmt.Fprintln(env.Stderr, `Usage:
  wache alarms policy set --unit UNIT --alarm-chat CHAT --dispatch-chat CHAT [--escalation-chat CHAT]
                          [--min-coming N] [--window 60s] [--update 5s]     (administrators)
  wache alarms policy show [--json]                                        (your unit's policy)
UNIT is a unit id or its unique name (see 'wache alarms policy set --help'); CHAT a
conversation id or its unique name.`)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return &exitError{2, nil}
	}
	sub, args := args[0], args[1:]
	fs, c := newFlags("alarms policy "+sub, "alarms policy "+sub+" …", env)
	var unit, alarmChat, dispatchChat, escChat *string
	var minComing *int
	var window, update *time.Duration
	if sub == "set" {
		unit = fs.String("unit", "", "the unit (id or unique name)")
		alarmChat = fs.String("alarm-chat", "", "the unit's alarm group: every SOS goes here")
		dispatchChat = fs.String("dispatch-chat", "", "the dispatch group (Leitstelle)")
		escChat = fs.String("escalation-chat", "", "the group with the neighbouring units (gets the alarm only on escalation)")
		minComing = fs.Int("min-coming", api.AlarmMinComingDefault, "colleagues who must answer coming within the window")
		window = fs.Duration("window", api.AlarmWindowDefaultSeconds*time.Second, "time to reach --min-coming before escalation")
		update = fs.Duration("update", api.AlarmUpdateDefaultSeconds*time.Second, "interval of live positions during an alarm")
	}
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cl := m.API
	if sub == "show" {
		p, err := cl.AlarmPolicy(ctx)
		if err != nil {
			return c.wiped(ctx, err)
		}
		return c.printPolicy(ctx, cl, p)
	}
	switch {
	case *unit == "" || *alarmChat == "" || *dispatchChat == "":
		fs.Usage()
		return &exitError{2, fmt.Errorf("--unit, --alarm-chat and --dispatch-chat are required")}
	case *minComing < 1:
		return &exitError{2, fmt.Errorf("--min-coming must be at least 1")}
	case *window < api.AlarmWindowMinSeconds*time.Second || *window > api.AlarmWindowMaxSeconds*time.Second:
		return &exitError{2, fmt.Errorf("--window must be between %ds and %ds", api.AlarmWindowMinSeconds, api.AlarmWindowMaxSeconds)}
	case *update < time.Second || *update > time.Hour:
		return &exitError{2, fmt.Errorf("--update must be between 1s and 1h")}
	}
	u, err := resolveUnit(ctx, cl, *unit)
	if err != nil {
		return c.wiped(ctx, err)
	}
	p := api.AlarmPolicy{UnitID: u.ID, MinComing: *minComing, WindowSeconds: int(window.Seconds()), UpdateSeconds: int(update.Seconds())}
	for _, x := range []struct {
		ref string
		dst *string
	}{{*alarmChat, &p.AlarmConvID}, {*dispatchChat, &p.DispatchConvID}, {*escChat, &p.EscalationConvID}} {
		if x.ref == "" {
			continue
		}
		cv, err := resolveChat(ctx, cl, x.ref)
		switch {
		case err == nil:
			*x.dst = cv.ID
		case wache.ErrorCode(err) == wache.ENOTFOUND:
			*x.dst = x.ref // an id of a conversation the admin is not in; the server checks it
		default:
			return c.wiped(ctx, err)
		}
	}
	out, err := cl.SetAlarmPolicy(ctx, p)
	if err != nil {
		return c.wiped(ctx, err)
	}
	return c.printPolicy(ctx, cl, out)
}

func (c *common) printPolicy(ctx context.Context, cl *client.Client, p *api.AlarmPolicy) error {
	if c.json {
		return c.printJSON(p)
	}
	unit := p.UnitID
	if us, err := cl.Units(ctx); err == nil {
		for _, u := range us {
			if u.ID == p.UnitID {
				unit = u.Name + " (" + u.ID + ")"
			}
		}
	}
	esc := p.EscalationConvID
	if esc == "" {
		esc = "— (keine Eskalation / no escalation)"
	}
	fmt.Fprintf(c.env.Stdout, "Alarm-Regel / alarm policy of %s\n  alarm group:      %s\n  dispatch group:   %s\n  escalation group: %s\n  escalate unless %d coming within %ds; live position every %ds\n",
		unit, p.AlarmConvID, p.DispatchConvID, esc, p.MinComing, p.WindowSeconds, p.UpdateSeconds)
	return nil
}

// resolveUnit accepts a unit id or its unique name.
func resolveUnit(ctx context.Context, cl *client.Client, ref string) (*api.Unit, error) {
	us, err := cl.Units(ctx)
	if err != nil {
		return nil, err
	}
	return pickOne(us, ref,
		func(u *api.Unit) string { return u.ID },
		func(u *api.Unit) bool { return strings.EqualFold(u.Name, ref) },
		"no unit %q", "%d units are named %q; use the id")
}

func cmdAck(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("ack", "ack CHAT SEQ   (Quittieren: confirm a message that asks for acknowledgement)", env)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	chat, seq, err := chatSeqArgs(fs)
	if err != nil {
		return err
	}
	m, cv, err := c.sessionChat(ctx, chat)
	if err != nil {
		return err
	}
	if err := m.Acknowledge(ctx, cv.ID, seq); err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(map[string]any{"conv_id": cv.ID, "seq": seq, "state": api.ReceiptAcknowledged})
	}
	fmt.Fprintf(env.Stdout, "Quittiert / acknowledged: #%d in %s\n", seq, cv.Name)
	return nil
}

func chatSeqArgs(fs *flag.FlagSet) (string, int64, error) {
	if fs.NArg() != 2 {
		fs.Usage()
		return "", 0, &exitError{2, fmt.Errorf("expected CHAT and SEQ")}
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(fs.Arg(1), "#"), 10, 64)
	if err != nil || seq <= 0 {
		return "", 0, &exitError{2, fmt.Errorf("SEQ is the message number, e.g. 42")}
	}
	return fs.Arg(0), seq, nil
}

func cmdReceipts(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("receipts", "receipts CHAT SEQ [--pending] [--json] [--close]   (sender and chat admins)", env)
	pending := fs.Bool("pending", false, "list only members who have not acknowledged")
	limit := fs.Int("limit", 1000, "list at most this many members")
	closeReq := fs.Bool("close", false, "close the request: no more reminders")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	chat, seq, err := chatSeqArgs(fs)
	if err != nil {
		return err
	}
	if *limit < 1 {
		return &exitError{2, fmt.Errorf("--limit must be positive")}
	}
	m, cv, err := c.sessionChat(ctx, chat)
	if err != nil {
		return err
	}
	cl := m.API
	if *closeReq {
		if err := cl.CloseAckRequest(ctx, cv.ID, seq); err != nil {
			return c.wiped(ctx, err)
		}
	}
	// Page through the members up to --limit.
	var rs *api.Receipts
	q := client.ReceiptsQuery{Pending: *pending, Limit: min(*limit, 1000)}
	for {
		page, err := cl.Receipts(ctx, cv.ID, seq, q)
		if err != nil {
			return c.wiped(ctx, err)
		}
		if rs == nil {
			rs = page
		} else {
			rs.Members = append(rs.Members, page.Members...)
		}
		if len(page.Members) < q.Limit || len(rs.Members) >= *limit {
			break
		}
		q.After = page.Members[len(page.Members)-1].UserID
		q.Limit = min(*limit-len(rs.Members), 1000)
	}
	if c.json {
		return c.printJSON(rs)
	}
	w := env.Stdout
	prio := rs.Priority
	if prio == "" {
		prio = "normal"
	}
	fmt.Fprintf(w, "#%d in %s (%s): %d Empfänger / recipients — zugestellt / delivered %d, gelesen / read %d, quittiert / acknowledged %d\n",
		rs.Seq, cv.Name, prio, rs.Recipients, rs.Delivered, rs.Read, rs.Acknowledged)
	if rs.ClosedAt != nil {
		fmt.Fprintf(w, "Anfrage geschlossen / request closed %s (no more reminders)\n", rs.ClosedAt.Local().Format("2006-01-02 15:04:05"))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tDELIVERED\tREAD\tACKNOWLEDGED")
	ts := func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.Local().Format("15:04:05")
	}
	for _, mr := range rs.Members {
		fmt.Fprintf(tw, "%s <%s>\t%s\t%s\t%s\n", mr.DisplayName, mr.Email, ts(mr.DeliveredAt), ts(mr.ReadAt), ts(mr.AcknowledgedAt))
	}
	return tw.Flush()
}
