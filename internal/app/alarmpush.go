package app

import (
	"context"

	"github.com/wache/wache/internal/alarm"
	"github.com/wache/wache/internal/push"
)

// alarmPusher lets the alarm service send Web Pushes through the push
// service (the alarm package keeps its own small interface).
type alarmPusher struct{ p *push.Service }

func (a alarmPusher) Notify(ctx context.Context, deviceIDs []string, n alarm.Notification) error {
	if a.p == nil {
		return nil
	}
	return a.p.Notify(ctx, deviceIDs, push.Notification{Kind: n.Kind, Urgency: n.Urgency})
}
