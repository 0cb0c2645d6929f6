package auskunft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/auskunft/ident"
	"github.com/wache/wache/internal/auskunft/match"
)

// Record kinds of the import format.
const (
	KindPerson   = "person"
	KindVehicle  = "vehicle"
	KindDocument = "document"
	KindAlert    = "alert"
	KindDelete   = "delete"
)

// Person is a person record.
type Person struct {
	ID          string   `json:"id"`
	Surname     string   `json:"surname"`
	GivenNames  string   `json:"given_names,omitempty"`
	BirthName   string   `json:"birth_name,omitempty"`
	DOB         string   `json:"dob,omitempty"` // YYYY-MM-DD
	BirthPlace  string   `json:"birth_place,omitempty"`
	Nationality string   `json:"nationality,omitempty"` // ICAO 9303 code: D, AUT, TUR, …
	Sex         string   `json:"sex,omitempty"`         // m, f, x (diverse / unknown)
	Aliases     []string `json:"aliases,omitempty"`     // "SURNAME, Given" or "SURNAME"
	Warnings    []string `json:"warnings,omitempty"`    // officer-safety codes
}

// Vehicle is a vehicle record.
type Vehicle struct {
	ID     string `json:"id"`
	Plate  string `json:"plate,omitempty"`
	VIN    string `json:"vin,omitempty"`
	Make   string `json:"make,omitempty"`
	Model  string `json:"model,omitempty"`
	Colour string `json:"colour,omitempty"`
	Holder string `json:"holder,omitempty"` // person id
}

// Document is an identity or travel document.
type Document struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Number       string `json:"number"`
	IssuingState string `json:"issuing_state,omitempty"`
	Expiry       string `json:"expiry,omitempty"` // YYYY-MM-DD
	Holder       string `json:"holder,omitempty"` // person id
}

// Alert is a wanted notice (Ausschreibung) on a person, vehicle or document.
type Alert struct {
	ID          string `json:"id"`
	SubjectKind string `json:"subject_kind"` // person, vehicle or document
	Subject     string `json:"subject"`      // that record's id
	Category    string `json:"category"`
	Action      string `json:"action"`    // what the officer is to do
	Authority   string `json:"authority"` // issuing authority
	ValidFrom   string `json:"valid_from,omitempty"`
	ValidUntil  string `json:"valid_until,omitempty"` // empty: until withdrawn
}

// Delete removes the record of kind Target with id ID (and, for persons,
// vehicles and documents, the alerts on it).
type Delete struct {
	Target string `json:"target"`
	ID     string `json:"id"`
}

// Active reports whether the alert is in force on day (YYYY-MM-DD).
func (a *Alert) Active(day string) bool {
	return (a.ValidFrom == "" || a.ValidFrom <= day) && (a.ValidUntil == "" || day <= a.ValidUntil)
}

// Alert categories, as in German and Schengen practice.
const (
	CatArrest        = "arrest"         // Festnahme
	CatWhereabouts   = "whereabouts"    // Aufenthaltsermittlung
	CatMissing       = "missing"        // Vermisst
	CatDiscreetCheck = "discreet_check" // verdeckte Kontrolle
	CatSpecificCheck = "specific_check" // gezielte Kontrolle
	CatStolen        = "stolen"         // Sachfahndung: gestohlen
	CatSeizure       = "seizure"        // Sicherstellung / Beschlagnahme
)

// Categories lists the alert categories with German labels.
var Categories = map[string]string{
	CatArrest: "Festnahme", CatWhereabouts: "Aufenthaltsermittlung", CatMissing: "Vermisst",
	CatDiscreetCheck: "Verdeckte Kontrolle", CatSpecificCheck: "Gezielte Kontrolle",
	CatStolen: "Gestohlen", CatSeizure: "Sicherstellung",
}

// Officer-safety warning codes (personengebundene Hinweise).
const (
	WarnArmed     = "armed"
	WarnViolent   = "violent"
	WarnEscape    = "escape_risk"
	WarnInfection = "infection_risk"
	WarnSuicide   = "suicide_risk"
	WarnDrugs     = "drug_use"
)

// Warnings lists the warning codes with German labels, in the order they
// are shown (most immediate danger first).
var Warnings = []struct{ Code, Label string }{
	{WarnArmed, "Bewaffnet"}, {WarnViolent, "Gewalttätig"}, {WarnEscape, "Fluchtgefahr"},
	{WarnSuicide, "Freitodgefahr"}, {WarnInfection, "Ansteckungsgefahr"}, {WarnDrugs, "Betäubungsmittelkonsument"},
}

func warningRank(code string) int {
	return slices.IndexFunc(Warnings, func(w struct{ Code, Label string }) bool { return w.Code == code })
}

// Document types.
var DocumentTypes = []string{"id_card", "passport", "driving_licence", "residence_permit", "vehicle_registration", "other"}

// Field limits (runes unless noted). A record over a limit is refused.
const (
	MaxLineBytes = 1 << 20 // one import line
	maxID        = 64      // bytes
	maxName      = 100
	maxGiven     = 200
	maxPlace     = 100
	maxAliases   = 20
	maxShort     = 64 // make, model, colour, authority codes
	maxAction    = 500
	maxAuthority = 200
)

// invalid returns an EINVALID error.
func invalid(format string, args ...any) error { return wache.Errorf(wache.EINVALID, format, args...) }

func checkID(field, id string, required bool) error {
	if id == "" {
		if required {
			return invalid("%s is required", field)
		}
		return nil
	}
	if len(id) > maxID {
		return invalid("%s longer than %d bytes", field, maxID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return invalid("%s %q: only letters, digits and . _ : - are allowed", field, truncate(id))
		}
	}
	return nil
}

// checkText bounds a free-text field and refuses control characters and
// invalid UTF-8 (they have no place in a name and break displays).
func checkText(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return invalid("%s is required", field)
		}
		return nil
	}
	if len(s) > max*4 || utf8.RuneCountInString(s) > max {
		return invalid("%s longer than %d characters", field, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%s contains control characters", field)
		}
	}
	if strings.TrimSpace(s) != s {
		return invalid("%s has leading or trailing spaces", field)
	}
	return nil
}

func checkName(field, s string, max int, required bool) error {
	if err := checkText(field, s, max, required); err != nil {
		return err
	}
	if s != "" && match.Fold(s) == "" {
		return invalid("%s %q has no Latin letters (transliterate first)", field, truncate(s))
	}
	return nil
}

// ParseDate checks a YYYY-MM-DD calendar date (1964-02-30 is refused).
func ParseDate(field, s string) (time.Time, error) {
	if len(s) != 10 {
		return time.Time{}, invalid("%s %q is not a date YYYY-MM-DD", field, truncate(s))
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, invalid("%s %q is not a valid date YYYY-MM-DD", field, s)
	}
	if t.Year() < 1800 || t.Year() > 2200 {
		return time.Time{}, invalid("%s %q out of range", field, s)
	}
	return t, nil
}

func checkDate(field, s string) error {
	if s == "" {
		return nil
	}
	_, err := ParseDate(field, s)
	return err
}

func checkState(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 3 {
		return invalid("%s %q: use the 1–3 letter ICAO code (D, AUT, …)", field, truncate(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return invalid("%s %q: use the 1–3 letter ICAO code (D, AUT, …)", field, s)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Validate checks a person record.
func (p *Person) Validate(today string) error {
	if err := checkID("id", p.ID, true); err != nil {
		return err
	}
	if err := checkName("surname", p.Surname, maxName, true); err != nil {
		return err
	}
	if err := checkName("given_names", p.GivenNames, maxGiven, false); err != nil {
		return err
	}
	if err := checkName("birth_name", p.BirthName, maxName, false); err != nil {
		return err
	}
	if err := checkDate("dob", p.DOB); err != nil {
		return err
	}
	if p.DOB > today {
		return invalid("dob %s lies in the future", p.DOB)
	}
	if err := checkText("birth_place", p.BirthPlace, maxPlace, false); err != nil {
		return err
	}
	if err := checkState("nationality", p.Nationality); err != nil {
		return err
	}
	switch p.Sex {
	case "", "m", "f", "x":
	default:
		return invalid("sex %q: use m, f or x", truncate(p.Sex))
	}
	if len(p.Aliases) > maxAliases {
		return invalid("more than %d aliases", maxAliases)
	}
	for _, a := range p.Aliases {
		if err := checkName("alias", a, maxName+maxGiven, true); err != nil {
			return err
		}
	}
	if len(p.Warnings) > len(Warnings) {
		return invalid("too many warnings")
	}
	for i, w := range p.Warnings {
		if warningRank(w) < 0 {
			return invalid("unknown warning %q (known: armed, violent, escape_risk, infection_risk, suicide_risk, drug_use)", truncate(w))
		}
		if slices.Contains(p.Warnings[:i], w) {
			return invalid("warning %q twice", w)
		}
	}
	return nil
}

// Validate checks a vehicle record.
func (v *Vehicle) Validate() error {
	if err := checkID("id", v.ID, true); err != nil {
		return err
	}
	if v.Plate == "" && v.VIN == "" {
		return invalid("a vehicle needs a plate or a vin")
	}
	if err := checkText("plate", v.Plate, ident.MaxPlateLen, false); err != nil {
		return err
	}
	if v.Plate != "" {
		if k := ident.PlateKey(v.Plate); len(k) < 2 || len(k) > 12 {
			return invalid("plate %q is not a licence plate", truncate(v.Plate))
		}
	}
	if v.VIN != "" {
		if len(v.VIN) > ident.MaxVINLen {
			return invalid("vin longer than %d bytes", ident.MaxVINLen)
		}
		n := ident.NormalizeVIN(v.VIN)
		if len(n) < 6 || len(n) > 17 {
			return invalid("vin %q: 6 to 17 letters and digits", truncate(v.VIN))
		}
	}
	for _, f := range []struct{ name, v string }{{"make", v.Make}, {"model", v.Model}, {"colour", v.Colour}} {
		if err := checkText(f.name, f.v, maxShort, false); err != nil {
			return err
		}
	}
	return checkID("holder", v.Holder, false)
}

// Validate checks a document record.
func (d *Document) Validate() error {
	if err := checkID("id", d.ID, true); err != nil {
		return err
	}
	if !slices.Contains(DocumentTypes, d.Type) {
		return invalid("document type %q (known: %s)", truncate(d.Type), strings.Join(DocumentTypes, ", "))
	}
	if err := checkText("number", d.Number, 32, true); err != nil {
		return err
	}
	if k := ident.NormalizeDocNumber(d.Number); len(k) < 3 {
		return invalid("number %q is not a document number", truncate(d.Number))
	}
	if err := checkState("issuing_state", d.IssuingState); err != nil {
		return err
	}
	if err := checkDate("expiry", d.Expiry); err != nil {
		return err
	}
	return checkID("holder", d.Holder, false)
}

// Validate checks an alert record.
func (a *Alert) Validate() error {
	if err := checkID("id", a.ID, true); err != nil {
		return err
	}
	switch a.SubjectKind {
	case KindPerson, KindVehicle, KindDocument:
	default:
		return invalid("subject_kind %q: use person, vehicle or document", truncate(a.SubjectKind))
	}
	if err := checkID("subject", a.Subject, true); err != nil {
		return err
	}
	if _, ok := Categories[a.Category]; !ok {
		return invalid("category %q (known: arrest, whereabouts, missing, discreet_check, specific_check, stolen, seizure)", truncate(a.Category))
	}
	if err := checkText("action", a.Action, maxAction, true); err != nil {
		return err
	}
	if err := checkText("authority", a.Authority, maxAuthority, true); err != nil {
		return err
	}
	if err := checkDate("valid_from", a.ValidFrom); err != nil {
		return err
	}
	if err := checkDate("valid_until", a.ValidUntil); err != nil {
		return err
	}
	if a.ValidFrom != "" && a.ValidUntil != "" && a.ValidUntil < a.ValidFrom {
		return invalid("valid_until %s before valid_from %s", a.ValidUntil, a.ValidFrom)
	}
	return nil
}

// Validate checks a delete record.
func (d *Delete) Validate() error {
	switch d.Target {
	case KindPerson, KindVehicle, KindDocument, KindAlert:
	default:
		return invalid("delete target %q: use person, vehicle, document or alert", truncate(d.Target))
	}
	return checkID("id", d.ID, true)
}

// op is one decoded, valid import line.
type op struct {
	line     int64
	kind     string
	person   *Person
	vehicle  *Vehicle
	document *Document
	alert    *Alert
	del      *Delete
}

func (o *op) id() string {
	switch o.kind {
	case KindPerson:
		return o.person.ID
	case KindVehicle:
		return o.vehicle.ID
	case KindDocument:
		return o.document.ID
	case KindAlert:
		return o.alert.ID
	}
	return o.del.ID
}

// decodeLine parses and validates one JSON Lines record. Unknown fields are
// refused so that a misspelt field name does not silently drop data.
func decodeLine(b []byte, today string) (*op, error) {
	// encoding/json would quietly turn bad bytes into U+FFFD.
	if !utf8.Valid(b) {
		return nil, invalid("line is not valid UTF-8")
	}
	var head struct {
		Kind string `json:"kind"`
	}
	// Exports usually write the kind first: read it without a full parse
	// (the strict decode below checks the whole line anyway).
	if k, ok := leadingKind(b); ok {
		head.Kind = k
	} else if err := json.Unmarshal(b, &head); err != nil {
		return nil, invalid("not a JSON object: %s", jsonErr(err))
	}
	decode := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return invalid("%s", jsonErr(err))
		}
		if dec.More() {
			return invalid("more than one JSON value on the line")
		}
		return nil
	}
	o := &op{kind: head.Kind}
	var err error
	switch head.Kind {
	case KindPerson:
		var r struct {
			Kind string `json:"kind"`
			Person
		}
		if err = decode(&r); err == nil {
			o.person = &r.Person
			err = o.person.Validate(today)
		}
	case KindVehicle:
		var r struct {
			Kind string `json:"kind"`
			Vehicle
		}
		if err = decode(&r); err == nil {
			o.vehicle = &r.Vehicle
			err = o.vehicle.Validate()
		}
	case KindDocument:
		var r struct {
			Kind string `json:"kind"`
			Document
		}
		if err = decode(&r); err == nil {
			o.document = &r.Document
			err = o.document.Validate()
		}
	case KindAlert:
		var r struct {
			Kind string `json:"kind"`
			Alert
		}
		if err = decode(&r); err == nil {
			o.alert = &r.Alert
			err = o.alert.Validate()
		}
	case KindDelete:
		var r struct {
			Kind string `json:"kind"`
			Delete
		}
		if err = decode(&r); err == nil {
			o.del = &r.Delete
			err = o.del.Validate()
		}
	case "":
		return nil, invalid("kind is missing")
	default:
		return nil, invalid("unknown kind %q (known: person, vehicle, document, alert, delete)", truncate(head.Kind))
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// leadingKind reads `{"kind":"person",` at the start of a line.
func leadingKind(b []byte) (string, bool) {
	const prefix = `{"kind":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", false
	}
	rest := b[len(prefix):]
	i := bytes.IndexByte(rest, '"')
	if i < 0 || i > 16 || i+1 >= len(rest) || (rest[i+1] != ',' && rest[i+1] != '}') {
		return "", false
	}
	for _, c := range rest[:i] {
		if c < 'a' || c > 'z' {
			return "", false
		}
	}
	return string(rest[:i]), true
}

// jsonErr shortens encoding/json errors to what helps fix the line.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "JSON syntax error: the line ends inside a value"
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: expected %s", te.Field, te.Type)
	}
	return truncate(err.Error())
}
