package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/wache/wache/client/attach"
)

// progressBar prints transfer progress to w at most a few times a second.
func progressBar(w io.Writer, label string) (attach.Progress, func()) {
	var mu sync.Mutex
	var last time.Time
	start := time.Now()
	shown := false
	p := func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 200*time.Millisecond && done < total {
			return
		}
		last = time.Now()
		shown = true
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		rate := float64(done) / max(time.Since(start).Seconds(), 0.001) / 1e6
		fmt.Fprintf(w, "\r%s %5.1f%%  %.1f / %.1f MB  %.1f MB/s ", label, pct, float64(done)/1e6, float64(total)/1e6, rate)
	}
	return p, func() {
		mu.Lock()
		defer mu.Unlock()
		if shown {
			fmt.Fprintln(w)
		}
	}
}

func cmdSendFile(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("send-file", "send-file CHAT PATH   (photo, video, voice message, document)", env)
	timeout := fs.Duration("timeout", 2*time.Hour, "give up after this long")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected CHAT and PATH")}
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cv, err := resolveChat(ctx, m.API, fs.Arg(0))
	if err != nil {
		return c.wiped(ctx, err)
	}
	sctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := m.Sync(sctx, cv.ID); err != nil {
		return c.wiped(ctx, err)
	}
	var prog attach.Progress
	done := func() {}
	if !c.json {
		prog, done = progressBar(env.Stderr, "Hochladen / uploading")
	}
	res, ref, err := m.SendFile(sctx, cv.ID, fs.Arg(1), prog)
	done()
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(map[string]any{"seq": res.Seq, "name": ref.Name, "mime": ref.MIME, "size": ref.Size})
	}
	fmt.Fprintf(env.Stdout, "Gesendet / sent %s (%s, %d bytes) as #%d\n", ref.Name, ref.MIME, ref.Size, res.Seq)
	return nil
}

func cmdFetch(ctx context.Context, args []string, env *Env) error {
	fs, c := newFlags("fetch", "fetch CHAT MSG OUT   (MSG: the message number shown by read/listen)", env)
	timeout := fs.Duration("timeout", 2*time.Hour, "give up after this long")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("expected CHAT, MSG and OUT")}
	}
	seq, err := strconv.ParseInt(fs.Arg(1), 10, 64)
	if err != nil || seq <= 0 {
		return &exitError{2, fmt.Errorf("MSG is the message number, e.g. 42")}
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	cv, err := resolveChat(ctx, m.API, fs.Arg(0))
	if err != nil {
		return c.wiped(ctx, err)
	}
	sctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := m.Sync(sctx, cv.ID); err != nil { // the message may not be processed yet
		return c.wiped(ctx, err)
	}
	ref, err := m.AttachmentRef(sctx, cv.ID, seq)
	if err != nil {
		return err
	}
	var prog attach.Progress
	done := func() {}
	if !c.json {
		prog, done = progressBar(env.Stderr, "Herunterladen / downloading")
	}
	err = m.FetchFile(sctx, ref, fs.Arg(2), prog)
	done()
	if err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(map[string]any{"path": fs.Arg(2), "name": ref.Name, "mime": ref.MIME, "size": ref.Size, "verified": true})
	}
	fmt.Fprintf(env.Stdout, "%s gespeichert / saved to %s (%d bytes, SHA-256 verified)\n", ref.Name, fs.Arg(2), ref.Size)
	return nil
}
