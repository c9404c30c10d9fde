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

// setFirstRegistered and registerUpsert apply a journaled Register (see
// applyRecords): the first sets FirstRegisteredAt where it is unset (a key
// lookup that changes nothing for a device that has registered before),
// the second replaces the device's registration in place, one upsert on
// its unique device_id.
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
	if err := ctx.Err(); err != nil {
		return pairing.Registration{}, err
	}
	for try := 0; ; try++ {
		if try == 3 { // the journal keeps being applied: wait until it is
			if err := s.syncJournal(); err != nil {
				return pairing.Registration{}, err
			}
		}
		if r, ok := s.j.registration(id); ok {
			return r, nil
		}
		applied := s.j.appliedSeq()
		r, err := scanRegistration(s.rq.QueryRowContext(ctx, "SELECT "+regColumns+" FROM registrations WHERE id = ?", id))
		if err != nil {
			return r, notFound(err, "registration "+id)
		}
		if j, ok := s.j.registrationOfDevice(r.DeviceID); ok && j.ID != r.ID { // replaced by a journaled one
			return pairing.Registration{}, notFound(sql.ErrNoRows, "registration "+id)
		}
		if try >= 3 || s.j.appliedSeq() == applied { // else what was read may be replaced already: read again
			return r, nil
		}
	}
}

// RegistrationOfDevice implements pairing.Store.
func (s *Store) RegistrationOfDevice(ctx context.Context, deviceID string) (pairing.Registration, error) {
	if err := ctx.Err(); err != nil {
		return pairing.Registration{}, err
	}
	if r, ok := s.j.registrationOfDevice(deviceID); ok {
		return r, nil
	}
	r, err := scanRegistration(s.rq.QueryRowContext(ctx, "SELECT "+regColumns+" FROM registrations WHERE device_id = ?", deviceID))
	return r, notFound(err, "registration of device "+deviceID)
}

// UpdateRegistration implements pairing.Store.
func (s *Store) UpdateRegistration(ctx context.Context, r pairing.Registration) error {
	objects, _ := json.Marshal(r.Objects)
	var res sql.Result
	err := s.writeRegs(ctx, func(tx wtx) (err error) {
		res, err = tx.ExecContext(ctx, `UPDATE registrations SET lifetime = ?, binding = ?, queue_mode = ?,
			objects = ?, addr = ?, last_seen = ?, expires_at = ? WHERE id = ?`,
			r.Lifetime, r.Binding, r.QueueMode, string(objects), r.Addr, nanos(r.LastSeen), nanos(r.ExpiresAt), r.ID)
		return err
	})
	return affectedOne(res, err, "registration "+r.ID)
}

// DeleteRegistration implements pairing.Store.
func (s *Store) DeleteRegistration(ctx context.Context, id string) (pairing.Registration, error) {
	var r pairing.Registration
	err := s.writeRegs(ctx, func(tx wtx) error {
		var err error
		r, err = scanRegistration(tx.QueryRowContext(ctx, "DELETE FROM registrations WHERE id = ? RETURNING "+regColumns, id))
		return notFound(err, "registration "+id)
	})
	return r, err
}

// DeleteExpired implements pairing.Store. It waits for the journal only
// when a registration there has expired too: one in the tables that a
// journaled one replaces is deleted but not reported, since its device is
// registered anew (applying the journal puts the new one in its place).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]pairing.Registration, error) {
	var out []pairing.Registration
	write := func(fn func(wtx) error) error { return s.write(ctx, laneNormal, true, fn) }
	if s.j.expiredBy(now) {
		write = func(fn func(wtx) error) error { return s.writeRegs(ctx, fn) }
	}
	err := write(func(tx wtx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `DELETE FROM registrations WHERE id IN
			(SELECT id FROM registrations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING `+regColumns,
			nanos(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRegistration(rows)
			if err != nil {
				return err
			}
			if j, ok := s.j.registrationOfDevice(r.DeviceID); !ok || j.ID == r.ID {
				out = append(out, r) // not replaced by a journaled one
			}
		}
		return rows.Err()
	})
	return out, err
}

// RegistrationByAddr implements pairing.Store.
func (s *Store) RegistrationByAddr(ctx context.Context, addr string) (pairing.Registration, error) {
	if err := s.syncJournal(); err != nil {
		return pairing.Registration{}, err
	}
	r, err := scanRegistration(s.rq.QueryRowContext(ctx, "SELECT "+regColumns+
		" FROM registrations WHERE addr = ? ORDER BY last_seen DESC LIMIT 1", addr))
	return r, notFound(err, "registration from "+addr)
}
