// Package auskunft answers officers' queries on persons, vehicles and
// documents against the authority's data: exact lookups by plate, VIN and
// document number (with OCR near misses for plates), fuzzy person search
// (Kölner Phonetik, transliteration, string distance, swapped day and
// month), and external systems through connectors queried in parallel.
//
// Every query states its purpose and is written to the audit log before
// its result is released (§ 76 BDSG); imports are logged too. Per-user
// rate limits refuse floods, and unusual volumes are flagged to the
// auditor.
//
// Roles: officers and dispatchers run wanted checks; dispatchers also get
// full information; admins import; auditors read the log (package audit)
// and the flags. See docs/design/auskunft.md.
package auskunft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/auskunft/ident"
	"github.com/wache/wache/internal/auskunft/match"
)

// Caller is the identity a request acts for (see audit.Caller).
type Caller = audit.Caller

// Audit actions written by this package.
const (
	ActionQuery  = "auskunft.query"
	ActionImport = "auskunft.import"
	ActionFlag   = "auskunft.flag" // unusual query volume of one user
)

// Config wires a Service. Only Store and Audit are required.
type Config struct {
	Store *Store
	Audit *audit.Log
	// Sources are external systems asked alongside the local store.
	Sources []Source
	// SourceTimeout bounds each external source (default 1.5 s); a source
	// that does not answer in time makes the result partial.
	SourceTimeout time.Duration
	Limits        Limits
	// Location decides "today" for alert validity; default Europe/Berlin.
	Location *time.Location
	Now      func() time.Time
}

// Service is the Auskunft service.
type Service struct {
	store   *Store
	audit   *audit.Log
	sources []Source
	timeout time.Duration
	limits  *limiter
	loc     *time.Location
	now     func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Audit == nil {
		return nil, errors.New("auskunft: Store and Audit are required")
	}
	s := &Service{
		store:   cfg.Store,
		audit:   cfg.Audit,
		sources: append([]Source{cfg.Store}, cfg.Sources...),
		timeout: cfg.SourceTimeout,
		limits:  newLimiter(cfg.Limits),
		loc:     cfg.Location,
		now:     cfg.Now,
	}
	seen := map[string]bool{}
	for _, src := range s.sources {
		if seen[src.Name()] {
			return nil, fmt.Errorf("auskunft: two sources named %q", src.Name())
		}
		seen[src.Name()] = true
	}
	if s.timeout <= 0 {
		s.timeout = 1500 * time.Millisecond
	}
	if s.loc == nil {
		var err error
		if s.loc, err = time.LoadLocation("Europe/Berlin"); err != nil {
			return nil, fmt.Errorf("auskunft: %w", err)
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	cfg.Store.now = s.now
	return s, nil
}

// CanQuery reports whether c may run queries in mode m: wanted checks for
// officers and dispatchers, full information for dispatchers (the control
// room answers detailed requests). Admins and auditors get no police data
// by their role alone: separation of duties.
func CanQuery(c Caller, m Mode) bool {
	switch m {
	case ModeWanted:
		return c.Has(wache.RoleOfficer) || c.Has(wache.RoleDispatcher)
	case ModeFull:
		return c.Has(wache.RoleDispatcher)
	}
	return false
}

// Purpose bounds, in characters.
const (
	MinPurpose = 10
	MaxPurpose = 500
)

// genericPurposes are reasons data-protection officers reject as
// meaningless; compared after folding.
var genericPurposes = map[string]bool{
	"DIENSTLICH": true, "DIENSTLICHEGRUNDE": true, "AUSDIENSTLICHENGRUNDEN": true, "DIENSTLICHERGRUND": true,
	"ABFRAGE": true, "TESTABFRAGE": true, "ROUTINEABFRAGE": true, "KEINEANGABE": true, "KEINEANGABEN": true,
	"SONSTIGES": true, "ZWECKDERABFRAGE": true, "PURPOSEOFQUERY": true, "OFFICIALBUSINESS": true,
}

// ValidatePurpose checks that a purpose says something: 10 to 500
// characters, at least six different letters, no control characters, and
// not a stock phrase such as "dienstlich".
func ValidatePurpose(p string) error {
	p = strings.TrimSpace(p)
	if p == "" {
		return invalid("purpose is required: state why you query (e.g. \"Verkehrskontrolle B 96, Fahrer ohne Führerschein\")")
	}
	if !utf8.ValidString(p) {
		return invalid("purpose is not valid UTF-8")
	}
	n := utf8.RuneCountInString(p)
	if n < MinPurpose {
		return invalid("purpose too short (%d characters, at least %d): state the concrete reason", n, MinPurpose)
	}
	if n > MaxPurpose {
		return invalid("purpose longer than %d characters", MaxPurpose)
	}
	letters := map[rune]bool{}
	for _, r := range p {
		if unicode.IsControl(r) {
			return invalid("purpose contains control characters")
		}
		if unicode.IsLetter(r) {
			letters[unicode.ToLower(r)] = true
		}
	}
	if len(letters) < 6 {
		return invalid("purpose does not read as a reason: state the concrete occasion")
	}
	if genericPurposes[match.Fold(p)] {
		return invalid("purpose %q is too generic: state the concrete occasion", p)
	}
	return nil
}

// validateQuery checks q and fills defaults.
func validateQuery(q *Query) error {
	if q.Mode == "" {
		q.Mode = ModeWanted
	}
	if q.Mode != ModeWanted && q.Mode != ModeFull {
		return invalid("mode %q: use wanted or full", truncate(string(q.Mode)))
	}
	if q.Limit < 0 || q.Limit > 50 {
		return invalid("limit must be 1..50")
	}
	if q.Kind != QueryPerson && (q.Surname != "" || q.Given != "" || q.DOB != "") {
		return invalid("surname, given and dob belong to person queries")
	}
	switch q.Kind {
	case QueryPlate:
		if len(q.Text) > ident.MaxPlateLen {
			return invalid("plate longer than %d bytes", ident.MaxPlateLen)
		}
		if k := ident.PlateKey(q.Text); len(k) < 2 || len(k) > 12 {
			return invalid("plate %q is not a licence plate", truncate(q.Text))
		}
	case QueryVIN:
		if len(q.Text) > ident.MaxVINLen {
			return invalid("vin longer than %d bytes", ident.MaxVINLen)
		}
		if k := ident.NormalizeVIN(q.Text); len(k) < 6 || len(k) > 17 {
			return invalid("vin %q: 6 to 17 letters and digits", truncate(q.Text))
		}
	case QueryDocument:
		if len(q.Text) > ident.MaxDocNumberLen {
			return invalid("document number longer than %d bytes", ident.MaxDocNumberLen)
		}
		if k := ident.NormalizeDocNumber(q.Text); len(k) < 3 || len(k) > 32 {
			return invalid("document number %q: 3 to 32 letters and digits", truncate(q.Text))
		}
	case QueryPerson:
		if q.Text != "" {
			return invalid("person queries take surname, given and dob, not text")
		}
		if err := checkName("surname", strings.TrimSpace(q.Surname), maxName, true); err != nil {
			return err
		}
		if err := checkName("given", strings.TrimSpace(q.Given), maxGiven, false); err != nil {
			return err
		}
		if err := checkDate("dob", q.DOB); err != nil {
			return err
		}
	case "":
		return invalid("query kind is required (plate, vin, document, person)")
	default:
		return invalid("unknown query kind %q (plate, vin, document, person)", truncate(q.Kind))
	}
	return ValidatePurpose(q.Purpose)
}

// criteria is what the audit log records of a query: the search terms,
// never the results.
func criteria(q Query) map[string]any {
	c := map[string]any{"kind": q.Kind, "mode": string(q.Mode)}
	if q.Text != "" {
		c["text"] = q.Text
	}
	if q.Surname != "" {
		c["surname"] = q.Surname
	}
	if q.Given != "" {
		c["given"] = q.Given
	}
	if q.DOB != "" {
		c["dob"] = q.DOB
	}
	return c
}

// Query runs q for c. Order of checks: rate limit, role, input; then the
// sources are asked, the query is logged, and only then is the result
// returned. A query that cannot be logged fails.
func (s *Service) Query(ctx context.Context, c Caller, q Query) (*Result, error) {
	if c.UserID == "" {
		return nil, wache.Errorf(wache.EUNAUTHORIZED, "no caller")
	}
	now := s.now()
	ok, fl := s.limits.allow(c.UserID, now)
	if fl != nil {
		s.logFlag(ctx, c, fl)
	}
	if !ok {
		return nil, wache.Errorf(wache.ERATELIMIT, "too many queries: wait a moment")
	}
	q.Purpose = strings.TrimSpace(q.Purpose)
	q.Surname, q.Given, q.Text = strings.TrimSpace(q.Surname), strings.TrimSpace(q.Given), strings.TrimSpace(q.Text)
	if err := validateQuery(&q); err != nil {
		return nil, err
	}
	if !CanQuery(c, q.Mode) {
		// A refused attempt at data is worth the auditor's eye.
		if _, err := s.audit.Append(ctx, audit.Event{Action: ActionQuery, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
			Purpose: q.Purpose, Criteria: criteria(q), Result: "denied"}); err != nil {
			return nil, err
		}
		return nil, wache.Errorf(wache.EFORBIDDEN, "your role may not run %s queries", q.Mode)
	}
	got, missing, err := fanOut(ctx, s.sources, q, s.timeout)
	if err != nil {
		if _, aerr := s.audit.Append(ctx, audit.Event{Action: ActionQuery, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
			Purpose: q.Purpose, Criteria: criteria(q), Result: "error"}); aerr != nil {
			slog.ErrorContext(ctx, "audit of failed query", "err", aerr)
		}
		return nil, err
	}
	for _, m := range missing {
		slog.WarnContext(ctx, "auskunft source missing from result", "source", m)
	}
	res := build(q, now.In(s.loc).Format("2006-01-02"), got)
	res.Partial = len(missing) > 0
	res.MissingSources = missing
	res.At = now.UTC()
	class := "no_hit"
	if res.Hit {
		class = "hit"
	}
	if res.Partial {
		class += "_partial"
	}
	e, err := s.audit.Append(ctx, audit.Event{Action: ActionQuery, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
		Purpose: q.Purpose, Criteria: criteria(q), Result: class})
	if err != nil {
		return nil, err
	}
	res.AuditSeq = e.Seq
	return res, nil
}

func (s *Service) logFlag(ctx context.Context, c Caller, f *flag) {
	_, err := s.audit.Append(ctx, audit.Event{Action: ActionFlag, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
		Criteria: map[string]any{"window": "1h", "queries": f.Queries, "refused": f.Refused,
			"threshold": s.limits.cfg.FlagPerHour, "refused_threshold": s.limits.cfg.FlagRefusedPerHour},
		Result: "flagged"})
	if err != nil {
		slog.ErrorContext(ctx, "audit flag", "err", err)
	}
}

// Flags lists the users flagged for unusual query volumes in [from, to),
// as audit entries (actor = the flagged user). Auditor only.
func (s *Service) Flags(ctx context.Context, c Caller, from, to time.Time, afterSeq int64) ([]audit.Entry, error) {
	return s.audit.List(ctx, c, audit.Filter{Action: ActionFlag, From: from, To: to, AfterSeq: afterSeq, Limit: 1000})
}
