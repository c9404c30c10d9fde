package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// failingLimiter is a shared limiter whose database is down.
type failingLimiter struct{ calls int }

func (f *failingLimiter) Take(context.Context, string) (bool, time.Duration, error) {
	f.calls++
	return false, 0, errors.New("connection refused")
}

// okLimiter is a shared limiter that answers as told.
type okLimiter struct{ ok bool }

func (l okLimiter) Take(context.Context, string) (bool, time.Duration, error) {
	return l.ok, 3 * time.Second, nil
}

// A request limit asks the shared limiter, and counts in memory while the
// shared one fails: the node then holds the limit on its own.
func TestRequestLimitShared(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	for _, ok := range []bool{true, false} {
		l := newRequestLimit(func(string, int, time.Duration) Limiter { return okLimiter{ok} }, "user", 3, time.Minute, log)
		for range 5 {
			if got, _ := l.take(ctx, "u"); got != ok {
				t.Errorf("the shared limiter said %v; the request limit said %v", ok, got)
			}
		}
	}
	f := &failingLimiter{}
	l := newRequestLimit(func(string, int, time.Duration) Limiter { return f }, "user", 3, time.Minute, log)
	accepted := 0
	for range 5 {
		if ok, _ := l.take(ctx, "u"); ok {
			accepted++
		}
	}
	if accepted != 3 || f.calls != 5 {
		t.Errorf("with the shared limiter failing: %d of 5 accepted after %d calls to it; want 3 (the limit, in memory) after 5", accepted, f.calls)
	}
	if l := newRequestLimit(nil, "user", 0, time.Minute, log); l != nil {
		t.Errorf("a limit of 0 is %v; want none", l)
	}
}
