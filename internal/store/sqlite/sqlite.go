// Package sqlite is nbpair's embedded store: one SQLite file in WAL mode,
// written through a single connection and read through a small pool, with
// embedded numbered migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file inside the data directory.
const FileName = "nbpair.db"

// Store is the SQLite implementation of pairing.Store.
type Store struct {
	w *sql.DB // the one writer connection
	r *sql.DB // readers

	wq, rq *queries // their prepared statements

	ops        chan writeOp // writes waiting for the group commit; nil before Open ends
	urgent     chan writeOp // the urgent lane: binds and activations
	writerDone chan struct{}
	j          *journal // the registration journal; nil before Open ends

	commitCounters
}

// Open opens (creating if needed) the database in dir and migrates it to
// the newest schema.
func Open(ctx context.Context, dir string) (*Store, error) {
	path := filepath.Join(dir, FileName)
	w, err := openDB(path, true)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	s := &Store{w: w, wq: newQueries(w)}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if s.r, err = openDB(path, false); err != nil {
		w.Close()
		return nil, err
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4) // the default of 2 would close and reopen connections, each reading the schema again and preparing anew
	s.rq = newQueries(s.r)
	if err := s.openJournal(ctx, dir); err != nil {
		s.r.Close()
		w.Close()
		return nil, err
	}
	s.startWriter()
	return s, nil
}

func openDB(path string, writer bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Close checkpoints the WAL into the database file and closes it.
func (s *Store) Close() error {
	s.j.close()
	s.stopWriter()
	var errs []error
	s.wq.close()
	if s.r != nil {
		s.rq.close()
		errs = append(errs, s.r.Close())
	}
	_, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	errs = append(errs, err, s.w.Close())
	if err := s.j.err(); err != nil {
		errs = append(errs, err)
	} else if s.j.backlogLen() == 0 {
		s.j.removeAll() // everything in it is in the database, synced
	}
	return errors.Join(errs...)
}

// SchemaVersion returns the number of the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.w.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	last := 0
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v <= last {
			return fmt.Errorf("migration %s: name must start with its number, each number once", base)
		}
		last = v
		if v <= current {
			continue
		}
		if err := s.apply(ctx, v, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, version int, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx wtx) error {
		// A script of several statements: not one to keep prepared.
		if _, err := tx.Tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			version, filepath.Base(name), time.Now().UnixNano())
		return err
	})
}

// inTx runs fn in a write transaction: through the group commit once the
// store is open, directly while it migrates.
func (s *Store) inTx(ctx context.Context, fn func(wtx) error) error {
	return s.write(ctx, laneNormal, false, fn)
}

// write runs fn in a write transaction through the given lane; alone is
// for a write that needs no savepoint of its own (see writeOp).
func (s *Store) write(ctx context.Context, l lane, alone bool, fn func(wtx) error) error {
	return s.queueWrite(ctx, writeOp{ctx: ctx, fn: fn, alone: alone, urgent: l == laneUrgent})
}

// writeRegs runs fn, a write of one statement that reads or changes
// registrations, in the normal lane, after every Register journaled
// before it is applied.
func (s *Store) writeRegs(ctx context.Context, fn func(wtx) error) error {
	return s.queueWrite(ctx, writeOp{ctx: ctx, fn: fn, alone: true, regs: true})
}

func (s *Store) queueWrite(ctx context.Context, op writeOp) error {
	if s.ops != nil {
		op.done = make(chan error, 1)
		q := s.ops
		if op.urgent {
			q = s.urgent
		}
		select {
		case q <- op:
		case <-ctx.Done():
			return ctx.Err()
		}
		return <-op.done // a queued write is always answered, after its commit
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := op.fn(wtx{tx, s.wq}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs one statement as a write of its own through the group commit.
func (s *Store) exec(ctx context.Context, l lane, query string, args ...any) (res sql.Result, err error) {
	err = s.write(ctx, l, true, func(tx wtx) error {
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKey reports whether err is a FOREIGN KEY violation: a row names
// a device, product or user that does not exist.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, pairing.ErrNotFound)
	}
	return err
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
