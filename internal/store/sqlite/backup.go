package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database in dir to the new file
// dst, with VACUUM INTO on a read connection of its own: it works while a
// server, in this process or another, keeps writing (WAL mode lets the copy
// read one snapshot), and the copy is a standalone database that Open reads
// from a directory of its own. Backup refuses to overwrite dst, and creates
// it with mode 0600. The admin token and the secret key of the data
// directory are not in the database; Backup does not copy them.
func Backup(ctx context.Context, dir, dst string) (err error) {
	src := filepath.Join(dir, FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: %w", err) // openDB would create an empty database
	}
	dst, err = filepath.Abs(dst) // a path, never read as a file: URI
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// VACUUM INTO writes into an empty file; creating it here refuses an
	// existing one atomically and keeps the copy private.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %s already exists; not overwriting it", dst)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	// The journal first: a record gone from it by the time of the copy's
	// snapshot was applied to the database before that snapshot.
	recs, err := readJournal(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Read-only, but not query_only(1) as the store's readers: that refuses
	// VACUUM INTO. mode=ro still keeps the copy from changing the source.
	db, err := sql.Open("sqlite", "file:"+src+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("backup %s into %s: %w", src, dst, err)
	}
	if err := applyJournalTo(ctx, dst, recs); err != nil {
		return fmt.Errorf("backup: registrations journaled in %s: %w", dir, err)
	}
	return nil
}

// readJournal reads the records of the registration journal in dir.
func readJournal(dir string) ([]journaled, error) {
	segs, err := listSegments(filepath.Join(dir, journalDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []journaled
	for _, sg := range segs {
		recs, err := readSegment(sg.path)
		if errors.Is(err, fs.ErrNotExist) { // applied and deleted meanwhile
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// applyJournalTo applies to the database file path the journaled
// registrations it does not have yet.
func applyJournalTo(ctx context.Context, path string, recs []journaled) error {
	if len(recs) == 0 {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var applied uint64
	if err := db.QueryRowContext(ctx, "SELECT applied_seq FROM journal_state WHERE id = 1").Scan(&applied); err != nil {
		return err
	}
	var todo []journaled
	for _, r := range recs {
		if r.seq > applied {
			todo = append(todo, r)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	q := newQueries(db)
	defer q.close()
	if err := applyRecords(wtx{tx, q}, todo); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
