package testkit

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// The condition is polled until it holds, and not once more.
func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	Eventually(t, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("cond was called %d times, want 3", calls)
	}
}

// fatalRecorder is a test whose Fatalf ends the goroutine, as the real
// one does, after recording the message.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// A condition that never holds fails the test with a message naming what
// was awaited, once the patience has passed.
func TestEventuallyFailsNamingWhatItAwaited(t *testing.T) {
	r := &fatalRecorder{}
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		eventually(r, "the device ID", 30*time.Millisecond, func() bool { calls++; return false })
		t.Error("eventually returned although its condition never held")
	}()
	<-done
	if want := "timed out after 30ms waiting for the device ID"; r.msg != want {
		t.Errorf("failure message %q, want %q", r.msg, want)
	}
	if calls < 2 {
		t.Errorf("cond was called %d times before giving up, want it polled", calls)
	}
}

// Long skips its test under -short and lets it run otherwise.
func TestLongSkipsUnderShortOnly(t *testing.T) {
	ran := false
	t.Run("long", func(t *testing.T) {
		Long(t, "a test of Long")
		ran = true
	})
	if ran == testing.Short() {
		t.Errorf("with -short %v the long test ran: %v", testing.Short(), ran)
	}
}
