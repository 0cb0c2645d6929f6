package alarm

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// retentionChunk bounds one delete (with its cascades) so that raises and
// responses are never blocked for long.
const retentionChunk = 200

// DeleteEndedBefore removes alarms that ended (or were called off as false
// alarms) before t, with their conversations, responses and timelines
// (ON DELETE CASCADE), and returns how many went. Active alarms are never
// deleted, however old. The audit log keeps who raised, answered and ended
// an alarm for its own retention period; the alarm's envelopes go with the
// relay's retention.
func (s *Service) DeleteEndedBefore(ctx context.Context, t time.Time) (int64, error) {
	cut := t.UnixMilli()
	var total int64
	for {
		res, err := s.db.Exec(ctx, `DELETE FROM alarms WHERE id IN (SELECT id FROM alarms
			WHERE state IN ('ended', 'false_alarm') AND ended_at < ? LIMIT `+fmt.Sprint(retentionChunk)+`)`, cut)
		if err != nil {
			return total, fmt.Errorf("delete ended alarms: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete ended alarms: %w", err)
		}
		total += n
		if n < retentionChunk {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// RunRetention deletes alarms ended longer than keep ago, at start and then
// every interval, until ctx ends; keep ≤ 0 keeps them.
func (s *Service) RunRetention(ctx context.Context, keep, every time.Duration, log *slog.Logger) {
	if keep <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.DeleteEndedBefore(ctx, s.now().Add(-keep))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("alarm retention", "err", err)
		case n > 0:
			log.Info("alarm retention: ended alarms deleted", "count", n, "older_than", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
