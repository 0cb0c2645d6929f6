//go:build unix

package ocr

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time the process has used (user + system).
// On a shared, loaded machine it measures the work of a benchmark better
// than the wall clock does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric from the CPU time used since start.
func reportCPU(b *testing.B, start time.Duration) {
	if d := processCPU() - start; d > 0 {
		b.ReportMetric(float64(d)/float64(b.N)/1e6, "cpu-ms/op")
	}
}
