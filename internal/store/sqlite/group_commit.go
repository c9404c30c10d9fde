package sqlite

import (
	"context"
	"fmt"
)

// Group commit: every write transaction goes through one goroutine, which
// runs the writes that are waiting together in one SQLite transaction, each
// inside a savepoint of its own (when there are several), and commits them
// with one fsync. A write that fails rolls back to its savepoint alone; the
// others commit. Nobody is told "done" before the commit is on disk.

// maxBatch bounds how many writes share one commit.
const maxBatch = 256

type writeOp struct {
	ctx  context.Context
	fn   func(wtx) error
	done chan error
}

func (s *Store) startWriter() {
	s.ops = make(chan writeOp, maxBatch)
	s.writerDone = make(chan struct{})
	go s.writer()
}

func (s *Store) stopWriter() {
	if s.ops != nil {
		close(s.ops)
		<-s.writerDone
		s.ops = nil
	}
}

func (s *Store) writer() {
	defer close(s.writerDone)
	for op := range s.ops {
		batch := []writeOp{op}
	fill:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		s.commit(batch)
		s.wq.prepareWanted(context.Background())
	}
}

// commit runs a batch in one transaction and tells every op how it ended.
func (s *Store) commit(batch []writeOp) {
	errs := make([]error, len(batch))
	tx, err := s.w.BeginTx(context.Background(), nil)
	switch {
	case err != nil:
	case len(batch) == 1: // the transaction is its savepoint
		if errs[0] = runAlone(wtx{tx, s.wq}, batch[0]); errs[0] != nil {
			tx.Rollback()
		} else {
			err = tx.Commit()
		}
	default:
		for i, op := range batch {
			errs[i] = runInSavepoint(wtx{tx, s.wq}, i, op)
		}
		err = tx.Commit()
	}
	for i, op := range batch {
		if err != nil {
			errs[i] = fmt.Errorf("commit: %w", err)
		}
		op.done <- errs[i]
	}
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
