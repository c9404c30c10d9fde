package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

const regColumns = `id, device_id, endpoint, lifetime, version, binding, queue_mode, objects, addr,
	registered_at, last_seen, expires_at, secure, content_format`

func scanRegistration(row interface{ Scan(...any) error }) (pairing.Registration, error) {
	var r pairing.Registration
	var objects string
	var registered, seen, expires int64
	err := row.Scan(&r.ID, &r.DeviceID, &r.Endpoint, &r.Lifetime, &r.Version, &r.Binding, &r.QueueMode,
		&objects, &r.Addr, &registered, &seen, &expires, &r.Secure, &r.ContentFormat)
	if err != nil {
		return r, err
	}
	r.RegisteredAt, r.LastSeen, r.ExpiresAt = fromNanos(registered), fromNanos(seen), fromNanos(expires)
	return r, json.Unmarshal([]byte(objects), &r.Objects)
}

func regArgs(r pairing.Registration) []any {
	objects, _ := json.Marshal(r.Objects) // a []string always marshals
	return []any{r.ID, r.DeviceID, r.Endpoint, r.Lifetime, r.Version, r.Binding, r.QueueMode,
		string(objects), r.Addr, nanos(r.RegisteredAt), nanos(r.LastSeen), nanos(r.ExpiresAt), r.Secure, r.ContentFormat}
}

// Register implements pairing.Store with two statements and no savepoint:
// the first sets FirstRegisteredAt where it is unset (a key lookup that
// changes nothing for a device that has registered before), the second
// replaces the device's registration in place, one upsert on its unique
// device_id. If the device does not exist the first changes nothing and
// the second fails on its foreign key; should the second fail after the
// first changed the device, the group commit runs the batch again with
// savepoints.
func (s *Store) Register(ctx context.Context, r pairing.Registration) (first bool, err error) {
	args := regArgs(r)
	err = s.write(ctx, laneNormal, true, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, setFirstRegistered, nanos(r.RegisteredAt), r.DeviceID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, registerUpsert, args...); err != nil {
			if n == 1 {
				return partialError{err}
			}
			return err
		}
		first = n == 1
		return nil
	})
	if isForeignKey(err) {
		return false, notFound(sql.ErrNoRows, "device "+r.DeviceID)
	}
	return first, err
}

const setFirstRegistered = "UPDATE devices SET first_registered_at = ? WHERE id = ? AND first_registered_at IS NULL"

// registerUpsert stores a registration as the device's only one.
const registerUpsert = "INSERT INTO registrations (" + regColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (device_id) DO UPDATE SET id = excluded.id, endpoint = excluded.endpoint,
		lifetime = excluded.lifetime, version = excluded.version, binding = excluded.binding,
		queue_mode = excluded.queue_mode, objects = excluded.objects, addr = excluded.addr,
		registered_at = excluded.registered_at, last_seen = excluded.last_seen,
		expires_at = excluded.expires_at, secure = excluded.secure,
		content_format = excluded.content_format`

// Registration implements pairing.Store.
func (s *Store) Registration(ctx context.Context, id string) (pairing.Registration, error) {
	r, err := scanRegistration(s.rq.QueryRowContext(ctx, "SELECT "+regColumns+" FROM registrations WHERE id = ?", id))
	return r, notFound(err, "registration "+id)
}

// RegistrationOfDevice implements pairing.Store.
func (s *Store) RegistrationOfDevice(ctx context.Context, deviceID string) (pairing.Registration, error) {
	r, err := scanRegistration(s.rq.QueryRowContext(ctx, "SELECT "+regColumns+" FROM registrations WHERE device_id = ?", deviceID))
	return r, notFound(err, "registration of device "+deviceID)
}

// UpdateRegistration implements pairing.Store.
func (s *Store) UpdateRegistration(ctx context.Context, r pairing.Registration) error {
	objects, _ := json.Marshal(r.Objects)
	res, err := s.exec(ctx, laneNormal, `UPDATE registrations SET lifetime = ?, binding = ?, queue_mode = ?,
		objects = ?, addr = ?, last_seen = ?, expires_at = ? WHERE id = ?`,
		r.Lifetime, r.Binding, r.QueueMode, string(objects), r.Addr, nanos(r.LastSeen), nanos(r.ExpiresAt), r.ID)
	return affectedOne(res, err, "registration "+r.ID)
}

// DeleteRegistration implements pairing.Store.
func (s *Store) DeleteRegistration(ctx context.Context, id string) (pairing.Registration, error) {
	return s.DeleteRegistrationNoting(ctx, id, pairing.Notes{})
}

// DeleteRegistrationNoting implements pairing.Store.
func (s *Store) DeleteRegistrationNoting(ctx context.Context, id string, n pairing.Notes) (pairing.Registration, error) {
	var r pairing.Registration
	err := s.write(ctx, laneNormal, n.Empty(), func(tx wtx) error {
		var err error
		r, err = scanRegistration(tx.QueryRowContext(ctx, "DELETE FROM registrations WHERE id = ? RETURNING "+regColumns, id))
		if err != nil {
			return notFound(err, "registration "+id)
		}
		return writeNotes(ctx, tx, n.Events)
	})
	return r, err
}

// DeleteExpired implements pairing.Store.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]pairing.Registration, error) {
	rows, err := s.wq.QueryContext(ctx, `DELETE FROM registrations WHERE id IN
		(SELECT id FROM registrations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING `+regColumns,
		nanos(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Registration
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RegistrationByAddr implements pairing.Store.
func (s *Store) RegistrationByAddr(ctx context.Context, addr string) (pairing.Registration, error) {
	r, err := scanRegistration(s.rq.QueryRowContext(ctx, "SELECT "+regColumns+
		" FROM registrations WHERE addr = ? ORDER BY last_seen DESC LIMIT 1", addr))
	return r, notFound(err, "registration from "+addr)
}
