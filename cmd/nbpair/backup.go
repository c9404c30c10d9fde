package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/nbpair/nbpair/internal/app"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/store/sqlite"
)

// runBackup writes a consistent copy of the SQLite database of the data
// directory to a new file, while a server may be running on it. A
// PostgreSQL store is backed up with PostgreSQL's own tools.
func runBackup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("backup")
	out := fs.String("o", "", "the backup `FILE` to create; an existing file is never overwritten")
	cfg, err := loadConfig(fs, args, "data-dir", "store")
	if err != nil {
		return err
	}
	if cfg.Store != "" {
		return fmt.Errorf("backup: the store is PostgreSQL (%s); back it up with pg_dump, e.g. pg_dump -Fc -f nbpair.dump DBNAME",
			config.RedactedStore(cfg.Store))
	}
	if *out == "" {
		return usagef("backup", "give the backup file with -o FILE")
	}
	if err := sqlite.Backup(ctx, cfg.DataDir, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", filepath.Join(cfg.DataDir, sqlite.FileName), *out)
	fmt.Fprintf(stdout, "not in the backup: %s (seals device PSKs) and %s in %s; back them up too, stored apart from the database\n",
		app.SecretKeyFile, app.AdminTokenFile, cfg.DataDir)
	return nil
}
