package postgres

import (
	"context"

	"github.com/nbpair/nbpair/internal/pairing"
)

// AppendAudit implements pairing.Store.
func (s *Store) AppendAudit(ctx context.Context, e pairing.AuditEntry) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, action, outcome, actor, user_id, device_id, remote_addr, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, nanos(e.At), e.Action, e.Outcome, e.Actor, e.UserID, e.DeviceID, e.RemoteAddr, e.Detail)
	return err
}

// auditFilter selects the entries of an AuditQuery; an empty field matches
// every entry.
const auditFilter = ` FROM audit_log WHERE ($1 = '' OR device_id = $1) AND ($2 = '' OR user_id = $2)
	AND ($3 = '' OR action = $3) AND ($4 = '' OR outcome = $4)`

// Audit implements pairing.Store.
func (s *Store) Audit(ctx context.Context, q pairing.AuditQuery) ([]pairing.AuditEntry, int, error) {
	args := []any{q.DeviceID, q.UserID, q.Action, q.Outcome}
	var total int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(*)"+auditFilter, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, action, outcome, actor, user_id, device_id, remote_addr, detail`+
		auditFilter+` AND ($5::bigint = 0 OR id < $5) ORDER BY id DESC LIMIT $6`, append(args, q.Before, q.Limit)...)
	out, err := scanAll(rows, err, func(row scanner) (pairing.AuditEntry, error) {
		var e pairing.AuditEntry
		var at int64
		err := row.Scan(&e.ID, &at, &e.Action, &e.Outcome, &e.Actor, &e.UserID, &e.DeviceID, &e.RemoteAddr, &e.Detail)
		e.At = fromNanos(at)
		return e, err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
