// Package bench holds Wache's scenario benchmarks: relay ingest over real
// HTTP (BenchmarkPost) and send-to-receipt latency across many live
// WebSocket devices (BenchmarkFanout), both on SQLite and PostgreSQL. They
// run only with -bench; see docs/design/bench.md for commands and figures.
// The load generator for soak runs is bench/cmd/wacheload (library:
// bench/load).
package bench
