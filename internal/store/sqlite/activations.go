package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

const activationColumns = `id, user_id, nb_id, device_id, home_id, time_zone, timeout, status, reason,
	created_at, deadline, COALESCE(finished_at, 0)`

func scanActivation(row interface{ Scan(...any) error }) (pairing.Activation, error) {
	var a pairing.Activation
	var created, deadline, finished int64
	err := row.Scan(&a.ID, &a.UserID, &a.NbID, &a.DeviceID, &a.HomeID, &a.TimeZone, &a.Timeout, &a.Status, &a.Reason,
		&created, &deadline, &finished)
	a.CreatedAt, a.Deadline, a.FinishedAt = fromNanos(created), fromNanos(deadline), fromNanos(finished)
	return a, err
}

func scanActivations(rows *sql.Rows, err error) ([]pairing.Activation, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Activation
	for rows.Next() {
		a, err := scanActivation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateActivation implements pairing.Store.
func (s *Store) CreateActivation(ctx context.Context, a pairing.Activation) error {
	_, err := s.exec(ctx, laneUrgent, `INSERT INTO activations (id, user_id, nb_id, device_id, home_id, time_zone, timeout, status, reason,
		created_at, deadline, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.UserID, a.NbID, a.DeviceID, a.HomeID, a.TimeZone, a.Timeout, string(a.Status), string(a.Reason),
		nanos(a.CreatedAt), nanos(a.Deadline), nanos(a.FinishedAt))
	if isUnique(err) {
		return fmt.Errorf("activation of %s by %s: %w", a.DeviceID, a.UserID, pairing.ErrActiveRepeated)
	}
	return err
}

// Activation implements pairing.Store.
func (s *Store) Activation(ctx context.Context, id string) (pairing.Activation, error) {
	a, err := scanActivation(s.rq.QueryRowContext(ctx, "SELECT "+activationColumns+" FROM activations WHERE id = ?", id))
	return a, notFound(err, "activation "+id)
}

// PendingActivations implements pairing.Store.
func (s *Store) PendingActivations(ctx context.Context, deviceID string) ([]pairing.Activation, error) {
	return scanActivations(s.rq.QueryContext(ctx, "SELECT "+activationColumns+
		" FROM activations WHERE device_id = ? AND status = 'pending' ORDER BY created_at, id", deviceID))
}

// ExpiredActivations implements pairing.Store.
func (s *Store) ExpiredActivations(ctx context.Context, now time.Time, limit int) ([]pairing.Activation, error) {
	return scanActivations(s.rq.QueryContext(ctx, "SELECT "+activationColumns+
		" FROM activations WHERE status = 'pending' AND deadline <= ? ORDER BY deadline LIMIT ?", nanos(now), limit))
}

// FinishActivation implements pairing.Store.
func (s *Store) FinishActivation(ctx context.Context, id string, st pairing.ActivationStatus, reason pairing.FailReason, at time.Time) (pairing.Activation, error) {
	var a pairing.Activation
	err := s.write(ctx, laneUrgent, true, func(tx wtx) error {
		var err error
		a, err = scanActivation(tx.QueryRowContext(ctx, `UPDATE activations SET status = ?, reason = ?, finished_at = ?
			WHERE id = ? AND status = 'pending' RETURNING `+activationColumns, string(st), string(reason), nanos(at), id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil // not pending: told below
		}
		return err
	})
	if err == nil && a.ID == "" {
		if _, err := s.Activation(ctx, id); err != nil {
			return a, err
		}
		return a, pairing.ErrActivationFinished
	}
	return a, err
}

// Bind implements pairing.Store.
func (s *Store) Bind(ctx context.Context, activationID string, at time.Time) (pairing.Device, pairing.Activation, error) {
	var d pairing.Device
	var a pairing.Activation
	// Only the last statement can fail after a change (the device's
	// update): it says so, and needs no savepoint otherwise.
	err := s.write(ctx, laneUrgent, true, func(tx wtx) error {
		var err error
		a, err = scanActivation(tx.QueryRowContext(ctx, "SELECT "+activationColumns+" FROM activations WHERE id = ?", activationID))
		if err != nil {
			return notFound(err, "activation "+activationID)
		}
		if a.Status != pairing.ActivationPending {
			return pairing.ErrActivationFinished
		}
		var role string
		err = tx.QueryRowContext(ctx, "SELECT role FROM home_members WHERE home_id = ? AND user_id = ?", a.HomeID, a.UserID).Scan(&role)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !pairing.Role(role).CanManageDevices()) {
			return pairing.ErrPermissionDenied
		} else if err != nil {
			return err
		}
		d, err = scanDevice(tx.QueryRowContext(ctx, `UPDATE devices SET owner_id = ?, home_id = ?, time_zone = ?, bound_at = ?
			WHERE id = ? AND (owner_id IS NULL OR owner_id = ?) RETURNING `+deviceColumns,
			a.UserID, a.HomeID, a.TimeZone, nanos(at), a.DeviceID, a.UserID))
		if errors.Is(err, sql.ErrNoRows) {
			return pairing.ErrAlreadyBound
		} else if err != nil {
			return err
		}
		a.Status, a.FinishedAt = pairing.ActivationPaired, at.UTC()
		if _, err = tx.ExecContext(ctx, "UPDATE activations SET status = ?, finished_at = ? WHERE id = ?",
			string(a.Status), nanos(at), a.ID); err != nil {
			return partialError{err}
		}
		return nil
	})
	return s.withFirst(d), a, err
}

// Unbind implements pairing.Store.
func (s *Store) Unbind(ctx context.Context, deviceID, homeID string) (pairing.Device, error) {
	var d pairing.Device
	err := s.write(ctx, laneUrgent, true, func(tx wtx) error {
		var err error
		d, err = scanDevice(tx.QueryRowContext(ctx, `UPDATE devices SET owner_id = NULL, home_id = NULL, time_zone = '',
			bound_at = NULL WHERE id = ? AND (? = '' OR home_id = ?) RETURNING `+deviceColumns, deviceID, homeID, homeID))
		return notFound(err, "device "+deviceID+" in that home")
	})
	return s.withFirst(d), err
}

// FactoryReset implements pairing.Store.
func (s *Store) FactoryReset(ctx context.Context, deviceID, name string, at time.Time) (pairing.Device, []pairing.Activation, error) {
	var d pairing.Device
	var ended []pairing.Activation
	err := s.write(ctx, laneUrgent, false, func(tx wtx) error {
		var err error
		d, err = scanDevice(tx.QueryRowContext(ctx, `UPDATE devices SET owner_id = NULL, home_id = NULL, time_zone = '',
			bound_at = NULL, name = ? WHERE id = ? RETURNING `+deviceColumns, name, deviceID))
		if err != nil {
			return notFound(err, "device "+deviceID)
		}
		if _, err = tx.ExecContext(ctx, "DELETE FROM downlinks WHERE device_id = ?", deviceID); err != nil {
			return err
		}
		ended, err = scanActivations(tx.QueryContext(ctx, `UPDATE activations SET status = ?, reason = ?, finished_at = ?
			WHERE device_id = ? AND status = 'pending' RETURNING `+activationColumns,
			string(pairing.ActivationFailed), string(pairing.FailFactoryReset), nanos(at), deviceID))
		return err
	})
	if err != nil {
		return pairing.Device{}, nil, err
	}
	return s.withFirst(d), ended, nil
}
