// Package postgres is nbpair's shared store for running several nodes: a
// PostgreSQL database reached through a pgx connection pool, with embedded
// numbered migrations that one node at a time applies under an advisory
// lock.
//
// Times are stored as Unix nanoseconds in bigint columns, as in the SQLite
// store, because timestamptz keeps only microseconds and the store must
// give back the time it was given. Driver errors are mapped to the
// sentinels of package pairing exactly as the SQLite store maps them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Store = (*Store)(nil)

// Store is the PostgreSQL implementation of pairing.Store. It is safe for
// concurrent use, also by several processes on one database.
type Store struct {
	pool *pgxpool.Pool

	rateSwept atomic.Int64 // Unix nanoseconds of this node's last sweep of rate_limits
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string, as pgx reads them; search_path and pool_max_conns may be
// set in it) and migrates it to the newest schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect connects to the database without migrating it, for tools that
// look at the schema before changing it (nbpair migrate status). The store's
// other methods need the newest schema: call Migrate first.
func Connect(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgconn redacts the password
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", where(cfg.ConnConfig), err)
	}
	return &Store{pool: pool}, nil
}

// where names the server and database of c, without credentials.
func where(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction, committed if fn returns nil and rolled back
// otherwise.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// SQLSTATE codes the store maps to domain errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

func hasCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool { return hasCode(err, codeUniqueViolation) }

// isForeignKey reports whether err is a FOREIGN KEY violation: a row names
// a device, product or user that does not exist.
func isForeignKey(err error) bool { return hasCode(err, codeForeignKeyViolation) }

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, pairing.ErrNotFound)
	}
	return err
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound(pgx.ErrNoRows, what)
	}
	return nil
}

// scanner is a row to scan: pgx.Row, or pgx.Rows positioned on a row.
type scanner interface{ Scan(...any) error }

// scanAll scans every row of rows with scan.
func scanAll[T any](rows pgx.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// nanos is t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// nullNanos is t in Unix nanoseconds, NULL for the zero time.
func nullNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// fromNanos is the time of n Unix nanoseconds in UTC, the zero time for 0.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
