package mls

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Benchmarks: go test -run '^$' -bench . -benchtime 20x ./client/mls/
// Group sizes default to 10, 100, 1000; WACHE_MLS_BENCH_SIZES=10,5000 etc.
// overrides them.

func benchSizes() []int {
	sizes := []int{10, 100, 1000}
	if s := os.Getenv("WACHE_MLS_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err == nil && n >= 2 {
				sizes = append(sizes, n)
			}
		}
	}
	return sizes
}

// benchGroup builds a group of n devices: the creator adds a second device
// (which joins while the group is small), then everyone else in one commit.
func benchGroup(b *testing.B, n int) (ds *deliveryService, creator, member *device) {
	b.Helper()
	creator = newDevice(b, "creator@polizei.example", "c", Options{})
	member = newDevice(b, "member@polizei.example", "m", Options{})
	g, err := creator.eng.CreateGroup([]byte("bench"))
	if err != nil {
		b.Fatal(err)
	}
	creator.g = g
	ds = &deliveryService{}
	commit, welcome, err := creator.g.AddMembers([][]byte{member.keyPackage(b)})
	if err != nil {
		b.Fatal(err)
	}
	commitAccepted(b, ds, creator, commit)
	join(b, member, welcome)
	if n > 2 {
		var kps [][]byte
		for i := 2; i < n; i++ {
			d := newDevice(b, fmt.Sprintf("user%d@polizei.example", i), "d", Options{})
			kps = append(kps, d.keyPackage(b))
		}
		commit, _, err = creator.g.AddMembers(kps)
		if err != nil {
			b.Fatal(err)
		}
		commitAccepted(b, ds, creator, commit)
		processAll(b, commit, member)
	}
	if got := len(member.g.Members()); got != n {
		b.Fatalf("%d members, want %d", got, n)
	}
	return ds, creator, member
}

// BenchmarkMessage1KiB: encrypt one 1 KiB message and decrypt it on
// another device.
func BenchmarkMessage1KiB(b *testing.B) {
	for _, n := range []int{2, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			_, sender, receiver := benchGroup(b, n)
			pt := make([]byte, 1024)
			b.SetBytes(int64(len(pt)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ct, err := sender.g.Encrypt(pt, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := receiver.g.Process(ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommitAdd: the committer adds one device (commit + Welcome) and
// merges; a second member processes the commit.
func BenchmarkCommitAdd(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			ds, creator, member := benchGroup(b, n)
			var commitBytes, welcomeBytes int
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				b.StopTimer()
				kp := newDevice(b, fmt.Sprintf("new%d@polizei.example", i), "d", Options{}).keyPackage(b)
				i++
				b.StartTimer()
				commit, welcome, err := creator.g.AddMembers([][]byte{kp})
				if err != nil {
					b.Fatal(err)
				}
				commitAccepted(b, ds, creator, commit)
				commitBytes, welcomeBytes = len(commit), len(welcome)
				b.StopTimer()
				if _, err := member.g.Process(commit); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(commitBytes), "commit-B")
			b.ReportMetric(float64(welcomeBytes), "welcome-B")
		})
	}
}

// BenchmarkProcessCommit: a member applies another member's commit (an
// add), the cost every device pays for every membership change.
func BenchmarkProcessCommit(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			ds, creator, member := benchGroup(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				b.StopTimer()
				kp := newDevice(b, fmt.Sprintf("new%d@polizei.example", i), "d", Options{}).keyPackage(b)
				i++
				commit, _, err := creator.g.AddMembers([][]byte{kp})
				if err != nil {
					b.Fatal(err)
				}
				commitAccepted(b, ds, creator, commit)
				b.StartTimer()
				if _, err := member.g.Process(commit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJoin: a new device joins from a Welcome into a group of n.
func BenchmarkJoin(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			ds, creator, _ := benchGroup(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				b.StopTimer()
				d := newDevice(b, fmt.Sprintf("new%d@polizei.example", i), "d", Options{})
				i++
				commit, welcome, err := creator.g.AddMembers([][]byte{d.keyPackage(b)})
				if err != nil {
					b.Fatal(err)
				}
				commitAccepted(b, ds, creator, commit)
				b.StartTimer()
				if _, err := d.eng.JoinFromWelcome(welcome); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkState: export and reload a member's group state (the client
// persists after every operation).
func BenchmarkState(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			_, _, member := benchGroup(b, n)
			var size int
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				st, err := member.g.ExportState()
				if err != nil {
					b.Fatal(err)
				}
				size = len(st)
				if _, err := member.eng.LoadGroup(st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "state-B")
		})
	}
}
