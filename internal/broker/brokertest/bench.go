package brokertest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wache/wache/internal/broker"
)

// benchSize is the payload of the benchmarks: a notification with room to
// spare (real ones are ids and sequence numbers).
const benchSize = 1 << 10

// benchWindow bounds the messages in flight in the throughput benchmarks,
// well below the queue bound, so that nothing is dropped and the figure is
// sustained throughput rather than the speed of filling a queue.
const benchWindow = 1024

// Bench runs the benchmarks shared by every broker: latency from Publish to
// the handler, throughput with one subscriber and with eight, and the cost
// of a publish nobody subscribed to. newBroker is as for Run.
func Bench(b *testing.B, newBroker func(b *testing.B) broker.Broker) {
	open := func(b *testing.B) broker.Broker {
		br := newBroker(b)
		b.Cleanup(func() { br.Close() })
		return br
	}
	b.Run("Latency", func(b *testing.B) { benchLatency(b, open(b)) })
	b.Run("Throughput", func(b *testing.B) { benchThroughput(b, open(b), 1) })
	b.Run("FanOut8", func(b *testing.B) { benchThroughput(b, open(b), 8) })
	b.Run("PublishNoInterest", func(b *testing.B) { benchNoInterest(b, open(b)) })
}

func benchLatency(b *testing.B, br broker.Broker) {
	got := make(chan struct{}, 1)
	if _, err := br.Subscribe("bench.lat", func(string, []byte) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, benchSize)
	ctx := context.Background()
	var lat []time.Duration
	timeout := time.NewTimer(WaitTimeout)
	defer timeout.Stop()
	b.SetBytes(benchSize)
	for b.Loop() {
		timeout.Reset(WaitTimeout)
		start := time.Now()
		if err := br.Publish(ctx, "bench.lat", data); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-timeout.C:
			b.Fatal("message not delivered")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
}

func benchThroughput(b *testing.B, br broker.Broker, subs int) {
	// One window per subscriber: the publisher takes a slot in each, every
	// handler gives its slot back.
	windows := make([]chan struct{}, subs)
	for i := range windows {
		w := make(chan struct{}, benchWindow)
		windows[i] = w
		if _, err := br.Subscribe("bench.tp", func(string, []byte) { <-w }); err != nil {
			b.Fatal(err)
		}
	}
	data := make([]byte, benchSize)
	ctx := context.Background()
	b.SetBytes(benchSize)
	start := time.Now()
	for b.Loop() {
		for _, w := range windows {
			w <- struct{}{}
		}
		if err := br.Publish(ctx, "bench.tp", data); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until every handler has run: fill every window.
	for _, w := range windows {
		for range benchWindow {
			select {
			case w <- struct{}{}:
			case <-time.After(WaitTimeout):
				b.Fatal("messages not delivered")
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if dc, ok := br.(DropCounter); ok && dc.Dropped() > 0 {
		b.Fatalf("%d messages dropped", dc.Dropped())
	}
}

func benchNoInterest(b *testing.B, br broker.Broker) {
	data := make([]byte, benchSize)
	ctx := context.Background()
	b.SetBytes(benchSize)
	for b.Loop() {
		if err := br.Publish(ctx, "bench.nobody", data); err != nil {
			b.Fatal(err)
		}
	}
}
