// Package synth writes a realistic synthetic Auskunft data set in the
// import format (JSON Lines) for demos, tests and benchmarks: German and
// other names with umlauts and diacritics, places from the district list,
// unique plates with valid district codes, VINs with a valid ISO 3779
// check digit (position 9, North-American style), identity-card and
// passport numbers from the German alphabet (their ICAO 9303 check digit
// is what a machine-readable zone adds), and a share of alerts and
// officer-safety warnings. The output is a function of the seed and the
// reference day alone.
package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/wache/wache/internal/auskunft/ident"
)

// Options choose the data set.
type Options struct {
	Persons int
	Seed    uint64
	// Today is the reference day for ages, expiry and alert validity;
	// default the current day (UTC).
	Today time.Time
}

// Stats counts what was generated.
type Stats struct {
	Persons, Vehicles, Documents, Alerts, Warned int
}

// Records of the import format (kept here so that synth depends on the
// format, not on the service).
type (
	Person struct {
		Kind        string   `json:"kind"`
		ID          string   `json:"id"`
		Surname     string   `json:"surname"`
		GivenNames  string   `json:"given_names,omitempty"`
		BirthName   string   `json:"birth_name,omitempty"`
		DOB         string   `json:"dob,omitempty"`
		BirthPlace  string   `json:"birth_place,omitempty"`
		Nationality string   `json:"nationality,omitempty"`
		Sex         string   `json:"sex,omitempty"`
		Aliases     []string `json:"aliases,omitempty"`
		Warnings    []string `json:"warnings,omitempty"`
	}
	Vehicle struct {
		Kind   string `json:"kind"`
		ID     string `json:"id"`
		Plate  string `json:"plate,omitempty"`
		VIN    string `json:"vin,omitempty"`
		Make   string `json:"make,omitempty"`
		Model  string `json:"model,omitempty"`
		Colour string `json:"colour,omitempty"`
		Holder string `json:"holder,omitempty"`
	}
	Document struct {
		Kind         string `json:"kind"`
		ID           string `json:"id"`
		Type         string `json:"type"`
		Number       string `json:"number"`
		IssuingState string `json:"issuing_state,omitempty"`
		Expiry       string `json:"expiry,omitempty"`
		Holder       string `json:"holder,omitempty"`
	}
	Alert struct {
		Kind        string `json:"kind"`
		ID          string `json:"id"`
		SubjectKind string `json:"subject_kind"`
		Subject     string `json:"subject"`
		Category    string `json:"category"`
		Action      string `json:"action"`
		Authority   string `json:"authority"`
		ValidFrom   string `json:"valid_from,omitempty"`
		ValidUntil  string `json:"valid_until,omitempty"`
	}
)

// Generate writes the data set to w as JSON Lines.
func Generate(w io.Writer, opts Options) (Stats, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	st, err := Each(opts, func(rec any) error { return enc.Encode(rec) })
	if err != nil {
		return st, err
	}
	return st, bw.Flush()
}

// Each calls fn with every record (*Person, *Vehicle, *Document, *Alert)
// in output order: each person, then its vehicles, documents and alerts.
func Each(opts Options, fn func(rec any) error) (Stats, error) {
	if opts.Persons < 0 {
		return Stats{}, fmt.Errorf("synth: negative person count")
	}
	g := newGen(opts)
	for range opts.Persons {
		if err := g.person(fn); err != nil {
			return g.st, err
		}
	}
	return g.st, nil
}

type gen struct {
	r         *rand.Rand
	today     time.Time
	st        Stats
	zipf      []float64 // cumulative weights of the common surnames
	places    []string
	plateSeq  uint64
	plateN    uint64
	plateOff  uint64
	idSeq     uint64
	ppSeq     uint64
	dlSeq     uint64
	districts []string
}

func newGen(opts Options) *gen {
	today := opts.Today
	if today.IsZero() {
		today = time.Now().UTC()
	}
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	g := &gen{r: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), today: today}
	sum := 0.0
	for i := range surnames {
		sum += 1 / math.Sqrt(float64(i+1))
		g.zipf = append(g.zipf, sum)
	}
	for _, d := range ident.Districts() {
		if d.State == "bundesweit" {
			continue
		}
		g.districts = append(g.districts, d.Code)
		if d.Place != "-" && !strings.ContainsAny(d.Place, " ") {
			g.places = append(g.places, d.Place)
		}
	}
	g.plateN = uint64(len(g.districts)) * 702 * 9999
	g.plateOff = opts.Seed % g.plateN
	return g
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) surname() (name, nat string) {
	switch x := g.r.Float64(); {
	case x < 0.20: // common names, Zipf-like
		t := g.r.Float64() * g.zipf[len(g.zipf)-1]
		for i, c := range g.zipf {
			if t <= c {
				return surnames[i], "D"
			}
		}
		return surnames[0], "D"
	case x < 0.29:
		f := foreignSurnames[g.r.IntN(len(foreignSurnames))]
		return f.Name, f.Nat
	case x < 0.75:
		return g.pick(surnameHeads) + g.pick(surnameTails), "D"
	default: // a long tail of rarer compounds
		return g.pick(surnameHeads) + strings.ToLower(g.pick(surnameHeads)) + g.pick(surnameTails), "D"
	}
}

func (g *gen) given(sex string) string {
	list := maleGiven
	if sex == "f" {
		list = femaleGiven
	}
	n := g.pick(list)
	if g.chance(0.3) {
		if m := g.pick(list); m != n {
			n += " " + m
		}
	}
	return n
}

func (g *gen) day(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	if days <= 0 {
		return from
	}
	return from.AddDate(0, 0, g.r.IntN(days))
}

const dateFmt = "2006-01-02"

var warningCodes = []string{"violent", "drug_use", "armed", "escape_risk", "suicide_risk", "infection_risk"}
var warningWeights = []float64{0.30, 0.25, 0.15, 0.12, 0.10, 0.08}

func (g *gen) warnings() []string {
	n := 1
	if g.chance(0.3) {
		n = 2
	}
	var out []string
	for len(out) < n {
		x, c := g.r.Float64(), 0.0
		for i, w := range warningWeights {
			c += w
			if x < c || i == len(warningWeights)-1 {
				dup := false
				for _, o := range out {
					dup = dup || o == warningCodes[i]
				}
				if !dup {
					out = append(out, warningCodes[i])
				}
				break
			}
		}
	}
	return out
}

func (g *gen) person(fn func(any) error) error {
	g.st.Persons++
	id := fmt.Sprintf("P%08d", g.st.Persons)
	sex := "m"
	if g.chance(0.5) {
		sex = "f"
	}
	sur, nat := g.surname()
	p := &Person{Kind: "person", ID: id, Surname: sur, GivenNames: g.given(sex), Sex: sex, Nationality: nat,
		DOB: g.day(time.Date(1935, 1, 1, 0, 0, 0, 0, time.UTC), g.today.AddDate(-16, 0, 0)).Format(dateFmt)}
	if nat == "D" {
		p.BirthPlace = g.pick(g.places)
	} else {
		p.BirthPlace = g.pick(foreignPlaces[nat])
	}
	if sex == "f" && g.chance(0.35) {
		p.BirthName, _ = g.surname()
	}
	if g.chance(0.015) {
		for range 1 + g.r.IntN(2) {
			s, _ := g.surname()
			p.Aliases = append(p.Aliases, strings.ToUpper(s)+", "+g.given(sex))
		}
	}
	if g.chance(0.02) {
		p.Warnings = g.warnings()
		g.st.Warned++
	}
	if err := fn(p); err != nil {
		return err
	}
	if g.chance(0.01) {
		cats := []string{"arrest", "arrest", "arrest", "whereabouts", "whereabouts", "whereabouts", "whereabouts", "missing", "specific_check", "discreet_check"}
		if err := g.alert(fn, "person", id, g.pick(cats), personActions); err != nil {
			return err
		}
	}
	nv := 0
	if g.chance(0.45) {
		nv++
		if g.chance(0.2) {
			nv++
		}
	}
	for range nv {
		if err := g.vehicle(fn, id); err != nil {
			return err
		}
	}
	docs := []string{}
	if g.chance(0.85) {
		docs = append(docs, "id_card")
	}
	if g.chance(0.25) {
		docs = append(docs, "passport")
	}
	if g.chance(0.45) {
		docs = append(docs, "driving_licence")
	}
	for _, t := range docs {
		if err := g.document(fn, id, t, nat); err != nil {
			return err
		}
	}
	return nil
}

// vinChars is the VIN alphabet (no I, O, Q); yearChars code model years.
const (
	vinChars  = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
	yearChars = "ABCDEFGHJKLMNPRSTVWXY123456789"
)

// nextPlate walks a fixed permutation of all plate numbers (district,
// letters, 1–9999) so that plates are unique without remembering them,
// skipping those over eight characters.
func (g *gen) nextPlate() string {
	const p = 2654435761 // prime; coprime to plateN unless plateN is a multiple
	for {
		x := (g.plateSeq*p + g.plateOff) % g.plateN
		g.plateSeq++
		num := x%9999 + 1
		x /= 9999
		li := x % 702
		d := g.districts[x/702]
		var letters string
		if li < 26 {
			letters = string(rune('A' + li))
		} else {
			li -= 26
			letters = string([]rune{rune('A' + li/26), rune('A' + li%26)})
		}
		digits := fmt.Sprint(num)
		if len([]rune(d))+len(letters)+len(digits) > 8 {
			continue
		}
		suffix := ""
		if g.chance(0.03) {
			suffix = "E"
		}
		return d + "-" + letters + " " + digits + suffix
	}
}

func (g *gen) vin(index int) (string, string, string) {
	m := makes[g.r.IntN(len(makes))]
	var b [17]byte
	copy(b[:3], m.WMI)
	for i := 3; i < 8; i++ {
		b[i] = vinChars[g.r.IntN(len(vinChars))]
	}
	b[8] = '0'
	b[9] = yearChars[g.r.IntN(len(yearChars))]
	b[10] = vinChars[(index/1000000)%len(vinChars)]
	copy(b[11:], fmt.Sprintf("%06d", index%1000000))
	d, _ := ident.VINCheckDigit(string(b[:]))
	b[8] = d
	return string(b[:]), m.Make, g.pick(m.Models)
}

func (g *gen) vehicle(fn func(any) error, holder string) error {
	g.st.Vehicles++
	id := fmt.Sprintf("V%08d", g.st.Vehicles)
	vin, mk, model := g.vin(g.st.Vehicles)
	v := &Vehicle{Kind: "vehicle", ID: id, Plate: g.nextPlate(), VIN: vin, Make: mk, Model: model, Colour: g.pick(colours), Holder: holder}
	if err := fn(v); err != nil {
		return err
	}
	if g.chance(0.008) {
		cat := "stolen"
		if g.chance(0.2) {
			cat = "seizure"
		}
		return g.alert(fn, "vehicle", id, cat, objectActions)
	}
	return nil
}

// permute maps a counter to a unique number below n.
func permute(seq, n uint64) uint64 {
	const p = 1000000007 // prime, coprime to powers of 27 and 10
	return (seq*p + 12345) % n
}

func base(alphabet string, x uint64, width int) string {
	b := make([]byte, width)
	n := uint64(len(alphabet))
	for i := width - 1; i >= 0; i-- {
		b[i] = alphabet[x%n]
		x /= n
	}
	return string(b)
}

func (g *gen) document(fn func(any) error, holder, typ, nat string) error {
	g.st.Documents++
	id := fmt.Sprintf("D%08d", g.st.Documents)
	d := &Document{Kind: "document", ID: id, Type: typ, IssuingState: "D", Holder: holder}
	if nat != "D" && typ == "passport" {
		d.IssuingState = nat
	}
	switch typ {
	case "id_card":
		g.idSeq++
		d.Number = string("LMNPRTVWXY"[g.idSeq%10]) + base(ident.GermanDocAlphabet, permute(g.idSeq, 282429536481), 8) // 27^8
	case "passport":
		g.ppSeq++
		d.Number = "C" + base(ident.GermanDocAlphabet, permute(g.ppSeq, 282429536481), 8)
	default:
		g.dlSeq++
		d.Number = "B" + base("0123456789", permute(g.dlSeq, 10000000000), 10)
	}
	// Mostly valid, some expired in the last two years.
	d.Expiry = g.day(g.today.AddDate(-2, 0, 0), g.today.AddDate(10, 0, 0)).Format(dateFmt)
	if err := fn(d); err != nil {
		return err
	}
	if g.chance(0.003) {
		return g.alert(fn, "document", id, "seizure", objectActions)
	}
	return nil
}

func (g *gen) alert(fn func(any) error, kind, subject, cat string, actions map[string][]string) error {
	g.st.Alerts++
	a := &Alert{Kind: "alert", ID: fmt.Sprintf("A%08d", g.st.Alerts), SubjectKind: kind, Subject: subject, Category: cat,
		Action: g.pick(actions[cat]), Authority: g.pick(authorities)}
	from := g.day(g.today.AddDate(-5, 0, 0), g.today.AddDate(0, 0, -1))
	a.ValidFrom = from.Format(dateFmt)
	if g.chance(0.2) { // withdrawn or run out: visible in full information only
		a.ValidUntil = g.day(from, g.today.AddDate(0, 0, -1)).Format(dateFmt)
	} else if g.chance(0.7) {
		a.ValidUntil = g.day(g.today.AddDate(0, 1, 0), g.today.AddDate(5, 0, 0)).Format(dateFmt)
	}
	return fn(a)
}
