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
	return nil
}
