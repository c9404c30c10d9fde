package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/store/schema"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change; AppliedAt is zero while it is
// pending.
type Migration = schema.Migration

// migrationLock is the statement every migration transaction starts with:
// a transaction-scoped advisory lock, so that of several nodes starting at
// once one applies a migration and the others wait, then find it applied.
// The key is derived from the schema, so that migrations of other schemas
// in the same database (tests, other tenants) do not wait for each other.
// The lock is released by the commit or rollback, even if the connection is
// lost.
const migrationLock = `SELECT pg_advisory_xact_lock(hashtextextended('nbpair.migrate.' || COALESCE(current_schema(), ''), 0))`

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now())`

// Migrate applies the pending migrations in order, each in a transaction of
// its own under the advisory lock, and returns those it applied. A migration
// another node applied meanwhile is skipped.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	return schema.Up(ctx, migrationFiles, "migrations", applier{s})
}

// applier applies migrations to the store's database.
type applier struct{ s *Store }

// Apply implements schema.Applier: m is applied in a transaction that
// holds the migration lock and first checks whether another node applied
// it meanwhile.
func (a applier) Apply(ctx context.Context, m Migration, body string) (time.Time, error) {
	var at time.Time
	err := a.s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migrationLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).
			Scan(&exists); err != nil || exists {
			return err
		}
		// Several statements in one string: the simple protocol runs them
		// as one implicit transaction inside ours.
		if _, err := tx.Exec(ctx, body, pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2) RETURNING applied_at",
			m.Version, m.Name).Scan(&at)
	})
	return at, err
}

// Migrations lists every migration this build knows, with when each was
// applied (zero for a pending one), and any applied one it does not know
// (a database migrated by a newer build), in order of version.
func (s *Store) Migrations(ctx context.Context) ([]Migration, error) {
	known, err := schema.Known(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var table *string
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations')::text").Scan(&table); err != nil {
		return nil, err
	}
	if table == nil {
		return known, nil // a new database: everything is pending
	}
	rows, err := s.pool.Query(ctx, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	applied, err := scanAll(rows, err, func(r scanner) (Migration, error) {
		var m Migration
		err := r.Scan(&m.Version, &m.Name, &m.AppliedAt)
		return m, err
	})
	if err != nil {
		return nil, err
	}
	return schema.Status(known, applied), nil
}

// SchemaVersion returns the number of the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
