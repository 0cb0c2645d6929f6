package auskunft

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wache/wache/internal/auskunft/ident"
	"github.com/wache/wache/internal/auskunft/match"
)

// Query kinds.
const (
	QueryPlate    = "plate"
	QueryVIN      = "vin"
	QueryDocument = "document"
	QueryPerson   = "person"
)

// Mode is the depth of a query, as in German practice.
type Mode string

const (
	// ModeWanted is the wanted check (Fahndungsabfrage): active alerts,
	// officer-safety warnings and the identifying fields needed to act.
	ModeWanted Mode = "wanted"
	// ModeFull is full information (Vollauskunft): every stored record
	// and alert, also expired ones, with all fields. Role-restricted.
	ModeFull Mode = "full"
)

// Query is one Auskunft request.
type Query struct {
	Kind    string `json:"kind"`              // plate, vin, document, person
	Text    string `json:"text,omitempty"`    // plate, VIN or document number
	Surname string `json:"surname,omitempty"` // person search
	Given   string `json:"given,omitempty"`   // person search, optional
	DOB     string `json:"dob,omitempty"`     // person search, optional, YYYY-MM-DD
	Mode    Mode   `json:"mode,omitempty"`    // default wanted
	Purpose string `json:"purpose"`           // mandatory reason (§ 76 BDSG)
	Limit   int    `json:"limit,omitempty"`   // person matches, default 10, at most 50
}

// Relations of a record to the query.
const (
	RelMatch     = "match"     // the queried subject
	RelCandidate = "candidate" // a near miss (OCR confusion, other plate split)
	RelHolder    = "holder"    // holder of a matched vehicle or document
	RelHeld      = "held"      // vehicle or document of a matched person
)

// PersonRecord is a person as a source returns it.
type PersonRecord struct {
	Person
	Score    float64 `json:"score,omitempty"` // 0..1 for name searches; 1 for exact relations
	Relation string  `json:"relation"`
}

// VehicleRecord is a vehicle as a source returns it.
type VehicleRecord struct {
	Vehicle
	Relation string `json:"relation"`
}

// DocumentRecord is a document as a source returns it.
type DocumentRecord struct {
	Document
	Relation string `json:"relation"`
}

// Records is what one source answers: the records found and the records
// related to them, with every alert on any of them. The service decides
// what the caller sees.
type Records struct {
	Persons   []PersonRecord   `json:"persons,omitempty"`
	Vehicles  []VehicleRecord  `json:"vehicles,omitempty"`
	Documents []DocumentRecord `json:"documents,omitempty"`
	Alerts    []Alert          `json:"alerts,omitempty"`
	Truncated bool             `json:"truncated,omitempty"` // more candidates than searched: refine the query
}

// Source is a place that answers queries: the local store, or an external
// system reached through a connector.
type Source interface {
	Name() string
	Search(ctx context.Context, q Query) (*Records, error)
}

// Name implements Source.
func (s *Store) Name() string { return "local" }

// Search implements Source on the local database. q must be validated.
func (s *Store) Search(ctx context.Context, q Query) (*Records, error) {
	r := &Records{}
	var err error
	switch q.Kind {
	case QueryPlate:
		err = s.searchPlate(ctx, q, r)
	case QueryVIN:
		var vs []Vehicle
		vs, err = s.queryVehicles(ctx, `vin = ? LIMIT 50`, ident.NormalizeVIN(q.Text))
		for _, v := range vs {
			r.Vehicles = append(r.Vehicles, VehicleRecord{v, RelMatch})
		}
	case QueryDocument:
		keys := padded(ident.DocKeys(q.Text))
		var ds []Document
		ds, err = s.queryDocuments(ctx, `number_key IN (`+inList(len(keys))+`) LIMIT 50`, anys(keys)...)
		for _, d := range ds {
			r.Documents = append(r.Documents, DocumentRecord{d, RelMatch})
		}
	case QueryPerson:
		err = s.searchPerson(ctx, q, r)
	default:
		return nil, invalid("unknown query kind %q", q.Kind)
	}
	if err != nil {
		return nil, err
	}
	if err := s.related(ctx, q.Mode, r); err != nil {
		return nil, err
	}
	return r, nil
}

// searchPlate finds the plate and its OCR near misses. A vehicle whose
// stored plate splits differently from the query (BA-B 123 vs B-AB 123)
// is a candidate, not a match.
func (s *Store) searchPlate(ctx context.Context, q Query, r *Records) error {
	// The keys the plate was meant as: as typed, and as parsed (MUE-AB 1 is MÜ-AB 1).
	key := ident.PlateKey(q.Text)
	asked := ident.ParsePlate(q.Text)
	exact := map[string]bool{key: true}
	keys := []string{key}
	for _, p := range asked {
		if k := p.Key(); !exact[k] {
			exact[k] = true
			keys = append(keys, k)
		}
	}
	for _, k := range slices.Clone(keys) {
		for _, c := range ident.PlateCandidates(k) {
			if !exact[c] && !slices.Contains(keys, c) {
				keys = append(keys, c)
			}
		}
	}
	keys = padded(keys)
	vs, err := s.queryVehicles(ctx, `plate_key IN (`+inList(len(keys))+`) LIMIT 100`, anys(keys)...)
	if err != nil {
		return err
	}
	for _, v := range vs {
		rel := RelCandidate
		if exact[ident.PlateKey(v.Plate)] {
			rel = RelMatch
			stored := ident.ParsePlate(v.Plate)
			if len(asked) == 1 && len(stored) == 1 && asked[0] != stored[0] {
				rel = RelCandidate
			}
		}
		r.Vehicles = append(r.Vehicles, VehicleRecord{v, rel})
	}
	// Exact matches first.
	slices.SortStableFunc(r.Vehicles, func(a, b VehicleRecord) int {
		return strings.Compare(relOrder(a.Relation), relOrder(b.Relation))
	})
	return nil
}

func relOrder(rel string) string {
	if rel == RelMatch {
		return "0"
	}
	return "1" + rel
}

// related adds holders, the records held by matched persons (full mode),
// and every alert on any record in r.
func (s *Store) related(ctx context.Context, mode Mode, r *Records) error {
	have := map[string]bool{}
	var matched []string
	for _, p := range r.Persons {
		have[p.ID] = true
		if p.Relation == RelMatch {
			matched = append(matched, p.ID)
		}
	}
	var holders []string
	for _, v := range r.Vehicles {
		if v.Holder != "" && !have[v.Holder] && v.Relation == RelMatch {
			have[v.Holder] = true
			holders = append(holders, v.Holder)
		}
	}
	for _, d := range r.Documents {
		if d.Holder != "" && !have[d.Holder] && d.Relation == RelMatch {
			have[d.Holder] = true
			holders = append(holders, d.Holder)
		}
	}
	held := mode == ModeFull && len(matched) > 0
	// Alert subjects known so far: everything but the held records.
	ids := map[string][]string{KindPerson: append(slices.Clone(matched), holders...)}
	for _, p := range r.Persons {
		if p.Relation != RelMatch {
			ids[KindPerson] = append(ids[KindPerson], p.ID)
		}
	}
	for _, v := range r.Vehicles {
		ids[KindVehicle] = append(ids[KindVehicle], v.ID)
	}
	for _, d := range r.Documents {
		ids[KindDocument] = append(ids[KindDocument], d.ID)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error
		holderPs  []Person
		heldVs    []Vehicle
		heldDs    []Document
		alerts    []Alert
		heldAlert []Alert
	)
	// In parallel on PostgreSQL (round trips); in sequence on SQLite, where
	// a second connection would start with a page cache of its own.
	parallel := s.db.Dialect.Postgres()
	do := func(fn func() error) {
		run := func() {
			if err := fn(); err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
			}
		}
		if !parallel {
			run()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	if len(holders) > 0 {
		do(func() (err error) { holderPs, err = s.personsByIDs(ctx, holders); return })
	}
	do(func() (err error) { alerts, err = s.alertsOn(ctx, ids); return })
	if held {
		pm := padded(matched)
		do(func() error {
			vs, err := s.queryVehicles(ctx, `holder IN (`+inList(len(pm))+`) LIMIT 200`, anys(pm)...)
			if err != nil {
				return err
			}
			ds, err := s.queryDocuments(ctx, `holder IN (`+inList(len(pm))+`) LIMIT 200`, anys(pm)...)
			if err != nil {
				return err
			}
			heldVs, heldDs = vs, ds
			hid := map[string][]string{}
			for _, v := range vs {
				hid[KindVehicle] = append(hid[KindVehicle], v.ID)
			}
			for _, d := range ds {
				hid[KindDocument] = append(hid[KindDocument], d.ID)
			}
			heldAlert, err = s.alertsOn(ctx, hid)
			return err
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, p := range holderPs {
		r.Persons = append(r.Persons, PersonRecord{Person: p, Score: 1, Relation: RelHolder})
	}
	for _, v := range heldVs {
		r.Vehicles = append(r.Vehicles, VehicleRecord{v, RelHeld})
	}
	for _, d := range heldDs {
		r.Documents = append(r.Documents, DocumentRecord{d, RelHeld})
	}
	// A record can be both matched and held (a person's own car found by
	// plate); its alerts are listed once.
	seen := map[string]bool{}
	r.Alerts = r.Alerts[:0]
	for _, a := range append(alerts, heldAlert...) {
		if !seen[a.ID] {
			seen[a.ID] = true
			r.Alerts = append(r.Alerts, a)
		}
	}
	return nil
}

// searchPerson narrows by indexed keys and ranks in Go, in two phases,
// reading only ak_name index entries (which carry everything scored) and,
// at the end, the full records of the best few persons. Reading index
// pages instead of one table page per candidate matters on SQLite, where a
// reader's page cache is discarded whenever anyone commits.
//
// With a date of birth, everyone born on that day (or with day and month
// swapped) is a candidate: that catches any misspelling of the name. When
// the best of them is better than any person with another date can score
// (dobDecisive), only persons with the exact transliterated name are added
// (a typo in the date). Otherwise, and without a date, candidates come
// from the name keys: the transliterated surname (with the first given
// name's phonetic code), the surname's phonetic code, a three-letter
// prefix, and the phonetic code with any given name; the search stops as
// soon as more perfect matches than asked for are in hand. Every
// candidate query is capped; a capped query marks the result truncated.
func (s *Store) searchPerson(ctx context.Context, q Query, r *Records) error {
	sq := newPersonQuery(q)
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	fold := sq.fold
	gphon := match.Koelner(firstToken(q.Given))
	prefix := fold[:min(3, len(fold))]
	scores := map[string]float64{}
	perfect := 0
	best := 0.0
	run := func(where string, args []any, limit int) error {
		rows, err := s.db.Query(ctx, `SELECT person_id, phon, fold, gfold, dob FROM ak_name WHERE `+where+` LIMIT ?`, append(args, limit)...)
		if err != nil {
			return fmt.Errorf("search names: %w", err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id string
			var k nameKey
			if err := rows.Scan(&id, &k.phon, &k.fold, &k.gfold, &k.dob); err != nil {
				return fmt.Errorf("scan name: %w", err)
			}
			n++
			sc := sq.scoreKey(&k)
			if sc < minScore {
				continue
			}
			if old, ok := scores[id]; !ok || sc > old {
				if sc >= 1 && old < 1 {
					perfect++
				}
				scores[id] = sc
				best = max(best, sc)
			}
		}
		if n >= limit {
			r.Truncated = true
		}
		return rows.Err()
	}
	type cq struct {
		where string
		args  []any
		limit int
	}
	var phase2 []cq
	if gphon != "" {
		phase2 = []cq{
			{`gphon = ? AND fold = ?`, []any{gphon, fold}, 500},
			{`phon = ? AND gphon = ?`, []any{sq.phon, gphon}, 1000},
			{`gphon = ? AND fold >= ? AND fold < ?`, []any{gphon, prefix, prefix + "["}, 1000},
			// The given name may be misspelt beyond its phonetic code, or be a second given name.
			{`fold = ? AND phon = ?`, []any{fold, sq.phon}, 500},
		}
	} else {
		phase2 = []cq{
			{`fold = ?`, []any{fold}, 500},
			{`phon = ?`, []any{sq.phon}, 1000},
			{`fold >= ? AND fold < ?`, []any{prefix, prefix + "["}, 1000},
		}
	}
	if q.DOB != "" {
		dobs := []any{q.DOB}
		if sq.swapped != "" {
			dobs = append(dobs, sq.swapped)
		}
		if err := run(`dob IN (`+inList(len(dobs))+`)`, dobs, 5000); err != nil {
			return err
		}
		if best >= dobDecisive {
			phase2 = phase2[:1]
		}
	}
	for _, c := range phase2 {
		if perfect >= limit {
			r.Truncated = true
			break
		}
		if err := run(c.where, c.args, c.limit); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(scores))
	for id := range scores {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(ids) > limit {
		ids = ids[:limit]
	}
	ps, err := s.personsByIDs(ctx, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]Person, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	for _, id := range ids {
		if p, ok := byID[id]; ok { // gone if deleted meanwhile
			r.Persons = append(r.Persons, PersonRecord{Person: p, Score: scores[id], Relation: RelMatch})
		}
	}
	return nil
}

// dobDecisive is the score above which a candidate found by date of birth
// cannot be beaten by one with another date: those score at most
// 0.55 + 0.25 + 0.20 × 0.6 = 0.92.
const dobDecisive = 0.92

// swapDayMonth returns the date with day and month exchanged when that is
// another valid date (1970-05-03 ↔ 1970-03-05).
func swapDayMonth(dob string) (string, bool) {
	if len(dob) != 10 || dob[5:7] == dob[8:10] {
		return "", false
	}
	sw := dob[:5] + dob[8:10] + "-" + dob[5:7]
	if _, err := time.Parse("2006-01-02", sw); err != nil {
		return "", false
	}
	return sw, true
}

// minScore is the least score a person match needs to be shown.
const minScore = 0.6

// personQuery holds the query's normalised forms for scoring.
type personQuery struct {
	fold, phon string
	given      []string
	dob        string
	swapped    string
}

func newPersonQuery(q Query) *personQuery {
	pq := &personQuery{fold: match.Fold(q.Surname), phon: match.Koelner(q.Surname), given: match.Tokens(q.Given), dob: q.DOB}
	pq.swapped, _ = swapDayMonth(q.DOB)
	return pq
}

// scoreKey rates one surname variant in [0, 1]: surname (a phonetic match
// counts as close), given names (each asked name against the best of the
// variant's), and date of birth (exact, day/month swapped, or one digit
// off), weighted 0.55 / 0.25 / 0.20 over the criteria the query gave.
func (pq *personQuery) scoreKey(k *nameKey) float64 {
	sur := match.Similarity(pq.fold, k.fold)
	if sur < 0.9 && pq.phon != "" && k.phon == pq.phon {
		sur = 0.9
	}
	total, weight := 0.55*sur, 0.55
	if len(pq.given) > 0 {
		have := strings.Fields(k.gfold)
		g := 0.0
		if len(have) > 0 {
			for _, w := range pq.given {
				best := 0.0
				for _, h := range have {
					best = max(best, match.Similarity(w, h))
				}
				g += best
			}
			g /= float64(len(pq.given))
		}
		total += 0.25 * g
		weight += 0.25
	}
	if pq.dob != "" {
		d := 0.0
		switch {
		case k.dob == "":
			d = 0.3 // unknown: neither for nor against
		case k.dob == pq.dob:
			d = 1
		case k.dob == pq.swapped:
			d = 0.85
		case oneDigitOff(k.dob, pq.dob):
			d = 0.6
		}
		total += 0.20 * d
		weight += 0.20
	}
	return float64(int(total/weight*1000+0.5)) / 1000
}

// oneDigitOff reports whether two dates differ in exactly one digit (a
// typing error) or in two adjacent transposed digits.
func oneDigitOff(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var diff []int
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] {
			diff = append(diff, i)
		}
	}
	switch len(diff) {
	case 1:
		return true
	case 2:
		i, j := diff[0], diff[1]
		return j == i+1 && a[i] == b[j] && a[j] == b[i]
	}
	return false
}
