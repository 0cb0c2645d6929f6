package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/auskunft"
	"github.com/wache/wache/internal/auskunft/synth"
)

func cmdQuery(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stderr, `Usage (Auskunft; every query is logged with its purpose):
  wache query plate TEXT --purpose "…"        licence plate (spaces, hyphens, umlauts, OCR slips are tolerated)
  wache query vin TEXT --purpose "…"          vehicle identification number
  wache query document NUMBER --purpose "…"   ID card, passport, driving licence number
  wache query person --surname S [--given G] [--dob YYYY-MM-DD] --purpose "…"
Flags: --full (full information; dispatchers only), --limit N (person matches), --json`)
		if len(args) == 0 {
			return &exitError{2, nil}
		}
		return nil
	}
	kind, args := args[0], args[1:]
	fs, c := newFlags("query "+kind, "query "+kind+" …", env)
	purpose := fs.String("purpose", env.Getenv("WACHE_PURPOSE"), "why you query (mandatory, e.g. \"Verkehrskontrolle B 96\")")
	full := fs.Bool("full", false, "full information instead of the wanted check (dispatchers)")
	var surname, given, dob *string
	var limit *int
	if kind == "person" {
		surname = fs.String("surname", "", "surname (fuzzy: Müller = MUELLER = MULLER)")
		given = fs.String("given", "", "given name(s)")
		dob = fs.String("dob", "", "date of birth YYYY-MM-DD (day and month may be swapped)")
		limit = fs.Int("limit", 10, "at most this many person matches (max 50)")
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	q := auskunft.Query{Kind: kind, Purpose: *purpose, Mode: auskunft.ModeWanted}
	if *full {
		q.Mode = auskunft.ModeFull
	}
	switch kind {
	case auskunft.QueryPlate, auskunft.QueryVIN, auskunft.QueryDocument:
		if fs.NArg() == 0 {
			return &exitError{2, fmt.Errorf("expected the %s to look up", kind)}
		}
		q.Text = strings.Join(fs.Args(), " ")
	case auskunft.QueryPerson:
		if fs.NArg() > 0 {
			return &exitError{2, fmt.Errorf("person queries take --surname, --given and --dob")}
		}
		q.Surname, q.Given, q.DOB, q.Limit = *surname, *given, *dob, *limit
	default:
		return &exitError{2, fmt.Errorf("unknown query %q: plate, vin, document or person", kind)}
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	var res auskunft.Result
	if err := m.API.AuskunftQuery(ctx, q, &res); err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(res)
	}
	printResult(env.Stdout, &res)
	return nil
}

// printResult shows a result the way an officer needs it: hit or no hit,
// officer-safety warnings, then what to do, then the records.
func printResult(w io.Writer, r *auskunft.Result) {
	if r.Hit {
		fmt.Fprintln(w, "▶ TREFFER / HIT")
	} else {
		fmt.Fprintln(w, "▶ KEIN TREFFER / no hit")
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "⚠ EIGENSICHERUNG / OFFICER SAFETY: %s — %s\n", x.Label, x.Person)
	}
	if len(r.Alerts) > 0 {
		fmt.Fprintln(w, "Ausschreibungen / alerts:")
		for _, a := range r.Alerts {
			state := ""
			if !a.Active {
				state = " (nicht aktiv / inactive)"
			}
			fmt.Fprintf(w, "  • %s: %s%s\n    Maßnahme / action: %s (%s)\n", a.CategoryLabel, a.SubjectLabel, state, a.Action, a.Authority)
		}
	}
	for _, p := range r.Persons {
		score := ""
		if p.Score > 0 {
			score = fmt.Sprintf("  [%.0f %%]", 100*p.Score)
		}
		fmt.Fprintf(w, "Person: %s, %s  *%s  %s%s\n", p.Surname, p.GivenNames, p.DOB, p.Nationality, score)
	}
	for _, v := range r.Vehicles {
		fmt.Fprintf(w, "Fahrzeug / vehicle: %s  %s  %s %s %s\n", v.Plate, v.VIN, v.Make, v.Model, v.Colour)
	}
	for _, d := range r.Documents {
		exp := ""
		if d.Expired {
			exp = " (abgelaufen / expired)"
		}
		fmt.Fprintf(w, "Dokument / document: %s %s %s gültig bis / valid until %s%s\n", d.Type, d.Number, d.IssuingState, d.Expiry, exp)
	}
	if len(r.Candidates) > 0 {
		fmt.Fprintln(w, "Ähnliche Kennzeichen / similar plates:")
		for _, c := range r.Candidates {
			mark := ""
			if c.Alert {
				mark = "  ← Ausschreibung / alert"
			}
			fmt.Fprintf(w, "  %s (%s)%s\n", c.Plate, c.Reason, mark)
		}
	}
	if r.Partial {
		fmt.Fprintf(w, "UNVOLLSTÄNDIG / PARTIAL: no answer in time from %s\n", strings.Join(r.MissingSources, ", "))
	}
	fmt.Fprintf(w, "Protokolliert / logged (audit #%d)\n", r.AuditSeq)
}

func cmdAuskunft(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || (args[0] != "import" && args[0] != "generate") {
		fmt.Fprintln(env.Stderr, `Usage:
  wache auskunft import FILE.jsonl|-     load records (admins; JSON Lines: person, vehicle, document, alert, delete)
  wache auskunft generate --persons N --seed S [--out FILE]   write a synthetic data set (no server needed)`)
		return &exitError{2, nil}
	}
	if args[0] == "generate" {
		return cmdGenerate(ctx, args[1:], env)
	}
	fs, c := newFlags("auskunft import", "auskunft import FILE.jsonl|-", env)
	if err := parseArgs(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &exitError{2, fmt.Errorf("expected one FILE (or - for standard input)")}
	}
	var r io.Reader = env.Stdin
	size := int64(-1)
	name := "stdin"
	if p := fs.Arg(0); p != "-" {
		f, err := os.Open(p)
		if err != nil {
			return &exitError{2, err}
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		r, name = f, p
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	if !c.json {
		prog, done := progressBar(env.Stderr, "Import")
		defer done()
		r = &countingReader{r: r, total: size, progress: prog}
	}
	var stats auskunft.ImportStats
	if err := m.API.AuskunftImport(ctx, r, size, name, &stats); err != nil {
		return c.wiped(ctx, err)
	}
	if c.json {
		return c.printJSON(stats)
	}
	rate := float64(stats.Lines) / max(stats.Elapsed.Seconds(), 0.001)
	fmt.Fprintf(env.Stdout, "\n%d lines in %s (%.0f/s): %d persons, %d vehicles, %d documents, %d alerts, %d deletes; %d refused\n",
		stats.Lines, stats.Elapsed.Round(time.Millisecond), rate, stats.Persons, stats.Vehicles, stats.Documents, stats.Alerts, stats.Deletes, stats.Errors)
	for _, le := range stats.LineErrors {
		fmt.Fprintf(env.Stdout, "  line %d: %s\n", le.Line, le.Message)
	}
	if stats.Errors > int64(len(stats.LineErrors)) {
		fmt.Fprintf(env.Stdout, "  … and %d more refused lines\n", stats.Errors-int64(len(stats.LineErrors)))
	}
	return nil
}

// countingReader reports bytes read for a progress bar.
type countingReader struct {
	r        io.Reader
	n, total int64
	progress func(done, total int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	total := c.total
	if total < 0 {
		total = c.n
	}
	c.progress(c.n, total)
	return n, err
}

func cmdGenerate(_ context.Context, args []string, env *Env) error {
	fs, _ := newFlags("auskunft generate", "auskunft generate --persons N --seed S [--out FILE]", env)
	persons := fs.Int("persons", 1000, "number of persons (vehicles, documents and alerts scale with it)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same data")
	out := fs.String("out", "-", "output file (- for standard output)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *persons <= 0 || *persons > 100_000_000 {
		return &exitError{2, fmt.Errorf("--persons must be 1 to 100,000,000")}
	}
	var w io.Writer = env.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return &exitError{2, err}
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	st, err := synth.Generate(bw, synth.Options{Persons: *persons, Seed: *seed})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "generated %d persons (%d with warnings), %d vehicles, %d documents, %d alerts\n", st.Persons, st.Warned, st.Vehicles, st.Documents, st.Alerts)
	return nil
}

func cmdAudit(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export" && args[0] != "flags") {
		fmt.Fprintln(env.Stderr, `Usage (auditors only):
  wache audit verify                         prove the hash chain intact, or name the first broken entry
  wache audit export --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE]   entries as JSON Lines with hashes
  wache audit flags [--from …] [--to …]      unusual query volumes`)
		return &exitError{2, nil}
	}
	sub := args[0]
	fs, c := newFlags("audit "+sub, "audit "+sub, env)
	from := fs.String("from", "", "first day (YYYY-MM-DD)")
	to := fs.String("to", "", "last day (YYYY-MM-DD)")
	out := fs.String("out", "-", "export file (- for standard output)")
	if err := parseArgs(fs, args[1:]); err != nil {
		return err
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	switch sub {
	case "verify":
		var rep audit.Report
		if err := m.API.AuditVerify(ctx, &rep); err != nil {
			return c.wiped(ctx, err)
		}
		if c.json {
			if err := c.printJSON(rep); err != nil {
				return err
			}
		} else if rep.OK {
			fmt.Fprintf(env.Stdout, "Prüfkette intakt / chain intact: %d entries (#%d–#%d), head %s\n", rep.Entries, rep.FirstSeq, rep.LastSeq, rep.HeadHash)
		} else {
			fmt.Fprintf(env.Stdout, "PRÜFKETTE GEBROCHEN / CHAIN BROKEN at entry #%d: %s\n", rep.Broken.Seq, rep.Broken.Reason)
		}
		if !rep.OK {
			return &exitError{1, nil}
		}
		return nil
	case "export":
		var w io.Writer = env.Stdout
		if *out != "-" {
			f, err := os.Create(*out)
			if err != nil {
				return &exitError{2, err}
			}
			defer f.Close()
			w = f
		}
		return c.wiped(ctx, m.API.AuditExport(ctx, *from, *to, w))
	default:
		var res struct {
			Flags []audit.Entry `json:"flags"`
		}
		if err := m.API.AuditFlags(ctx, *from, *to, &res); err != nil {
			return c.wiped(ctx, err)
		}
		if c.json {
			return c.printJSON(res.Flags)
		}
		for _, e := range res.Flags {
			fmt.Fprintf(env.Stdout, "#%d %s user %s: %s\n", e.Seq, e.At.Local().Format("2006-01-02 15:04"), e.Actor, string(e.Criteria))
		}
		if len(res.Flags) == 0 {
			fmt.Fprintln(env.Stderr, "Keine Auffälligkeiten / no flags.")
		}
		return nil
	}
}
