package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

const putDownlink = `INSERT INTO downlinks (device_id, kind, payload, created_at)
	VALUES ($1, $2, $3, $4) ON CONFLICT (device_id, kind) DO UPDATE SET
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
	_, err = s.pool.Exec(ctx, query, d.DeviceID, string(d.Kind), string(payload), nanos(d.CreatedAt))
	if isForeignKey(err) {
		return notFound(pgx.ErrNoRows, "device "+d.DeviceID)
	}
	return err
}

// Downlinks implements pairing.Store.
func (s *Store) Downlinks(ctx context.Context, deviceID string) ([]pairing.Downlink, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, payload, created_at FROM downlinks
		WHERE device_id = $1 ORDER BY created_at`, deviceID)
	return scanAll(rows, err, func(row scanner) (pairing.Downlink, error) {
		d := pairing.Downlink{DeviceID: deviceID}
		var payload []byte
		var created int64
		if err := row.Scan(&d.Kind, &payload, &created); err != nil {
			return d, err
		}
		d.CreatedAt = fromNanos(created)
		return d, json.Unmarshal(payload, &d.Pairing)
	})
}

// DeleteDownlink implements pairing.Store.
func (s *Store) DeleteDownlink(ctx context.Context, deviceID string, kind pairing.DownlinkKind, createdAt time.Time) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM downlinks WHERE device_id = $1 AND kind = $2 AND created_at <= $3",
		deviceID, string(kind), nanos(createdAt))
	return err
}
