package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// The webhook outbox: each event is fanned out, in the transaction of the
// change that caused it, to one row per webhook subscribed to its type.
// SQLite serves one node, so the leases only keep one dispatcher's claims
// apart from its own.

// fanOut writes an event for every webhook whose events list its type
// (each type is stored between spaces).
const fanOut = `INSERT INTO webhook_outbox (webhook_id, event_id, type, device_id, occurred_at, body, next_at)
	SELECT id, ?, ?, ?, ?, ?, ? FROM webhooks WHERE instr(events, ?) > 0`

// writeNotes adds events to the outbox inside tx.
func writeNotes(ctx context.Context, tx wtx, evs []pairing.OutboxEvent) error {
	for _, ev := range evs {
		if _, err := tx.ExecContext(ctx, fanOut, ev.ID, ev.Type, ev.DeviceID, nanos(ev.OccurredAt), ev.Body,
			nanos(ev.OccurredAt), " "+ev.Type+" "); err != nil {
			return fmt.Errorf("webhook outbox: %w", err)
		}
	}
	return nil
}

// writeEnded adds the events of an activation the write ended.
func writeEnded(ctx context.Context, tx wtx, n pairing.Notes, a pairing.Activation) error {
	if n.Ended == nil {
		return nil
	}
	return writeNotes(ctx, tx, n.Ended(a))
}

// RegisterNoting implements pairing.Store: Register's two statements, and
// between them the events of a first registration and of a device coming
// online. Like Register it needs no savepoint: a statement that fails after
// another changed something says so (partialError), and the group commit
// runs the batch again with savepoints.
func (s *Store) RegisterNoting(ctx context.Context, r pairing.Registration, n pairing.Notes) (first bool, err error) {
	args := regArgs(r)
	err = s.write(ctx, laneNormal, true, func(tx wtx) error {
		changed := false
		err := s.registerNoting(ctx, tx, r, n, args, &first, &changed)
		if err != nil && changed {
			return partialError{err}
		}
		return err
	})
	if isForeignKey(err) {
		return false, notFound(sql.ErrNoRows, "device "+r.DeviceID)
	}
	return first && err == nil, err
}

func (s *Store) registerNoting(ctx context.Context, tx wtx, r pairing.Registration, n pairing.Notes, args []any, first, changed *bool) error {
	{
		res, err := tx.ExecContext(ctx, setFirstRegistered, nanos(r.RegisteredAt), r.DeviceID)
		if err != nil {
			return err
		}
		rows, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if *first = rows == 1; *first {
			*changed = true
			if err := writeNotes(ctx, tx, n.First); err != nil {
				return err
			}
		}
		if len(n.Online) > 0 {
			var expires int64
			err := tx.QueryRowContext(ctx, "SELECT expires_at FROM registrations WHERE device_id = ?", r.DeviceID).Scan(&expires)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			if err == sql.ErrNoRows || expires <= nanos(r.RegisteredAt) {
				if err := writeNotes(ctx, tx, n.Online); err != nil {
					return err
				}
				*changed = *changed || len(n.Online) > 0
			}
		}
		_, err = tx.ExecContext(ctx, registerUpsert, args...)
		return err
	}
}

// DeleteExpiredNoting implements pairing.Store.
func (s *Store) DeleteExpiredNoting(ctx context.Context, now time.Time, limit int, n pairing.Notes) ([]pairing.Registration, error) {
	if n.Each == nil {
		return s.DeleteExpired(ctx, now, limit)
	}
	var out []pairing.Registration
	err := s.write(ctx, laneNormal, false, func(tx wtx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `DELETE FROM registrations WHERE id IN
			(SELECT id FROM registrations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING `+regColumns,
			nanos(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			r, err := scanRegistration(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range out {
			if err := writeNotes(ctx, tx, n.Each(r)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eventsColumn stores a webhook's event types each between spaces, so
// that instr finds ' type '.
func eventsColumn(events []string) string { return " " + strings.Join(events, " ") + " " }

// CreateWebhook implements pairing.Store.
func (s *Store) CreateWebhook(ctx context.Context, w pairing.Webhook) error {
	return s.write(ctx, laneNormal, false, func(tx wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webhooks").Scan(&n); err != nil {
			return err
		}
		if n >= pairing.MaxWebhooks {
			return fmt.Errorf("%w: at most %d", pairing.ErrTooManyWebhooks, pairing.MaxWebhooks)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO webhooks (id, url, events, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)",
			w.ID, w.URL, eventsColumn(w.Events), w.Sealed, nanos(w.CreatedAt))
		return err
	})
}

const webhookColumns = "id, url, events, sealed_secret, created_at"

func scanWebhook(row interface{ Scan(...any) error }) (pairing.Webhook, error) {
	var w pairing.Webhook
	var events string
	var created int64
	err := row.Scan(&w.ID, &w.URL, &events, &w.Sealed, &created)
	w.Events, w.CreatedAt = strings.Fields(events), fromNanos(created)
	return w, err
}

// Webhooks implements pairing.Store.
func (s *Store) Webhooks(ctx context.Context) ([]pairing.Webhook, error) {
	rows, err := s.rq.QueryContext(ctx, "SELECT "+webhookColumns+" FROM webhooks ORDER BY created_at, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Webhook implements pairing.Store.
func (s *Store) Webhook(ctx context.Context, id string) (pairing.Webhook, error) {
	w, err := scanWebhook(s.rq.QueryRowContext(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE id = ?", id))
	return w, notFound(err, "webhook "+id)
}

// DeleteWebhook implements pairing.Store; its outbox rows and log go with
// it (ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.exec(ctx, laneNormal, "DELETE FROM webhooks WHERE id = ?", id)
	return affectedOne(res, err, "webhook "+id)
}

const outboxColumns = "seq, webhook_id, event_id, type, device_id, occurred_at, body, attempts"

// ClaimOutbox implements pairing.Store.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]pairing.OutboxItem, error) {
	var out []pairing.OutboxItem
	err := s.write(ctx, laneNormal, true, func(tx wtx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_outbox SET lease_owner = ?, lease_until = ? WHERE seq IN
			(SELECT o.seq FROM webhook_outbox o WHERE o.next_at <= ? AND o.lease_until <= ?
				AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.webhook_id = o.webhook_id
					AND p.device_id = o.device_id AND p.seq < o.seq)
			ORDER BY o.seq LIMIT ?) RETURNING `+outboxColumns, owner, nanos(until), nanos(now), nanos(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it pairing.OutboxItem
			var occurred int64
			if err := rows.Scan(&it.Seq, &it.WebhookID, &it.EventID, &it.Type, &it.DeviceID, &occurred, &it.Body, &it.Attempts); err != nil {
				return err
			}
			it.OccurredAt = fromNanos(occurred)
			out = append(out, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order; the dispatcher wants the oldest first.
	slices.SortFunc(out, func(a, b pairing.OutboxItem) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// FinishOutbox implements pairing.Store.
func (s *Store) FinishOutbox(ctx context.Context, it pairing.OutboxItem, d pairing.Delivery, retryAt time.Time) error {
	return s.write(ctx, laneNormal, false, func(tx wtx) error {
		var err error
		if retryAt.IsZero() {
			_, err = tx.ExecContext(ctx, "DELETE FROM webhook_outbox WHERE seq = ?", it.Seq)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?, lease_owner = '', lease_until = 0
				WHERE seq = ?`, nanos(retryAt), it.Seq)
		}
		if err != nil {
			return err
		}
		return logDelivery(ctx, tx, d)
	})
}

const insertDelivery = `INSERT INTO webhook_deliveries (webhook_id, event_id, type, device_id, attempt, at, status_code, error, outcome, duration)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?)`

func logDelivery(ctx context.Context, tx wtx, d pairing.Delivery) error {
	_, err := tx.ExecContext(ctx, insertDelivery, d.WebhookID, d.EventID, d.Type, d.DeviceID, d.Attempt, nanos(d.At),
		d.StatusCode, d.Error, d.Outcome, int64(d.Duration), d.WebhookID)
	return err
}

// ReleaseOutbox implements pairing.Store.
func (s *Store) ReleaseOutbox(ctx context.Context) error {
	_, err := s.exec(ctx, laneNormal, "UPDATE webhook_outbox SET lease_owner = '', lease_until = 0 WHERE lease_until <> 0")
	return err
}

// Deliveries implements pairing.Store.
func (s *Store) Deliveries(ctx context.Context, webhookID string, before int64, limit int) ([]pairing.Delivery, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.rq.QueryContext(ctx, `SELECT seq, webhook_id, event_id, type, device_id, attempt, at, status_code, error, outcome, duration
		FROM webhook_deliveries WHERE webhook_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, webhookID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Delivery
	for rows.Next() {
		var d pairing.Delivery
		var at, dur int64
		if err := rows.Scan(&d.Seq, &d.WebhookID, &d.EventID, &d.Type, &d.DeviceID, &d.Attempt, &at, &d.StatusCode,
			&d.Error, &d.Outcome, &dur); err != nil {
			return nil, err
		}
		d.At, d.Duration = fromNanos(at), time.Duration(dur)
		out = append(out, d)
	}
	return out, rows.Err()
}

// PruneWebhooks implements pairing.Store.
func (s *Store) PruneWebhooks(ctx context.Context, expireBefore, logBefore time.Time, logKeep int) (int, error) {
	var dropped int64
	err := s.write(ctx, laneNormal, false, func(tx wtx) error {
		now := time.Now().UTC()
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, type, device_id, attempt, at, status_code, error, outcome, duration)
			SELECT webhook_id, event_id, type, device_id, attempts + 1, ?, 0, 'older than the outbox''s maximum age', ?, 0
			FROM webhook_outbox WHERE occurred_at < ? AND lease_until <= ?`,
			nanos(now), pairing.DeliveryExpired, nanos(expireBefore), nanos(now)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_outbox WHERE occurred_at < ? AND lease_until <= ?", nanos(expireBefore), nanos(now))
		if err != nil {
			return err
		}
		if dropped, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE at < ?", nanos(logBefore)); err != nil {
			return err
		}
		return trimLogs(ctx, tx, logKeep)
	})
	return int(dropped), err
}

// trimLogs keeps the newest keep entries of each webhook's delivery log:
// it finds each webhook's oldest entry to keep, newest first on the index
// (webhook_id, seq), and deletes the entries before it. One statement
// that looked the cut up again for every entry cost about a second per
// 5,000 entries, with every write of the store waiting.
func trimLogs(ctx context.Context, tx wtx, keep int) error {
	rows, err := tx.QueryContext(ctx, `SELECT w.id, (SELECT k.seq FROM webhook_deliveries k WHERE k.webhook_id = w.id
		ORDER BY k.seq DESC LIMIT 1 OFFSET ?) FROM webhooks w`, keep)
	if err != nil {
		return err
	}
	type cut struct {
		webhook string
		seq     int64
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		var seq sql.NullInt64
		if err := rows.Scan(&c.webhook, &seq); err != nil {
			rows.Close()
			return err
		}
		if seq.Valid {
			c.seq = seq.Int64
			cuts = append(cuts, c)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, c := range cuts {
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND seq <= ?", c.webhook, c.seq); err != nil {
			return err
		}
	}
	return nil
}

// OutboxDue implements pairing.Store.
func (s *Store) OutboxDue(ctx context.Context, now time.Time) (bool, error) {
	var one int
	err := s.rq.QueryRowContext(ctx, "SELECT 1 FROM webhook_outbox WHERE next_at <= ? AND lease_until <= ? LIMIT 1", nanos(now), nanos(now)).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

// OutboxLen implements pairing.Store.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	var n int
	err := s.rq.QueryRowContext(ctx, "SELECT count(*) FROM webhook_outbox").Scan(&n)
	return n, err
}

// SetBindHook implements pairing.Store.
func (s *Store) SetBindHook(ctx context.Context, h pairing.BindHook) error {
	_, err := s.exec(ctx, laneNormal, `INSERT INTO product_bind_hooks (product_id, url, timeout, on_failure, sealed_secret, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (product_id) DO UPDATE SET url = excluded.url, timeout = excluded.timeout,
		on_failure = excluded.on_failure, sealed_secret = excluded.sealed_secret, created_at = excluded.created_at`,
		h.ProductID, h.URL, int64(h.Timeout), h.OnFailure, h.Sealed, nanos(h.CreatedAt))
	if isForeignKey(err) {
		return fmt.Errorf("product %q: %w", h.ProductID, pairing.ErrProductNotExists)
	}
	return err
}

const bindHookColumns = "h.product_id, h.url, h.timeout, h.on_failure, h.sealed_secret, h.created_at"

func scanBindHook(row *sql.Row, what string) (pairing.BindHook, error) {
	var h pairing.BindHook
	var timeout, created int64
	err := row.Scan(&h.ProductID, &h.URL, &timeout, &h.OnFailure, &h.Sealed, &created)
	h.Timeout, h.CreatedAt = time.Duration(timeout), fromNanos(created)
	return h, notFound(err, what)
}

// BindHook implements pairing.Store.
func (s *Store) BindHook(ctx context.Context, productID string) (pairing.BindHook, error) {
	return scanBindHook(s.rq.QueryRowContext(ctx, "SELECT "+bindHookColumns+" FROM product_bind_hooks h WHERE h.product_id = ?", productID),
		"pre-bind hook of product "+productID)
}

// BindHookOfDevice implements pairing.Store.
func (s *Store) BindHookOfDevice(ctx context.Context, deviceID string) (pairing.BindHook, error) {
	return scanBindHook(s.rq.QueryRowContext(ctx, "SELECT "+bindHookColumns+
		" FROM product_bind_hooks h JOIN devices d ON d.product_id = h.product_id WHERE d.id = ?", deviceID),
		"pre-bind hook of device "+deviceID)
}

// DeleteBindHook implements pairing.Store.
func (s *Store) DeleteBindHook(ctx context.Context, productID string) error {
	res, err := s.exec(ctx, laneNormal, "DELETE FROM product_bind_hooks WHERE product_id = ?", productID)
	return affectedOne(res, err, "pre-bind hook of product "+productID)
}
