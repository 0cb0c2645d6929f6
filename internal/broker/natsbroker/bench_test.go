package natsbroker

import (
	"testing"

	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/brokertest"
)

func BenchmarkEmbedded(b *testing.B) {
	brokertest.Bench(b, func(b *testing.B) broker.Broker { return embedded(b, Options{}) })
}

func BenchmarkExternal(b *testing.B) {
	url := externalURL(b)
	brokertest.Bench(b, func(b *testing.B) broker.Broker {
		return connect(b, url, Options{Namespace: namespace(b)})
	})
}
