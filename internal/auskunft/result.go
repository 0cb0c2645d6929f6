package auskunft

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/wache/wache/internal/auskunft/ident"
)

// Result is the answer to a query, ordered for an officer at a traffic
// stop: hit or no hit first, officer-safety warnings on top, then the
// alerts with the action to take, then the records. Results are for
// display only: the server sends them with Cache-Control: no-store and the
// client never stores them.
type Result struct {
	Hit            bool           `json:"hit"` // an active alert on the subject or a holder
	Warnings       []WarningView  `json:"warnings"`
	Alerts         []AlertView    `json:"alerts"`
	Persons        []PersonView   `json:"persons"`
	Vehicles       []VehicleView  `json:"vehicles"`
	Documents      []DocumentView `json:"documents"`
	Candidates     []Candidate    `json:"candidates,omitempty"` // plate near misses
	Truncated      bool           `json:"truncated,omitempty"`  // too many candidates: refine the query
	Partial        bool           `json:"partial"`              // a source did not answer in time
	MissingSources []string       `json:"missing_sources,omitempty"`
	Kind           string         `json:"kind"`
	Mode           Mode           `json:"mode"`
	At             time.Time      `json:"at"`
	AuditSeq       int64          `json:"audit_seq"` // the audit entry of this query
}

// WarningView is one officer-safety warning, with the person it is about.
type WarningView struct {
	Code     string  `json:"code"`
	Label    string  `json:"label"`
	PersonID string  `json:"person_id"`
	Person   string  `json:"person"`   // "MÜLLER, Hans (1970-05-03)"
	Relation string  `json:"relation"` // match or holder
	Score    float64 `json:"score,omitempty"`
	Source   string  `json:"source,omitempty"`
}

// AlertView is one alert as shown.
type AlertView struct {
	ID            string `json:"id"`
	Category      string `json:"category"`
	CategoryLabel string `json:"category_label"`
	Action        string `json:"action"`
	Authority     string `json:"authority"`
	ValidFrom     string `json:"valid_from,omitempty"` // full mode
	ValidUntil    string `json:"valid_until,omitempty"`
	Active        bool   `json:"active"`
	SubjectKind   string `json:"subject_kind"`
	Subject       string `json:"subject"`
	SubjectLabel  string `json:"subject_label"` // what the alert is on, readable
	Source        string `json:"source,omitempty"`
}

// PersonView is a person as shown; fields marked full appear in full mode only.
type PersonView struct {
	ID          string   `json:"id"`
	Surname     string   `json:"surname"`
	GivenNames  string   `json:"given_names,omitempty"`
	BirthName   string   `json:"birth_name,omitempty"` // full
	DOB         string   `json:"dob,omitempty"`
	BirthPlace  string   `json:"birth_place,omitempty"` // full
	Nationality string   `json:"nationality,omitempty"`
	Sex         string   `json:"sex,omitempty"`
	Aliases     []string `json:"aliases,omitempty"` // full
	Warnings    []string `json:"warnings,omitempty"`
	Score       float64  `json:"score,omitempty"`
	Relation    string   `json:"relation"`
	Source      string   `json:"source,omitempty"`
}

// VehicleView is a vehicle as shown.
type VehicleView struct {
	ID       string `json:"id"`
	Plate    string `json:"plate,omitempty"`
	VIN      string `json:"vin,omitempty"`
	Make     string `json:"make,omitempty"`
	Model    string `json:"model,omitempty"`
	Colour   string `json:"colour,omitempty"`
	Holder   string `json:"holder,omitempty"` // person id
	Relation string `json:"relation"`
	Source   string `json:"source,omitempty"`
}

// DocumentView is a document as shown.
type DocumentView struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Number       string `json:"number"`
	IssuingState string `json:"issuing_state,omitempty"`
	Expiry       string `json:"expiry,omitempty"`
	Expired      bool   `json:"expired,omitempty"`
	Holder       string `json:"holder,omitempty"`
	Relation     string `json:"relation"`
	Source       string `json:"source,omitempty"`
}

// Candidate is a plate near miss that exists in the data: the officer may
// have misread, or the camera mis-recognised, the plate.
type Candidate struct {
	Plate  string `json:"plate"`
	Alert  bool   `json:"alert"`  // the candidate has an active alert
	Reason string `json:"reason"` // "ocr" (confusable characters) or "split" (other district split)
}

// StrongScore is the least score of a person match that is shown in a
// wanted check and can make a hit; weaker matches appear in full
// information only, as possible matches.
const StrongScore = 0.85

// sourced tags the records of one source with its name.
type sourced struct {
	name string
	recs *Records
}

// build turns the sources' records into what the caller may see. Wanted
// mode shows active alerts only, persons only when they carry an active
// alert or an officer-safety warning, and no record held by a person;
// full mode shows everything. Warnings are shown in both: officer safety
// comes first.
func build(q Query, day string, srcs []sourced) *Result {
	full := q.Mode == ModeFull
	res := &Result{Kind: q.Kind, Mode: q.Mode, Warnings: []WarningView{}, Alerts: []AlertView{},
		Persons: []PersonView{}, Vehicles: []VehicleView{}, Documents: []DocumentView{}}
	tag := func(src string) string {
		if src == "local" {
			return ""
		}
		return src
	}
	type key struct{ src, kind, id string }
	active := map[key]bool{}
	labels := map[key]string{}
	for _, s := range srcs {
		res.Truncated = res.Truncated || s.recs.Truncated
		for _, a := range s.recs.Alerts {
			if a.Active(day) {
				active[key{s.name, a.SubjectKind, a.Subject}] = true
			}
		}
		for _, p := range s.recs.Persons {
			labels[key{s.name, KindPerson, p.ID}] = personLabel(&p.Person)
		}
		for _, v := range s.recs.Vehicles {
			labels[key{s.name, KindVehicle, v.ID}] = cmp.Or(v.Plate, v.VIN)
		}
		for _, d := range s.recs.Documents {
			labels[key{s.name, KindDocument, d.ID}] = d.Type + " " + d.Number
		}
	}
	// Which subjects the caller may see alerts on.
	shown := map[key]bool{}
	// Only alerts on what was asked about (and its holder) make a hit: not
	// those on records held by a matched person, nor on weak matches.
	hitSubject := map[key]bool{}
	for _, s := range srcs {
		for _, p := range s.recs.Persons {
			k := key{s.name, KindPerson, p.ID}
			if p.Relation == RelHeld || p.Relation == RelCandidate {
				continue
			}
			weak := p.Relation == RelMatch && p.Score < StrongScore
			if !full && (weak || !active[k] && len(p.Warnings) == 0) {
				continue
			}
			hitSubject[k] = !weak
			shown[k] = true
			v := PersonView{ID: p.ID, Surname: p.Surname, GivenNames: p.GivenNames, DOB: p.DOB,
				Nationality: p.Nationality, Sex: p.Sex, Warnings: p.Warnings, Score: p.Score, Relation: p.Relation, Source: tag(s.name)}
			if full {
				v.BirthName, v.BirthPlace, v.Aliases = p.BirthName, p.BirthPlace, p.Aliases
			}
			res.Persons = append(res.Persons, v)
			for _, w := range p.Warnings {
				res.Warnings = append(res.Warnings, WarningView{Code: w, Label: warningLabel(w), PersonID: p.ID,
					Person: labels[k], Relation: p.Relation, Score: p.Score, Source: tag(s.name)})
			}
		}
		for _, v := range s.recs.Vehicles {
			k := key{s.name, KindVehicle, v.ID}
			if v.Relation == RelCandidate {
				res.Candidates = append(res.Candidates, Candidate{Plate: v.Plate, Alert: active[k], Reason: candidateReason(q.Text, v.Plate)})
				continue
			}
			if v.Relation == RelHeld && !full {
				continue
			}
			shown[k] = true
			hitSubject[k] = v.Relation == RelMatch
			res.Vehicles = append(res.Vehicles, VehicleView{ID: v.ID, Plate: v.Plate, VIN: v.VIN, Make: v.Make, Model: v.Model,
				Colour: v.Colour, Holder: v.Holder, Relation: v.Relation, Source: tag(s.name)})
		}
		for _, d := range s.recs.Documents {
			k := key{s.name, KindDocument, d.ID}
			if d.Relation == RelHeld && !full || d.Relation == RelCandidate {
				continue
			}
			shown[k] = true
			hitSubject[k] = d.Relation == RelMatch
			res.Documents = append(res.Documents, DocumentView{ID: d.ID, Type: d.Type, Number: d.Number, IssuingState: d.IssuingState,
				Expiry: d.Expiry, Expired: d.Expiry != "" && d.Expiry < day, Holder: d.Holder, Relation: d.Relation, Source: tag(s.name)})
		}
	}
	for _, s := range srcs {
		for _, a := range s.recs.Alerts {
			k := key{s.name, a.SubjectKind, a.Subject}
			act := a.Active(day)
			if !shown[k] || !act && !full {
				continue
			}
			v := AlertView{ID: a.ID, Category: a.Category, CategoryLabel: Categories[a.Category], Action: a.Action,
				Authority: a.Authority, ValidUntil: a.ValidUntil, Active: act, SubjectKind: a.SubjectKind, Subject: a.Subject,
				SubjectLabel: labels[k], Source: tag(s.name)}
			if full {
				v.ValidFrom = a.ValidFrom
			}
			res.Alerts = append(res.Alerts, v)
			if act && hitSubject[k] {
				res.Hit = true
			}
		}
	}
	// Warnings: most dangerous first, then the better-matching person.
	slices.SortStableFunc(res.Warnings, func(a, b WarningView) int {
		return cmp.Or(cmp.Compare(warningRank(a.Code), warningRank(b.Code)), cmp.Compare(b.Score, a.Score))
	})
	// Alerts: active first, then arrest before whereabouts before checks.
	catRank := func(c string) int {
		return slices.Index([]string{CatArrest, CatMissing, CatWhereabouts, CatStolen, CatSeizure, CatSpecificCheck, CatDiscreetCheck}, c)
	}
	slices.SortStableFunc(res.Alerts, func(a, b AlertView) int {
		if a.Active != b.Active {
			if a.Active {
				return -1
			}
			return 1
		}
		return cmp.Compare(catRank(a.Category), catRank(b.Category))
	})
	slices.SortStableFunc(res.Persons, func(a, b PersonView) int {
		return cmp.Or(cmp.Compare(relRank(a.Relation), relRank(b.Relation)), cmp.Compare(b.Score, a.Score))
	})
	slices.SortStableFunc(res.Vehicles, func(a, b VehicleView) int { return cmp.Compare(relRank(a.Relation), relRank(b.Relation)) })
	slices.SortStableFunc(res.Documents, func(a, b DocumentView) int { return cmp.Compare(relRank(a.Relation), relRank(b.Relation)) })
	return res
}

func relRank(r string) int {
	return slices.Index([]string{RelMatch, RelHolder, RelHeld, RelCandidate}, r)
}

func warningLabel(code string) string {
	if i := warningRank(code); i >= 0 {
		return Warnings[i].Label
	}
	return code
}

func personLabel(p *Person) string {
	var b strings.Builder
	b.WriteString(strings.ToUpper(p.Surname))
	if p.GivenNames != "" {
		b.WriteString(", ")
		b.WriteString(p.GivenNames)
	}
	if p.DOB != "" {
		b.WriteString(" (")
		b.WriteString(p.DOB)
		b.WriteString(")")
	}
	return b.String()
}

func candidateReason(asked, plate string) string {
	if ident.PlateKey(asked) == ident.PlateKey(plate) {
		return "split"
	}
	return "ocr"
}
