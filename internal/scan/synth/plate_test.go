package synth

import (
	"math/rand/v2"
	"testing"
)

// TestPlateUmlautWithinHeight checks that an umlaut is drawn as on real
// plates: dots and vowel within the character height of the other
// characters (a DIN font puts the dots above, where on the plate they
// join the border).
func TestPlateUmlautWithinHeight(t *testing.T) {
	f := fonts(t)
	for _, p := range []PlateTruth{
		{Plate: "MÜ-AB 12", District: "MÜ", Letters: "AB", Digits: "12"},
		{Plate: "GÖ-X 7", District: "GÖ", Letters: "X", Digits: "7"},
		{Plate: "BÄD-X 7", District: "BÄD", Letters: "X", Digits: "7"},
		{Plate: "M-AB 12", District: "M", Letters: "AB", Digits: "12"},
	} {
		img := drawPlate(f, p, 2, rand.New(rand.NewPCG(1, 1)))
		b := img.Bounds()
		// Top ink row per column of the white field (below the border,
		// right of the EU band).
		top := func(x0, x1 int) int {
			for y := int(6 * 2); y < b.Dy(); y++ {
				for x := x0; x < x1; x++ {
					c := img.RGBAAt(x, y)
					if c.R < 100 && c.G < 100 && c.B < 100 {
						return y
					}
				}
			}
			return b.Dy()
		}
		field0 := int(50 * 2)
		textTop := top(field0, b.Dx()-10)
		capTop := int((92.5 - 75) * 2)
		if textTop < capTop-2 {
			t.Errorf("%s: ink at row %d, above the character height (row %d)", p.Plate, textTop, capTop)
		}
	}
}
