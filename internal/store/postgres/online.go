package postgres

import (
	"context"
	"time"
)

// OnlineRegistrations counts the registrations alive at now: the devices
// online across the cluster. It reads the expires_at index only.
func (s *Store) OnlineRegistrations(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM registrations WHERE expires_at > $1", nanos(now)).Scan(&n)
	return n, err
}
