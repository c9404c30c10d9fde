package sqlite

import (
	"context"
	"time"
)

// OnlineRegistrations counts the registrations alive at now: the devices
// online. It reads the expires_at index only, once the registrations
// journaled so far are in it.
func (s *Store) OnlineRegistrations(ctx context.Context, now time.Time) (int, error) {
	if err := s.syncJournal(); err != nil {
		return 0, err
	}
	var n int
	err := s.rq.QueryRowContext(ctx, "SELECT count(*) FROM registrations WHERE expires_at > ?", nanos(now)).Scan(&n)
	return n, err
}
