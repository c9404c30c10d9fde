package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

// RateLimiter limits the requests of each key to n per period, counted in
// the database, so that every node on it shares one limit. It is GCRA: per
// key one number, the theoretical arrival time (tat), which is the token
// bucket of the in-memory limiter in another form: a burst of n, then one
// request every period/n. Each request is one conditional upsert, so two
// nodes that take at once cannot both take the last request. Times come
// from the database server's clock, the one clock all nodes share.
type RateLimiter struct {
	s      *Store
	prefix string
	every  int64 // nanoseconds between requests at the sustained rate
	per    int64 // nanoseconds of the burst: n requests' worth
}

// RateLimiter returns the shared limiter of n requests per period for the
// keys of the limit called name ("user", "addr").
func (s *Store) RateLimiter(name string, n int, per time.Duration) *RateLimiter {
	return &RateLimiter{s: s, prefix: name + ":", every: int64(per) / int64(n), per: int64(per)}
}

// dbNow is the database server's clock in Unix nanoseconds.
const dbNow = `(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint`

// takeSQL spends a request of key $1 if the key has one: the new arrival
// time, max(tat, now) + every, may be at most per ahead of now. It returns
// no row when the key has none left.
const takeSQL = `WITH c AS (SELECT ` + dbNow + ` AS now)
INSERT INTO rate_limits AS r (key, tat) SELECT $1, c.now + $2 FROM c
ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, excluded.tat - $2) + $2
	WHERE GREATEST(r.tat, excluded.tat - $2) + $2 - (excluded.tat - $2) <= $3
RETURNING tat`

// waitSQL is how long until key $1 has a request again.
const waitSQL = `SELECT tat + $2 - $3 - ` + dbNow + ` FROM rate_limits WHERE key = $1`

// maxKey bounds a key as stored; longer ones are stored as their hash.
const maxKey = 128

// Take spends one request of key. Without one left it reports how long
// until there is one.
func (l *RateLimiter) Take(ctx context.Context, key string) (bool, time.Duration, error) {
	l.s.maybeSweepRates(ctx)
	k := l.prefix + key
	if len(k) > maxKey {
		sum := sha256.Sum256([]byte(k))
		k = l.prefix + hex.EncodeToString(sum[:])
	}
	var tat int64
	err := l.s.pool.QueryRow(ctx, takeSQL, k, l.every, l.per).Scan(&tat)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	var wait int64
	err = l.s.pool.QueryRow(ctx, waitSQL, k, l.every, l.per).Scan(&wait)
	if errors.Is(err, pgx.ErrNoRows) { // swept in between: it had none a moment ago
		return false, time.Duration(l.every), nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	return false, time.Duration(max(wait, 1)), nil
}

// rateSweepEvery is how often a node deletes the rows of keys whose limit
// is as good as new.
const rateSweepEvery = time.Minute

// maybeSweepRates sweeps the rate limits if this node has not done so for
// rateSweepEvery. A failed sweep is tried again then.
func (s *Store) maybeSweepRates(ctx context.Context) {
	now := time.Now().UnixNano()
	last := s.rateSwept.Load()
	if now-last < int64(rateSweepEvery) || !s.rateSwept.CompareAndSwap(last, now) {
		return
	}
	s.SweepRateLimits(ctx)
}

// SweepRateLimits deletes the rows of keys whose limit is as good as new
// (their arrival time has passed) and returns how many it deleted. Nodes
// run it every minute, so the table holds the keys limited in the last
// period and the minute before.
func (s *Store) SweepRateLimits(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE tat < `+dbNow)
	return tag.RowsAffected(), err
}

// codeDiskFull is PostgreSQL's disk_full.
const codeDiskFull = "53100"

// CheckWrite reports whether the store can write now: one small upsert.
// A full disk on the database server wraps pairing.ErrStoreFull.
func (s *Store) CheckWrite(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO write_probe (id, at) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at`, time.Now().UnixNano())
	switch {
	case hasCode(err, codeDiskFull):
		return fmt.Errorf("%w: the write probe failed: %w", pairing.ErrStoreFull, err)
	case err != nil:
		return fmt.Errorf("the write probe failed: %w", err)
	}
	return nil
}
