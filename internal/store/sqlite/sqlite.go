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
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/schema"
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
	// closeMu guards closed, and ops and urgent against being closed
	// while a write is being queued: a write holds it shared until its op
	// is queued, Close exclusively while it marks the store closed.
	closeMu sync.RWMutex
	closed  bool
	commitCounters

	dir  string
	opts Options
	// The scheduled checkpoint, owned by the writer goroutine.
	nextCheckpoint time.Time
	dirty          bool // written since the last checkpoint
}

// Open opens (creating if needed) the database in dir and migrates it to
// the newest schema, with the default Options.
func Open(ctx context.Context, dir string) (*Store, error) {
	return OpenWith(ctx, dir, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dir string, opts Options) (*Store, error) {
	path := filepath.Join(dir, FileName)
	w, err := openDB(path, true)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	s := &Store{w: w, wq: newQueries(w), dir: dir, opts: opts.withDefaults()}
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
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutocheckpointPages))
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", journalSizeLimit))
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
	s.stopWriter()
	var errs []error
	s.wq.close()
	if s.r != nil {
		s.rq.close()
		errs = append(errs, s.r.Close())
	}
	_, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	errs = append(errs, err, s.w.Close())
	return errors.Join(errs...)
}

// SchemaVersion returns the number of the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.w.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	_, err := schema.Up(ctx, migrations, "migrations", applier{s})
	return err
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`

// applier applies migrations to the store's database while it opens,
// before the group commit starts; one process holds the file.
type applier struct{ s *Store }

// Apply implements schema.Applier.
func (a applier) Apply(ctx context.Context, m Migration, body string) (time.Time, error) {
	var done bool
	err := a.s.w.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", m.Version).Scan(&done)
	if err != nil || done {
		return time.Time{}, err
	}
	at := time.Now()
	return at, a.s.inTx(ctx, func(tx wtx) error {
		// A script of several statements: not one to keep prepared.
		if _, err := tx.Tx.ExecContext(ctx, body); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, at.UnixNano())
		return err
	})
}

// Migration is one numbered schema change; AppliedAt is zero while it is
// pending.
type Migration = schema.Migration

// Migrations lists every migration this build knows with when the database
// in dir applied it (zero for a pending one), and any applied one it does
// not know (a database migrated by a newer build), in order of version. It
// reads the database without changing it, and a data directory without a
// database has every migration pending.
func Migrations(ctx context.Context, dir string) ([]Migration, error) {
	known, err := schema.Known(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return known, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").
		Scan(&tables); err != nil || tables == 0 {
		return known, err
	}
	rows, err := db.QueryContext(ctx, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var applied []Migration
	for rows.Next() {
		var m Migration
		var at int64
		if err := rows.Scan(&m.Version, &m.Name, &at); err != nil {
			return nil, err
		}
		m.AppliedAt = time.Unix(0, at)
		applied = append(applied, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return schema.Status(known, applied), nil
}

// inTx runs fn in a write transaction: through the group commit once the
// store is open, directly while it migrates.
func (s *Store) inTx(ctx context.Context, fn func(wtx) error) error {
	return s.write(ctx, laneNormal, false, fn)
}

// write runs fn in a write transaction through the given lane; alone is
// for a write that needs no savepoint of its own (see writeOp).
func (s *Store) write(ctx context.Context, l lane, alone bool, fn func(wtx) error) error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errClosed
	}
	if s.ops != nil {
		op := writeOp{ctx: ctx, fn: fn, alone: alone, urgent: l == laneUrgent, done: make(chan error, 1)}
		q := s.ops
		if l == laneUrgent {
			q = s.urgent
		}
		select {
		case q <- op:
		case <-ctx.Done():
			s.closeMu.RUnlock()
			return ctx.Err()
		}
		s.closeMu.RUnlock()
		return fullError(<-op.done) // a queued write is always answered, after its commit
	}
	s.closeMu.RUnlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fullError(err)
	}
	if err := fn(wtx{tx, s.wq}); err != nil {
		tx.Rollback()
		return fullError(err)
	}
	return fullError(tx.Commit())
}

// errClosed answers a write made once Close has begun.
var errClosed = errors.New("sqlite: the store is closed")

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
