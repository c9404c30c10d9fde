package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/store/sqlite"
)

func TestRunBackup(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // the server keeps the database open while it is backed up
	dst := filepath.Join(t.TempDir(), "nbpair-backup.db")

	var out bytes.Buffer
	if err := runBackup(t.Context(), []string{"--data-dir", dir, "-o", dst}, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dst); err != nil {
		t.Fatalf("no backup file: %v", err)
	}
	if !strings.Contains(out.String(), "secret.key") || !strings.Contains(out.String(), "admin.token") {
		t.Errorf("output does not name the files to back up apart:\n%s", out.String())
	}

	for name, args := range map[string][]string{
		"existing file": {"--data-dir", dir, "-o", dst},
		"no -o":         {"--data-dir", dir},
		"no database":   {"--data-dir", t.TempDir(), "-o", filepath.Join(t.TempDir(), "b.db")},
		"postgres":      {"--store", "postgres://nbpair:secret@db.example.com/nbpair", "-o", filepath.Join(t.TempDir(), "b.db")},
	} {
		t.Run(name, func(t *testing.T) {
			err := runBackup(t.Context(), args, &bytes.Buffer{})
			if err == nil {
				t.Fatal("no error")
			}
			if name == "postgres" && (!strings.Contains(err.Error(), "pg_dump") || strings.Contains(err.Error(), "secret")) {
				t.Errorf("error = %v; want one that says pg_dump and hides the password", err)
			}
		})
	}
}
