package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// The account lifecycle: a user's sessions, a new password, and the
// deletion of an account or a home with everything that hangs on it.

const sessionColumns = "token_hash, user_id, created_at, expires_at, last_used_at, user_agent, addr"

// UserSessions implements pairing.Store.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]pairing.Session, error) {
	rows, err := s.rq.QueryContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE user_id = ? ORDER BY created_at, token_hash", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Session
	for rows.Next() {
		var se pairing.Session
		var created, expires, used int64
		if err := rows.Scan(&se.TokenHash, &se.UserID, &created, &expires, &used, &se.UserAgent, &se.Addr); err != nil {
			return nil, err
		}
		se.CreatedAt, se.ExpiresAt, se.LastUsedAt = fromNanos(created), fromNanos(expires), fromNanos(used)
		out = append(out, se)
	}
	return out, rows.Err()
}

// TouchSession implements pairing.Store.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	_, err := s.exec(ctx, laneNormal, "UPDATE sessions SET last_used_at = ? WHERE token_hash = ?", nanos(at), tokenHash)
	return err
}

// SetPassword implements pairing.Store.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash string, keep []byte) error {
	return s.write(ctx, laneNormal, false, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userID)
		if err := affectedOne(res, err, "user "+userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", userID, keep)
		return err
	})
}

// The devices and pending activations a deletion takes: of the user
// (?1) and of the homes the user owns, or of the home (?2).
const (
	deletedHomes     = "SELECT id FROM homes WHERE owner_id = ?1 OR id = ?2"
	deletedDevices   = "(owner_id = ?1 OR home_id IN (" + deletedHomes + "))"
	deletedActivated = "(user_id = ?1 OR home_id IN (" + deletedHomes + "))"
)

// deleteBound unbinds the devices and deletes the activations of a
// deletion (userID or homeID, the other empty), writing each device's
// events first.
func deleteBound(ctx context.Context, tx wtx, userID, homeID string, unbound func(pairing.Device) []pairing.OutboxEvent) (pairing.Deletion, error) {
	var del pairing.Deletion
	var err error
	del.Unbound, err = scanDevices(tx.QueryContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE "+deletedDevices+" ORDER BY id", userID, homeID))
	if err != nil {
		return del, err
	}
	for _, d := range del.Unbound {
		if err := writeNotes(ctx, tx, unbound(d)); err != nil {
			return del, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET owner_id = NULL, home_id = NULL, time_zone = '', bound_at = NULL
		WHERE `+deletedDevices, userID, homeID); err != nil {
		return del, err
	}
	del.Ended, err = scanActivations(tx.QueryContext(ctx, "SELECT "+activationColumns+
		" FROM activations WHERE status = 'pending' AND "+deletedActivated+" ORDER BY created_at, id", userID, homeID))
	if err != nil {
		return del, err
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM activations WHERE "+deletedActivated, userID, homeID)
	return del, err
}

// deleteHomes deletes the homes of a deletion with their members.
func deleteHomes(ctx context.Context, tx wtx, userID, homeID string) (int, error) {
	if _, err := tx.ExecContext(ctx, "DELETE FROM home_members WHERE home_id IN ("+deletedHomes+")", userID, homeID); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM homes WHERE owner_id = ?1 OR id = ?2", userID, homeID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeleteUser implements pairing.Store.
func (s *Store) DeleteUser(ctx context.Context, userID, pseudonym string, unbound func(pairing.Device) []pairing.OutboxEvent) (pairing.Deletion, error) {
	var del pairing.Deletion
	err := s.write(ctx, laneUrgent, false, func(tx wtx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", userID).Scan(&one); err != nil {
			return notFound(err, "user "+userID)
		}
		var err error
		if del, err = deleteBound(ctx, tx, userID, "", unbound); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM home_members WHERE user_id = ? AND role <> 'owner'", userID)
		if err != nil {
			return err
		}
		left, _ := res.RowsAffected()
		del.HomesLeft = int(left)
		if del.HomesDeleted, err = deleteHomes(ctx, tx, userID, ""); err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM sessions WHERE user_id = ?1",
			"DELETE FROM device_shares WHERE user_id = ?1 OR owner_id = ?1",
			"DELETE FROM device_transfers WHERE from_user = ?1 OR to_user = ?1",
			"UPDATE audit_log SET user_id = ?2, remote_addr = '' WHERE user_id = ?1",
			"DELETE FROM users WHERE id = ?1",
		} {
			if _, err := tx.ExecContext(ctx, q, userID, pseudonym); err != nil {
				return fmt.Errorf("deleting user: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return pairing.Deletion{}, err
	}
	return del, nil
}

// DeleteHome implements pairing.Store.
func (s *Store) DeleteHome(ctx context.Context, homeID string, unbound func(pairing.Device) []pairing.OutboxEvent) (pairing.Deletion, error) {
	var del pairing.Deletion
	err := s.write(ctx, laneUrgent, false, func(tx wtx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM homes WHERE id = ?", homeID).Scan(&one); err != nil {
			return notFound(err, "home "+homeID)
		}
		var err error
		if del, err = deleteBound(ctx, tx, "", homeID, unbound); err != nil {
			return err
		}
		del.HomesDeleted, err = deleteHomes(ctx, tx, "", homeID)
		return err
	})
	if err != nil {
		return pairing.Deletion{}, err
	}
	return del, nil
}
