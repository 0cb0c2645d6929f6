// Command platedistricts writes internal/scan/plate/districts.tsv, the
// German vehicle-registration district codes (Unterscheidungszeichen) the
// plate parser accepts, from a JSON list as compiled from Wikipedia's
// "Liste der Kfz-Kennzeichen in Deutschland" (fields Zeichen,
// Stadt_Landkreis_oder_Erklärung, Bundesland).
//
//	go run ./tools/platedistricts -in ../shared/data/unterscheidungszeichen.json -out internal/scan/plate/districts.tsv
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
)

type entry struct {
	Code      string   `json:"Zeichen"`
	Districts []string `json:"Stadt_Landkreis_oder_Erklärung"`
	State     string   `json:"Bundesland"`
}

func main() {
	in := flag.String("in", "../shared/data/unterscheidungszeichen.json", "source JSON")
	out := flag.String("out", "internal/scan/plate/districts.tsv", "TSV to write")
	flag.Parse()
	b, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var es []entry
	if err := json.Unmarshal(b, &es); err != nil {
		log.Fatal(err)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Code < es[j].Code })
	var sb strings.Builder
	sb.WriteString("# German vehicle-registration district codes (Unterscheidungszeichen).\n")
	sb.WriteString("# Source: Wikipedia, \"Liste der Kfz-Kennzeichen in Deutschland\" (CC BY-SA), as compiled\n")
	sb.WriteString("# in the public repository MarkTiedemann/unterscheidungszeichen; the official lists are\n")
	sb.WriteString("# those of the Kraftfahrt-Bundesamt and the BKG open-data layer kfz250.\n")
	sb.WriteString("# Written by tools/platedistricts. Columns: code, districts (\"; \"-separated), federal state\n")
	sb.WriteString("# (\"bundesweit\" for federal series such as BD, BP, THW, X, Y).\n")
	seen := map[string]bool{}
	for _, e := range es {
		code := strings.TrimSpace(e.Code)
		if code == "" || seen[code] {
			continue
		}
		seen[code] = true
		clean := func(s string) string { return strings.NewReplacer("\t", " ", "\n", " ").Replace(strings.TrimSpace(s)) }
		var ds []string
		for _, d := range e.Districts {
			ds = append(ds, clean(d))
		}
		fmt.Fprintf(&sb, "%s\t%s\t%s\n", code, strings.Join(ds, "; "), clean(e.State))
	}
	if err := os.WriteFile(*out, []byte(sb.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d codes to %s", len(seen), *out)
}
