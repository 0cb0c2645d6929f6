package client

import (
	"context"
	"errors"
	"slices"

	"github.com/wache/wache/client/mls"
)

// errNoChange ends a commit attempt that has nothing left to do (another
// member made the change first).
var errNoChange = errors.New("nothing to change")

// ReconcileLimit is the largest conversation Reconcile checks device by
// device; larger ones are reconciled by their admins' clients.
const ReconcileLimit = 200

// Reconcile brings a conversation's MLS group in line with what the server
// vouches for: leaves of revoked devices and of users who are no longer
// members are removed (remote wipe needs this: a revoked phone must not
// read on), and active devices of members that are not in the group yet (a
// colleague's new phone) are added and sent a Welcome. Any member may do
// this; if several do at once, one commit wins and the others find nothing
// left to change.
func (m *Messenger) Reconcile(ctx context.Context, convID string) (added, removed int, err error) {
	conv, err := m.API.Conversation(ctx, convID)
	if err != nil {
		return 0, 0, err
	}
	if len(conv.Members) > ReconcileLimit {
		return 0, 0, nil
	}
	active := map[string]string{} // device id → email
	for _, mem := range conv.Members {
		devs, err := m.API.UserDevices(ctx, mem.UserID)
		if err != nil {
			return 0, 0, err
		}
		for _, d := range devs {
			if d.RevokedAt == nil {
				active[d.DeviceID] = d.Email
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.groupLocked(ctx, convID)
	if err != nil || g == nil {
		return 0, 0, err
	}
	if err := m.catchUpLocked(ctx, convID); err != nil {
		return 0, 0, err
	}
	stale := func() []string {
		var ids []string
		for _, mem := range g.Members() {
			_, dev, err := mls.ParseCredentialIdentity(mem.Identity)
			if err == nil && dev != m.prof.DeviceID && active[dev] == "" {
				ids = append(ids, mem.Identity)
			}
		}
		return ids
	}
	if ids := stale(); len(ids) > 0 {
		_, err := m.commitLocked(ctx, convID, g, func() ([]byte, []byte, error) {
			ids := stale()
			if len(ids) == 0 {
				return nil, nil, errNoChange
			}
			removed = len(ids)
			c, err := g.RemoveMembers(ids)
			return c, nil, err
		})
		if err != nil && !errors.Is(err, errNoChange) {
			return 0, 0, err
		}
	}
	inGroup := func() map[string]bool {
		in := map[string]bool{}
		for _, mem := range g.Members() {
			if _, dev, err := mls.ParseCredentialIdentity(mem.Identity); err == nil {
				in[dev] = true
			}
		}
		return in
	}
	var missing []string
	in := inGroup()
	for dev := range active {
		if !in[dev] && dev != m.prof.DeviceID {
			missing = append(missing, dev)
		}
	}
	if len(missing) == 0 {
		return 0, removed, nil
	}
	slices.Sort(missing)
	claim, err := m.API.ClaimDeviceKeyPackages(ctx, missing)
	if err != nil {
		return 0, removed, err
	}
	var devices []string
	welcome, err := m.commitLocked(ctx, convID, g, func() ([]byte, []byte, error) {
		in := inGroup()
		var kps [][]byte
		devices = devices[:0]
		for _, kp := range claim.KeyPackages {
			if !in[kp.DeviceID] {
				kps = append(kps, kp.KeyPackage)
				devices = append(devices, kp.DeviceID)
			}
		}
		if len(kps) == 0 {
			return nil, nil, errNoChange
		}
		return g.AddMembers(kps)
	})
	if errors.Is(err, errNoChange) {
		return 0, removed, nil
	}
	if err != nil {
		return 0, removed, err
	}
	if err := m.postWelcome(ctx, convID, devices, welcome); err != nil {
		return 0, removed, err
	}
	return len(devices), removed, nil
}

// ReconcileAll reconciles every conversation this device is in.
func (m *Messenger) ReconcileAll(ctx context.Context) error {
	convs, err := m.API.Conversations(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range convs {
		if c.MemberCount > ReconcileLimit {
			continue
		}
		if g, err := m.Group(ctx, c.ID); err != nil || g == nil {
			continue
		}
		if _, _, err := m.Reconcile(ctx, c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
