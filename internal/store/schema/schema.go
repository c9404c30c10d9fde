// Package schema runs a store's numbered SQL migrations: it reads them from
// an embedded file system, applies the pending ones in order through the
// store, and lists what a database has applied next to what this build
// knows. The SQLite and PostgreSQL stores share it; each brings only how it
// applies one migration and how it reads the applied ones.
package schema

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // the file name, such as 0001_init.sql
	// AppliedAt is when it was applied to the database; zero while it is
	// pending.
	AppliedAt time.Time
}

// Known returns the migrations in dir of fsys (files named
// NNNN_what.sql), in order of version, checking that each number starts
// its name and comes once.
func Known(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v <= 0 || (len(out) > 0 && v <= out[len(out)-1].Version) {
			return nil, fmt.Errorf("migration %s: name must start with its number, each number once", base)
		}
		out = append(out, Migration{Version: v, Name: base})
	}
	return out, nil
}

// Applier applies one migration to a database.
type Applier interface {
	// Apply runs the migration m, whose SQL is body, and records it as
	// applied, in one transaction, unless the database has it already
	// (applied by another node meanwhile, say). It returns when m was
	// applied now, or the zero time if it was applied before.
	Apply(ctx context.Context, m Migration, body string) (time.Time, error)
}

// Up applies the migrations in dir of fsys that the database does not have,
// in order, and returns those it applied, up to the first that failed.
func Up(ctx context.Context, fsys fs.FS, dir string, a Applier) ([]Migration, error) {
	all, err := Known(fsys, dir)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range all {
		body, err := fs.ReadFile(fsys, path.Join(dir, m.Name))
		if err != nil {
			return applied, err
		}
		at, err := a.Apply(ctx, m, string(body))
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if !at.IsZero() {
			m.AppliedAt = at
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// Status lists every migration in known with when the database applied it
// (zero for a pending one), and every applied one that known lacks (a
// database migrated by a newer build), in order of version.
func Status(known, applied []Migration) []Migration {
	all := slices.Clone(known)
	for _, a := range applied {
		i, found := slices.BinarySearchFunc(all, a.Version, func(m Migration, v int) int { return m.Version - v })
		if found {
			all[i].AppliedAt = a.AppliedAt
		} else {
			all = slices.Insert(all, i, a)
		}
	}
	return all
}
