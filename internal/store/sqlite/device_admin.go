package sqlite

import (
	"context"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// BlockDevice implements pairing.Store.
func (s *Store) BlockDevice(ctx context.Context, b pairing.DeviceBlock) error {
	err := s.inTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO device_blocks (device_id, blocked_at, reason)
			SELECT id, ?, ? FROM devices WHERE id = ?
			ON CONFLICT (device_id) DO UPDATE SET blocked_at = excluded.blocked_at, reason = excluded.reason`,
			nanos(b.At), b.Reason, b.DeviceID)
		return affectedOne(res, err, "device "+b.DeviceID)
	})
	return err
}

// UnblockDevice implements pairing.Store.
func (s *Store) UnblockDevice(ctx context.Context, deviceID string) error {
	res, err := s.exec(ctx, laneNormal, "DELETE FROM device_blocks WHERE device_id = ?", deviceID)
	return affectedOne(res, err, "block of device "+deviceID)
}

// DeviceBlock implements pairing.Store.
func (s *Store) DeviceBlock(ctx context.Context, deviceID string) (pairing.DeviceBlock, error) {
	b := pairing.DeviceBlock{DeviceID: deviceID}
	var at int64
	err := s.rq.QueryRowContext(ctx, "SELECT blocked_at, reason FROM device_blocks WHERE device_id = ?", deviceID).
		Scan(&at, &b.Reason)
	b.At = fromNanos(at)
	return b, notFound(err, "block of device "+deviceID)
}

// DeviceBlocks implements pairing.Store.
func (s *Store) DeviceBlocks(ctx context.Context) ([]pairing.DeviceBlock, error) {
	rows, err := s.rq.QueryContext(ctx, "SELECT device_id, blocked_at, reason FROM device_blocks ORDER BY device_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.DeviceBlock
	for rows.Next() {
		var b pairing.DeviceBlock
		var at int64
		if err := rows.Scan(&b.DeviceID, &at, &b.Reason); err != nil {
			return nil, err
		}
		b.At = fromNanos(at)
		out = append(out, b)
	}
	return out, rows.Err()
}

// deprovisionDeletes remove what a device leaves behind, before the device
// itself.
var deprovisionDeletes = []string{
	"DELETE FROM device_blocks WHERE device_id = ?",
	"DELETE FROM device_psk_rotations WHERE device_id = ?",
	"DELETE FROM device_shares WHERE device_id = ?",
	"DELETE FROM device_transfers WHERE device_id = ?",
	"DELETE FROM registrations WHERE device_id = ?",
	"DELETE FROM downlinks WHERE device_id = ?",
	"DELETE FROM activations WHERE device_id = ?",
	"DELETE FROM batch_devices WHERE device_id = ?",
}

// DeprovisionDevice implements pairing.Store.
func (s *Store) DeprovisionDevice(ctx context.Context, deviceID string, n pairing.Notes) (pairing.Device, error) {
	var d pairing.Device
	err := s.inTx(ctx, func(tx wtx) error {
		var err error
		if d, err = scanDevice(tx.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = ?", deviceID)); err != nil {
			return notFound(err, "device "+deviceID)
		}
		for _, q := range deprovisionDeletes {
			if _, err := tx.ExecContext(ctx, q, deviceID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM devices WHERE id = ?", deviceID)
		if err := affectedOne(res, err, "device "+deviceID); err != nil {
			return err
		}
		return writeNotes(ctx, tx, n.Events)
	})
	return d, err
}

// StartPSKRotation implements pairing.Store.
func (s *Store) StartPSKRotation(ctx context.Context, r pairing.PSKRotation) error {
	return s.inTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO device_psk_rotations (device_id, sealed_psk, started_at, deadline)
			SELECT id, ?, ?, ? FROM devices WHERE id = ?
			ON CONFLICT (device_id) DO UPDATE SET sealed_psk = excluded.sealed_psk, started_at = excluded.started_at,
				deadline = excluded.deadline`,
			r.SealedPSK, nanos(r.StartedAt), nanos(r.Deadline), r.DeviceID)
		return affectedOne(res, err, "device "+r.DeviceID)
	})
}

// PSKRotation implements pairing.Store.
func (s *Store) PSKRotation(ctx context.Context, deviceID string) (pairing.PSKRotation, error) {
	r := pairing.PSKRotation{DeviceID: deviceID}
	var started, deadline int64
	err := s.rq.QueryRowContext(ctx, "SELECT sealed_psk, started_at, deadline FROM device_psk_rotations WHERE device_id = ?", deviceID).
		Scan(&r.SealedPSK, &started, &deadline)
	r.StartedAt, r.Deadline = fromNanos(started), fromNanos(deadline)
	return r, notFound(err, "psk rotation of device "+deviceID)
}

// FinishPSKRotation implements pairing.Store.
func (s *Store) FinishPSKRotation(ctx context.Context, deviceID string, startedAt time.Time) error {
	return s.inTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET psk_sealed = (SELECT sealed_psk FROM device_psk_rotations
				WHERE device_id = ? AND started_at = ?)
			WHERE id = ? AND EXISTS (SELECT 1 FROM device_psk_rotations WHERE device_id = ? AND started_at = ?)`,
			deviceID, nanos(startedAt), deviceID, deviceID, nanos(startedAt))
		if err := affectedOne(res, err, "psk rotation of device "+deviceID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM device_psk_rotations WHERE device_id = ?", deviceID)
		return err
	})
}
