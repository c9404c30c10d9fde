package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

// BlockDevice implements pairing.Store.
func (s *Store) BlockDevice(ctx context.Context, b pairing.DeviceBlock) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO device_blocks (device_id, blocked_at, reason)
		SELECT id, $1, $2 FROM devices WHERE id = $3
		ON CONFLICT (device_id) DO UPDATE SET blocked_at = excluded.blocked_at, reason = excluded.reason`,
		nanos(b.At), b.Reason, b.DeviceID)
	return affectedOne(tag, err, "device "+b.DeviceID)
}

// UnblockDevice implements pairing.Store.
func (s *Store) UnblockDevice(ctx context.Context, deviceID string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM device_blocks WHERE device_id = $1", deviceID)
	return affectedOne(tag, err, "block of device "+deviceID)
}

// DeviceBlock implements pairing.Store.
func (s *Store) DeviceBlock(ctx context.Context, deviceID string) (pairing.DeviceBlock, error) {
	b := pairing.DeviceBlock{DeviceID: deviceID}
	var at int64
	err := s.pool.QueryRow(ctx, "SELECT blocked_at, reason FROM device_blocks WHERE device_id = $1", deviceID).
		Scan(&at, &b.Reason)
	b.At = fromNanos(at)
	return b, notFound(err, "block of device "+deviceID)
}

// DeviceBlocks implements pairing.Store.
func (s *Store) DeviceBlocks(ctx context.Context) ([]pairing.DeviceBlock, error) {
	rows, err := s.pool.Query(ctx, "SELECT device_id, blocked_at, reason FROM device_blocks ORDER BY device_id")
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
	"DELETE FROM device_blocks WHERE device_id = $1",
	"DELETE FROM device_psk_rotations WHERE device_id = $1",
	"DELETE FROM device_shares WHERE device_id = $1",
	"DELETE FROM device_transfers WHERE device_id = $1",
	"DELETE FROM registrations WHERE device_id = $1",
	"DELETE FROM downlinks WHERE device_id = $1",
	"DELETE FROM activations WHERE device_id = $1",
	"DELETE FROM batch_devices WHERE device_id = $1",
}

// DeprovisionDevice implements pairing.Store.
func (s *Store) DeprovisionDevice(ctx context.Context, deviceID string, n pairing.Notes) (pairing.Device, error) {
	var d pairing.Device
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRow(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = $1 FOR UPDATE", deviceID))
		if err != nil {
			return notFound(err, "device "+deviceID)
		}
		for _, q := range deprovisionDeletes {
			if _, err := tx.Exec(ctx, q, deviceID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM devices WHERE id = $1", deviceID); err != nil {
			return err
		}
		return writeNotes(ctx, tx, n.Events)
	})
	return d, err
}

// StartPSKRotation implements pairing.Store.
func (s *Store) StartPSKRotation(ctx context.Context, r pairing.PSKRotation) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO device_psk_rotations (device_id, sealed_psk, started_at, deadline)
		SELECT id, $1, $2, $3 FROM devices WHERE id = $4
		ON CONFLICT (device_id) DO UPDATE SET sealed_psk = excluded.sealed_psk, started_at = excluded.started_at,
			deadline = excluded.deadline`,
		r.SealedPSK, nanos(r.StartedAt), nanos(r.Deadline), r.DeviceID)
	return affectedOne(tag, err, "device "+r.DeviceID)
}

// PSKRotation implements pairing.Store.
func (s *Store) PSKRotation(ctx context.Context, deviceID string) (pairing.PSKRotation, error) {
	r := pairing.PSKRotation{DeviceID: deviceID}
	var started, deadline int64
	err := s.pool.QueryRow(ctx, "SELECT sealed_psk, started_at, deadline FROM device_psk_rotations WHERE device_id = $1", deviceID).
		Scan(&r.SealedPSK, &started, &deadline)
	r.StartedAt, r.Deadline = fromNanos(started), fromNanos(deadline)
	return r, notFound(err, "psk rotation of device "+deviceID)
}

// FinishPSKRotation implements pairing.Store.
func (s *Store) FinishPSKRotation(ctx context.Context, deviceID string, startedAt time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var sealed []byte
		err := tx.QueryRow(ctx, `DELETE FROM device_psk_rotations WHERE device_id = $1 AND started_at = $2 RETURNING sealed_psk`,
			deviceID, nanos(startedAt)).Scan(&sealed)
		if err != nil {
			return notFound(err, "psk rotation of device "+deviceID)
		}
		tag, err := tx.Exec(ctx, "UPDATE devices SET psk_sealed = $1 WHERE id = $2", sealed, deviceID)
		return affectedOne(tag, err, "device "+deviceID)
	})
}
