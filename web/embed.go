// Package web holds the built browser app (the PWA: UI, service worker,
// the Go client core as WebAssembly) so that `wache serve` ships it from
// the one binary. `make web` fills web/dist; a plain `go build` embeds
// only dist/README.txt and the server then answers with a page that says
// how to build the app.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Files returns the built app, rooted at web/dist.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: cannot happen
	}
	return sub
}

// Built reports whether the app was built (dist has an index.html).
func Built(fsys fs.FS) bool {
	st, err := fs.Stat(fsys, "index.html")
	return err == nil && !st.IsDir()
}
