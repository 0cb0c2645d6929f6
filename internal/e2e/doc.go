// Package e2e holds black-box integration tests: real server nodes (in
// process through package harness, or as a `wache` subprocess for crash
// tests) driven by the real client core over HTTP and WebSocket.
package e2e
