package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/client/attach"
	"github.com/wache/wache/internal/harness"
)

// canaryHits counts the places where any encoding of any canary occurs.
func canaryHits(t *testing.T, name string, data []byte, canaries []string) int {
	hits := 0
	for _, c := range canaries {
		for _, form := range [][]byte{[]byte(c), []byte(base64.StdEncoding.EncodeToString([]byte(c))), []byte(hex.EncodeToString([]byte(c)))} {
			if n := bytes.Count(data, form); n > 0 {
				t.Errorf("canary %q found in %s", c, name)
				hits += n
			}
		}
	}
	return hits
}

// TestNoPlaintextOnServer sends canary texts and locations through the
// client core, then scans the server's whole data directory, its log and
// (on PostgreSQL) a dump of its database: the canaries appear nowhere.
func TestNoPlaintextOnServer(t *testing.T) {
	for _, backend := range []struct {
		name string
		pg   bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(backend.name, func(t *testing.T) {
			var log bytes.Buffer
			n := harness.Start(t, harness.Options{Postgres: backend.pg, Log: &log})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			anna := newDevice(t, n, "anna.schmidt@"+harness.Domain)
			ben := newDevice(t, n, "ben.mueller@"+harness.Domain)
			ben.listen(t, ctx)
			conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "Kanarienvogel",
				Members: []string{"ben.mueller@" + harness.Domain}})
			if err != nil {
				t.Fatal(err)
			}
			canaries := []string{"KANARIE-7d1f0c-Zielperson-Mueller", "Fluchtfahrzeug K-XY 4711 KANARIE"}
			for _, c := range canaries {
				if _, err := anna.m.Send(ctx, conv.ID, text(c)); err != nil {
					t.Fatal(err)
				}
			}
			loc := client.Payload{V: 1, Type: client.TypeLocation, Location: &client.Location{Lat: 50.9375123, Lon: 6.9602789, Time: time.Now().UTC()}}
			if _, err := anna.m.Send(ctx, conv.ID, loc); err != nil {
				t.Fatal(err)
			}
			file := bytes.Repeat([]byte("KANARIE-DATEI Lagebild Personenbeschreibung "), 50_000) // ~2 MB
			if _, _, err := anna.m.SendAttachment(ctx, conv.ID, bytes.NewReader(file), int64(len(file)),
				attach.UploadOptions{Name: "kanarie-lagebild.txt", MIME: "text/plain"}); err != nil {
				t.Fatal(err)
			}
			canaries = append(canaries, "50.9375123", "6.9602789", "KANARIE-DATEI Lagebild", "kanarie-lagebild.txt")
			waitFor(t, "ben to decrypt all", 20*time.Second, func() bool { return len(ben.texts()) >= 4 })
			if got := ben.texts(); got[0] != canaries[0] {
				t.Fatalf("ben decrypted %q", got)
			}

			n.Stop() // flush the database files
			hits := canaryHits(t, "server log", log.Bytes(), canaries)
			err = filepath.WalkDir(n.Data, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				hits += canaryHits(t, path, b, canaries)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if backend.pg {
				u, err := url.Parse(n.DBURL)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				schema := q.Get("search_path")
				q.Del("search_path")
				u.RawQuery = q.Encode()
				if _, err := exec.LookPath("pg_dump"); err != nil {
					t.Skip("pg_dump not installed")
				}
				dump, err := exec.Command("pg_dump", "--data-only", "--schema="+schema, u.String()).CombinedOutput()
				if err != nil {
					t.Fatalf("pg_dump: %v\n%s", err, dump)
				}
				if !bytes.Contains(dump, []byte("envelopes")) {
					t.Fatal("the dump does not contain the envelopes table: wrong schema?")
				}
				hits += canaryHits(t, "database dump", dump, canaries)
			}
			if hits != 0 {
				t.Fatalf("%d plaintext hits on the server", hits)
			}
		})
	}
}
