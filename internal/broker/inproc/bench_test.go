package inproc

import (
	"testing"

	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/brokertest"
)

func BenchmarkBroker(b *testing.B) {
	brokertest.Bench(b, func(b *testing.B) broker.Broker {
		return NewWithOptions(Options{Logger: testLogger(b)})
	})
}
