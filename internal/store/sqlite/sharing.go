package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Shares and transfers of devices. Each is for one bind of its device (its
// owner and bound_at): a share is live, and a pending transfer valid, only
// while the device's row still holds that bind.

// liveShare joins a share (s) to its device's row while the bind holds.
const liveShare = " JOIN devices d ON d.id = s.device_id AND d.owner_id = s.owner_id AND COALESCE(d.bound_at, 0) = s.bound_at"

const shareQuery = `SELECT s.device_id, s.user_id, u.username, s.access, s.owner_id, o.username, s.bound_at, s.created_at
	FROM device_shares s` + liveShare + ` JOIN users u ON u.id = s.user_id JOIN users o ON o.id = s.owner_id`

func scanShare(row interface{ Scan(...any) error }) (pairing.Share, error) {
	var sh pairing.Share
	var bound, created int64
	err := row.Scan(&sh.DeviceID, &sh.UserID, &sh.Username, &sh.Access, &sh.OwnerID, &sh.OwnerUsername, &bound, &created)
	sh.BoundAt, sh.CreatedAt = fromNanos(bound), fromNanos(created)
	return sh, err
}

func scanShares(rows *sql.Rows, err error) ([]pairing.Share, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Share
	for rows.Next() {
		sh, err := scanShare(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

// PutShare implements pairing.Store.
func (s *Store) PutShare(ctx context.Context, sh pairing.Share) (bool, error) {
	var created bool
	err := s.write(ctx, laneNormal, false, func(tx wtx) error {
		// The shares of an earlier bind of the device are dead: gone.
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_shares AS s WHERE s.device_id = ? AND NOT EXISTS
			(SELECT 1 FROM devices d WHERE d.id = s.device_id AND d.owner_id = s.owner_id AND COALESCE(d.bound_at, 0) = s.bound_at)`,
			sh.DeviceID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE device_shares SET access = ? WHERE device_id = ? AND user_id = ?`,
			string(sh.Access), sh.DeviceID, sh.UserID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO device_shares (device_id, user_id, access, owner_id, bound_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, sh.DeviceID, sh.UserID, string(sh.Access), sh.OwnerID, nanos(sh.BoundAt), nanos(sh.CreatedAt))
		if isForeignKey(err) {
			return notFound(sql.ErrNoRows, "device or user")
		}
		return err
	})
	return created, err
}

// Share implements pairing.Store.
func (s *Store) Share(ctx context.Context, deviceID, userID string) (pairing.Share, error) {
	sh, err := scanShare(s.rq.QueryRowContext(ctx, shareQuery+" WHERE s.device_id = ? AND s.user_id = ?", deviceID, userID))
	return sh, notFound(err, "share of device "+deviceID)
}

// DeviceShares implements pairing.Store.
func (s *Store) DeviceShares(ctx context.Context, deviceID string) ([]pairing.Share, error) {
	return scanShares(s.rq.QueryContext(ctx, shareQuery+" WHERE s.device_id = ? ORDER BY lower(u.username)", deviceID))
}

// SharedWith implements pairing.Store.
func (s *Store) SharedWith(ctx context.Context, userID string) ([]pairing.Share, error) {
	return scanShares(s.rq.QueryContext(ctx, shareQuery+" WHERE s.user_id = ? ORDER BY s.created_at DESC, s.device_id", userID))
}

// DeleteShare implements pairing.Store.
func (s *Store) DeleteShare(ctx context.Context, deviceID, userID string) error {
	res, err := s.exec(ctx, laneNormal, `DELETE FROM device_shares AS s WHERE s.device_id = ? AND s.user_id = ? AND EXISTS
		(SELECT 1 FROM devices d WHERE d.id = s.device_id AND d.owner_id = s.owner_id AND COALESCE(d.bound_at, 0) = s.bound_at)`,
		deviceID, userID)
	return affectedOne(res, err, "share of device "+deviceID+" with "+userID)
}

const transferQuery = `SELECT t.id, t.device_id, d.name, t.from_user, f.username, t.to_user, r.username, t.bound_at, t.status,
	t.home_id, t.created_at, t.deadline, t.finished_at FROM device_transfers t JOIN devices d ON d.id = t.device_id
	JOIN users f ON f.id = t.from_user JOIN users r ON r.id = t.to_user`

func scanTransfer(row interface{ Scan(...any) error }) (pairing.Transfer, error) {
	var tr pairing.Transfer
	var bound, created, deadline, finished int64
	err := row.Scan(&tr.ID, &tr.DeviceID, &tr.DeviceName, &tr.FromUserID, &tr.FromUsername, &tr.ToUserID, &tr.ToUsername,
		&bound, &tr.Status, &tr.HomeID, &created, &deadline, &finished)
	tr.BoundAt, tr.CreatedAt, tr.Deadline, tr.FinishedAt = fromNanos(bound), fromNanos(created), fromNanos(deadline), fromNanos(finished)
	return tr, err
}

// CreateTransfer implements pairing.Store. A pending transfer of the
// device that is past its deadline, or whose bind has ended, no longer
// stands in the new one's way.
func (s *Store) CreateTransfer(ctx context.Context, tr pairing.Transfer) error {
	err := s.write(ctx, laneNormal, false, func(tx wtx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE device_transfers SET status = 'expired', finished_at = ?1
			WHERE device_id = ?2 AND status = 'pending' AND deadline <= ?1`, nanos(tr.CreatedAt), tr.DeviceID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE device_transfers AS t SET status = 'void', finished_at = ?1
			WHERE t.device_id = ?2 AND t.status = 'pending' AND NOT EXISTS (SELECT 1 FROM devices d
			WHERE d.id = t.device_id AND d.owner_id = t.from_user AND COALESCE(d.bound_at, 0) = t.bound_at)`,
			nanos(tr.CreatedAt), tr.DeviceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_transfers (id, device_id, from_user, to_user, bound_at, status,
			created_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tr.ID, tr.DeviceID, tr.FromUserID, tr.ToUserID,
			nanos(tr.BoundAt), string(tr.Status), nanos(tr.CreatedAt), nanos(tr.Deadline))
		return err
	})
	switch {
	case isUnique(err):
		return fmt.Errorf("device %s: %w", tr.DeviceID, pairing.ErrTransferPending)
	case isForeignKey(err):
		return notFound(sql.ErrNoRows, "device or user")
	}
	return err
}

// Transfer implements pairing.Store.
func (s *Store) Transfer(ctx context.Context, id string) (pairing.Transfer, error) {
	tr, err := scanTransfer(s.rq.QueryRowContext(ctx, transferQuery+" WHERE t.id = ?", id))
	return tr, notFound(err, "transfer "+id)
}

// TransfersOfUser implements pairing.Store.
func (s *Store) TransfersOfUser(ctx context.Context, userID string) ([]pairing.Transfer, error) {
	rows, err := s.rq.QueryContext(ctx, transferQuery+
		" WHERE t.status = 'pending' AND (t.from_user = ?1 OR t.to_user = ?1) ORDER BY t.created_at, t.id", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Transfer
	for rows.Next() {
		tr, err := scanTransfer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, tr)
	}
	return out, rows.Err()
}

// FinishTransfer implements pairing.Store.
func (s *Store) FinishTransfer(ctx context.Context, id string, st pairing.TransferStatus, at time.Time) (pairing.Transfer, error) {
	res, err := s.exec(ctx, laneNormal, "UPDATE device_transfers SET status = ?, finished_at = ? WHERE id = ? AND status = 'pending'",
		string(st), nanos(at), id)
	if err := affectedOne(res, err, "transfer "+id); errors.Is(err, pairing.ErrNotFound) {
		if _, err := s.Transfer(ctx, id); err != nil {
			return pairing.Transfer{}, err
		}
		return pairing.Transfer{}, pairing.ErrTransferFinished
	} else if err != nil {
		return pairing.Transfer{}, err
	}
	return s.Transfer(ctx, id)
}

// AcceptTransfer implements pairing.Store.
func (s *Store) AcceptTransfer(ctx context.Context, id, homeID string, at time.Time, n pairing.Notes) (pairing.Device, pairing.Transfer, error) {
	var d pairing.Device
	err := s.write(ctx, laneUrgent, false, func(tx wtx) error {
		var status, deviceID, from, to string
		var deadline, bound int64
		err := tx.QueryRowContext(ctx, "SELECT status, deadline, device_id, from_user, to_user, bound_at FROM device_transfers WHERE id = ?", id).
			Scan(&status, &deadline, &deviceID, &from, &to, &bound)
		switch {
		case err != nil:
			return notFound(err, "transfer "+id)
		case status != string(pairing.TransferPending):
			return pairing.ErrTransferFinished
		case deadline <= nanos(at):
			return pairing.ErrTransferExpired
		}
		var role string
		err = tx.QueryRowContext(ctx, "SELECT role FROM home_members WHERE home_id = ? AND user_id = ?", homeID, to).Scan(&role)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !pairing.Role(role).CanManageDevices()) {
			return pairing.ErrPermissionDenied
		} else if err != nil {
			return err
		}
		d, err = scanDevice(tx.QueryRowContext(ctx, `UPDATE devices SET owner_id = ?, home_id = ?, bound_at = ?
			WHERE id = ? AND owner_id = ? AND COALESCE(bound_at, 0) = ? RETURNING `+deviceColumns, to, homeID, nanos(at), deviceID, from, bound))
		if errors.Is(err, sql.ErrNoRows) {
			return pairing.ErrTransferVoid
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE device_transfers SET status = 'accepted', home_id = ?, finished_at = ? WHERE id = ?",
			homeID, nanos(at), id); err != nil {
			return err
		}
		return writeNotes(ctx, tx, n.Events)
	})
	if err != nil {
		return pairing.Device{}, pairing.Transfer{}, err
	}
	tr, err := s.Transfer(ctx, id)
	return d, tr, err
}

// ExpireTransfers implements pairing.Store.
func (s *Store) ExpireTransfers(ctx context.Context, now time.Time, limit int) ([]pairing.Transfer, error) {
	var due bool // a read first: the sweeper asks every second
	err := s.rq.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM device_transfers WHERE status = 'pending' AND deadline <= ?)",
		nanos(now)).Scan(&due)
	if err != nil || !due {
		return nil, err
	}
	var expired []string
	err = s.write(ctx, laneNormal, false, func(tx wtx) error {
		expired = expired[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE device_transfers SET status = 'expired', finished_at = ?1 WHERE id IN
			(SELECT id FROM device_transfers WHERE status = 'pending' AND deadline <= ?1 ORDER BY deadline LIMIT ?2) RETURNING id`,
			nanos(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			expired = append(expired, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]pairing.Transfer, 0, len(expired))
	for _, id := range expired {
		tr, err := s.Transfer(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, tr)
	}
	return out, nil
}
