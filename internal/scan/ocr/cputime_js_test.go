//go:build js && wasm

package ocr

import (
	"syscall/js"
	"testing"
	"time"
)

// processCPU returns the CPU time Node has used (user + system), so the
// wasm benchmarks report cpu-ms/op like the native ones.
func processCPU() time.Duration {
	p := js.Global().Get("process")
	if p.IsUndefined() {
		return 0
	}
	u := p.Call("cpuUsage")
	return time.Duration(u.Get("user").Float()+u.Get("system").Float()) * time.Microsecond
}

func reportCPU(b *testing.B, start time.Duration) {
	if d := processCPU() - start; d > 0 {
		b.ReportMetric(float64(d)/float64(b.N)/1e6, "cpu-ms/op")
	}
}
