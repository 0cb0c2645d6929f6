package alarm

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store/dbtest"
)

func TestReceipts(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		sender, a, b, c := f.person("sender", f.unit), f.person("a", f.unit), f.person("b", f.unit), f.person("c", f.unit)
		stranger := f.person("stranger", f.unit)
		conv := f.group(sender, a, b, c)
		plain := f.post(sender, conv, "plain-1", false, 0)
		seq := f.post(sender, conv, "ack-1", true, 0)

		// The envelope carries priority and ack_required to readers.
		envs, err := f.st.Envelopes(f.ctx, conv.ID, seq-1, 1)
		must(t, err)
		if envs[0].Priority != relay.PriorityUrgent || !envs[0].AckRequired {
			t.Fatalf("stored envelope priority %q ack %v", envs[0].Priority, envs[0].AckRequired)
		}

		late := f.person("late", f.unit)
		must(t, f.st.AddMember(f.ctx, &wache.Member{ConvID: conv.ID, UserID: late.u.ID, Role: wache.MemberReader, JoinedAt: time.Now()}))

		for _, tc := range []struct {
			name  string
			who   person
			conv  string
			seq   int64
			state string
			code  string
		}{
			{"delivered", a, conv.ID, seq, api.ReceiptDelivered, ""},
			{"read", b, conv.ID, seq, api.ReceiptRead, ""},
			{"acknowledged", c, conv.ID, seq, api.ReceiptAcknowledged, ""},
			{"repeat is a no-op", c, conv.ID, seq, api.ReceiptAcknowledged, ""},
			{"lower after higher is a no-op", c, conv.ID, seq, api.ReceiptDelivered, ""},
			{"a rises to read", a, conv.ID, seq, api.ReceiptRead, ""},
			{"sender", sender, conv.ID, seq, api.ReceiptAcknowledged, wache.EFORBIDDEN},
			{"not a member", stranger, conv.ID, seq, api.ReceiptAcknowledged, wache.ENOTFOUND},
			{"joined later", late, conv.ID, seq, api.ReceiptAcknowledged, wache.EFORBIDDEN},
			{"no ack requested", a, conv.ID, plain, api.ReceiptAcknowledged, wache.EINVALID},
			{"no such message", a, conv.ID, 999, api.ReceiptAcknowledged, wache.EINVALID},
			{"bad state", a, conv.ID, seq, "seen", wache.EINVALID},
			{"empty state", a, conv.ID, seq, "", wache.EINVALID},
			{"zero seq", a, conv.ID, 0, api.ReceiptRead, wache.EINVALID},
			{"no such conversation", a, "nope", seq, api.ReceiptRead, wache.ENOTFOUND},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, f.svc.Receipt(f.ctx, tc.who.u, tc.conv, tc.seq, tc.state), tc.code)
			})
		}

		r, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, false, 0, "")
		must(t, err)
		if r.Recipients != 3 || r.Delivered != 3 || r.Read != 3 || r.Acknowledged != 1 || r.Priority != relay.PriorityUrgent {
			t.Fatalf("counts %+v", r)
		}
		if len(r.Members) != 3 {
			t.Fatalf("members %d, want 3 (late joiner and sender excluded)", len(r.Members))
		}
		for _, m := range r.Members {
			switch m.UserID {
			case c.u.ID:
				if m.AcknowledgedAt == nil || m.ReadAt == nil || m.DeliveredAt == nil {
					t.Fatalf("c: %+v", m)
				}
			case a.u.ID, b.u.ID:
				if m.AcknowledgedAt != nil || m.ReadAt == nil || m.DeliveredAt == nil {
					t.Fatalf("%s: %+v", m.DisplayName, m)
				}
			default:
				t.Fatalf("unexpected member %s", m.UserID)
			}
		}
		// One row per user, written only on change.
		if n := f.count(`SELECT COUNT(*) FROM receipts WHERE conv_id = ? AND seq = ?`, conv.ID, seq); n != 3 {
			t.Fatalf("%d receipt rows, want 3", n)
		}

		// pending=1 and paging.
		p, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, true, 0, "")
		must(t, err)
		var ids []string
		for _, m := range p.Members {
			ids = append(ids, m.UserID)
		}
		want := []string{a.u.ID, b.u.ID}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("pending %v, want %v", ids, want)
		}
		p1, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, true, 1, "")
		must(t, err)
		p2, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, true, 1, p1.Members[0].UserID)
		must(t, err)
		if len(p1.Members) != 1 || len(p2.Members) != 1 || p2.Members[0].UserID != want[1] {
			t.Fatalf("paging: %v then %v", p1.Members, p2.Members)
		}

		// Who sees receipts: the sender and admins, nobody else.
		_, err = f.svc.Receipts(f.ctx, a.u, conv.ID, seq, false, 0, "")
		wantCode(t, err, wache.EFORBIDDEN)
		_, err = f.svc.Receipts(f.ctx, stranger.u, conv.ID, seq, false, 0, "")
		wantCode(t, err, wache.ENOTFOUND)
		_, err = f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, false, 1001, "")
		wantCode(t, err, wache.EINVALID)
		wantCode(t, f.svc.CloseRequest(f.ctx, a.u, conv.ID, seq), wache.EFORBIDDEN)

		// The last acknowledgement ends the reminders.
		must(t, f.svc.Receipt(f.ctx, a.u, conv.ID, seq, api.ReceiptAcknowledged))
		must(t, f.svc.Receipt(f.ctx, b.u, conv.ID, seq, api.ReceiptAcknowledged))
		if n := f.count(`SELECT COUNT(*) FROM ack_requests WHERE conv_id = ? AND seq = ? AND next_remind_at IS NULL AND acknowledged = 3`, conv.ID, seq); n != 1 {
			t.Fatal("reminders still scheduled after everyone acknowledged")
		}

		// Retention takes requests and receipts along with the envelopes.
		_, err = f.st.DeleteEnvelopesBefore(f.ctx, time.Now().Add(time.Minute))
		must(t, err)
		if n := f.count(`SELECT COUNT(*) FROM ack_requests`) + f.count(`SELECT COUNT(*) FROM receipts`); n != 0 {
			t.Fatalf("%d request and receipt rows left after retention", n)
		}
	})
}

func TestPriorityValidation(t *testing.T) {
	f := newFixture(t, dbtest.SQLite(t))
	sender, a := f.person("s", f.unit), f.person("a", f.unit)
	conv := f.group(sender, a)
	for _, tc := range []struct {
		name string
		msg  relay.Message
	}{
		{"unknown priority", relay.Message{ClientID: "p1", Payload: []byte("x"), Priority: "flash"}},
		{"remind without ack", relay.Message{ClientID: "p2", Payload: []byte("x"), RemindAfter: 60}},
		{"remind too short", relay.Message{ClientID: "p3", Payload: []byte("x"), AckRequired: true, RemindAfter: 5}},
		{"remind too long", relay.Message{ClientID: "p4", Payload: []byte("x"), AckRequired: true, RemindAfter: 86401}},
		{"commit with priority", relay.Message{ClientID: "p5", Payload: []byte("x"), Kind: wache.EnvCommit, Priority: "alarm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.relay.Post(f.ctx, sender.u, sender.d, conv.ID, tc.msg)
			wantCode(t, err, wache.EINVALID)
		})
	}
}

func TestReminders(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		sender, a, b := f.person("sender", f.unit), f.person("a", f.unit), f.person("b", f.unit)
		conv := f.group(sender, a, b)
		seq := f.post(sender, conv, "ack-r", true, 30)
		must(t, f.svc.Receipt(f.ctx, a.u, conv.ID, seq, api.ReceiptAcknowledged))

		// Not yet due.
		n, err := f.svc.remindDue(f.ctx)
		must(t, err)
		if n != 0 {
			t.Fatalf("%d reminders before the interval", n)
		}
		// Due: two nodes look at once; one sends.
		f.clk.Add(31 * time.Second)
		other := f.node()
		n1, err := f.svc.remindDue(f.ctx)
		must(t, err)
		n2, err := other.remindDue(f.ctx)
		must(t, err)
		if n1+n2 != 1 {
			t.Fatalf("%d reminders sent by two nodes, want 1", n1+n2)
		}
		got := f.frames.usersOf(t, api.FrameReminder, 1)
		if !slices.Equal(got, []string{b.u.ID}) {
			t.Fatalf("reminded %v, want only b (a acknowledged, sender excluded)", got)
		}
		if f.push.count("reminder") != 1 {
			t.Fatalf("reminder pushes: %d", f.push.count("reminder"))
		}

		// Closing stops them.
		must(t, f.svc.CloseRequest(f.ctx, sender.u, conv.ID, seq))
		must(t, f.svc.CloseRequest(f.ctx, sender.u, conv.ID, seq)) // twice is fine
		f.clk.Add(time.Hour)
		f.frames.reset()
		n, err = f.svc.remindDue(f.ctx)
		must(t, err)
		if n != 0 {
			t.Fatal("reminder after close")
		}
		r, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, false, 0, "")
		must(t, err)
		if r.ClosedAt == nil {
			t.Fatal("closed_at not set")
		}

		// Reminders stop after 24 hours.
		seq2 := f.post(sender, conv, "ack-r2", true, 86400)
		_ = seq2
		f.clk.Add(RemindFor + time.Minute)
		sent := 0
		for i := 0; i < 3; i++ {
			n, err := f.svc.remindDue(f.ctx)
			must(t, err)
			sent += n
		}
		if sent > 1 {
			t.Fatalf("%d reminders after 24 h", sent)
		}
		if k := f.count(`SELECT COUNT(*) FROM ack_requests WHERE next_remind_at IS NOT NULL`); k != 0 {
			t.Fatalf("%d requests still scheduled after 24 h", k)
		}
	})
}

// TestConcurrentReceipts: many recipients confirming at once (and each
// twice, racing with itself) leave exact counts and one row per user.
func TestConcurrentReceipts(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		sender := f.person("sender", f.unit)
		ps := []person{sender}
		for i := 0; i < 30; i++ {
			ps = append(ps, f.person(fmt.Sprint("r", i), f.unit))
		}
		conv := f.group(ps...)
		seq := f.post(sender, conv, "ack-c", true, 0)
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(ps))
		for _, p := range ps[1:] {
			for _, state := range []string{api.ReceiptAcknowledged, api.ReceiptRead} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- f.svc.Receipt(f.ctx, p.u, conv.ID, seq, state)
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		r, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, true, 0, "")
		must(t, err)
		if r.Recipients != 30 || r.Delivered != 30 || r.Read != 30 || r.Acknowledged != 30 || len(r.Members) != 0 {
			t.Fatalf("counts %d/%d/%d of %d, %d pending", r.Delivered, r.Read, r.Acknowledged, r.Recipients, len(r.Members))
		}
		if n := f.count(`SELECT COUNT(*) FROM receipts WHERE conv_id = ? AND seq = ?`, conv.ID, seq); n != 30 {
			t.Fatalf("%d receipt rows", n)
		}
	})
}
