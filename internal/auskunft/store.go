package auskunft

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/wache/wache/internal/auskunft/ident"
	"github.com/wache/wache/internal/auskunft/match"
	"github.com/wache/wache/internal/store/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Store keeps the authority's records in the server's database (tables
// ak_*) and answers lookups on them. It is the local Source.
type Store struct {
	db  *sqldb.DB
	now func() time.Time
}

// OpenStore applies the auskunft migrations to db and returns the store.
func OpenStore(ctx context.Context, db *sqldb.DB) (*Store, error) {
	sub := "migrations/sqlite"
	if db.Dialect.Postgres() {
		sub = "migrations/postgres"
	}
	fsys, err := fs.Sub(migrations, sub)
	if err != nil {
		return nil, fmt.Errorf("auskunft migrations: %w", err)
	}
	if err := db.Migrate(ctx, "auskunft", fsys); err != nil {
		return nil, fmt.Errorf("auskunft: %w", err)
	}
	s := &Store{db: db, now: time.Now}
	// A bulk load that was interrupted leaves its lookup indexes dropped.
	if err := s.createIndexes(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// lookupIndexes are the secondary indexes whose keys arrive in random
// order. A bulk load into empty tables drops them and builds them once at
// the end (a sort), instead of updating them row by row: at millions of
// rows that is the difference between minutes and days of random page
// writes. The migrations create the same indexes.
var lookupIndexes = []struct{ name, def string }{
	{"ak_name_dob", "ak_name (dob, phon, fold, gfold, person_id)"},
	{"ak_name_gphon", "ak_name (gphon, fold, phon, dob, gfold, person_id)"},
	{"ak_name_phon", "ak_name (phon, gphon, fold, dob, gfold, person_id)"},
	{"ak_name_fold", "ak_name (fold, phon, gphon, dob, gfold, person_id)"},
	{"ak_vehicle_plate", "ak_vehicle (plate_key)"},
	{"ak_vehicle_vin", "ak_vehicle (vin)"},
	{"ak_vehicle_holder", "ak_vehicle (holder)"},
	{"ak_document_number", "ak_document (number_key)"},
	{"ak_document_holder", "ak_document (holder)"},
}

func (s *Store) dropIndexes(ctx context.Context) error {
	for _, ix := range lookupIndexes {
		if _, err := s.db.Exec(ctx, `DROP INDEX IF EXISTS `+ix.name); err != nil {
			return fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	return nil
}

func (s *Store) createIndexes(ctx context.Context) error {
	for _, ix := range lookupIndexes {
		err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
			if s.db.Dialect.Postgres() {
				// Sort in memory rather than in temporary files.
				if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '512MB'`); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+ix.name+` ON `+ix.def)
			return err
		})
		if err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, err)
		}
	}
	return nil
}

// empty reports whether the store holds no records at all.
func (s *Store) empty(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM ak_person LIMIT 1) a)
		+ (SELECT COUNT(*) FROM (SELECT 1 FROM ak_vehicle LIMIT 1) b)
		+ (SELECT COUNT(*) FROM (SELECT 1 FROM ak_document LIMIT 1) c)`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("auskunft: %w", err)
	}
	return n == 0, nil
}

// Counts returns how many records of each kind are stored.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for kind, table := range map[string]string{KindPerson: "ak_person", KindVehicle: "ak_vehicle", KindDocument: "ak_document", KindAlert: "ak_alert"} {
		var n int64
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", kind, err)
		}
		out[kind] = n
	}
	return out, nil
}

// ordered keeps the last upsert per id in first-seen order.
type ordered struct {
	idx map[string]int
	ops []*op
}

func (o *ordered) put(x *op) {
	if o.idx == nil {
		o.idx = map[string]int{}
	}
	if i, ok := o.idx[x.id()]; ok {
		o.ops[i] = x
		return
	}
	o.idx[x.id()] = len(o.ops)
	o.ops = append(o.ops, x)
}

func (o *ordered) remove(id string) {
	if i, ok := o.idx[id]; ok {
		o.ops[i] = nil
		delete(o.idx, id)
	}
}

func (o *ordered) live() []*op {
	out := make([]*op, 0, len(o.ops))
	for _, x := range o.ops {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// apply writes ops in one transaction with the effect of applying them in
// order: deletes run first, and a delete cancels the upserts before it in
// the batch (and, for a subject, the alerts on it), so that multi-row
// upserts never touch one row twice.
func (s *Store) apply(ctx context.Context, ops []*op) error {
	var persons, vehicles, documents, alerts ordered
	var dels []*Delete
	for _, o := range ops {
		switch o.kind {
		case KindPerson:
			persons.put(o)
		case KindVehicle:
			vehicles.put(o)
		case KindDocument:
			documents.put(o)
		case KindAlert:
			alerts.put(o)
		case KindDelete:
			dels = append(dels, o.del)
			switch o.del.Target {
			case KindPerson:
				persons.remove(o.del.ID)
			case KindVehicle:
				vehicles.remove(o.del.ID)
			case KindDocument:
				documents.remove(o.del.ID)
			case KindAlert:
				alerts.remove(o.del.ID)
			}
			if o.del.Target != KindAlert {
				for _, a := range alerts.ops {
					if a != nil && a.alert.SubjectKind == o.del.Target && a.alert.Subject == o.del.ID {
						alerts.remove(a.alert.ID)
					}
				}
			}
		}
	}
	now := s.now().UnixMilli()
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		for _, d := range dels {
			if err := deleteRecord(ctx, tx, d); err != nil {
				return err
			}
		}
		if err := upsertPersons(ctx, tx, s.db.Dialect, persons.live(), now); err != nil {
			return err
		}
		if err := upsertVehicles(ctx, tx, s.db.Dialect, vehicles.live(), now); err != nil {
			return err
		}
		if err := upsertDocuments(ctx, tx, s.db.Dialect, documents.live(), now); err != nil {
			return err
		}
		return upsertAlerts(ctx, tx, s.db.Dialect, alerts.live(), now)
	})
}

func deleteRecord(ctx context.Context, tx *sqldb.Tx, d *Delete) error {
	var stmts []string
	switch d.Target {
	case KindPerson:
		stmts = []string{`DELETE FROM ak_person WHERE id = ?`, `DELETE FROM ak_name WHERE person_id = ?`}
	case KindVehicle:
		stmts = []string{`DELETE FROM ak_vehicle WHERE id = ?`}
	case KindDocument:
		stmts = []string{`DELETE FROM ak_document WHERE id = ?`}
	case KindAlert:
		stmts = []string{`DELETE FROM ak_alert WHERE id = ?`}
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q, d.ID); err != nil {
			return fmt.Errorf("delete %s: %w", d.Target, err)
		}
	}
	if d.Target != KindAlert {
		if _, err := tx.Exec(ctx, `DELETE FROM ak_alert WHERE subject_kind = ? AND subject = ?`, d.Target, d.ID); err != nil {
			return fmt.Errorf("delete alerts on %s: %w", d.Target, err)
		}
	}
	return nil
}

// maxParams keeps multi-row statements under SQLite's and PostgreSQL's
// bound-parameter limits.
const maxParams = 30000

// insertRows runs INSERT … VALUES (…), (…) [suffix] in chunks.
func insertRows(ctx context.Context, tx *sqldb.Tx, d sqldb.Dialect, head string, ncol int, suffix string, rows [][]any) error {
	per := min(500, maxParams/ncol)
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", ncol), ",") + ")"
	stmt := func(n int) string {
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		b.WriteString(suffix)
		return b.String()
	}
	// Full chunks share one prepared statement.
	var full *sql.Stmt
	if len(rows) >= 2*per {
		var err error
		if full, err = tx.PrepareContext(ctx, d.Rebind(stmt(per))); err != nil {
			return err
		}
		defer full.Close()
	}
	args := make([]any, 0, per*ncol)
	for len(rows) > 0 {
		n := min(per, len(rows))
		args = args[:0]
		for i := range n {
			args = append(args, rows[i]...)
		}
		var err error
		if n == per && full != nil {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.Exec(ctx, stmt(n), args...)
		}
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// inList returns "?,?,…" for n placeholders.
func inList(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// padded repeats the last key up to the next power of two, so that lookups
// with IN lists use a handful of distinct statements: PostgreSQL then hits
// its prepared-statement cache instead of preparing (and planning) a new
// text for every list length.
func padded(keys []string) []string {
	n := 1
	for n < len(keys) {
		n *= 2
	}
	if n == len(keys) || len(keys) == 0 {
		return keys
	}
	out := make([]string, n)
	copy(out, keys)
	for i := len(keys); i < n; i++ {
		out[i] = keys[len(keys)-1]
	}
	return out
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// nameKey is one surname variant of a person with what search scores on.
type nameKey struct{ phon, fold, gphon, gfold, dob string }

// splitAlias reads "SURNAME, Given" or "SURNAME".
func splitAlias(a string) (surname, given string) {
	s, g, ok := strings.Cut(a, ",")
	if !ok {
		return strings.TrimSpace(a), ""
	}
	return strings.TrimSpace(s), strings.TrimSpace(g)
}

func firstToken(given string) string {
	if t := match.Tokens(given); len(t) > 0 {
		return t[0]
	}
	return ""
}

// nameKeys derives the search keys of a person: one per surname variant
// (surname, birth name, each alias, with the alias's given names if it has
// any).
func nameKeys(p *Person) []nameKey {
	var keys []nameKey
	add := func(surname, given string) {
		k := nameKey{phon: match.Koelner(surname), fold: match.Fold(surname), gphon: match.Koelner(firstToken(given)),
			gfold: strings.Join(match.Tokens(given), " "), dob: p.DOB}
		if k.fold == "" {
			return
		}
		for _, x := range keys {
			if x == k {
				return
			}
		}
		keys = append(keys, k)
	}
	add(p.Surname, p.GivenNames)
	if p.BirthName != "" {
		add(p.BirthName, p.GivenNames)
	}
	for _, a := range p.Aliases {
		s, g := splitAlias(a)
		if g == "" {
			g = p.GivenNames
		}
		add(s, g)
	}
	return keys
}

func upsertPersons(ctx context.Context, tx *sqldb.Tx, d sqldb.Dialect, ops []*op, now int64) error {
	if len(ops) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(ops))
	var names [][]any
	ids := make([]string, 0, len(ops))
	for _, o := range ops {
		p := o.person
		aliases, _ := json.Marshal(p.Aliases)
		if p.Aliases == nil {
			aliases = []byte("[]")
		}
		rows = append(rows, []any{p.ID, p.Surname, p.GivenNames, p.BirthName, p.DOB, p.BirthPlace,
			p.Nationality, p.Sex, string(aliases), strings.Join(p.Warnings, ","), now})
		ids = append(ids, p.ID)
		for _, k := range nameKeys(p) {
			names = append(names, []any{p.ID, k.phon, k.fold, k.gphon, k.gfold, k.dob})
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		if _, err := tx.Exec(ctx, `DELETE FROM ak_name WHERE person_id IN (`+inList(n)+`)`, anys(ids[:n])...); err != nil {
			return fmt.Errorf("replace name keys: %w", err)
		}
		ids = ids[n:]
	}
	if err := insertRows(ctx, tx, d, `INSERT INTO ak_person (id, surname, given_names, birth_name, dob, birth_place, nationality, sex, aliases, warnings, updated_at)`, 11,
		` ON CONFLICT (id) DO UPDATE SET surname = excluded.surname, given_names = excluded.given_names,
		birth_name = excluded.birth_name, dob = excluded.dob, birth_place = excluded.birth_place,
		nationality = excluded.nationality, sex = excluded.sex, aliases = excluded.aliases,
		warnings = excluded.warnings, updated_at = excluded.updated_at`, rows); err != nil {
		return fmt.Errorf("upsert persons: %w", err)
	}
	if err := insertRows(ctx, tx, d, `INSERT INTO ak_name (person_id, phon, fold, gphon, gfold, dob)`, 6, "", names); err != nil {
		return fmt.Errorf("insert name keys: %w", err)
	}
	return nil
}

func upsertVehicles(ctx context.Context, tx *sqldb.Tx, d sqldb.Dialect, ops []*op, now int64) error {
	rows := make([][]any, 0, len(ops))
	for _, o := range ops {
		v := o.vehicle
		rows = append(rows, []any{v.ID, v.Plate, ident.PlateKey(v.Plate), ident.NormalizeVIN(v.VIN), v.Make, v.Model, v.Colour, v.Holder, now})
	}
	if err := insertRows(ctx, tx, d, `INSERT INTO ak_vehicle (id, plate, plate_key, vin, make, model, colour, holder, updated_at)`, 9,
		` ON CONFLICT (id) DO UPDATE SET plate = excluded.plate, plate_key = excluded.plate_key, vin = excluded.vin,
		make = excluded.make, model = excluded.model, colour = excluded.colour, holder = excluded.holder,
		updated_at = excluded.updated_at`, rows); err != nil {
		return fmt.Errorf("upsert vehicles: %w", err)
	}
	return nil
}

func upsertDocuments(ctx context.Context, tx *sqldb.Tx, d sqldb.Dialect, ops []*op, now int64) error {
	rows := make([][]any, 0, len(ops))
	for _, o := range ops {
		doc := o.document
		rows = append(rows, []any{doc.ID, doc.Type, doc.Number, ident.NormalizeDocNumber(doc.Number), doc.IssuingState, doc.Expiry, doc.Holder, now})
	}
	if err := insertRows(ctx, tx, d, `INSERT INTO ak_document (id, type, number, number_key, issuing_state, expiry, holder, updated_at)`, 8,
		` ON CONFLICT (id) DO UPDATE SET type = excluded.type, number = excluded.number, number_key = excluded.number_key,
		issuing_state = excluded.issuing_state, expiry = excluded.expiry, holder = excluded.holder,
		updated_at = excluded.updated_at`, rows); err != nil {
		return fmt.Errorf("upsert documents: %w", err)
	}
	return nil
}

func upsertAlerts(ctx context.Context, tx *sqldb.Tx, d sqldb.Dialect, ops []*op, now int64) error {
	rows := make([][]any, 0, len(ops))
	for _, o := range ops {
		a := o.alert
		rows = append(rows, []any{a.ID, a.SubjectKind, a.Subject, a.Category, a.Action, a.Authority, a.ValidFrom, a.ValidUntil, now})
	}
	if err := insertRows(ctx, tx, d, `INSERT INTO ak_alert (id, subject_kind, subject, category, action, authority, valid_from, valid_until, updated_at)`, 9,
		` ON CONFLICT (id) DO UPDATE SET subject_kind = excluded.subject_kind, subject = excluded.subject,
		category = excluded.category, action = excluded.action, authority = excluded.authority,
		valid_from = excluded.valid_from, valid_until = excluded.valid_until, updated_at = excluded.updated_at`, rows); err != nil {
		return fmt.Errorf("upsert alerts: %w", err)
	}
	return nil
}

// Reads.

const personCols = `p.id, p.surname, p.given_names, p.birth_name, p.dob, p.birth_place, p.nationality, p.sex, p.aliases, p.warnings`

func scanPerson(sc interface{ Scan(...any) error }) (Person, error) {
	var p Person
	var aliases, warnings string
	if err := sc.Scan(&p.ID, &p.Surname, &p.GivenNames, &p.BirthName, &p.DOB, &p.BirthPlace, &p.Nationality, &p.Sex, &aliases, &warnings); err != nil {
		return p, err
	}
	if aliases != "" && aliases != "[]" {
		_ = json.Unmarshal([]byte(aliases), &p.Aliases)
	}
	if warnings != "" {
		p.Warnings = strings.Split(warnings, ",")
	}
	return p, nil
}

func (s *Store) queryPersons(ctx context.Context, q string, args ...any) ([]Person, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query persons: %w", err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("scan person: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// personsByIDs returns the persons with the given ids (at most 1000).
func (s *Store) personsByIDs(ctx context.Context, ids []string) ([]Person, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = padded(ids[:min(len(ids), 1000)])
	return s.queryPersons(ctx, `SELECT `+personCols+` FROM ak_person p WHERE p.id IN (`+inList(len(ids))+`)`, anys(ids)...)
}

const vehicleCols = `id, plate, vin, make, model, colour, holder`

func (s *Store) queryVehicles(ctx context.Context, where string, args ...any) ([]Vehicle, error) {
	rows, err := s.db.Query(ctx, `SELECT `+vehicleCols+` FROM ak_vehicle WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query vehicles: %w", err)
	}
	defer rows.Close()
	var out []Vehicle
	for rows.Next() {
		var v Vehicle
		if err := rows.Scan(&v.ID, &v.Plate, &v.VIN, &v.Make, &v.Model, &v.Colour, &v.Holder); err != nil {
			return nil, fmt.Errorf("scan vehicle: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const documentCols = `id, type, number, issuing_state, expiry, holder`

func (s *Store) queryDocuments(ctx context.Context, where string, args ...any) ([]Document, error) {
	rows, err := s.db.Query(ctx, `SELECT `+documentCols+` FROM ak_document WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query documents: %w", err)
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		var d Document
		if err := rows.Scan(&d.ID, &d.Type, &d.Number, &d.IssuingState, &d.Expiry, &d.Holder); err != nil {
			return nil, fmt.Errorf("scan document: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// alertsOn returns the alerts on the given subjects, by kind (at most 1000
// ids a kind), in one query.
func (s *Store) alertsOn(ctx context.Context, ids map[string][]string) ([]Alert, error) {
	var conds []string
	var args []any
	for _, kind := range []string{KindPerson, KindVehicle, KindDocument} {
		ks := ids[kind]
		if len(ks) == 0 {
			continue
		}
		ks = padded(ks[:min(len(ks), 1000)])
		conds = append(conds, `(subject_kind = ? AND subject IN (`+inList(len(ks))+`))`)
		args = append(append(args, kind), anys(ks)...)
	}
	if len(conds) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id, subject_kind, subject, category, action, authority, valid_from, valid_until
		FROM ak_alert WHERE `+strings.Join(conds, ` OR `), args...)
	if err != nil {
		return nil, fmt.Errorf("query alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		if err := rows.Scan(&a.ID, &a.SubjectKind, &a.Subject, &a.Category, &a.Action, &a.Authority, &a.ValidFrom, &a.ValidUntil); err != nil {
			return nil, fmt.Errorf("scan alert: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
