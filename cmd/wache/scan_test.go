package main

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wache/wache/internal/scan/synth"
)

// TestCLIScan renders a document photo, reads it with `wache scan mrz` on
// the device, and refuses things that are not photos.
func TestCLIScan(t *testing.T) {
	fonts, err := synth.LoadFonts()
	if errors.Is(err, synth.ErrNoFont) {
		t.Skipf("fonts for rendering test photos missing: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	doc := synth.RandomDoc(rng)
	clean, _ := synth.Level("clean")
	photo, err := synth.RenderDocument(fonts, doc, clean, 1600, 1100, rng)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ausweis.jpg")
	if err := os.WriteFile(path, photo.JPEG, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, env: map[string]string{"WACHE_HOME": filepath.Join(dir, "home")}}
	var res struct {
		Format string
		Valid  bool
		Lines  []string
	}
	if err := json.Unmarshal([]byte(c.ok("scan", "mrz", path, "--json")), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Format != doc.Format || strings.Join(res.Lines, "\n") != strings.Join(doc.Lines, "\n") {
		t.Fatalf("read %+v\nwant %q", res, doc.Lines)
	}
	junk := filepath.Join(dir, "junk.jpg")
	os.WriteFile(junk, []byte("this is not a photo"), 0o600)
	empty := filepath.Join(dir, "empty.jpg")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"scan", "mrz", junk}, 2},
		{[]string{"scan", "plate", empty}, 2},
		{[]string{"scan", "mrz", filepath.Join(dir, "missing.jpg")}, 2},
		{[]string{"scan", "passport"}, 2},
	} {
		if code, _, errs := c.run(tc.args...); code != tc.code || errs == "" {
			t.Errorf("wache %s: exit %d %q", strings.Join(tc.args, " "), code, errs)
		}
	}
}
