package e2e

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/natsbroker"
)

// natsURL returns the external NATS server for multi-node tests, skipping
// when there is none (unless WACHE_TEST_NATS_REQUIRED=1).
func natsURL(t *testing.T) string {
	url := os.Getenv("WACHE_TEST_NATS")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second)
	if err != nil {
		if os.Getenv("WACHE_TEST_NATS_REQUIRED") == "1" {
			t.Fatalf("NATS required but unreachable at %s: %v", url, err)
		}
		t.Skipf("NATS not reachable at %s (set WACHE_TEST_NATS): %v", url, err)
	}
	conn.Close()
	return url
}

// startSharedNATS starts one embedded NATS broker that two in-process
// nodes share, as two nodes would share a cluster.
func startSharedNATS(t *testing.T) broker.Broker {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbroker.Embedded(ctx, natsbroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
