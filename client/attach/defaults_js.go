//go:build js

package attach

// In the browser, fetch buffers a request body: keep PATCH requests small.
const defaultMaxPatch = 8 << 20
