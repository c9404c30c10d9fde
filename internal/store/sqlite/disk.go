package sqlite

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nbpair/nbpair/internal/pairing"
)

// A store on a small disk: the WAL is kept small so that freeing space
// gives the store room for long, a write that finds the disk full fails
// with pairing.ErrStoreFull, and CheckWrite tells the readiness check
// whether the store can write now.

// Options tune how the store uses its disk. Zero fields take the defaults.
type Options struct {
	// MinFreeBytes is the free space on the database's disk under which
	// CheckWrite reports the store as full. Negative turns the check off.
	MinFreeBytes int64
	// CheckpointEvery is how often the WAL is copied into the database
	// file and truncated, when something was written since the last time.
	CheckpointEvery time.Duration
}

// Defaults of Options.
const (
	DefaultMinFreeBytes    = 64 << 20
	DefaultCheckpointEvery = 10 * time.Second
)

// The WAL's bounds: SQLite checkpoints by itself (PASSIVE, in the commit
// that crosses it) once the WAL holds walAutocheckpointPages pages, and a
// WAL file that grew past journalSizeLimit is truncated back to it when
// the log restarts. SQLite's default of 1,000 pages and no truncation kept
// a WAL of about 4 MB on disk for good.
const (
	walAutocheckpointPages = 256
	journalSizeLimit       = 1 << 20
)

func (o Options) withDefaults() Options {
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = DefaultMinFreeBytes
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	return o
}

// isFull reports whether err is SQLite's "database or disk is full": the
// disk had no room, or the database reached max_page_count.
func isFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// fullError marks a write that found the disk full with pairing.ErrStoreFull.
func fullError(err error) error {
	if err == nil || !isFull(err) || errors.Is(err, pairing.ErrStoreFull) {
		return err
	}
	return fmt.Errorf("%w: %w", pairing.ErrStoreFull, err)
}

// probePad is the size of the probe's blob: eight pages of 4 KiB, so that
// the probe needs pages of its own, more than the last few a full database
// may have left in its free list.
const probePad = 32 << 10

// CheckWrite reports whether the store can write now: the database's disk
// has at least the configured free space, and a small write that needs
// new pages commits through the group commit. Its errors wrap
// pairing.ErrStoreFull when the disk (or the database's size limit) is
// the reason.
func (s *Store) CheckWrite(ctx context.Context) error {
	if free, ok := freeBytes(s.dir); ok && s.opts.MinFreeBytes >= 0 && free < uint64(s.opts.MinFreeBytes) {
		return fmt.Errorf("%w: %s free on the disk of the data directory, under the minimum of %s",
			pairing.ErrStoreFull, byteSize(free), byteSize(uint64(s.opts.MinFreeBytes)))
	}
	err := s.write(ctx, laneNormal, false, func(tx wtx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO write_probe (id, pad) VALUES (1, zeroblob(?))", probePad); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM write_probe WHERE id = 1")
		return err
	})
	if err != nil {
		return fmt.Errorf("the write probe failed: %w", err)
	}
	return nil
}

// byteSize writes n in the largest binary unit that keeps it above one.
func byteSize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkpointBusyTimeout is how long a scheduled checkpoint waits for
// readers to leave an old snapshot before it gives up until the next one;
// the writer waits meanwhile, so it is short.
const checkpointBusyTimeout = 100 * time.Millisecond

// checkpoint copies the WAL into the database file and truncates the WAL
// to nothing. The writer goroutine calls it between batches, so no write
// is in progress. It reports whether every frame was copied.
func (s *Store) checkpoint() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", checkpointBusyTimeout.Milliseconds())); err != nil {
		return false, err
	}
	defer conn.ExecContext(ctx, "PRAGMA busy_timeout = 10000")
	var busy, logFrames, copied int
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &copied); err != nil {
		return false, err
	}
	return busy == 0, nil
}

// CheckpointStats counts the scheduled checkpoints.
type CheckpointStats struct {
	Done   int64 // checkpoints that copied the whole WAL and truncated it
	Failed int64 // checkpoints that failed (a full disk) or gave up (a busy reader)
}

// CheckpointStats returns the counts of scheduled checkpoints.
func (s *Store) CheckpointStats() CheckpointStats {
	return CheckpointStats{Done: s.checkpoints.Load(), Failed: s.checkpointsFailed.Load()}
}

// maybeCheckpoint runs the scheduled checkpoint when it is due and
// something was written since the last one.
func (s *Store) maybeCheckpoint(now time.Time) {
	if !s.dirty || now.Before(s.nextCheckpoint) {
		return
	}
	s.nextCheckpoint = now.Add(s.opts.CheckpointEvery)
	done, err := s.checkpoint()
	if err != nil || !done {
		s.checkpointsFailed.Add(1) // tried again at the next tick
		return
	}
	s.dirty = false
	s.checkpoints.Add(1)
}
