package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/store/postgres"
	"github.com/nbpair/nbpair/internal/store/schema"
	"github.com/nbpair/nbpair/internal/store/sqlite"
)

// migration is one schema migration of a store; AppliedAt is zero while it
// is pending.
type migration = schema.Migration

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
	return p.s.Migrations(ctx)
}

func (p postgresMigrator) Up(ctx context.Context) ([]migration, error) {
	return p.s.Migrate(ctx)
}

// sqliteMigrator is the schema of the SQLite database in a data directory.
// The sqlite package migrates whenever it opens a database, so Up opens and
// closes it and tells what changed.
type sqliteMigrator struct{ dir string }

func (sqliteMigrator) Close() {}

func (m sqliteMigrator) Status(ctx context.Context) ([]migration, error) {
	return sqlite.Migrations(ctx, m.dir)
}

func (m sqliteMigrator) Up(ctx context.Context) ([]migration, error) {
	before, err := sqlite.Migrations(ctx, m.dir)
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
	had := make(map[int]bool, len(before))
	for _, b := range before {
		had[b.Version] = !b.AppliedAt.IsZero()
	}
	after, err := sqlite.Migrations(ctx, m.dir)
	var applied []migration
	for _, a := range after {
		if !a.AppliedAt.IsZero() && !had[a.Version] {
			applied = append(applied, a)
		}
	}
	return applied, err
}
