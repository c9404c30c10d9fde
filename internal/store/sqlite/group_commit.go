package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// Group commit: every write transaction goes through one goroutine, which
// runs the writes that are waiting together in one SQLite transaction and
// commits them with one fsync. A write of several statements runs inside a
// savepoint of its own (when there are several writes), so that one that
// fails rolls back alone; a write of one statement (or one that changes
// nothing before its last statement can fail) needs none, since SQLite
// undoes a failed statement by itself. Nobody is told "done" before the
// commit is on disk.
//
// Writes come in two lanes. The urgent lane (binds, activations) is taken
// first, so that a storm of Registers in the normal lane delays a bind by
// one commit at most, not by the queue in front of it.

// maxBatch bounds how many writes share one commit.
const maxBatch = 1024

// lane is the queue a write waits in.
type lane int

const (
	laneNormal lane = iota
	laneUrgent
)

type writeOp struct {
	ctx context.Context
	fn  func(wtx) error
	// alone is set for a write that needs no savepoint: it leaves nothing
	// behind when it fails, unless it says so with a partialError.
	alone  bool
	urgent bool // came through the urgent lane
	done   chan error
}

// partialError is returned by an alone write that failed after it had
// changed something: the writer then runs the batch again with a
// savepoint for every write.
type partialError struct{ err error }

func (e partialError) Error() string { return e.err.Error() }
func (e partialError) Unwrap() error { return e.err }

// CommitStats are the group commit's counters.
type CommitStats struct {
	Commits int64 // transactions committed or rolled back
	Writes  int64 // writes they carried
}

// CommitStats returns how many commits the store made and how many writes
// they carried: Writes/Commits is the mean batch.
func (s *Store) CommitStats() CommitStats {
	return CommitStats{Commits: s.commits.Load(), Writes: s.written.Load()}
}

func (s *Store) startWriter() {
	s.ops = make(chan writeOp, maxBatch)
	s.urgent = make(chan writeOp, maxBatch)
	s.writerDone = make(chan struct{})
	go s.writer()
}

// stopWriter marks the store closed, so that no write is queued any more,
// and waits for the writer to commit what was queued before.
func (s *Store) stopWriter() {
	s.closeMu.Lock()
	wasClosed := s.closed
	s.closed = true
	s.closeMu.Unlock()
	if s.ops != nil && !wasClosed {
		close(s.ops)
		<-s.writerDone
	}
}

// The writer also checkpoints the WAL on a schedule (disk.go), between
// batches, so that no write is in progress; SQLite checkpoints by itself
// after a batch that grew the WAL past walAutocheckpointPages.
func (s *Store) writer() {
	defer close(s.writerDone)
	tick := time.NewTicker(s.opts.CheckpointEvery)
	defer tick.Stop()
	s.nextCheckpoint = time.Now().Add(s.opts.CheckpointEvery)
	buf := make([]writeOp, 0, maxBatch)
	for {
		batch, open := s.collect(buf[:0], tick.C)
		if len(batch) > 0 {
			s.commit(batch)
			s.dirty = true
			s.wq.prepareWanted(context.Background())
		}
		if !open {
			// Closing: nothing is queued any more; commit what the urgent
			// lane still holds.
			for batch = s.drainUrgent(buf[:0]); len(batch) > 0; batch = s.drainUrgent(buf[:0]) {
				s.commit(batch)
			}
			return
		}
		s.maybeCheckpoint(time.Now())
	}
}

// collect waits for a write and gathers what is waiting behind it,
// urgent ones first; a tick ends the wait with no write. It reports false
// once the store is closing.
func (s *Store) collect(batch []writeOp, tick <-chan time.Time) ([]writeOp, bool) {
	select {
	case op := <-s.urgent:
		batch = append(batch, op)
	default:
		select {
		case op := <-s.urgent:
			batch = append(batch, op)
		case op, ok := <-s.ops:
			if !ok {
				return s.drainUrgent(batch), false
			}
			batch = append(batch, op)
		case <-tick:
			return batch, true
		}
	}
	// Let the writers that are ready to queue do so before the batch
	// closes: one yield turns a few small commits into one larger one.
	for yielded := false; ; yielded = true {
		batch = s.drainUrgent(batch)
		limit := maxBatch
		if urgent := countUrgent(batch); urgent > 0 {
			limit = min(maxBatch, urgent+maxBesideUrgent) // keep an urgent commit short
		}
		var open bool
		if batch, open = s.drainNormal(batch, limit); !open {
			return s.drainUrgent(batch), false
		}
		if yielded || len(batch) >= limit {
			return batch, true
		}
		runtime.Gosched()
	}
}

// maxBesideUrgent bounds the normal writes that share a commit with urgent
// ones, so that a bind waits for a short commit, not for hundreds of rows.
const maxBesideUrgent = 64

func countUrgent(batch []writeOp) int {
	n := 0
	for _, op := range batch {
		if op.urgent {
			n++
		}
	}
	return n
}

func (s *Store) drainUrgent(batch []writeOp) []writeOp {
	for len(batch) < maxBatch {
		select {
		case op := <-s.urgent:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

func (s *Store) drainNormal(batch []writeOp, limit int) ([]writeOp, bool) {
	for len(batch) < limit {
		select {
		case op, ok := <-s.ops:
			if !ok {
				return batch, false
			}
			batch = append(batch, op)
		default:
			return batch, true
		}
	}
	return batch, true
}

// writerBusy reports whether the writer is running a batch, for tests.
func (s *Store) writerBusy() bool { return s.busy.Load() }

// commit runs a batch in one transaction and tells every op how it ended.
func (s *Store) commit(batch []writeOp) {
	s.busy.Store(true)
	defer s.busy.Store(false)
	errs := make([]error, len(batch))
	err := s.runBatch(batch, errs, false)
	var partial partialError
	for _, e := range errs {
		if len(batch) > 1 && errors.As(e, &partial) {
			clear(errs)
			err = s.runBatch(batch, errs, true)
			break
		}
	}
	s.commits.Add(1)
	s.written.Add(int64(len(batch)))
	for i, op := range batch {
		if err != nil {
			errs[i] = fmt.Errorf("commit: %w", err)
		}
		op.done <- errs[i]
	}
}

// runBatch runs the batch in one transaction and commits it, unless an
// alone write failed halfway (then it rolls back: the caller runs the
// batch again with savepoints everywhere).
func (s *Store) runBatch(batch []writeOp, errs []error, savepointAll bool) error {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	w := wtx{tx, s.wq}
	if len(batch) == 1 { // the transaction is its savepoint
		if errs[0] = runAlone(w, batch[0]); errs[0] != nil {
			if isFull(errs[0]) { // SQLite has rolled the transaction back
				tx.Rollback()
				return nil
			}
			return tx.Rollback()
		}
		return tx.Commit()
	}
	for i, op := range batch {
		if op.alone && !savepointAll {
			errs[i] = runAlone(w, op)
			var partial partialError
			if errors.As(errs[i], &partial) {
				return tx.Rollback()
			}
		} else {
			errs[i] = runInSavepoint(w, i, op)
		}
		if isFull(errs[i]) {
			// SQLite may have rolled back the whole transaction: what
			// ran after would commit on its own. Every write fails.
			tx.Rollback()
			return errs[i]
		}
	}
	return tx.Commit()
}

func runAlone(tx wtx, op writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	return op.fn(tx)
}

func runInSavepoint(tx wtx, i int, op writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	ctx := context.Background()
	sp := savepoints[i]
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		return err
	}
	if err := op.fn(tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO "+sp); rerr != nil {
			return fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		tx.ExecContext(ctx, "RELEASE "+sp)
		return err
	}
	_, err := tx.ExecContext(ctx, "RELEASE "+sp)
	return err
}

// savepoints are the names of a batch's savepoints, made once.
var savepoints = func() []string {
	names := make([]string, maxBatch)
	for i := range names {
		names[i] = fmt.Sprintf("op%d", i)
	}
	return names
}()

// counters of the group commit, for CommitStats.
type commitCounters struct {
	commits, written atomic.Int64
	busy             atomic.Bool // a batch is running

	checkpoints, checkpointsFailed atomic.Int64 // scheduled ones
}
