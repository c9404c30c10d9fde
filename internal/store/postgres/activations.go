package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

const activationColumns = `id, user_id, nb_id, device_id, home_id, time_zone, timeout, status, reason,
	created_at, deadline, COALESCE(finished_at, 0), detail`

func scanActivation(row scanner) (pairing.Activation, error) {
	var a pairing.Activation
	var created, deadline, finished int64
	err := row.Scan(&a.ID, &a.UserID, &a.NbID, &a.DeviceID, &a.HomeID, &a.TimeZone, &a.Timeout, &a.Status, &a.Reason,
		&created, &deadline, &finished, &a.Detail)
	a.CreatedAt, a.Deadline, a.FinishedAt = fromNanos(created), fromNanos(deadline), fromNanos(finished)
	return a, err
}

// CreateActivation implements pairing.Store. The partial unique index
// activations_one_pending refuses a second pending activation of the device
// by the user, even when two start at once.
func (s *Store) CreateActivation(ctx context.Context, a pairing.Activation) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO activations (id, user_id, nb_id, device_id, home_id, time_zone, timeout, status, reason,
		created_at, deadline, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, a.UserID, a.NbID, a.DeviceID, a.HomeID, a.TimeZone, a.Timeout, string(a.Status), string(a.Reason),
		nanos(a.CreatedAt), nanos(a.Deadline), nullNanos(a.FinishedAt))
	if isUnique(err) {
		return fmt.Errorf("activation of %s by %s: %w", a.DeviceID, a.UserID, pairing.ErrActiveRepeated)
	}
	return err
}

// Activation implements pairing.Store.
func (s *Store) Activation(ctx context.Context, id string) (pairing.Activation, error) {
	a, err := scanActivation(s.pool.QueryRow(ctx, "SELECT "+activationColumns+" FROM activations WHERE id = $1", id))
	return a, notFound(err, "activation "+id)
}

// PendingActivations implements pairing.Store.
func (s *Store) PendingActivations(ctx context.Context, deviceID string) ([]pairing.Activation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+activationColumns+
		" FROM activations WHERE device_id = $1 AND status = 'pending' ORDER BY created_at, id", deviceID)
	return scanAll(rows, err, scanActivation)
}

// ExpiredActivations implements pairing.Store.
func (s *Store) ExpiredActivations(ctx context.Context, now time.Time, limit int) ([]pairing.Activation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+activationColumns+
		" FROM activations WHERE status = 'pending' AND deadline <= $1 ORDER BY deadline LIMIT $2", nanos(now), limit)
	return scanAll(rows, err, scanActivation)
}

// FinishActivation implements pairing.Store. Its UPDATE waits for a Bind
// that holds the activation's row, then finds it no longer pending.
func (s *Store) FinishActivation(ctx context.Context, id string, st pairing.ActivationStatus, reason pairing.FailReason, at time.Time) (pairing.Activation, error) {
	return s.FinishActivationNoting(ctx, pairing.ActivationEnd{ID: id, Status: st, Reason: reason, At: at}, pairing.Notes{})
}

// FinishActivationNoting implements pairing.Store.
func (s *Store) FinishActivationNoting(ctx context.Context, e pairing.ActivationEnd, n pairing.Notes) (pairing.Activation, error) {
	var a pairing.Activation
	id := e.ID
	err := s.noting(ctx, n, func(q querier) error {
		var err error
		a, err = scanActivation(q.QueryRow(ctx, `UPDATE activations SET status = $1, reason = $2, finished_at = $3, detail = $5
			WHERE id = $4 AND status = 'pending' RETURNING `+activationColumns, string(e.Status), string(e.Reason), nullNanos(e.At), id, e.Detail))
		if err != nil {
			return err
		}
		return writeEnded(ctx, q, n, a)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.Activation(ctx, id); err != nil {
			return a, err
		}
		return a, pairing.ErrActivationFinished
	}
	return a, err
}

// Bind implements pairing.Store, in one transaction:
//
//  1. lock the activation's row (SELECT … FOR UPDATE), so that a
//     FinishActivation of it waits, and check that it is still pending;
//  2. bind the device with an UPDATE that only matches while the device
//     has no owner or this user: of two users racing for one device, the
//     second waits for the first's row lock, then re-reads the row, finds
//     it owned and matches nothing (ErrAlreadyBound);
//  3. mark the activation paired.
func (s *Store) Bind(ctx context.Context, activationID string, at time.Time) (pairing.Device, pairing.Activation, error) {
	return s.BindNoting(ctx, activationID, at, pairing.Notes{})
}

// BindNoting implements pairing.Store: Bind, with the bind's events in its
// transaction.
func (s *Store) BindNoting(ctx context.Context, activationID string, at time.Time, n pairing.Notes) (pairing.Device, pairing.Activation, error) {
	var d pairing.Device
	var a pairing.Activation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		a, err = scanActivation(tx.QueryRow(ctx, "SELECT "+activationColumns+" FROM activations WHERE id = $1 FOR UPDATE", activationID))
		if err != nil {
			return notFound(err, "activation "+activationID)
		}
		if a.Status != pairing.ActivationPending {
			return pairing.ErrActivationFinished
		}
		var role string
		err = tx.QueryRow(ctx, "SELECT role FROM home_members WHERE home_id = $1 AND user_id = $2", a.HomeID, a.UserID).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !pairing.Role(role).CanManageDevices()) {
			return pairing.ErrPermissionDenied
		} else if err != nil {
			return err
		}
		d, err = scanDevice(tx.QueryRow(ctx, `UPDATE devices SET owner_id = $1, home_id = $2, time_zone = $3, bound_at = $4
			WHERE id = $5 AND (owner_id IS NULL OR owner_id = $1) RETURNING `+deviceColumns,
			a.UserID, a.HomeID, a.TimeZone, nullNanos(at), a.DeviceID))
		if errors.Is(err, pgx.ErrNoRows) {
			return pairing.ErrAlreadyBound
		} else if err != nil {
			return err
		}
		a.Status, a.FinishedAt = pairing.ActivationPaired, at.UTC()
		if _, err = tx.Exec(ctx, "UPDATE activations SET status = $1, finished_at = $2 WHERE id = $3",
			string(a.Status), nullNanos(at), a.ID); err != nil {
			return err
		}
		return writeNotes(ctx, tx, n.Events)
	})
	return d, a, err
}

// Unbind implements pairing.Store.
func (s *Store) Unbind(ctx context.Context, deviceID, homeID string) (pairing.Device, error) {
	return s.UnbindNoting(ctx, deviceID, homeID, pairing.Notes{})
}

// UnbindNoting implements pairing.Store.
func (s *Store) UnbindNoting(ctx context.Context, deviceID, homeID string, n pairing.Notes) (pairing.Device, error) {
	var d pairing.Device
	err := s.noting(ctx, n, func(q querier) error {
		var err error
		d, err = scanDevice(q.QueryRow(ctx, `UPDATE devices SET owner_id = NULL, home_id = NULL, time_zone = '',
			bound_at = NULL WHERE id = $1 AND ($2 = '' OR home_id = $2) RETURNING `+deviceColumns, deviceID, homeID))
		if err != nil {
			return err
		}
		return writeNotes(ctx, q, n.Events)
	})
	return d, notFound(err, "device "+deviceID+" in that home")
}

// FactoryReset implements pairing.Store.
func (s *Store) FactoryReset(ctx context.Context, deviceID, name string, at time.Time) (pairing.Device, []pairing.Activation, error) {
	return s.FactoryResetNoting(ctx, deviceID, name, at, pairing.Notes{})
}

// FactoryResetNoting implements pairing.Store.
func (s *Store) FactoryResetNoting(ctx context.Context, deviceID, name string, at time.Time, n pairing.Notes) (pairing.Device, []pairing.Activation, error) {
	var d pairing.Device
	var ended []pairing.Activation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRow(ctx, `UPDATE devices SET owner_id = NULL, home_id = NULL, time_zone = '',
			bound_at = NULL, name = $1 WHERE id = $2 RETURNING `+deviceColumns, name, deviceID))
		if err != nil {
			return notFound(err, "device "+deviceID)
		}
		if _, err = tx.Exec(ctx, "DELETE FROM downlinks WHERE device_id = $1", deviceID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE activations SET status = $1, reason = $2, finished_at = $3
			WHERE device_id = $4 AND status = 'pending' RETURNING `+activationColumns,
			string(pairing.ActivationFailed), string(pairing.FailFactoryReset), nullNanos(at), deviceID)
		if ended, err = scanAll(rows, err, scanActivation); err != nil {
			return err
		}
		if err := writeNotes(ctx, tx, n.Events); err != nil {
			return err
		}
		for _, a := range ended {
			if err := writeEnded(ctx, tx, n, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return pairing.Device{}, nil, err
	}
	return d, ended, nil
}
