// Package mrz parses the machine-readable zone of travel documents (ICAO
// 9303: TD1 ID cards, TD2, TD3 passports and MRV-A/MRV-B visas), verifies
// every check digit, infers date centuries and repairs OCR confusions
// (0/O, 1/I, 8/B, 5/S, 2/Z, ...) where the field type forces them or, for
// readings with ranked alternatives (ParsePositions), where the check digits
// leave exactly one cheapest reading. A result is Valid only when every check digit
// passes and every field is well formed; a repair never makes a failing
// check pass by guesswork, it must be the single cheapest reading.
package mrz

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wache/wache"
)

// Format names of the supported MRZ layouts.
const (
	TD1  = "TD1"  // 3 lines of 30: ID cards
	TD2  = "TD2"  // 2 lines of 36
	TD3  = "TD3"  // 2 lines of 44: passports
	MRVA = "MRVA" // 2 lines of 44: visas (format A)
	MRVB = "MRVB" // 2 lines of 36: visas (format B)
)

// MaxTextBytes bounds the text ParseText accepts.
const MaxTextBytes = 4096

// Result is a parsed MRZ. Dates are YYYY-MM-DD ("" when unknown or
// unreadable); codes have their fillers removed ("D" for Germany).
type Result struct {
	Format         string `json:"format"`
	DocumentCode   string `json:"document_code"`
	IssuingState   string `json:"issuing_state"`
	DocumentNumber string `json:"document_number"`
	Surname        string `json:"surname"`
	GivenNames     string `json:"given_names"`
	Nationality    string `json:"nationality"`
	BirthDate      string `json:"birth_date"`
	Sex            string `json:"sex"` // M, F or X (unspecified, also for '<')
	ExpiryDate     string `json:"expiry_date"`
	OptionalData   string `json:"optional_data,omitempty"`
	OptionalData2  string `json:"optional_data_2,omitempty"`
	// Valid is true only if every check digit passes and every field is
	// well formed. A false Valid must be shown to the officer.
	Valid  bool    `json:"valid"`
	Checks []Check `json:"checks"`
	// Fields holds the validity of every field by its JSON name.
	Fields map[string]FieldStatus `json:"fields"`
	// Lines are the MRZ lines after repair.
	Lines []string `json:"lines"`
	// Repairs lists every character changed from the reading.
	Repairs []Repair `json:"repairs,omitempty"`
	// NameTruncated is set when the name field is full, so the name may
	// have been cut to fit.
	NameTruncated bool `json:"name_truncated,omitempty"`
	// German holds German-document specifics, when the issuer is "D".
	German *German `json:"german,omitempty"`
}

// Check is the outcome of one check digit.
type Check struct {
	Field    string `json:"field"` // document_number, birth_date, expiry_date, optional_data, composite
	Digit    string `json:"digit"`
	Expected string `json:"expected"`
	OK       bool   `json:"ok"`
}

// FieldStatus tells whether one field is well formed and passes its check.
type FieldStatus struct {
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
}

// Repair is one character changed from the reading: Line and Pos are
// zero-based.
type Repair struct {
	Line int    `json:"line"`
	Pos  int    `json:"pos"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Options tune parsing.
type Options struct {
	// Now anchors century inference; zero means time.Now().
	Now time.Time
	// MaxRepairCost bounds the summed cost of the changes a repair may make
	// to one checked field; zero means 2 (two confusions in ParseText).
	MaxRepairCost float64
	// Margin is how much cheaper the chosen repair must be than the next
	// reading that also passes the check; zero means 0.5.
	Margin float64
	// MinConfidence is the cost gap to the second reading that every
	// position without its own check digit (names, codes, sex, optional
	// data) must show; a closer call marks the field "uncertain reading".
	// Zero disables it (text input has one reading per position).
	MinConfidence float64
}

func (o Options) withDefaults() Options {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxRepairCost == 0 {
		o.MaxRepairCost = 2
	}
	if o.Margin == 0 {
		o.Margin = 0.5
	}
	return o
}

// Alt is one possible reading of an MRZ position; Cost 0 is the reading as
// seen, higher costs are less likely readings.
type Alt struct {
	Char byte
	Cost float64
}

// Position holds the possible readings of one MRZ position, best first.
type Position []Alt

// ParseText parses MRZ text as typed or as put out by an OCR engine: lines
// separated by newlines, spaces ignored, case folded. Lines that cannot
// belong to an MRZ (too short) are skipped, so OCR text around the zone
// does no harm.
func ParseText(text string, opt Options) (*Result, error) {
	if len(text) > MaxTextBytes {
		return nil, wache.Errorf(wache.ETOOLARGE, "MRZ text is longer than %d bytes", MaxTextBytes)
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.ToUpper(strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r':
				return -1
			}
			return r
		}, l))
		if l != "" {
			lines = append(lines, l)
		}
	}
	// A single line holding a whole MRZ (as from a scanner) is split.
	if len(lines) == 1 {
		switch n := len(lines[0]); n {
		case 90:
			lines = []string{lines[0][:30], lines[0][30:60], lines[0][60:]}
		case 72, 88:
			lines = []string{lines[0][:n/2], lines[0][n/2:]}
		}
	}
	lines = pickMRZLines(lines)
	return Parse(lines, opt)
}

// pickMRZLines keeps the last run of lines that have MRZ lengths, so that
// text above the zone is ignored.
func pickMRZLines(lines []string) []string {
	for _, want := range []struct{ n, l int }{{2, 44}, {3, 30}, {2, 36}} {
		for i := len(lines) - want.n; i >= 0; i-- {
			ok := true
			for j := 0; j < want.n; j++ {
				if len(lines[i+j]) != want.l {
					ok = false
					break
				}
			}
			if ok {
				return lines[i : i+want.n]
			}
		}
	}
	return lines
}

// Parse parses MRZ lines (without line breaks). Characters outside the MRZ
// alphabet are errors; OCR confusions are repaired where field type and
// check digits allow.
func Parse(lines []string, opt Options) (*Result, error) {
	if err := checkShape(len(lines), func(i int) int { return len(lines[i]) }); err != nil {
		return nil, err
	}
	pos := make([][]Position, len(lines))
	for i, l := range lines {
		pos[i] = make([]Position, len(l))
		for j := 0; j < len(l); j++ {
			c := l[j]
			if _, ok := charValue(c); !ok {
				return nil, wache.Errorf(wache.EINVALID, "MRZ line %d has a character outside A-Z, 0-9 and '<' at position %d", i+1, j+1)
			}
			pos[i][j] = Position{{Char: c, Cost: 0}}
		}
	}
	return ParsePositions(pos, opt)
}

// checkShape rejects line counts and lengths that are no MRZ layout.
func checkShape(n int, length func(int) int) error {
	switch n {
	case 2, 3:
	default:
		return wache.Errorf(wache.EINVALID, "an MRZ has 2 or 3 lines, got %d", n)
	}
	want := 0
	for i := 0; i < n; i++ {
		l := length(i)
		if i == 0 {
			want = l
		}
		if l != want {
			return wache.Errorf(wache.EINVALID, "MRZ lines differ in length (%d and %d characters)", want, l)
		}
	}
	switch {
	case n == 3 && want == 30, n == 2 && (want == 36 || want == 44):
		return nil
	case n == 3:
		return wache.Errorf(wache.EINVALID, "a 3-line MRZ (TD1) has lines of 30 characters, got %d", want)
	default:
		return wache.Errorf(wache.EINVALID, "a 2-line MRZ has lines of 36 (TD2) or 44 (TD3) characters, got %d", want)
	}
}

// letterDigit and digitLetter map the characters OCR engines confuse most
// (0/O, 1/I, 2/Z, 5/S, 8/B, 6/G, ...) into the class a field demands. They
// are applied only where the reading is not allowed in the field, so the
// mapping is forced, never a guess among allowed characters: a guess in a
// free alphanumeric field could pass the check digit by chance (the 7-3-1
// sum cannot tell 0 from D when the weights line up).
var letterDigit = map[byte]byte{'O': '0', 'D': '0', 'Q': '0', 'U': '0', 'I': '1', 'L': '1', 'Z': '2', 'S': '5', 'B': '8', 'G': '6', 'A': '4', 'T': '7'}
var digitLetter = map[byte]byte{'0': 'O', '1': 'I', '2': 'Z', '5': 'S', '8': 'B', '6': 'G', '4': 'A', '7': 'T'}

// forced returns the character c must have been in a field of kind k,
// when c itself is not allowed there.
func forced(k kind, c byte) (byte, bool) {
	if allowed(k, c) {
		return 0, false
	}
	var m byte
	switch k {
	case kNum, kDigit, kCheck, kGermanDoc:
		m = letterDigit[c]
	case kAlpha, kSex:
		m = digitLetter[c]
	}
	if m == 0 || !allowed(k, m) {
		return 0, false
	}
	return m, true
}

// field kinds restrict which characters a position may hold.
type kind int

const (
	kAlpha     kind = iota // A-Z and <
	kNum                   // 0-9 (and < for unknown date parts)
	kAlnum                 // 0-9, A-Z and <
	kCheck                 // 0-9, and < where an empty optional field allows it
	kSex                   // M, F, X, <
	kGermanDoc             // German serial alphabet: 0-9 and CFGHJKLMNPRTVWXYZ
	kDigit                 // 0-9 only: the check digits of mandatory fields
	kDocNum                // 0-9, A-Z; '<' only where read as such (fillers trail)
)

func allowed(k kind, c byte) bool {
	switch k {
	case kAlpha:
		return c == '<' || (c >= 'A' && c <= 'Z')
	case kNum, kCheck:
		return c == '<' || (c >= '0' && c <= '9')
	case kAlnum:
		return c == '<' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	case kDocNum:
		return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	case kSex:
		return c == 'M' || c == 'F' || c == 'X' || c == '<'
	case kDigit:
		return c >= '0' && c <= '9'
	case kGermanDoc:
		return (c >= '0' && c <= '9') || strings.IndexByte(GermanSerialAlphabet, c) >= 0
	}
	return false
}

// span is a run of positions on one line.
type span struct{ line, from, to int }

// layout describes where the fields of one format sit.
type layout struct {
	format        string
	code, state   span
	name          span
	docNum        span
	docCheck      span
	nationality   span
	birth         span
	birthCheck    span
	sex           span
	expiry        span
	expiryCheck   span
	opt1          span // optional data (TD3: personal number)
	opt1Check     span // TD3 only
	opt2          span // TD1 only
	composite     []span
	compositeChk  span
	hasComposite  bool
	hasOpt1Check  bool
	docOverflowIn span // where a long document number continues (TD1, TD2)
}

func sp(line, from, to int) span { return span{line, from, to} }

func layoutFor(n, length int, first byte) layout {
	switch {
	case n == 3:
		return layout{format: TD1,
			code: sp(0, 0, 2), state: sp(0, 2, 5), docNum: sp(0, 5, 14), docCheck: sp(0, 14, 15), opt1: sp(0, 15, 30),
			birth: sp(1, 0, 6), birthCheck: sp(1, 6, 7), sex: sp(1, 7, 8), expiry: sp(1, 8, 14), expiryCheck: sp(1, 14, 15),
			nationality: sp(1, 15, 18), opt2: sp(1, 18, 29),
			composite:    []span{sp(0, 5, 30), sp(1, 0, 7), sp(1, 8, 15), sp(1, 18, 29)},
			compositeChk: sp(1, 29, 30), hasComposite: true,
			name:          sp(2, 0, 30),
			docOverflowIn: sp(0, 15, 30),
		}
	case length == 36:
		l := layout{format: TD2,
			code: sp(0, 0, 2), state: sp(0, 2, 5), name: sp(0, 5, 36),
			docNum: sp(1, 0, 9), docCheck: sp(1, 9, 10), nationality: sp(1, 10, 13),
			birth: sp(1, 13, 19), birthCheck: sp(1, 19, 20), sex: sp(1, 20, 21),
			expiry: sp(1, 21, 27), expiryCheck: sp(1, 27, 28), opt1: sp(1, 28, 35),
			composite:    []span{sp(1, 0, 10), sp(1, 13, 20), sp(1, 21, 35)},
			compositeChk: sp(1, 35, 36), hasComposite: true,
			docOverflowIn: sp(1, 28, 35),
		}
		if first == 'V' {
			l.format = MRVB
			l.opt1 = sp(1, 28, 36)
			l.hasComposite = false
			l.docOverflowIn = span{}
		}
		return l
	default:
		l := layout{format: TD3,
			code: sp(0, 0, 2), state: sp(0, 2, 5), name: sp(0, 5, 44),
			docNum: sp(1, 0, 9), docCheck: sp(1, 9, 10), nationality: sp(1, 10, 13),
			birth: sp(1, 13, 19), birthCheck: sp(1, 19, 20), sex: sp(1, 20, 21),
			expiry: sp(1, 21, 27), expiryCheck: sp(1, 27, 28), opt1: sp(1, 28, 42),
			opt1Check: sp(1, 42, 43), hasOpt1Check: true,
			composite:    []span{sp(1, 0, 10), sp(1, 13, 20), sp(1, 21, 43)},
			compositeChk: sp(1, 43, 44), hasComposite: true,
		}
		if first == 'V' {
			l.format = MRVA
			l.opt1 = sp(1, 28, 44)
			l.hasOpt1Check = false
			l.hasComposite = false
		}
		return l
	}
}

// parser carries the state of one parse.
type parser struct {
	opt    Options
	pos    [][]Position
	chosen [][]byte // the reading decided so far
	fixed  [][]bool // positions settled by a passing check
	res    *Result
}

// ParsePositions parses an MRZ given as per-position alternatives, as an
// OCR engine that ranks its guesses produces them.
func ParsePositions(pos [][]Position, opt Options) (*Result, error) {
	if err := checkShape(len(pos), func(i int) int { return len(pos[i]) }); err != nil {
		return nil, err
	}
	for i := range pos {
		for j := range pos[i] {
			if len(pos[i][j]) == 0 {
				return nil, wache.Errorf(wache.EINVALID, "MRZ line %d position %d has no reading", i+1, j+1)
			}
			for _, a := range pos[i][j] {
				if _, ok := charValue(a.Char); !ok {
					return nil, wache.Errorf(wache.EINVALID, "MRZ line %d has a character outside A-Z, 0-9 and '<' at position %d", i+1, j+1)
				}
			}
		}
	}
	p := &parser{opt: opt.withDefaults(), pos: pos, res: &Result{Fields: map[string]FieldStatus{}}}
	p.chosen = make([][]byte, len(pos))
	p.fixed = make([][]bool, len(pos))
	for i := range pos {
		p.chosen[i] = make([]byte, len(pos[i]))
		p.fixed[i] = make([]bool, len(pos[i]))
		for j := range pos[i] {
			p.chosen[i][j] = pos[i][j][0].Char
		}
	}
	first := p.best(0, 0, kAlpha)
	l := layoutFor(len(pos), len(pos[0]), first)
	p.run(l)
	return p.res, nil
}

// cands returns the readings of a position that fit kind k, cheapest
// first; a reading that does not fit is replaced by its forced mapping.
func (p *parser) cands(line, i int, k kind) []Alt {
	var out []Alt
	seen := map[byte]bool{}
	add := func(c byte, cost float64) {
		if !seen[c] {
			out = append(out, Alt{Char: c, Cost: cost})
			seen[c] = true
		}
	}
	for n, a := range p.pos[line][i] {
		if k == kDocNum && a.Char == '<' && n == 0 {
			// A short number is padded with fillers: keep a '<' that was
			// read, but never guess one (K and '<' weigh the same mod 10).
			add('<', a.Cost)
			continue
		}
		if allowed(k, a.Char) {
			add(a.Char, a.Cost)
		} else if m, ok := forced(k, a.Char); ok {
			add(m, a.Cost)
		}
	}
	// Keep the alternatives sorted by cost; the list is short.
	for a := 1; a < len(out); a++ {
		for b := a; b > 0 && out[b].Cost < out[b-1].Cost; b-- {
			out[b], out[b-1] = out[b-1], out[b]
		}
	}
	if len(out) > 4 {
		out = out[:4]
	}
	return out
}

// best returns the cheapest reading of a position that fits k, or the raw
// reading if none does.
func (p *parser) best(line, i int, k kind) byte {
	if c := p.cands(line, i, k); len(c) > 0 {
		return c[0].Char
	}
	return p.pos[line][i][0].Char
}

func (p *parser) text(s span) string { return string(p.chosen[s.line][s.from:s.to]) }

// settle sets the positions of s to their cheapest reading of kind k.
func (p *parser) settle(s span, k kind) {
	for i := s.from; i < s.to; i++ {
		p.set(s.line, i, p.best(s.line, i, k))
	}
}

func (p *parser) set(line, i int, c byte) { p.chosen[line][i] = c }

func (p *parser) field(name string, ok bool, problem string) {
	if st, seen := p.res.Fields[name]; seen && !st.Valid {
		return // the first problem found stays
	}
	p.res.Fields[name] = FieldStatus{Valid: ok, Problem: problem}
}

func (p *parser) run(l layout) {
	r := p.res
	r.Format = l.format

	// Fields without check digits: take the cheapest reading that fits.
	p.settle(l.code, kAlpha)
	p.settle(l.name, kAlpha)
	p.settle(l.sex, kSex)
	p.settleCountry(l.state)
	p.settleCountry(l.nationality)
	p.settle(l.opt1, kAlnum)
	if l.opt2.to > 0 {
		p.settle(l.opt2, kAlnum)
	}
	german := strings.TrimRight(p.text(l.state), "<") == "D"

	// Checked fields: the cheapest reading that passes, if unique.
	docKind := kDocNum
	if german && (germanNumbered(p.text(l.code))) {
		docKind = kGermanDoc
	}
	// A long document number (TD1, TD2) continues in the optional data
	// with its check digit at the end; the regular check position holds '<'.
	overflow := false
	var extSpan, extCheck span
	if l.docOverflowIn.to > 0 && p.best(l.docCheck.line, l.docCheck.from, kCheck) == '<' {
		ovl := l.docOverflowIn
		n := 0
		for n < ovl.to-ovl.from && p.best(ovl.line, ovl.from+n, kAlnum) != '<' {
			n++
		}
		if n >= 2 {
			overflow = true
			extSpan = sp(ovl.line, ovl.from, ovl.from+n-1)
			extCheck = sp(ovl.line, ovl.from+n-1, ovl.from+n)
			p.set(l.docCheck.line, l.docCheck.from, '<')
			p.fixed[l.docCheck.line][l.docCheck.from] = true
		}
	}
	if overflow {
		p.solveField("document_number", []span{l.docNum, extSpan}, extCheck, docKind)
	} else {
		p.solveField("document_number", []span{l.docNum}, l.docCheck, docKind)
	}
	p.solveField("birth_date", []span{l.birth}, l.birthCheck, kNum)
	p.solveField("expiry_date", []span{l.expiry}, l.expiryCheck, kNum)
	if l.hasOpt1Check {
		p.solveField("optional_data", []span{l.opt1}, l.opt1Check, kAlnum)
	}
	if l.hasComposite {
		p.solveComposite(l)
	}

	// Values.
	r.DocumentCode = strings.TrimRight(p.text(l.code), "<")
	r.IssuingState = strings.TrimRight(p.text(l.state), "<")
	docNum := p.text(l.docNum)
	if overflow {
		docNum += p.text(extSpan)
	}
	r.DocumentNumber = strings.TrimRight(docNum, "<")
	r.Nationality = strings.TrimRight(p.text(l.nationality), "<")
	r.Surname, r.GivenNames = splitName(p.text(l.name))
	r.NameTruncated = p.chosen[l.name.line][l.name.to-1] != '<'
	switch s := p.text(l.sex); s {
	case "M", "F":
		r.Sex = s
	default:
		r.Sex = "X"
	}
	opt1 := p.text(l.opt1)
	if overflow {
		opt1 = opt1[extCheck.to-l.opt1.from:]
	}
	r.OptionalData = strings.Trim(opt1, "<")
	if l.opt2.to > 0 {
		r.OptionalData2 = strings.Trim(p.text(l.opt2), "<")
	}
	r.BirthDate = p.date("birth_date", p.text(l.birth), false)
	r.ExpiryDate = p.date("expiry_date", p.text(l.expiry), true)

	// Form checks of the fields without check digits.
	code := p.text(l.code)
	p.field("document_code", code[0] >= 'A' && code[0] <= 'Z', problemIf(!(code[0] >= 'A' && code[0] <= 'Z'), "document code must start with a letter"))
	p.field("issuing_state", KnownCountry(r.IssuingState), problemIf(!KnownCountry(r.IssuingState), "unknown state code"))
	p.field("nationality", KnownCountry(r.Nationality), problemIf(!KnownCountry(r.Nationality), "unknown nationality code"))
	sexOK := allowed(kSex, p.text(l.sex)[0])
	p.field("sex", sexOK, problemIf(!sexOK, "sex must be M, F, X or <"))
	nameOK := r.Surname != "" && !strings.ContainsAny(p.text(l.name), "0123456789")
	p.field("name", nameOK, problemIf(!nameOK, "name missing or holds digits"))
	p.field("document_number", r.DocumentNumber != "", problemIf(r.DocumentNumber == "", "document number missing"))
	if german {
		p.german(l)
	}

	if p.opt.MinConfidence > 0 {
		p.confidence(l)
	}

	r.Lines = make([]string, len(p.chosen))
	for i := range p.chosen {
		r.Lines[i] = string(p.chosen[i])
		for j := range p.chosen[i] {
			if from := p.pos[i][j][0].Char; from != p.chosen[i][j] {
				r.Repairs = append(r.Repairs, Repair{Line: i, Pos: j, From: string(from), To: string(p.chosen[i][j])})
			}
		}
	}
	r.Valid = true
	for _, c := range r.Checks {
		r.Valid = r.Valid && c.OK
	}
	for _, f := range r.Fields {
		r.Valid = r.Valid && f.Valid
	}
}

func problemIf(cond bool, msg string) string {
	if cond {
		return msg
	}
	return ""
}

// settleCountry picks the cheapest combination of readings that forms a
// known state code, or the plain cheapest reading if none does.
func (p *parser) settleCountry(s span) {
	c0, c1, c2 := p.cands(s.line, s.from, kAlpha), p.cands(s.line, s.from+1, kAlpha), p.cands(s.line, s.from+2, kAlpha)
	bestCost := -1.0
	var best [3]byte
	for _, a := range c0 {
		for _, b := range c1 {
			for _, c := range c2 {
				code := string([]byte{a.Char, b.Char, c.Char})
				if !KnownCountry(code) || !validFillers(code) {
					continue
				}
				if cost := a.Cost + b.Cost + c.Cost; bestCost < 0 || cost < bestCost {
					bestCost, best = cost, [3]byte{a.Char, b.Char, c.Char}
				}
			}
		}
	}
	if bestCost < 0 || bestCost > p.opt.MaxRepairCost {
		p.settle(s, kAlpha)
		return
	}
	for i := 0; i < 3; i++ {
		p.set(s.line, s.from+i, best[i])
	}
}

// validFillers reports whether fillers only trail the code ("D<<").
func validFillers(code string) bool {
	t := strings.TrimRight(code, "<")
	return !strings.Contains(t, "<")
}

// splitName splits an MRZ name field into surname and given names:
// "<<" separates them, a single '<' stands for a space or hyphen.
func splitName(f string) (surname, given string) {
	f = strings.TrimRight(f, "<")
	s, g, _ := strings.Cut(f, "<<")
	clean := func(x string) string {
		return strings.Join(strings.FieldsFunc(x, func(r rune) bool { return r == '<' }), " ")
	}
	return clean(s), clean(g)
}

// date converts YYMMDD into YYYY-MM-DD. Birth dates lie in the past;
// expiry dates up to 50 years ahead of Now.
func (p *parser) date(name, s string, expiry bool) string {
	if strings.Trim(s, "<") == "" {
		p.field(name, !expiry, problemIf(expiry, "expiry date missing"))
		return "" // an unknown birth date is written as fillers
	}
	if strings.ContainsAny(s, "<") {
		// Partly unknown (e.g. day not known): keep what is there.
		p.field(name, true, "partly unknown")
		return ""
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			p.field(name, false, "date holds a non-digit")
			return ""
		}
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	dd := int(s[4]-'0')*10 + int(s[5]-'0')
	now := p.opt.Now
	year := 2000 + yy
	if expiry {
		if year > now.Year()+50 {
			year -= 100
		}
	} else {
		if time.Date(year, time.Month(mm), 1, 0, 0, 0, 0, time.UTC).After(now) {
			year -= 100
		}
	}
	t := time.Date(year, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	if mm < 1 || mm > 12 || dd < 1 || t.Day() != dd {
		p.field(name, false, "not a calendar date")
		return ""
	}
	p.field(name, true, "")
	return fmt.Sprintf("%04d-%02d-%02d", year, mm, dd)
}

// codeFirst lists the letters a document code may start with, per line
// length (ICAO 9303 parts 4-7: a visa's V decides between the formats of
// one length; 36-character lines also allow P for older passports).
var codeFirst = map[string]string{TD1: "ACI", TD2: "ACIPV", MRVB: "ACIPV", TD3: "PV", MRVA: "PV"}

// confidence marks fields without their own check digit as uncertain when
// the reading of one of their positions was a close call: no check digit
// would catch a misread there. The gap is measured among the readings the
// field allows, with impossible ones mapped as in repair: a name or code
// cannot hold a digit, so a '0' close behind an 'O' there is evidence for
// the O, not a doubt. A state code must be a known code: its gap is to the
// cheapest other known code, not to any other character.
func (p *parser) confidence(l layout) {
	// gap returns the cost of the chosen reading at (line, i) and of the
	// cheapest other reading of kind k; ok is false when the chosen one is
	// not among them at all.
	gap := func(line, i int, k kind) (cc, other float64, ok bool) {
		chosen := p.chosen[line][i]
		other = math.Inf(1)
		for _, a := range p.cands(line, i, k) {
			if a.Char == chosen && !ok {
				cc, ok = a.Cost, true
			} else if a.Char != chosen {
				other = math.Min(other, a.Cost)
			}
		}
		return cc, other, ok
	}
	check := func(name string, k kind, spans ...span) {
		for _, s := range spans {
			if s.to == 0 {
				continue
			}
			for i := s.from; i < s.to; i++ {
				if len(p.pos[s.line][i]) < 2 || p.fixed[s.line][i] {
					// One reading, or settled by a passing check digit
					// (TD1/TD2 optional data is covered by the composite).
					continue
				}
				if cc, other, ok := gap(s.line, i, k); !ok || other-cc < p.opt.MinConfidence {
					p.field(name, false, "uncertain reading")
					return
				}
			}
		}
	}
	country := func(name string, s span) {
		code := p.text(s)
		if !KnownCountry(code) || !validFillers(code) {
			check(name, kAlpha, s) // already invalid; keep the plain rule
			return
		}
		c := [3][]Alt{p.cands(s.line, s.from, kAlpha), p.cands(s.line, s.from+1, kAlpha), p.cands(s.line, s.from+2, kAlpha)}
		cc, other := math.Inf(1), math.Inf(1)
		for _, a := range c[0] {
			for _, b := range c[1] {
				for _, d := range c[2] {
					alt := string([]byte{a.Char, b.Char, d.Char})
					if !KnownCountry(alt) || !validFillers(alt) {
						continue
					}
					cost := a.Cost + b.Cost + d.Cost
					if alt == code {
						cc = math.Min(cc, cost)
					} else {
						other = math.Min(other, cost)
					}
				}
			}
		}
		if math.IsInf(cc, 1) || other-cc < p.opt.MinConfidence {
			p.field(name, false, "uncertain reading")
		}
	}
	// The first letter of the document code is one of few per format (see
	// codeFirst): its gap is to the next of those; a D read behind the P of
	// a passport is none.
	if first := codeFirst[l.format]; first != "" && strings.IndexByte(first, p.chosen[l.code.line][l.code.from]) >= 0 {
		chosen := p.chosen[l.code.line][l.code.from]
		cc, other := math.Inf(1), math.Inf(1)
		for _, a := range p.cands(l.code.line, l.code.from, kAlpha) {
			switch {
			case a.Char == chosen:
				cc = math.Min(cc, a.Cost)
			case strings.IndexByte(first, a.Char) >= 0:
				other = math.Min(other, a.Cost)
			}
		}
		if math.IsInf(cc, 1) || other-cc < p.opt.MinConfidence {
			p.field("document_code", false, "uncertain reading")
		}
		check("document_code", kAlpha, sp(l.code.line, l.code.from+1, l.code.to))
	} else {
		check("document_code", kAlpha, l.code)
	}
	country("issuing_state", l.state)
	check("name", kAlpha, l.name)
	check("sex", kSex, l.sex)
	country("nationality", l.nationality)
	if !l.hasOpt1Check {
		check("optional_data", kAlnum, l.opt1)
	}
	check("optional_data_2", kAlnum, l.opt2)
}
