//go:build !js

package attach

// Natively the request body streams: the rest of the blob goes in one PATCH.
const defaultMaxPatch = 0
