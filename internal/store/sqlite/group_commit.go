package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Group commit: every write transaction goes through one goroutine, which
// runs the writes that are waiting together in one SQLite transaction, each
// inside a savepoint of its own, and commits them with one fsync. A write
// that fails rolls back to its savepoint alone; the others commit. Nobody
// is told "done" before the commit is on disk.

// maxBatch bounds how many writes share one commit.
const maxBatch = 256

type writeOp struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
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
	}
}

// commit runs a batch in one transaction and tells every op how it ended.
func (s *Store) commit(batch []writeOp) {
	errs := make([]error, len(batch))
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err == nil {
		for i, op := range batch {
			errs[i] = runInSavepoint(tx, i, op)
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

func runInSavepoint(tx *sql.Tx, i int, op writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	sp := fmt.Sprintf("op%d", i)
	if _, err := tx.Exec("SAVEPOINT " + sp); err != nil {
		return err
	}
	if err := op.fn(tx); err != nil {
		if _, rerr := tx.Exec("ROLLBACK TO " + sp); rerr != nil {
			return fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		tx.Exec("RELEASE " + sp)
		return err
	}
	_, err := tx.Exec("RELEASE " + sp)
	return err
}
