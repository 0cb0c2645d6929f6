package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wache/wache/internal/auskunft"
	"github.com/wache/wache/internal/scan"
	"github.com/wache/wache/internal/scan/mrz"
)

// cmdScan reads an MRZ or a plate from a photo on this device: the photo
// never leaves it; only a query (with --query) goes to the server.
func cmdScan(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || (args[0] != "mrz" && args[0] != "plate") {
		fmt.Fprintln(env.Stderr, `Usage:
  wache scan mrz PHOTO [--query --purpose "…"] [--json]     ID card or passport (ICAO 9303 machine-readable zone)
  wache scan plate PHOTO [--query --purpose "…"] [--json]   German licence plate
The photo is read on this device, in memory, and never stored or uploaded.`)
		return &exitError{2, nil}
	}
	kind := args[0]
	fs, c := newFlags("scan "+kind, "scan "+kind+" PHOTO", env)
	query := fs.Bool("query", false, "run the matching Auskunft query right away")
	purpose := fs.String("purpose", env.Getenv("WACHE_PURPOSE"), "why you query (with --query)")
	if err := parseArgs(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &exitError{2, fmt.Errorf("expected one PHOTO (- for standard input)")}
	}
	var r io.Reader = env.Stdin
	if p := fs.Arg(0); p != "-" {
		f, err := os.Open(p)
		if err != nil {
			return &exitError{2, err}
		}
		defer f.Close()
		r = f
	}
	var out any
	var queries []auskunft.Query
	switch kind {
	case "mrz":
		res, err := scan.ReadMRZ(ctx, r, scan.Limits{})
		if err != nil {
			return err
		}
		out = res
		if !c.json {
			printMRZ(env.Stdout, res)
		}
		if res.DocumentNumber != "" {
			queries = append(queries, auskunft.Query{Kind: auskunft.QueryDocument, Text: res.DocumentNumber})
		}
		if res.Surname != "" {
			queries = append(queries, auskunft.Query{Kind: auskunft.QueryPerson, Surname: res.Surname, Given: res.GivenNames, DOB: res.BirthDate})
		}
	case "plate":
		res, err := scan.ReadPlate(ctx, r, scan.Limits{})
		if err != nil {
			return err
		}
		out = res
		if !c.json {
			fmt.Fprintf(env.Stdout, "Kennzeichen / plate: %s\n", res.Plate)
			if res.Uncertain {
				// Plates have no check digit: only the reader's own doubt flags a misreading.
				fmt.Fprintf(env.Stdout, "UNSICHER / uncertain reading: compare with the vehicle before relying on it\n")
			}
			if len(res.Candidates) > 1 {
				var cs []string
				for _, p := range res.Candidates {
					cs = append(cs, p.Plate)
				}
				fmt.Fprintf(env.Stdout, "Lesarten / readings: %s\n", strings.Join(cs, ", "))
			}
		}
		queries = append(queries, auskunft.Query{Kind: auskunft.QueryPlate, Text: res.Plate})
	}
	if !*query {
		if c.json {
			return c.printJSON(out)
		}
		return nil
	}
	m, err := c.session(ctx)
	if err != nil {
		return err
	}
	results := []auskunft.Result{}
	for _, q := range queries {
		q.Purpose, q.Mode = *purpose, auskunft.ModeWanted
		var res auskunft.Result
		if err := m.API.AuskunftQuery(ctx, q, &res); err != nil {
			return c.wiped(ctx, err)
		}
		if !c.json {
			fmt.Fprintf(env.Stdout, "\nAuskunft %s:\n", q.Kind)
			printResult(env.Stdout, &res)
		}
		results = append(results, res)
	}
	if c.json {
		return c.printJSON(map[string]any{"scan": out, "auskunft": results})
	}
	return nil
}

func printMRZ(w io.Writer, r *mrz.Result) {
	state := "alle Prüfziffern stimmen / all check digits pass"
	if !r.Valid {
		state = "PRÜFZIFFER FALSCH / CHECK DIGIT FAILED — read the document by eye"
	}
	fmt.Fprintf(w, "%s %s (%s), %s\n", r.Format, r.DocumentCode, r.IssuingState, state)
	fmt.Fprintf(w, "Dokumentnummer / number: %s\nName: %s, %s\nGeboren / born: %s  Geschlecht / sex: %s  Staatsangehörigkeit / nationality: %s\nGültig bis / expires: %s\n",
		r.DocumentNumber, r.Surname, r.GivenNames, r.BirthDate, r.Sex, r.Nationality, r.ExpiryDate)
	for _, c := range r.Checks {
		if !c.OK {
			fmt.Fprintf(w, "  ✗ %s\n", c.Field)
		}
	}
}
