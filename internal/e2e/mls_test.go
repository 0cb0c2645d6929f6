package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/client/attach"
	"github.com/wache/wache/internal/harness"
)

// device is one logged-in device running the client core.
type device struct {
	name string
	m    *client.Messenger
	mu   sync.Mutex
	got  []client.Message
}

func (d *device) texts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, m := range d.got {
		if m.Undecryptable != "" {
			out = append(out, "UNDECRYPTABLE")
			continue
		}
		out = append(out, m.Payload.Text)
	}
	return out
}

func newDevice(t *testing.T, n *harness.Node, email string) *device {
	t.Helper()
	_, p := n.Login(t, email)
	st := &client.MemState{}
	ctx := context.Background()
	if err := client.SaveProfile(ctx, st, p); err != nil {
		t.Fatal(err)
	}
	m, err := client.OpenMessenger(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureKeyPackages(ctx, 5, 10); err != nil {
		t.Fatal(err)
	}
	d := &device{name: email, m: m}
	m.OnMessage = func(msg client.Message) {
		d.mu.Lock()
		d.got = append(d.got, msg)
		d.mu.Unlock()
	}
	return d
}

func (d *device) listen(t *testing.T, ctx context.Context) {
	synced := make(chan struct{})
	var once sync.Once
	go d.m.Listen(ctx, client.ListenHandler{Synced: func() { once.Do(func() { close(synced) }) }})
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: listen did not sync", d.name)
	}
}

func text(s string) client.Payload { return client.Payload{V: 1, Type: client.TypeText, Text: s} }

// TestEncryptedGroup: three users with four devices in one MLS group; text
// and a location decrypt on every device; a removed member's devices cannot
// read what follows; concurrent commits converge.
func TestEncryptedGroup(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	annaPhone := newDevice(t, n, "anna.schmidt@"+harness.Domain)
	annaLaptop := newDevice(t, n, "anna.schmidt@"+harness.Domain)
	ben := newDevice(t, n, "ben.mueller@"+harness.Domain)
	clara := newDevice(t, n, "clara.wagner@"+harness.Domain)
	all := []*device{annaPhone, annaLaptop, ben, clara}
	for _, d := range all[1:] {
		d.listen(t, ctx)
	}

	conv, err := annaPhone.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "Einsatz Nord",
		Members: []string{"ben.mueller@" + harness.Domain, "clara.wagner@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := annaPhone.m.Group(ctx, conv.ID)
	if len(g.Members()) != 4 {
		t.Fatalf("group has %d leaves, want 4 (anna's two devices, ben, clara)", len(g.Members()))
	}
	annaPhone.listen(t, ctx)
	if _, err := annaPhone.m.Send(ctx, conv.ID, text("Lage ruhig, Streife 12 übernimmt")); err != nil {
		t.Fatal(err)
	}
	loc := client.Payload{V: 1, Type: client.TypeLocation, Location: &client.Location{Lat: 51.2277, Lon: 6.7735, Accuracy: 8, Time: time.Now().UTC()}}
	if _, err := ben.m.Send(ctx, conv.ID, loc); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*device{annaLaptop, clara} {
		waitFor(t, d.name+" to decrypt both", 20*time.Second, func() bool { return len(d.texts()) >= 2 })
		d.mu.Lock()
		first, second := d.got[0], d.got[1]
		d.mu.Unlock()
		if first.Payload.Text != "Lage ruhig, Streife 12 übernimmt" || first.SenderEmail != "anna.schmidt@"+harness.Domain {
			t.Fatalf("%s got %+v", d.name, first)
		}
		if second.Payload.Type != client.TypeLocation || second.Payload.Location.Lat != 51.2277 {
			t.Fatalf("%s got location %+v", d.name, second.Payload)
		}
	}

	// A 20 MB file: encrypted on the device, uploaded resumably, the key
	// inside the MLS message; every device downloads and verifies it.
	big := make([]byte, 20<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	if _, _, err := annaPhone.m.SendAttachment(ctx, conv.ID, bytes.NewReader(big), int64(len(big)),
		attach.UploadOptions{Name: "Lagebild.bin", MIME: "application/octet-stream"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*device{annaLaptop, ben, clara} {
		var msg client.Message
		waitFor(t, d.name+" to receive the file", 20*time.Second, func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, m := range d.got {
				if m.Payload.Type == client.TypeAttachment {
					msg = m
					return true
				}
			}
			return false
		})
		if msg.Payload.Type != client.TypeAttachment || msg.Payload.Attachment.Size != int64(len(big)) {
			t.Fatalf("%s got %+v", d.name, msg.Payload)
		}
		var out bytes.Buffer
		if err := d.m.FetchAttachment(ctx, msg.Payload.Attachment, &out, nil); err != nil {
			t.Fatalf("%s fetch: %v", d.name, err)
		}
		if !bytes.Equal(out.Bytes(), big) {
			t.Fatalf("%s: the file differs", d.name)
		}
	}

	// Two members change the group at once: one commit wins, the other
	// catches up and retries; all end in the same epoch.
	dennis := newDevice(t, n, "deniz.yilmaz@"+harness.Domain)
	dennis.listen(t, ctx)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = annaPhone.m.AddMember(ctx, conv.ID, "deniz.yilmaz@"+harness.Domain, "")
	}()
	go func() {
		defer wg.Done()
		errs[1] = annaLaptop.m.RemoveMember(ctx, conv.ID, "clara.wagner@"+harness.Domain)
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := annaPhone.m.Send(ctx, conv.ID, text("nach der Änderung")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*device{annaLaptop, ben, dennis} {
		waitFor(t, d.name+" to read after the change", 20*time.Second, func() bool {
			ts := d.texts()
			return len(ts) > 0 && ts[len(ts)-1] == "nach der Änderung"
		})
	}
	var epochs []uint64
	var auths []string
	for _, d := range []*device{annaPhone, annaLaptop, ben, dennis} {
		g, _ := d.m.Group(ctx, conv.ID)
		epochs = append(epochs, g.Epoch())
		auths = append(auths, fmt.Sprintf("%x", g.EpochAuthenticator()))
		if len(g.Members()) != 4 {
			t.Errorf("%s sees %d members, want 4", d.name, len(g.Members()))
		}
	}
	for i := range epochs {
		if epochs[i] != epochs[0] || auths[i] != auths[0] {
			t.Fatalf("devices disagree on the group state: epochs %v", epochs)
		}
	}
	// Clara was removed: she reads nothing that followed.
	time.Sleep(300 * time.Millisecond)
	for _, txt := range clara.texts() {
		if strings.Contains(txt, "nach der Änderung") {
			t.Fatal("a removed member read a later message")
		}
	}
	waitFor(t, "clara to learn of her removal", 10*time.Second, func() bool {
		g, _ := clara.m.Group(ctx, conv.ID)
		return g == nil || !g.Active()
	})
}

// TestDeviceChanges: a colleague's new device is added to the group by a
// member's client; a revoked device is removed from it and cannot read on.
func TestDeviceChanges(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	anna := newDevice(t, n, "anna.schmidt@"+harness.Domain)
	benPhone := newDevice(t, n, "ben.mueller@"+harness.Domain)
	benPhone.listen(t, ctx)
	conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "Streife", Members: []string{"ben.mueller@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	// Ben logs in on a laptop: Anna's client adds it.
	benLaptop := newDevice(t, n, "ben.mueller@"+harness.Domain)
	benLaptop.listen(t, ctx)
	if added, removed, err := anna.m.Reconcile(ctx, conv.ID); err != nil || added != 1 || removed != 0 {
		t.Fatalf("reconcile after new device: +%d -%d %v", added, removed, err)
	}
	if added, _, err := anna.m.Reconcile(ctx, conv.ID); err != nil || added != 0 {
		t.Fatalf("second reconcile changed the group again: +%d %v", added, err)
	}
	if _, err := anna.m.Send(ctx, conv.ID, text("an beide Geräte")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*device{benPhone, benLaptop} {
		waitFor(t, d.name+" to read", 20*time.Second, func() bool {
			ts := d.texts()
			return len(ts) > 0 && ts[len(ts)-1] == "an beide Geräte"
		})
	}
	// Ben's phone is lost: he revokes it from the laptop; Anna's client
	// removes its leaf.
	if err := benLaptop.m.API.RevokeDevice(ctx, benPhone.m.Profile().DeviceID); err != nil {
		t.Fatal(err)
	}
	if added, removed, err := anna.m.Reconcile(ctx, conv.ID); err != nil || removed != 1 || added != 0 {
		t.Fatalf("reconcile after revocation: +%d -%d %v", added, removed, err)
	}
	g, _ := anna.m.Group(ctx, conv.ID)
	if len(g.Members()) != 2 {
		t.Fatalf("group has %d leaves after the revocation, want 2", len(g.Members()))
	}
	if _, err := anna.m.Send(ctx, conv.ID, text("nur noch Laptop")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "laptop to read", 20*time.Second, func() bool {
		ts := benLaptop.texts()
		return len(ts) > 0 && ts[len(ts)-1] == "nur noch Laptop"
	})
	for _, txt := range benPhone.texts() {
		if txt == "nur noch Laptop" {
			t.Fatal("the revoked phone read a later message")
		}
	}
}
