package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

const putDownlink = `INSERT INTO downlinks (device_id, kind, payload, created_at)
	VALUES (?, ?, ?, ?) ON CONFLICT (device_id, kind) DO UPDATE SET
	payload = excluded.payload, created_at = excluded.created_at`

// PutDownlink implements pairing.Store.
func (s *Store) PutDownlink(ctx context.Context, d pairing.Downlink) error {
	return s.putDownlink(ctx, putDownlink, d)
}

// RequeueDownlink implements pairing.Store.
func (s *Store) RequeueDownlink(ctx context.Context, d pairing.Downlink) error {
	return s.putDownlink(ctx, putDownlink+" WHERE downlinks.created_at < excluded.created_at", d)
}

func (s *Store) putDownlink(ctx context.Context, query string, d pairing.Downlink) error {
	payload, err := json.Marshal(d.Pairing)
	if err != nil {
		return err
	}
	err = s.write(ctx, laneNormal, true, func(tx wtx) error { // one statement: no savepoint
		_, err := tx.ExecContext(ctx, query, d.DeviceID, string(d.Kind), string(payload), nanos(d.CreatedAt))
		return err
	})
	if isForeignKey(err) {
		return notFound(sql.ErrNoRows, "device "+d.DeviceID)
	}
	return err
}

// Downlinks implements pairing.Store.
func (s *Store) Downlinks(ctx context.Context, deviceID string) ([]pairing.Downlink, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT kind, payload, created_at FROM downlinks
		WHERE device_id = ? ORDER BY created_at`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Downlink
	for rows.Next() {
		d := pairing.Downlink{DeviceID: deviceID}
		var payload string
		var created int64
		if err := rows.Scan(&d.Kind, &payload, &created); err != nil {
			return nil, err
		}
		d.CreatedAt = fromNanos(created)
		var st wire.PairingState
		if err := json.Unmarshal([]byte(payload), &st); err != nil {
			return nil, err
		}
		d.Pairing = st
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDownlink implements pairing.Store.
func (s *Store) DeleteDownlink(ctx context.Context, deviceID string, kind pairing.DownlinkKind, createdAt time.Time) error {
	return s.write(ctx, laneNormal, true, func(tx wtx) error { // one statement: no savepoint
		_, err := tx.ExecContext(ctx, "DELETE FROM downlinks WHERE device_id = ? AND kind = ? AND created_at <= ?",
			deviceID, string(kind), nanos(createdAt))
		return err
	})
}
