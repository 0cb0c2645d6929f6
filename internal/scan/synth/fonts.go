// Package synth renders synthetic documents with machine-readable zones and
// synthetic German plates, photographed under controlled distortions
// (rotation, perspective, blur, noise, glare, JPEG), with ground truth. It
// exists for tests, accuracy measurements and the model-building tool; it
// never runs in the server.
//
// Fonts come from Debian packages: fonts-ocr-b (OCR-B for the MRZ; its
// Sharp cut OCRBS.otf, because x/image cannot draw '8' and '<' of the
// regular OCRB.otf),
// fonts-opendin (a DIN 1451 face for plates, close to the FE-Schrift) and
// fonts-dejavu-core (other printed text). WACHE_FONT_DIR may point at a
// folder holding the same files.
package synth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

// Font files and the Debian packages that ship them.
var fontFiles = map[string]struct{ file, pkg, dir string }{
	"ocrb":   {"OCRBS.otf", "fonts-ocr-b", "/usr/share/fonts/opentype/ocr-b"},
	"din":    {"OSP-DIN.ttf", "fonts-opendin", "/usr/share/fonts/truetype/opendin"},
	"sans":   {"DejaVuSans.ttf", "fonts-dejavu-core", "/usr/share/fonts/truetype/dejavu"},
	"sansbd": {"DejaVuSans-Bold.ttf", "fonts-dejavu-core", "/usr/share/fonts/truetype/dejavu"},
}

// ErrNoFont is returned when a font file is missing; tests skip on it.
var ErrNoFont = errors.New("synth: font missing")

// Fonts holds the parsed fonts.
type Fonts struct {
	OCRB, DIN, Sans, SansBold *sfnt.Font
}

var (
	fontsOnce sync.Once
	fontsVal  *Fonts
	fontsErr  error
)

// LoadFonts parses the fonts once. The error wraps ErrNoFont and names the
// Debian package to install when a file is missing.
func LoadFonts() (*Fonts, error) {
	fontsOnce.Do(func() {
		get := func(key string) *sfnt.Font {
			if fontsErr != nil {
				return nil
			}
			ff := fontFiles[key]
			path := filepath.Join(ff.dir, ff.file)
			if d := os.Getenv("WACHE_FONT_DIR"); d != "" {
				path = filepath.Join(d, ff.file)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				fontsErr = fmt.Errorf("%w: %s (install the Debian package %s): %v", ErrNoFont, ff.file, ff.pkg, err)
				return nil
			}
			f, err := opentype.Parse(b)
			if err != nil {
				fontsErr = fmt.Errorf("synth: parse %s: %w", path, err)
				return nil
			}
			return f
		}
		f := &Fonts{OCRB: get("ocrb"), DIN: get("din"), Sans: get("sans"), SansBold: get("sansbd")}
		if fontsErr == nil {
			fontsVal = f
		}
	})
	return fontsVal, fontsErr
}

// face returns a face of f at size px per em.
func face(f *sfnt.Font, px float64) font.Face {
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic(err) // only with invalid options
	}
	return fc
}
