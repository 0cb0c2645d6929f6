package storetest

import (
	"testing"
	"time"

	"github.com/wache/wache"
)

// testPriority: priority and ack_required are stored with the envelope
// and read back; invalid combinations are per-item EINVALID; retention
// takes acknowledgement requests along with their envelopes.
func testPriority(t *testing.T, f *fixture) {
	a, b := f.user(t, "anna"), f.user(t, "ben")
	da := f.device(t, a)
	c := f.group(t, a, b)
	urgent := env(c, da, "p-1")
	urgent.Priority, urgent.AckRequired = "urgent", true
	alarm := env(c, da, "p-2")
	alarm.Priority, alarm.AckRequired, alarm.RemindEvery = "alarm", true, 60
	plain := env(c, da, "p-3")
	f.appendOK(t, urgent, alarm, plain)
	got, err := f.s.Envelopes(f.ctx, c.ID, 0, 10)
	must(t, err)
	if len(got) != 3 || got[0].Priority != "urgent" || !got[0].AckRequired || got[1].Priority != "alarm" || !got[1].AckRequired ||
		got[2].Priority != "" || got[2].AckRequired {
		t.Fatalf("read back %+v", got)
	}

	bad := []*wache.Envelope{env(c, da, "p-4"), env(c, da, "p-5"), env(c, da, "p-6"), env(c, da, "p-7")}
	bad[0].Priority = "flash"
	bad[1].Kind, bad[1].AckRequired = wache.EnvCommit, true
	bad[2].AckRequired, bad[2].RemindEvery = true, 10
	bad[3].AckRequired, bad[3].RemindEvery = true, 86401
	res, err := f.s.AppendEnvelopes(f.ctx, bad)
	must(t, err)
	for i, r := range res {
		if wache.ErrorCode(r.Err) != wache.EINVALID {
			t.Fatalf("bad envelope %d: %v", i, r.Err)
		}
	}

	n, err := f.s.DeleteEnvelopesBefore(f.ctx, time.Now().Add(time.Minute))
	must(t, err)
	if n != 3 {
		t.Fatalf("retention deleted %d envelopes, want 3", n)
	}
}
