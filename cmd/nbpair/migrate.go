package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to read a data directory's migrations without changing it

	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/store/postgres"
	"github.com/nbpair/nbpair/internal/store/sqlite"
)

// migration is one schema migration of a store; AppliedAt is zero while it
// is pending.
type migration struct {
	Name      string
	AppliedAt time.Time
}

// migrator is the schema of the configured store.
type migrator interface {
	// Status lists the migrations this build knows and any newer applied
	// ones, in order.
	Status(ctx context.Context) ([]migration, error)
	// Up applies the pending migrations and returns them.
	Up(ctx context.Context) ([]migration, error)
	Close()
}

// runMigrate applies (up) or lists (status) the migrations of the store
// that serve would use with the same flags, environment and config file.
// serve applies them itself when it starts; migrate lets an operator do it
// first, for example once before rolling out several nodes.
func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("migrate")
	cfg, pos, err := loadConfigArgs(fs, args, "store", "data-dir")
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "up" && pos[0] != "status") {
		return usagef("migrate", "give up or status, once")
	}
	m, where, err := openMigrator(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintln(stdout, "store:", where)
	up := pos[0] == "up"
	if up {
		applied, err := m.Up(ctx)
		for _, a := range applied {
			fmt.Fprintln(stdout, "applied", a.Name)
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "nothing to apply")
		}
	}
	list, err := m.Status(ctx)
	if err != nil {
		return err
	}
	return printMigrations(stdout, list, !up)
}

// printMigrations prints how many migrations are applied and pending, after
// a line for each if all is set.
func printMigrations(w io.Writer, list []migration, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	pending := 0
	for _, m := range list {
		switch {
		case m.AppliedAt.IsZero():
			pending++
			if all {
				fmt.Fprintf(tw, "pending\t%s\n", m.Name)
			}
		case all:
			fmt.Fprintf(tw, "applied\t%s\t%s\n", m.Name, m.AppliedAt.Local().Format(time.DateTime))
		}
	}
	fmt.Fprintf(tw, "%d applied, %d pending\n", len(list)-pending, pending)
	return tw.Flush()
}

// openMigrator opens the configured store's schema and names the store
// without secrets.
func openMigrator(ctx context.Context, cfg config.Config) (migrator, string, error) {
	if cfg.Store != "" {
		s, err := postgres.Connect(ctx, cfg.Store)
		if err != nil {
			return nil, "", err
		}
		return postgresMigrator{s}, "postgres " + config.RedactedStore(cfg.Store), nil
	}
	return sqliteMigrator{dir: cfg.DataDir}, "sqlite " + filepath.Join(cfg.DataDir, sqlite.FileName), nil
}

type postgresMigrator struct{ s *postgres.Store }

func (p postgresMigrator) Close() { p.s.Close() }

func (p postgresMigrator) Status(ctx context.Context) ([]migration, error) {
	list, err := p.s.Migrations(ctx)
	return fromPostgres(list), err
}

func (p postgresMigrator) Up(ctx context.Context) ([]migration, error) {
	list, err := p.s.Migrate(ctx)
	return fromPostgres(list), err
}

func fromPostgres(list []postgres.Migration) []migration {
	out := make([]migration, len(list))
	for i, m := range list {
		out[i] = migration{Name: m.Name, AppliedAt: m.AppliedAt}
	}
	return out
}

// sqliteMigrator is the schema of the SQLite database in a data directory.
// The sqlite package migrates whenever it opens a database, so Status reads
// the applied migrations with the bare driver, read-only, and learns which
// migrations exist by opening a new database in a temporary directory.
type sqliteMigrator struct{ dir string }

func (sqliteMigrator) Close() {}

func (m sqliteMigrator) Status(ctx context.Context) ([]migration, error) {
	known, err := knownSQLiteMigrations(ctx)
	if err != nil {
		return nil, err
	}
	applied, err := appliedSQLite(ctx, filepath.Join(m.dir, sqlite.FileName))
	if err != nil {
		return nil, err
	}
	out := make([]migration, 0, len(known))
	for _, k := range known {
		out = append(out, migration{Name: k.Name, AppliedAt: applied[k.Name]})
		delete(applied, k.Name)
	}
	newer := len(out)
	for name, at := range applied { // applied by a newer nbpair
		out = append(out, migration{Name: name, AppliedAt: at})
	}
	slices.SortFunc(out[newer:], func(a, b migration) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m sqliteMigrator) Up(ctx context.Context) ([]migration, error) {
	path := filepath.Join(m.dir, sqlite.FileName)
	before, err := appliedSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s, err := sqlite.Open(ctx, m.dir)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	list, err := m.Status(ctx)
	var applied []migration
	for _, a := range list {
		if _, ok := before[a.Name]; !ok && !a.AppliedAt.IsZero() {
			applied = append(applied, a)
		}
	}
	return applied, err
}

// knownSQLiteMigrations lists the migrations of this build's SQLite store,
// as a new database in a temporary directory records them.
func knownSQLiteMigrations(ctx context.Context) ([]migration, error) {
	dir, err := os.MkdirTemp("", "nbpair-migrate")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	return readSQLiteMigrations(ctx, filepath.Join(dir, sqlite.FileName))
}

// appliedSQLite returns when each migration of the database at path was
// applied, by name; none if there is no database yet.
func appliedSQLite(ctx context.Context, path string) (map[string]time.Time, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return map[string]time.Time{}, nil
	}
	list, err := readSQLiteMigrations(ctx, path)
	out := make(map[string]time.Time, len(list))
	for _, m := range list {
		out[m.Name] = m.AppliedAt
	}
	return out, err
}

// readSQLiteMigrations reads the schema_migrations table of the database at
// path without changing the database.
func readSQLiteMigrations(ctx context.Context, path string) ([]migration, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").
		Scan(&tables); err != nil || tables == 0 {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []migration
	for rows.Next() {
		var m migration
		var at int64
		if err := rows.Scan(&m.Name, &at); err != nil {
			return nil, err
		}
		m.AppliedAt = time.Unix(0, at)
		out = append(out, m)
	}
	return out, rows.Err()
}
