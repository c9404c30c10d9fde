package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

const regColumns = `id, device_id, endpoint, lifetime, version, binding, queue_mode, objects, addr,
	registered_at, last_seen, expires_at, secure, content_format`

func scanRegistration(row scanner) (pairing.Registration, error) {
	var r pairing.Registration
	var registered, seen, expires int64
	err := row.Scan(&r.ID, &r.DeviceID, &r.Endpoint, &r.Lifetime, &r.Version, &r.Binding, &r.QueueMode,
		&r.Objects, &r.Addr, &registered, &seen, &expires, &r.Secure, &r.ContentFormat)
	r.RegisteredAt, r.LastSeen, r.ExpiresAt = fromNanos(registered), fromNanos(seen), fromNanos(expires)
	return r, err
}

// objects is the registration's object list as a text[] that is never NULL.
func objects(r pairing.Registration) []string {
	if r.Objects == nil {
		return []string{}
	}
	return r.Objects
}

// Register implements pairing.Store. It locks the device's row first, so
// that Registers of one device run one after another and exactly one of
// them finds FirstRegisteredAt unset.
func (s *Store) Register(ctx context.Context, r pairing.Registration) (first bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT first_registered_at IS NULL FROM devices WHERE id = $1 FOR NO KEY UPDATE",
			r.DeviceID).Scan(&first)
		if err != nil {
			return notFound(err, "device "+r.DeviceID)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM registrations WHERE device_id = $1", r.DeviceID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO registrations ("+regColumns+
			") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
			r.ID, r.DeviceID, r.Endpoint, r.Lifetime, r.Version, r.Binding, r.QueueMode, objects(r), r.Addr,
			nanos(r.RegisteredAt), nanos(r.LastSeen), nanos(r.ExpiresAt), r.Secure, r.ContentFormat); err != nil {
			return err
		}
		if !first {
			return nil
		}
		_, err = tx.Exec(ctx, "UPDATE devices SET first_registered_at = $1 WHERE id = $2", nanos(r.RegisteredAt), r.DeviceID)
		return err
	})
	if isForeignKey(err) {
		return false, notFound(pgx.ErrNoRows, "device "+r.DeviceID)
	}
	return first && err == nil, err
}

// Registration implements pairing.Store.
func (s *Store) Registration(ctx context.Context, id string) (pairing.Registration, error) {
	r, err := scanRegistration(s.pool.QueryRow(ctx, "SELECT "+regColumns+" FROM registrations WHERE id = $1", id))
	return r, notFound(err, "registration "+id)
}

// RegistrationOfDevice implements pairing.Store.
func (s *Store) RegistrationOfDevice(ctx context.Context, deviceID string) (pairing.Registration, error) {
	r, err := scanRegistration(s.pool.QueryRow(ctx, "SELECT "+regColumns+" FROM registrations WHERE device_id = $1", deviceID))
	return r, notFound(err, "registration of device "+deviceID)
}

// RegistrationByAddr implements pairing.Store.
func (s *Store) RegistrationByAddr(ctx context.Context, addr string) (pairing.Registration, error) {
	r, err := scanRegistration(s.pool.QueryRow(ctx, "SELECT "+regColumns+
		" FROM registrations WHERE addr = $1 ORDER BY last_seen DESC LIMIT 1", addr))
	return r, notFound(err, "registration from "+addr)
}

// UpdateRegistration implements pairing.Store.
func (s *Store) UpdateRegistration(ctx context.Context, r pairing.Registration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE registrations SET lifetime = $1, binding = $2, queue_mode = $3,
		objects = $4, addr = $5, last_seen = $6, expires_at = $7 WHERE id = $8`,
		r.Lifetime, r.Binding, r.QueueMode, objects(r), r.Addr, nanos(r.LastSeen), nanos(r.ExpiresAt), r.ID)
	return affectedOne(tag, err, "registration "+r.ID)
}

// DeleteRegistration implements pairing.Store.
func (s *Store) DeleteRegistration(ctx context.Context, id string) (pairing.Registration, error) {
	r, err := scanRegistration(s.pool.QueryRow(ctx, "DELETE FROM registrations WHERE id = $1 RETURNING "+regColumns, id))
	return r, notFound(err, "registration "+id)
}

// DeleteExpired implements pairing.Store. Rows another node is deleting
// right now are skipped rather than waited for, so that sweepers on several
// nodes neither block each other nor return a registration twice.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]pairing.Registration, error) {
	rows, err := s.pool.Query(ctx, `DELETE FROM registrations WHERE id IN
		(SELECT id FROM registrations WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+regColumns, nanos(now), limit)
	return scanAll(rows, err, scanRegistration)
}
