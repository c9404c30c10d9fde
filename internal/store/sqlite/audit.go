package sqlite

import (
	"context"

	"github.com/nbpair/nbpair/internal/pairing"
)

// AppendAudit implements pairing.Store.
func (s *Store) AppendAudit(ctx context.Context, e pairing.AuditEntry) error {
	_, err := s.exec(ctx, laneNormal, `INSERT INTO audit_log (at, action, outcome, actor, user_id, device_id, remote_addr, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nanos(e.At), e.Action, e.Outcome, e.Actor, e.UserID, e.DeviceID, e.RemoteAddr, e.Detail)
	return err
}

const auditFilter = ` FROM audit_log WHERE (? = '' OR device_id = ?) AND (? = '' OR user_id = ?)
	AND (? = '' OR action = ?) AND (? = '' OR outcome = ?)`

// Audit implements pairing.Store.
func (s *Store) Audit(ctx context.Context, q pairing.AuditQuery) ([]pairing.AuditEntry, int, error) {
	args := []any{q.DeviceID, q.DeviceID, q.UserID, q.UserID, q.Action, q.Action, q.Outcome, q.Outcome}
	var total int
	if err := s.rq.QueryRowContext(ctx, "SELECT COUNT(*)"+auditFilter, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.rq.QueryContext(ctx, `SELECT id, at, action, outcome, actor, user_id, device_id, remote_addr, detail`+
		auditFilter+` AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?`, append(args, q.Before, q.Before, q.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []pairing.AuditEntry
	for rows.Next() {
		var e pairing.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.Outcome, &e.Actor, &e.UserID, &e.DeviceID, &e.RemoteAddr, &e.Detail); err != nil {
			return nil, 0, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, total, rows.Err()
}
