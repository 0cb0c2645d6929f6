package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

// AddKeyPackages stocks a device's KeyPackages; the stock is bounded so a
// device cannot fill the database.
func (s *Store) AddKeyPackages(ctx context.Context, deviceID string, kps []store.KeyPackage) error {
	if err := checkID("device id", deviceID); err != nil {
		return err
	}
	for _, kp := range kps {
		if err := checkID("key package id", kp.ID); err != nil {
			return err
		}
		if len(kp.Data) == 0 || len(kp.Data) > 16<<10 {
			return invalid("a KeyPackage must be 1 byte to 16 KiB")
		}
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM key_packages WHERE device_id = ?`, deviceID).Scan(&n); err != nil {
			return fmt.Errorf("count key packages: %w", err)
		}
		if n+len(kps) > store.MaxKeyPackages {
			return wache.Errorf(wache.ETOOLARGE, "a device keeps at most %d KeyPackages (has %d)", store.MaxKeyPackages, n)
		}
		now := time.Now().UnixMilli()
		for _, kp := range kps {
			if _, err := tx.Exec(ctx, `INSERT INTO key_packages (id, device_id, data, created_at) VALUES (?, ?, ?, ?)`,
				kp.ID, deviceID, kp.Data, now); err != nil {
				if s.db.Dialect.IsUniqueViolation(err) {
					return wache.Errorf(wache.ECONFLICT, "KeyPackage %s exists", kp.ID)
				}
				return s.wrap(err, "insert key package", "device")
			}
		}
		return nil
	})
}

// KeyPackageCount returns how many KeyPackages a device has in stock.
func (s *Store) KeyPackageCount(ctx context.Context, deviceID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM key_packages WHERE device_id = ?`, deviceID).Scan(&n)
	return n, s.wrap(err, "count key packages", "")
}

// ClaimKeyPackages hands out one KeyPackage (the oldest) of every active
// device of the users and deletes it, so no KeyPackage is used twice.
func (s *Store) ClaimKeyPackages(ctx context.Context, userIDs []string) ([]store.ClaimedKeyPackage, []string, error) {
	return s.claim(ctx, "user_id", userIDs)
}

// ClaimDeviceKeyPackages does the same for chosen devices.
func (s *Store) ClaimDeviceKeyPackages(ctx context.Context, deviceIDs []string) ([]store.ClaimedKeyPackage, []string, error) {
	return s.claim(ctx, "id", deviceIDs)
}

func (s *Store) claim(ctx context.Context, column string, ids []string) ([]store.ClaimedKeyPackage, []string, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	if len(ids) > MaxListLimit {
		return nil, nil, invalid("at most %d per claim", MaxListLimit)
	}
	var claimed []store.ClaimedKeyPackage
	var missing []string
	err := s.db.InTx(ctx, func(tx *Tx) error {
		claimed, missing = nil, nil
		args := make([]any, len(ids))
		for i, u := range ids {
			args[i] = u
		}
		rows, err := tx.Query(ctx, `SELECT id, user_id, signing_key FROM devices
			WHERE revoked_at IS NULL AND `+column+` IN (`+strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")+`)
			ORDER BY user_id, id`, args...)
		if err != nil {
			return fmt.Errorf("query devices: %w", err)
		}
		type dev struct {
			id, user string
			key      []byte
		}
		var devs []dev
		for rows.Next() {
			var d dev
			if err := rows.Scan(&d.id, &d.user, &d.key); err != nil {
				rows.Close()
				return fmt.Errorf("scan device: %w", err)
			}
			devs = append(devs, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("query devices: %w", err)
		}
		for _, d := range devs {
			q := `SELECT id, data FROM key_packages WHERE device_id = ? ORDER BY created_at, id LIMIT 1`
			if s.db.Dialect.Postgres() {
				q += ` FOR UPDATE SKIP LOCKED` // concurrent claimers take different ones
			}
			var id string
			var data []byte
			ok, err := scanOptional(tx.QueryRow(ctx, q, d.id), &id, &data)
			if err != nil {
				return fmt.Errorf("claim key package: %w", err)
			}
			if !ok {
				missing = append(missing, d.id)
				continue
			}
			res, err := tx.Exec(ctx, `DELETE FROM key_packages WHERE id = ?`, id)
			if err != nil {
				return fmt.Errorf("claim key package: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				missing = append(missing, d.id) // taken concurrently
				continue
			}
			claimed = append(claimed, store.ClaimedKeyPackage{UserID: d.user, DeviceID: d.id, SigningKey: d.key, Data: data})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return claimed, missing, nil
}

// PutDeviceMessages stores Welcomes and other single-device items.
func (s *Store) PutDeviceMessages(ctx context.Context, msgs []wache.DeviceMessage) error {
	for _, m := range msgs {
		for _, f := range []struct{ n, v string }{{"message id", m.ID}, {"device id", m.DeviceID}, {"conversation id", m.ConvID}, {"sender device", m.SenderDevice}, {"kind", m.Kind}} {
			if err := checkID(f.n, f.v); err != nil {
				return err
			}
		}
		if len(m.Payload) == 0 || len(m.Payload) > 4*wache.MaxPayload {
			return invalid("a device message must be 1 byte to %d bytes", 4*wache.MaxPayload)
		}
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		now := time.Now().UnixMilli()
		for _, m := range msgs {
			ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM devices d, conversations c WHERE d.id = ? AND c.id = ?`, m.DeviceID, m.ConvID))
			if err != nil {
				return fmt.Errorf("check device message target: %w", err)
			}
			if !ok {
				return notFound("device or conversation")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO device_messages (id, device_id, conv_id, sender_device, kind, payload, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, m.DeviceID, m.ConvID, m.SenderDevice, m.Kind, m.Payload, now); err != nil {
				return s.wrap(err, "insert device message", "device or conversation")
			}
		}
		return nil
	})
}

// DeviceMessages returns a device's pending items, oldest first.
func (s *Store) DeviceMessages(ctx context.Context, deviceID string, limit int) ([]wache.DeviceMessage, error) {
	rows, err := s.db.Query(ctx, `SELECT id, device_id, conv_id, sender_device, kind, payload, created_at
		FROM device_messages WHERE device_id = ? ORDER BY id LIMIT ?`, deviceID, clampLimit(limit))
	if err != nil {
		return nil, s.wrap(err, "query device messages", "")
	}
	defer rows.Close()
	var out []wache.DeviceMessage
	for rows.Next() {
		var m wache.DeviceMessage
		var at int64
		if err := rows.Scan(&m.ID, &m.DeviceID, &m.ConvID, &m.SenderDevice, &m.Kind, &m.Payload, &at); err != nil {
			return nil, s.wrap(err, "scan device message", "")
		}
		m.CreatedAt = fromMS(at)
		out = append(out, m)
	}
	return out, s.wrap(rows.Err(), "query device messages", "")
}

// DeleteDeviceMessage removes an acknowledged item of the device.
func (s *Store) DeleteDeviceMessage(ctx context.Context, deviceID, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM device_messages WHERE device_id = ? AND id = ?`, deviceID, id)
	return s.affected(res, err, "delete device message", "device message")
}

// scanOptional scans a row that may not exist.
func scanOptional(row *sql.Row, dest ...any) (bool, error) {
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CountAppEnvelopes counts application envelopes after a position, up to
// limit, so that a long backlog costs a bounded scan.
func (s *Store) CountAppEnvelopes(ctx context.Context, convID string, afterSeq int64, limit int) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM envelopes WHERE conv_id = ? AND seq > ? AND kind = 'app' LIMIT ?) x`,
		convID, afterSeq, max(limit, 1)).Scan(&n)
	return n, s.wrap(err, "count envelopes", "")
}
