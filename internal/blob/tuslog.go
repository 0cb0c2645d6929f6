package blob

import (
	"context"
	"log/slog"

	expslog "golang.org/x/exp/slog"
)

// tusLog forwards tusd's log records (x/exp/slog) to the server's logger.
// tusd logs every request at Info; only its warnings and errors pass, and
// only attributes that carry no content: the upload id, the method and
// the error text.
type tusLog struct {
	log   *slog.Logger
	attrs []any
}

func newTusLogger(log *slog.Logger) *expslog.Logger {
	return expslog.New(&tusLog{log: log})
}

func (h *tusLog) Enabled(_ context.Context, l expslog.Level) bool { return l >= expslog.LevelWarn }

func (h *tusLog) Handle(ctx context.Context, r expslog.Record) error {
	args := append([]any{"tus", r.Message}, h.attrs...)
	r.Attrs(func(a expslog.Attr) bool {
		args = append(args, keep(a)...)
		return true
	})
	level := slog.LevelWarn
	if r.Message == "BodyReadError" { // a client went away mid-upload: normal on mobile networks
		level = slog.LevelInfo
	}
	h.log.Log(ctx, level, "blob upload", args...)
	return nil
}

func keep(a expslog.Attr) []any {
	switch a.Key {
	case "id", "method", "error", "message":
		return []any{a.Key, a.Value.String()}
	}
	return nil
}

func (h *tusLog) WithAttrs(as []expslog.Attr) expslog.Handler {
	n := &tusLog{log: h.log, attrs: append([]any(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, keep(a)...)
	}
	return n
}

func (h *tusLog) WithGroup(string) expslog.Handler { return h }
