package sqlite

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nbpair/nbpair/internal/testkit"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestUrgentLaneGoesFirst: a write in the urgent lane runs in the next
// commit ahead of every normal write queued before it.
func TestUrgentLaneGoesFirst(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	release := make(chan struct{})
	var order atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // holds the writer until the queues are filled
		defer wg.Done()
		s.write(ctx, laneNormal, true, func(wtx) error { <-release; return nil })
	}()
	testkit.Eventually(t, "the writer to be busy", func() bool { return len(s.ops) == 0 && order.Load() == 0 && s.writerBusy() })
	const normal = 300
	ranAt := make([]int64, normal)
	for i := range normal {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.write(ctx, laneNormal, true, func(wtx) error { ranAt[i] = order.Add(1); return nil })
		}()
	}
	testkit.Eventually(t, "the normal writes to queue", func() bool { return len(s.ops) == normal })
	var urgentAt int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.write(ctx, laneUrgent, true, func(wtx) error { urgentAt = order.Add(1); return nil })
	}()
	testkit.Eventually(t, "the urgent write to queue", func() bool { return len(s.urgent) == 1 })
	close(release)
	wg.Wait()
	if urgentAt != 1 {
		t.Errorf("the urgent write ran as number %d, want 1 (before %d normal writes queued earlier)", urgentAt, normal)
	}
	if st := s.CommitStats(); st.Writes-st.Commits < normal-1 {
		t.Errorf("commit stats %+v: the %d queued writes should share a commit", st, normal)
	}
}

// TestPartialWriteRetriedWithSavepoints: an alone write that fails after
// changing something is undone alone; the writes beside it commit.
func TestPartialWriteRetriedWithSavepoints(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	if _, err := s.w.ExecContext(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.write(ctx, laneNormal, true, func(wtx) error { <-release; return nil })
	}()
	testkit.Eventually(t, "the writer to be busy", s.writerBusy)
	errs := make([]error, 3)
	for i, v := range []int{1, 2, 3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.write(ctx, laneNormal, true, func(tx wtx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", v); err != nil {
					return err
				}
				if v == 2 {
					return partialError{errors.New("second statement failed")}
				}
				return nil
			})
		}()
		testkit.Eventually(t, "the write to queue", func() bool { return len(s.ops) == i+1 })
	}
	close(release)
	wg.Wait()
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v, want only the second write to fail", errs)
	}
	var sum int
	if err := s.w.QueryRowContext(ctx, "SELECT COALESCE(SUM(v), 0) FROM t").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 4 {
		t.Errorf("stored sum %d, want 4 (1 and 3; the half-done 2 undone)", sum)
	}
}
