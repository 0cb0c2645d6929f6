package alarm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store/sqldb"
)

// Run fires due escalations and reminders every Poll until ctx ends. Every
// node runs it; the conditional UPDATEs make each firing happen once. The
// deadlines are rows, so a node that starts after a crash picks up what
// came due while it was down.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "alarm timers", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue handles everything due now (by the service's clock): escalations,
// held envelopes still to be posted, reminders.
func (s *Service) RunDue(ctx context.Context) error {
	_, err1 := s.escalateDue(ctx)
	err2 := s.postPendingHeld(ctx)
	_, err3 := s.remindDue(ctx)
	return errors.Join(err1, err2, err3)
}

// escalateDue escalates raised alarms whose deadline passed.
func (s *Service) escalateDue(ctx context.Context) (int, error) {
	now := s.nowMS()
	rows, err := s.db.Query(ctx, `SELECT id FROM alarms WHERE state = 'raised' AND deadline <= ? ORDER BY deadline LIMIT `+fmt.Sprint(dueBatch), now)
	if err != nil {
		return 0, fmt.Errorf("due alarms: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("due alarms: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("due alarms: %w", err)
	}
	n := 0
	for _, id := range ids {
		ok, err := s.escalate(ctx, id, now)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// escalate claims one alarm (raised, deadline passed) with a conditional
// UPDATE; only the transaction that changes the row goes on, so the
// escalation happens once however many nodes look.
func (s *Service) escalate(ctx context.Context, id string, now int64) (bool, error) {
	claimed := false
	err := s.inTx(ctx, func(tx *sqldb.Tx) error {
		claimed = false
		res, err := tx.Exec(ctx, `UPDATE alarms SET state = 'escalated', escalated_at = ? WHERE id = ? AND state = 'raised' AND deadline <= ?`, now, id, now)
		if err != nil {
			return fmt.Errorf("claim alarm: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		claimed = true
		var coming, minComing int
		var esc string
		if err := tx.QueryRow(ctx, `SELECT coming, min_coming, escalation_conv_id FROM alarms WHERE id = ?`, id).Scan(&coming, &minComing, &esc); err != nil {
			return fmt.Errorf("load alarm: %w", err)
		}
		if esc != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO alarm_convs (alarm_id, conv_id, role, seq) VALUES (?, ?, ?, 0)
				ON CONFLICT (alarm_id, conv_id) DO NOTHING`, id, esc, roleEscalation); err != nil {
				return fmt.Errorf("add escalation conversation: %w", err)
			}
		}
		return s.addEvent(ctx, tx, id, now, api.AlarmEscalated, "", fmt.Sprintf("%d of %d coming when the window closed", coming, minComing))
	})
	if err != nil || !claimed {
		return false, err
	}
	s.record(ctx, "alarm.escalated", nil, nil, map[string]any{"alarm": id}, api.AlarmEscalated)
	s.postHeld(ctx, id)
	a, err := s.load(ctx, id)
	if err != nil {
		return true, err
	}
	s.changed(ctx, a, true, true)
	return true, nil
}

// postPendingHeld posts held envelopes of escalated alarms that are still
// waiting: a node that crashed between claiming and posting, or a post that
// failed for a passing reason. The relay's de-duplication by client id
// makes a repeated post harmless.
func (s *Service) postPendingHeld(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT id FROM alarms WHERE state = 'escalated' AND held_payload IS NOT NULL LIMIT `+fmt.Sprint(dueBatch))
	if err != nil {
		return fmt.Errorf("pending escalations: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("pending escalations: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pending escalations: %w", err)
	}
	for _, id := range ids {
		if s.postHeld(ctx, id) {
			if a, err := s.load(ctx, id); err == nil {
				s.changed(ctx, a, false, true)
			}
		}
	}
	return nil
}

// postHeld posts an escalated alarm's held ciphertext into the escalation
// conversation in the raiser's name and reports whether it was posted.
// A permanent refusal (the raiser's device revoked, membership gone) is
// recorded and the ciphertext dropped; a passing one leaves it for the
// next poll.
func (s *Service) postHeld(ctx context.Context, id string) bool {
	var raiser, device, conv, clientID string
	var epoch int64
	var payload []byte
	err := s.db.QueryRow(ctx, `SELECT raised_by, raised_device, escalation_conv_id, held_client_id, held_epoch, held_payload
		FROM alarms WHERE id = ? AND state = 'escalated' AND held_payload IS NOT NULL`, id).
		Scan(&raiser, &device, &conv, &clientID, &epoch, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return false
	}
	if err != nil {
		s.log.WarnContext(ctx, "load held escalation", "alarm", id, "err", err)
		return false
	}
	u, err := s.store.User(ctx, raiser)
	var d *wache.Device
	if err == nil {
		d, err = s.store.Device(ctx, device)
	}
	var seq int64
	if err == nil {
		if d.Revoked() {
			err = wache.Errorf(wache.EFORBIDDEN, "the raising device was revoked")
		} else {
			var res relayResult
			res, err = s.post(ctx, u, d, conv, clientID, epoch, payload)
			seq = res.Seq
		}
	}
	now := s.nowMS()
	code := wache.ErrorCode(err)
	if err != nil && (code == wache.EUNAVAILABLE || code == wache.EINTERNAL) {
		s.log.WarnContext(ctx, "post held escalation; will retry", "alarm", id, "err", err)
		return false
	}
	mine := false
	err2 := s.inTx(ctx, func(tx *sqldb.Tx) error {
		mine = false
		res, err2 := tx.Exec(ctx, `UPDATE alarms SET held_payload = NULL WHERE id = ? AND held_payload IS NOT NULL`, id)
		if err2 != nil {
			return err2
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // another node recorded it
		}
		mine = true
		if err != nil {
			return s.addEvent(ctx, tx, id, now, "escalation_failed", "", code)
		}
		if _, err2 := tx.Exec(ctx, `UPDATE alarm_convs SET seq = ? WHERE alarm_id = ? AND conv_id = ?`, seq, id, conv); err2 != nil {
			return err2
		}
		return s.addEvent(ctx, tx, id, now, "escalation_posted", "", "")
	})
	if err2 != nil {
		s.log.WarnContext(ctx, "record held escalation", "alarm", id, "err", err2)
		return false
	}
	if !mine {
		return false
	}
	if err != nil {
		s.log.WarnContext(ctx, "held escalation refused", "alarm", id, "code", code)
		s.record(ctx, "alarm.escalation_failed", nil, nil, map[string]any{"alarm": id, "code": code}, "failed")
		return false
	}
	s.record(ctx, "alarm.escalation_posted", nil, nil, map[string]any{"alarm": id, "conv": conv, "seq": seq}, api.AlarmEscalated)
	return true
}

type relayResult struct{ Seq int64 }

func (s *Service) post(ctx context.Context, u *wache.User, d *wache.Device, conv, clientID string, epoch int64, payload []byte) (relayResult, error) {
	res, err := s.relay.Post(ctx, u, d, conv, relay.Message{ClientID: clientID, Kind: wache.EnvApp, Epoch: epoch, Payload: payload,
		Priority: relay.PriorityAlarm, AckRequired: true})
	return relayResult{Seq: res.Seq}, err
}
