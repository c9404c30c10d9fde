package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// rows counts the rate_limits rows of the schema of dsn.
func rateRows(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM rate_limits").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Two stores on one database, as two nodes have, share a limit: requests
// of one key alternating between them, then racing on both, are accepted
// no more than the limit allows in the time they took.
func TestRateLimiterShared(t *testing.T) {
	dsn := freshSchema(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	const n = 10
	la, lb := a.RateLimiter("user", n, time.Minute), b.RateLimiter("user", n, time.Minute)
	ctx := t.Context()
	allowed := func(elapsed time.Duration) int { return n + int(elapsed/(time.Minute/n)) }

	start := time.Now()
	accepted := 0
	for i := range 3 * n {
		l := la
		if i%2 == 1 {
			l = lb
		}
		ok, wait, err := l.Take(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			accepted++
		} else if wait <= 0 || wait > time.Minute/n {
			t.Errorf("a refused request is told to wait %v; want (0, %v]", wait, time.Minute/n)
		}
	}
	if max := allowed(time.Since(start)); accepted < n || accepted > max {
		t.Errorf("%d of %d alternating requests accepted; want %d..%d", accepted, 3*n, n, max)
	}
	if ok, _, err := lb.Take(ctx, "u2"); !ok || err != nil {
		t.Errorf("another key's first request: %v, %v; want accepted", ok, err)
	}
	if ok, _, err := a.RateLimiter("addr", n, time.Minute).Take(ctx, "u1"); !ok || err != nil {
		t.Errorf("the same key under another limit: %v, %v; want accepted", ok, err)
	}

	start = time.Now()
	var got atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		wg.Go(func() {
			if ok, _, err := l.Take(ctx, "racing"); err != nil {
				t.Error(err)
			} else if ok {
				got.Add(1)
			}
		})
	}
	wg.Wait()
	if max := allowed(time.Since(start)); got.Load() < n || int(got.Load()) > max {
		t.Errorf("%d of 40 racing requests accepted; want %d..%d", got.Load(), n, max)
	}
}

// Rows of keys whose limit is as good as new are deleted: the table holds
// only keys limited lately.
func TestRateLimitSweep(t *testing.T) {
	dsn := freshSchema(t)
	s := openDSN(t, dsn)
	l := s.RateLimiter("addr", 600, time.Minute) // a request back every 100 ms
	const keys = 200
	for i := range keys {
		if ok, _, err := l.Take(t.Context(), fmt.Sprintf("192.0.2.%d", i)); !ok || err != nil {
			t.Fatalf("first request of key %d: %v, %v", i, ok, err)
		}
	}
	if got := rateRows(t, dsn); got != keys {
		t.Fatalf("%d rows after %d keys; want %d", got, keys, keys)
	}
	deadline := time.Now().Add(10 * time.Second)
	deleted := int64(0)
	for rateRows(t, dsn) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows 10 s after the last request; want none", rateRows(t, dsn))
		}
		n, err := s.SweepRateLimits(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
		time.Sleep(50 * time.Millisecond)
	}
	if deleted != keys {
		t.Errorf("the sweeps deleted %d rows; want %d", deleted, keys)
	}
	if ok, _, err := l.Take(t.Context(), "192.0.2.0"); !ok || err != nil {
		t.Errorf("a swept key's next request: %v, %v; want accepted", ok, err)
	}
}

// CheckWrite succeeds on a writable database.
func TestCheckWrite(t *testing.T) {
	if err := open(t).CheckWrite(t.Context()); err != nil {
		t.Fatal(err)
	}
}
