package mls

// RFC 9420 test vectors (https://github.com/mlswg/mls-implementations).
//
// The passive-client files run through Wache's own Engine and Group
// interface (LoadEngine with the vector's private keys, JoinFromWelcome,
// Process, EpochAuthenticator), so a replacement engine is checked by the
// same code. The other files check primitives the interface does not expose;
// they go through the adapter in vectors_mlsgo_test.go, which a new engine
// must reimplement.
//
// Vectors for cipher suites without Ed25519 signatures are skipped: Wache
// identities are Ed25519 keys.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// vectorDir finds the test vectors: $WACHE_MLS_VECTORS or the shared folder
// next to the repository.
func vectorDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WACHE_MLS_VECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "mls-test-vectors")
	}
	if _, err := os.Stat(filepath.Join(dir, "tree-math.json")); err != nil {
		t.Skipf("RFC 9420 test vectors not found in %s (set WACHE_MLS_VECTORS): %v", dir, err)
	}
	return dir
}

func loadVectors(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir(t), name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
}

// hexBytes decodes the vectors' hex strings.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// vectorReport collects per-file outcomes for the summary at the end.
type vectorReport struct {
	mu    sync.Mutex
	files map[string]*fileReport
}

type fileReport struct {
	pass, fail int
	skipped    map[string]int // reason -> count
}

var report = &vectorReport{files: map[string]*fileReport{}}

func (r *vectorReport) file(name string) *fileReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[name]
	if f == nil {
		f = &fileReport{skipped: map[string]int{}}
		r.files[name] = f
	}
	return f
}

func (r *vectorReport) pass(name string) {
	f := r.file(name)
	r.mu.Lock()
	f.pass++
	r.mu.Unlock()
}

func (r *vectorReport) fail(name string) {
	f := r.file(name)
	r.mu.Lock()
	f.fail++
	r.mu.Unlock()
}

func (r *vectorReport) skip(name, reason string) {
	f := r.file(name)
	r.mu.Lock()
	f.skipped[reason]++
	r.mu.Unlock()
}

// runCase runs one vector case as a subtest and records the outcome. A
// case returning errVectorUnsupported is counted as skipped with its reason.
func runCase(t *testing.T, file string, name string, fn func(t *testing.T) error) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		err := fn(t)
		var u *unsupportedError
		switch {
		case errors.As(err, &u):
			report.skip(file, u.reason)
			t.Skip(u.reason)
		case err != nil || t.Failed():
			report.fail(file)
			if err != nil {
				t.Error(err)
			}
		default:
			report.pass(file)
		}
	})
}

type unsupportedError struct{ reason string }

func (u *unsupportedError) Error() string { return u.reason }

func unsupported(reason string) error { return &unsupportedError{reason} }

// TestMain prints the vector summary in verbose runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if testing.Verbose() {
		report.print(os.Stdout)
	}
	os.Exit(code)
}

func (r *vectorReport) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) == 0 {
		return
	}
	names := make([]string, 0, len(r.files))
	for n := range r.files {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "RFC 9420 test vectors:")
	for _, n := range names {
		f := r.files[n]
		var skips []string
		for reason, c := range f.skipped {
			skips = append(skips, fmt.Sprintf("%d %s", c, reason))
		}
		sort.Strings(skips)
		fmt.Fprintf(w, "  %-36s pass %4d  fail %3d  skipped: %s\n", n, f.pass, f.fail, strings.Join(skips, "; "))
	}
}

// --- passive client: through the Engine and Group interface ---

type passiveClientVector struct {
	CipherSuite  uint16 `json:"cipher_suite"`
	ExternalPSKs []struct {
		PSKID hexBytes `json:"psk_id"`
		PSK   hexBytes `json:"psk"`
	} `json:"external_psks"`
	KeyPackage                hexBytes `json:"key_package"`
	SignaturePriv             hexBytes `json:"signature_priv"`
	EncryptionPriv            hexBytes `json:"encryption_priv"`
	InitPriv                  hexBytes `json:"init_priv"`
	Welcome                   hexBytes `json:"welcome"`
	RatchetTree               hexBytes `json:"ratchet_tree"`
	InitialEpochAuthenticator hexBytes `json:"initial_epoch_authenticator"`
	Epochs                    []struct {
		Proposals          []hexBytes `json:"proposals"`
		Commit             hexBytes   `json:"commit"`
		EpochAuthenticator hexBytes   `json:"epoch_authenticator"`
	} `json:"epochs"`
}

func TestVectorsPassiveClientWelcome(t *testing.T) {
	runPassiveClient(t, "passive-client-welcome.json")
}

func TestVectorsPassiveClientHandlingCommit(t *testing.T) {
	runPassiveClient(t, "passive-client-handling-commit.json")
}

func TestVectorsPassiveClientRandom(t *testing.T) {
	runPassiveClient(t, "passive-client-random.json")
}

func runPassiveClient(t *testing.T, file string) {
	var vs []passiveClientVector
	loadVectors(t, file, &vs)
	for i, v := range vs {
		runCase(t, file, fmt.Sprintf("%d-cs%d", i, v.CipherSuite), func(t *testing.T) error {
			return passiveClient(t, &v)
		})
	}
}

func passiveClient(t *testing.T, v *passiveClientVector) error {
	if !ed25519Suite(v.CipherSuite) {
		return unsupported("cipher suite without Ed25519")
	}
	if v.RatchetTree != nil {
		return unsupported("ratchet tree out of band (engine requires the ratchet_tree extension)")
	}
	if len(v.SignaturePriv) != ed25519.SeedSize {
		return fmt.Errorf("signature_priv has %d bytes", len(v.SignaturePriv))
	}
	id := Identity{UserEmail: "vector@mls.example", DeviceID: "passive", SigningKey: ed25519.NewKeyFromSeed(v.SignaturePriv)}
	psks := map[string][]byte{}
	for _, p := range v.ExternalPSKs {
		psks[string(p.PSKID)] = p.PSK
	}
	eng, err := vectorEngine(id, v.KeyPackage, v.InitPriv, v.EncryptionPriv, psks)
	if err != nil {
		return fmt.Errorf("engine from vector keys: %w", err)
	}
	g, err := eng.JoinFromWelcome(v.Welcome)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	if got := g.EpochAuthenticator(); !bytes.Equal(got, v.InitialEpochAuthenticator) {
		return fmt.Errorf("initial epoch authenticator %x, want %x", got, v.InitialEpochAuthenticator)
	}
	for i, e := range v.Epochs {
		for j, p := range e.Proposals {
			res, err := g.Process(p)
			if err != nil {
				return fmt.Errorf("epoch %d proposal %d: %w", i, j, err)
			}
			if res.Kind != KindProposal {
				return fmt.Errorf("epoch %d proposal %d: result %v", i, j, res.Kind)
			}
		}
		res, err := g.Process(e.Commit)
		if err != nil {
			return fmt.Errorf("epoch %d commit: %w", i, err)
		}
		if res.Kind != KindCommit {
			return fmt.Errorf("epoch %d commit: result %v", i, res.Kind)
		}
		if res.SelfRemoved {
			return fmt.Errorf("epoch %d: unexpectedly removed", i)
		}
		if got := g.EpochAuthenticator(); !bytes.Equal(got, e.EpochAuthenticator) {
			return fmt.Errorf("epoch %d: epoch authenticator %x, want %x", i, got, e.EpochAuthenticator)
		}
		// Exercise persistence along the way: the state must round-trip.
		if i%17 == 16 {
			st, err := g.ExportState()
			if err != nil {
				return fmt.Errorf("epoch %d export: %w", i, err)
			}
			if g, err = eng.LoadGroup(st); err != nil {
				return fmt.Errorf("epoch %d load: %w", i, err)
			}
		}
	}
	return nil
}

func ed25519Suite(cs uint16) bool { return cs == 1 || cs == 3 }
