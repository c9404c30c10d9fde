package sqlite

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// cancelFromSQL is what the SQL function cancel_caller() calls: it lets a
// test cancel a write's context while the write's statement runs.
var cancelFromSQL atomic.Pointer[context.CancelFunc]

func init() {
	sqlite.MustRegisterScalarFunction("cancel_caller", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		if c := cancelFromSQL.Swap(nil); c != nil {
			(*c)()
			time.Sleep(50 * time.Millisecond) // the driver interrupts from another goroutine
		}
		return int64(0), nil
	})
}

// TestCancelledWriteKeepsItsBatch: a caller that gives up while its write
// runs inside a shared commit does not roll back the writes beside it.
func TestCancelledWriteKeepsItsBatch(t *testing.T) {
	s := openInternal(t)
	bg := context.Background()
	if _, err := s.w.ExecContext(bg, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	insert := func(ctx context.Context, query string) writeOp {
		return writeOp{ctx: ctx, alone: true, done: make(chan error, 1), fn: func(tx wtx) error {
			_, err := tx.ExecContext(ctx, query)
			return err
		}}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	cancelFromSQL.Store(&cancel)
	batch := []writeOp{
		insert(bg, "INSERT INTO t (v) VALUES (1)"),
		insert(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
			INSERT INTO t (v) SELECT 2 FROM c WHERE x = 200000 AND NOT cancel_caller()`),
		insert(bg, "INSERT INTO t (v) VALUES (3)"),
	}
	s.commit(batch)
	for i, op := range batch {
		if err := <-op.done; err != nil {
			t.Errorf("write %d: %v", i+1, err)
		}
	}
	var n, sum int
	if err := s.w.QueryRowContext(bg, "SELECT COUNT(*), COALESCE(SUM(v), 0) FROM t").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 3 || sum != 6 {
		t.Errorf("stored %d rows summing to %d, want 3 summing to 6", n, sum)
	}
}
