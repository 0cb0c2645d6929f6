package ident

import "testing"

func BenchmarkPlateCandidates(b *testing.B) {
	for b.Loop() {
		PlateCandidates("BGLAB1234")
		PlateCandidates("MXY4711")
	}
}
