package auskunft

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func FuzzDecodeLine(f *testing.F) {
	for _, l := range strings.Split(fixture, "\n") {
		f.Add([]byte(l))
	}
	for _, l := range []string{
		`{"kind":"delete","target":"person","id":"P1"}`,
		`{"kind":"person","id":"X","surname":"A","dob":"1964-02-30"}`,
		`{"kind":"person","id":"X","surname":"A","aliases":["B, C", ", ", ","]}`,
		`{"kind":"vehicle","id":"V","plate":"ÖÖÖ-Ä 0","vin":"IIIIIIIIIIIIIIIII"}`,
		`{"kind":"alert"}`, `null`, `[]`, `{"kind":null}`, "\xff", `{"kind":"person","kind":"vehicle"}`,
	} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeLine(b, "2026-06-01")
		if err != nil {
			if o != nil {
				t.Fatal("record and error")
			}
			return
		}
		// A decoded record is valid and survives the key derivation.
		switch o.kind {
		case KindPerson:
			if o.person.Validate("2026-06-01") != nil {
				t.Fatal("invalid person accepted")
			}
			for _, k := range nameKeys(o.person) {
				if k.fold == "" {
					t.Fatal("empty fold key")
				}
			}
			if len(nameKeys(o.person)) == 0 {
				t.Fatalf("person %+v without name keys", o.person)
			}
		case KindVehicle:
			if o.vehicle.Validate() != nil {
				t.Fatal("invalid vehicle accepted")
			}
		case KindDocument, KindAlert, KindDelete:
		default:
			t.Fatalf("kind %q accepted", o.kind)
		}
		if _, err := json.Marshal(o.person); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzReadLine(f *testing.F) {
	f.Add([]byte("a\nbb\r\n\nccc"), uint16(3))
	f.Add([]byte(strings.Repeat("x", 5000)+"\ny"), uint16(16))
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16+int(size)%4096)
		var got []byte
		total := 0
		for {
			line, n, tooLong, err := readLine(br, nil)
			total += n
			if tooLong {
				t.Fatal("short input reported too long")
			}
			got = append(got, line...)
			if err != nil {
				break
			}
		}
		if total != len(data) || !bytes.Equal(got, data) {
			t.Fatalf("lines do not add up to the input: %d of %d bytes", total, len(data))
		}
	})
}
