package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // the file name, such as 0001_init.sql
	// AppliedAt is when it was applied to the database; zero while it is
	// pending.
	AppliedAt time.Time
}

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

// known returns the embedded migrations in order, checking their names.
func known() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || (len(out) > 0 && v <= out[len(out)-1].Version) || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with its number, each number once", base)
		}
		out = append(out, Migration{Version: v, Name: base})
	}
	return out, nil
}

// Migrate applies the pending migrations in order, each in a transaction of
// its own under the advisory lock, and returns those it applied. A migration
// another node applied meanwhile is skipped.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	all, err := known()
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range all {
		done, err := s.apply(ctx, m)
		if err != nil {
			return applied, err
		}
		if !done.AppliedAt.IsZero() {
			applied = append(applied, done)
		}
	}
	return applied, nil
}

// apply applies m unless it is applied already; it returns m with its
// AppliedAt set if it applied it now.
func (s *Store) apply(ctx context.Context, m Migration) (Migration, error) {
	body, err := migrationFiles.ReadFile("migrations/" + m.Name)
	if err != nil {
		return m, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migrationLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).
			Scan(&exists); err != nil || exists {
			return err
		}
		// Several statements in one string: the simple protocol runs them
		// as one implicit transaction inside ours.
		if _, err := tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		return tx.QueryRow(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2) RETURNING applied_at",
			m.Version, m.Name).Scan(&m.AppliedAt)
	})
	return m, err
}

// Migrations lists every migration this build knows, with when each was
// applied (zero for a pending one), and any applied one it does not know
// (a database migrated by a newer build), in order of version.
func (s *Store) Migrations(ctx context.Context) ([]Migration, error) {
	all, err := known()
	if err != nil {
		return nil, err
	}
	var table *string
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations')::text").Scan(&table); err != nil {
		return nil, err
	}
	if table == nil {
		return all, nil // a new database: everything is pending
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
	for _, a := range applied {
		i, found := slices.BinarySearchFunc(all, a.Version, func(m Migration, v int) int { return m.Version - v })
		if found {
			all[i].AppliedAt = a.AppliedAt
		} else {
			all = slices.Insert(all, i, a)
		}
	}
	return all, nil
}

// SchemaVersion returns the number of the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
