package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// auditRow is a write of about a kilobyte.
func auditRow(i int) pairing.AuditEntry {
	return pairing.AuditEntry{At: time.Unix(int64(i), 0), Action: "probe", Outcome: pairing.OutcomeOK, Actor: "system",
		Detail: fmt.Sprintf("%04d %s", i, strings.Repeat("x", 1000))}
}

// A database that reaches its size limit (PRAGMA max_page_count gives
// SQLITE_FULL exactly as a full disk does): writes fail with ErrStoreFull,
// and so does the write probe; once the limit is raised both succeed.
func TestFullDatabase(t *testing.T) {
	ctx := context.Background()
	s, err := OpenWith(ctx, t.TempDir(), Options{MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CheckWrite(ctx); err != nil {
		t.Fatalf("CheckWrite on an empty store: %v", err)
	}
	var pages int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		werr = s.AppendAudit(ctx, auditRow(i))
	}
	if !errors.Is(werr, pairing.ErrStoreFull) {
		t.Fatalf("writing into a full database: %v; want ErrStoreFull", werr)
	}
	if err := s.CheckWrite(ctx); !errors.Is(err, pairing.ErrStoreFull) {
		t.Errorf("CheckWrite on a full database: %v; want ErrStoreFull", err)
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite once there is room: %v", err)
	}
	if err := s.AppendAudit(ctx, auditRow(1000)); err != nil {
		t.Errorf("a write once there is room: %v", err)
	}
}

// CheckWrite reports a disk with less free space than the minimum, saying
// how much is free.
func TestCheckWriteMinFree(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	free, ok := freeBytes(dir)
	if !ok {
		t.Skip("the free space of a disk is not known on this system")
	}
	s, err := OpenWith(ctx, dir, Options{MinFreeBytes: int64(free) + 1<<40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.CheckWrite(ctx)
	if !errors.Is(err, pairing.ErrStoreFull) || !strings.Contains(err.Error(), "free on the disk") {
		t.Errorf("CheckWrite under the minimum free space: %v", err)
	}
}

// walSize is the size of the WAL file, 0 when there is none.
func walSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, FileName+"-wal"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The WAL stays small while megabytes are written, one commit at a time,
// and the scheduled checkpoint truncates it once writes stop.
func TestWALStaysSmall(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenWith(ctx, dir, Options{MinFreeBytes: -1, CheckpointEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const writes = 2000 // about 2 MB of rows: twice the WAL's bound
	var peak int64
	for i := range writes {
		if err := s.AppendAudit(ctx, auditRow(i)); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, walSize(t, dir))
	}
	t.Logf("WAL peak %d bytes over %d writes of 1 KB", peak, writes)
	if limit := int64(journalSizeLimit + 64<<10); peak > limit {
		t.Errorf("the WAL grew to %d bytes; want at most %d", peak, limit)
	}
	deadline := time.Now().Add(10 * time.Second)
	for walSize(t, dir) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL is %d bytes 10 s after the last write; want it truncated by the scheduled checkpoint (%+v)",
				walSize(t, dir), s.CheckpointStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.CheckpointStats(); st.Done == 0 {
		t.Errorf("no scheduled checkpoint counted: %+v", st)
	}
}

// Writes that share a commit when the database is full: each is told the
// truth, durable if and only if it was told it succeeded (SQLite rolls the
// whole transaction back on SQLITE_FULL; what ran after must not commit on
// its own).
func TestFullDatabaseBatch(t *testing.T) {
	ctx := context.Background()
	s, err := OpenWith(ctx, t.TempDir(), Options{MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var pages int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+8)); err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make([]error, n)
	done := make(chan int)
	for i := range n {
		go func() { errs[i] = s.AppendAudit(ctx, auditRow(i)); done <- i }()
	}
	for range n {
		<-done
	}
	full := 0
	for i, err := range errs {
		var rows int
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM audit_log WHERE detail LIKE ?", fmt.Sprintf("%04d %%", i)).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		switch {
		case err == nil && rows != 1:
			t.Errorf("write %d was told it succeeded; %d rows", i, rows)
		case err != nil && rows != 0:
			t.Errorf("write %d was told %v; %d rows", i, err, rows)
		case err != nil && !errors.Is(err, pairing.ErrStoreFull):
			t.Errorf("write %d: %v; want ErrStoreFull", i, err)
		case err != nil:
			full++
		}
	}
	if full == 0 {
		t.Errorf("no write found the database full")
	}
	t.Logf("%d of %d writes found the database full, in %+v", full, n, s.CommitStats())
}
