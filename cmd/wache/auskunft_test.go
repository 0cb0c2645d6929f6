package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stolenPlate finds, in a generated data set, the plate of a vehicle with
// an active alert.
func stolenPlate(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plates := map[string]string{}
	var alerted []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ Kind, ID, Plate, Subject, SubjectKind, ValidUntil string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		switch r.Kind {
		case "vehicle":
			plates[r.ID] = r.Plate
		case "alert":
			var a struct {
				SubjectKind string `json:"subject_kind"`
				ValidUntil  string `json:"valid_until"`
			}
			json.Unmarshal(sc.Bytes(), &a)
			if a.SubjectKind == "vehicle" && (a.ValidUntil == "" || a.ValidUntil > "2027") {
				alerted = append(alerted, r.Subject)
			}
		}
	}
	for _, id := range alerted {
		if p := plates[id]; p != "" {
			return p
		}
	}
	t.Fatal("no vehicle with an active alert in the generated data")
	return ""
}

func TestCLIAuskunft(t *testing.T) {
	url, data := startServe(t)
	dir := t.TempDir()
	admin := &cli{t: t, env: map[string]string{"WACHE_SERVER": url, "WACHE_HOME": filepath.Join(dir, "admin"), "WACHE_PASSPHRASE": "admin-pass"}}
	officer := &cli{t: t, env: map[string]string{"WACHE_SERVER": url, "WACHE_HOME": filepath.Join(dir, "officer"), "WACHE_PASSPHRASE": "officer-pass"}}
	auditor := &cli{t: t, env: map[string]string{"WACHE_SERVER": url, "WACHE_HOME": filepath.Join(dir, "dsb"), "WACHE_PASSPHRASE": "dsb-pass"}}
	login(t, admin, data, "admin@polizei.example")
	login(t, officer, data, "anna.schmidt@polizei.example")
	login(t, auditor, data, "datenschutz@polizei.example")

	set := filepath.Join(dir, "data.jsonl")
	admin.ok("auskunft", "generate", "--persons", "1500", "--seed", "7", "--out", set)
	// A bad line is reported with its number and skipped.
	f, _ := os.OpenFile(set, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"person","id":"X1","surname":"Kaputt","dob":"1964-02-30"}` + "\n")
	f.Close()
	if code, _, errs := officer.run("auskunft", "import", set); code != 3 || !strings.Contains(errs, "only admins") {
		t.Fatalf("officer import: exit %d %q", code, errs)
	}
	out := admin.ok("auskunft", "import", set)
	if !strings.Contains(out, "1 refused") || !strings.Contains(out, "1964-02-30") {
		t.Fatalf("import summary:\n%s", out)
	}

	plate := stolenPlate(t, set)
	messy := strings.ToLower(strings.NewReplacer("-", " ", " ", "").Replace(plate)) // as typed in a hurry
	out = officer.ok("query", "plate", messy, "--purpose", "Verkehrskontrolle B 96, Fahrer ohne Papiere")
	if !strings.HasPrefix(out, "▶ TREFFER") || !strings.Contains(out, "Maßnahme") {
		t.Fatalf("query of an alerted plate %q:\n%s", messy, out)
	}
	var res struct {
		Hit      bool
		AuditSeq int64 `json:"audit_seq"`
	}
	if err := json.Unmarshal([]byte(officer.ok("query", "plate", plate, "--purpose", "Verkehrskontrolle B 96, Fahrer ohne Papiere", "--json")), &res); err != nil || !res.Hit || res.AuditSeq == 0 {
		t.Fatalf("json query: %+v %v", res, err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"query", "plate", plate}, 2, "purpose is required"},
		{[]string{"query", "plate", plate, "--purpose", "dienstlich"}, 2, "purpose"},
		{[]string{"query", "plate", plate, "--purpose", "Verkehrskontrolle B 96", "--full"}, 3, ""},
		{[]string{"query", "person", "--purpose", "Personenkontrolle Hauptbahnhof"}, 2, "surname"},
		{[]string{"query", "ship", "X"}, 2, "unknown query"},
		{[]string{"audit", "verify"}, 3, "auditor"},
	} {
		code, _, errs := officer.run(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("wache %s: exit %d %q; want %d, %q", strings.Join(tc.args, " "), code, errs, tc.code, tc.want)
		}
	}
	if out := auditor.ok("audit", "verify"); !strings.Contains(out, "chain intact") {
		t.Fatalf("verify: %s", out)
	}
	exported := auditor.ok("audit", "export", "--from", "2000-01-01")
	if n := strings.Count(exported, `"action":"auskunft.query"`); n < 2 || !strings.Contains(exported, "Verkehrskontrolle B 96") || !strings.Contains(exported, `"hash"`) {
		t.Fatalf("export has %d query entries:\n%.500s", n, exported)
	}
}
