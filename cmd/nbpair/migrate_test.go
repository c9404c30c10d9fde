package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/store/sqlite"
)

// migrateCLI runs `nbpair migrate args...` in process and returns its output.
func migrateCLI(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"migrate"}, args...), &out); err != nil {
		t.Fatalf("nbpair migrate %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// nbpair migrate on a SQLite data directory: everything pending in a new
// one, applied by up, and a migration of a newer build listed as applied.
func TestMigrateSQLite(t *testing.T) {
	known, err := sqlite.Migrations(t.Context(), t.TempDir()) // a directory without a database: every one pending
	if err != nil || len(known) == 0 {
		t.Fatalf("the SQLite store's migrations: %v, %v", known, err)
	}
	dir := t.TempDir()
	if out := migrateCLI(t, "--data-dir", dir, "status"); !strings.Contains(out, fmt.Sprintf("0 applied, %d pending", len(known))) ||
		!strings.Contains(out, "pending  "+known[0].Name) {
		t.Errorf("status of a new data directory:\n%s\nwant all %d pending", out, len(known))
	}
	out := migrateCLI(t, "--data-dir", dir, "up")
	if n := len(regexp.MustCompile(`(?m)^applied \d{4}_\S+\.sql$`).FindAllString(out, -1)); n != len(known) {
		t.Errorf("up applied %d migrations:\n%s\nwant %d", n, out, len(known))
	}
	if out := migrateCLI(t, "--data-dir", dir, "up"); !strings.Contains(out, "nothing to apply") {
		t.Errorf("up again:\n%s\nwant nothing to apply", out)
	}

	// A newer build applied one more migration.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_newer.sql', 1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out = migrateCLI(t, "--data-dir", dir, "status")
	if !strings.Contains(out, fmt.Sprintf("%d applied, 0 pending", len(known)+1)) || !strings.Contains(out, "9999_newer.sql") {
		t.Errorf("status after a newer build's migration:\n%s\nwant it listed as applied", out)
	}
}
