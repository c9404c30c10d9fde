package fleet

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Progress to a terminal redraws one line; to a log file or a pipe it is
// plain lines, with no carriage return in them.
func TestProgressLiveOrPlain(t *testing.T) {
	for _, live := range []bool{true, false} {
		var out syncBuffer
		rec := newRecorder(1)
		stop := showProgress(&out, live, "nbpair register", 10, rec)
		rec.done.Add(10)
		stop()
		got := out.String()
		if strings.Contains(got, "\r") != live {
			t.Errorf("live %v: carriage returns in %q", live, got)
		}
		if !strings.HasSuffix(got, "\n") || !strings.Contains(got, "10/10") {
			t.Errorf("live %v: the last line is not the final count: %q", live, got)
		}
		if !live && strings.Count(got, "\n") != 1 {
			t.Errorf("a short run wrote %d plain lines, want the final one only: %q", strings.Count(got, "\n"), got)
		}
	}
}
