package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/wache/wache/internal/scan/mrz"
)

// Doc is the ground truth of one synthetic document.
type Doc struct {
	Format string   // TD1, TD2 or TD3
	Lines  []string // the MRZ as printed
}

var (
	surnames = []string{"MUSTERMANN", "MUELLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "WEBER", "MEYER", "WAGNER",
		"BECKER", "SCHULZ", "HOFFMANN", "SCHAEFER", "KOCH", "BAUER", "RICHTER", "KLEIN", "WOLF", "SCHROEDER",
		"NEUMANN", "SCHWARZ", "ZIMMERMANN", "BRAUN", "KRUEGER", "HOFMANN", "HARTMANN", "LANGE", "WERNER",
		"KRAUSE", "LEHMANN", "KOEHLER", "YILMAZ", "KAYA", "NOWAK", "KOWALSKI", "ERIKSSON", "ROSSI", "GARCIA",
		"DUBOIS", "VAN<DER<BERG", "OEZDEMIR", "PAPADOPOULOS", "NGUYEN", "IVANOV", "ABDULLAH", "OKONKWO",
		"GROSS<KOPF", "VON<BISMARCK", "JANSSEN", "PETERS", "QUANDT", "XAVIER", "ZAJAC", "FUCHS", "JUNG"}
	givenNames = []string{"ERIKA", "MAX", "ANNA", "PAUL", "LEONIE", "JONAS", "SOPHIE", "LUKAS", "MARIE", "FELIX",
		"HANNAH", "ELIAS", "EMMA", "NOAH", "MIA", "BEN", "LENA", "FINN", "JUERGEN", "UWE", "GUENTHER", "KAI",
		"ZOE", "YUSUF", "AYSE", "PIOTR", "GIULIA", "JOSE", "FATIMA", "OLAF", "INGE", "QUIRIN", "XENIA",
		"VIKTOR", "WILHELM", "HANS<PETER", "ANNA<MARIA", "KARL<HEINZ", "BJOERN", "DOERTE"}
	states = []string{"UTO", "FRA", "NLD", "AUT", "POL", "TUR", "ITA", "ESP", "GBR", "USA", "CHE", "BEL", "SWE",
		"GRC", "ROU", "UKR", "SYR", "NGA", "VNM", "BRA"}
)

// RandomDoc returns a random valid MRZ: TD1 ID cards, TD3 passports and
// TD2 documents, about half of them German.
func RandomDoc(rng *rand.Rand) Doc {
	german := rng.IntN(2) == 0
	state := "D<<"
	if !german {
		state = states[rng.IntN(len(states))]
	}
	nat := state
	if rng.IntN(10) == 0 {
		nat = states[rng.IntN(len(states))]
	}
	docNum := func() string {
		alpha := "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		first := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		if german {
			alpha = "0123456789" + mrz.GermanSerialAlphabet
			first = "CFGHJKLMNPRTVWXYZ"
		}
		b := []byte{first[rng.IntN(len(first))]}
		for len(b) < 9 {
			b = append(b, alpha[rng.IntN(len(alpha))])
		}
		return string(b)
	}()
	date := func(fromYear, span int) string {
		y := fromYear + rng.IntN(span)
		return fmt.Sprintf("%02d%02d%02d", y%100, 1+rng.IntN(12), 1+rng.IntN(28))
	}
	birth := date(1930, 90)
	expiry := date(2020, 16)
	sex := string("MF<"[rng.IntN(3)])
	if german && rng.IntN(2) == 0 {
		sex = "<" // German ID cards of 2010-2021 leave the sex out
	}
	name := func(width int) string {
		s := surnames[rng.IntN(len(surnames))]
		if rng.IntN(6) == 0 {
			s += "<" + surnames[rng.IntN(len(surnames))]
		}
		g := givenNames[rng.IntN(len(givenNames))]
		if rng.IntN(4) == 0 {
			g += "<" + givenNames[rng.IntN(len(givenNames))]
		}
		n := s + "<<" + g
		if len(n) > width {
			n = n[:width]
		}
		return n + strings.Repeat("<", width-len(n))
	}
	cd := func(s string) string { d, _ := mrz.CheckDigit(s); return string(d) }
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	optional := func(n int) string {
		if rng.IntN(3) != 0 {
			return strings.Repeat("<", n)
		}
		const an = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		k := 1 + rng.IntN(n)
		b := make([]byte, k)
		for i := range b {
			b[i] = an[rng.IntN(len(an))]
		}
		return pad(string(b), n)
	}
	switch r := rng.IntN(10); {
	case r < 4: // TD1
		code := "I<"
		if german {
			code = "ID"
		}
		opt1 := optional(15)
		if german {
			opt1 = strings.Repeat("<", 15)
		}
		l1 := code + state + docNum + cd(docNum) + opt1
		opt2 := optional(11)
		l2 := birth + cd(birth) + sex + expiry + cd(expiry) + nat + opt2
		l2 += cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
		return Doc{Format: mrz.TD1, Lines: []string{l1, l2, name(30)}}
	case r < 8: // TD3
		opt := optional(14)
		if german {
			opt = strings.Repeat("<", 14)
		}
		optCD := cd(opt)
		if strings.Trim(opt, "<") == "" && rng.IntN(2) == 0 {
			optCD = "<"
		}
		l2 := docNum + cd(docNum) + nat + birth + cd(birth) + sex + expiry + cd(expiry) + opt + optCD
		l2 += cd(l2[0:10] + l2[13:20] + l2[21:43])
		return Doc{Format: mrz.TD3, Lines: []string{"P<" + state + name(39), l2}}
	default: // TD2
		code := "I<"
		if german {
			code = "IT" // temporary ID card
		}
		l2 := docNum + cd(docNum) + nat + birth + cd(birth) + sex + expiry + cd(expiry) + optional(7)
		l2 += cd(l2[0:10] + l2[13:20] + l2[21:35])
		return Doc{Format: mrz.TD2, Lines: []string{code + state + name(31), l2}}
	}
}
