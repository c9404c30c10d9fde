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

// Register implements pairing.Store in one round trip: the two statements
// go out as one batch, which PostgreSQL runs as one implicit transaction.
// The first sets FirstRegisteredAt only where it is unset; of two
// concurrent Registers of a device the second waits for the first's row
// lock and then finds it set, so exactly one of them is the first. The
// second replaces the device's registration in place (one upsert on the
// device's unique key).
func (s *Store) Register(ctx context.Context, r pairing.Registration) (first bool, err error) {
	var b pgx.Batch
	b.Queue("UPDATE devices SET first_registered_at = $1 WHERE id = $2 AND first_registered_at IS NULL",
		nanos(r.RegisteredAt), r.DeviceID)
	b.Queue(registerUpsert, r.ID, r.DeviceID, r.Endpoint, r.Lifetime, r.Version, r.Binding, r.QueueMode, objects(r),
		r.Addr, nanos(r.RegisteredAt), nanos(r.LastSeen), nanos(r.ExpiresAt), r.Secure, r.ContentFormat)
	res := s.pool.SendBatch(ctx, &b)
	tag, err := res.Exec()
	if err == nil {
		first = tag.RowsAffected() == 1
		_, err = res.Exec()
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if isForeignKey(err) {
		return false, notFound(pgx.ErrNoRows, "device "+r.DeviceID)
	}
	return first && err == nil, err
}

// registerUpsert stores a registration as the device's only one.
const registerUpsert = "INSERT INTO registrations (" + regColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
	ON CONFLICT (device_id) DO UPDATE SET id = excluded.id, endpoint = excluded.endpoint,
		lifetime = excluded.lifetime, version = excluded.version, binding = excluded.binding,
		queue_mode = excluded.queue_mode, objects = excluded.objects, addr = excluded.addr,
		registered_at = excluded.registered_at, last_seen = excluded.last_seen,
		expires_at = excluded.expires_at, secure = excluded.secure,
		content_format = excluded.content_format`

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
	return s.DeleteRegistrationNoting(ctx, id, pairing.Notes{})
}

// DeleteRegistrationNoting implements pairing.Store.
func (s *Store) DeleteRegistrationNoting(ctx context.Context, id string, n pairing.Notes) (pairing.Registration, error) {
	var r pairing.Registration
	err := s.noting(ctx, n, func(q querier) error {
		var err error
		if r, err = scanRegistration(q.QueryRow(ctx, "DELETE FROM registrations WHERE id = $1 RETURNING "+regColumns, id)); err != nil {
			return err
		}
		return writeNotes(ctx, q, n.Events)
	})
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
