package httpapi

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/testkit"
)

// clock is a settable time for the throttle.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func testThrottle(pair, addr int) (*loginThrottle, *clock) {
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	t := newLoginThrottle(pair, addr)
	t.now = c.now
	return t, c
}

// try makes one attempt and ends it as ok says; it returns the wait when
// the attempt was not checked.
func try(t *testing.T, th *loginThrottle, name, source string, ok bool) time.Duration {
	t.Helper()
	a, wait, err := th.begin(context.Background(), name, source)
	if err != nil {
		t.Fatal(err)
	}
	if wait > 0 {
		return wait
	}
	if ok {
		a.succeeded()
	} else {
		a.failed()
	}
	return 0
}

// After the free failures, each further one doubles the wait, up to the
// cap; an hour without failures forgives them.
func TestLoginBackoffGrows(t *testing.T) {
	th, c := testThrottle(5, 50)
	for i := range 5 {
		if w := try(t, th, "alice", "192.0.2.1", false); w != 0 {
			t.Fatalf("failure %d waited %v", i+1, w)
		}
	}
	var waits []time.Duration
	for range 14 {
		w := try(t, th, "alice", "192.0.2.1", false)
		if w == 0 {
			t.Fatal("an attempt went through during the backoff")
		}
		waits = append(waits, w)
		c.advance(w)
		if w := try(t, th, "alice", "192.0.2.1", false); w != 0 {
			t.Fatalf("an attempt after the wait waited %v", w)
		}
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] < waits[i-1] || waits[i] > loginMaxBackoff {
			t.Fatalf("waits %v do not grow up to %v", waits, loginMaxBackoff)
		}
	}
	if waits[0] != time.Second || waits[len(waits)-1] != loginMaxBackoff {
		t.Errorf("waits %v: want 1 s first and %v last", waits, loginMaxBackoff)
	}
	c.advance(loginForget + time.Second)
	if w := try(t, th, "alice", "192.0.2.1", true); w != 0 {
		t.Errorf("after an hour without failures: waited %v", w)
	}
}

// A source that failed for many usernames backs off, except for a pair
// that logged in correctly before.
func TestLoginSourceBackoffSparesTrustedPairs(t *testing.T) {
	th, _ := testThrottle(5, 20)
	try(t, th, "bob", "192.0.2.9", true)
	for i := range 20 {
		try(t, th, fmt.Sprintf("guess%d", i), "192.0.2.9", false)
	}
	if w := try(t, th, "newname", "192.0.2.9", false); w == 0 {
		t.Error("a source past its failures tried another username at once")
	}
	if w := try(t, th, "bob", "192.0.2.9", true); w != 0 {
		t.Errorf("bob, trusted at that source, waited %v", w)
	}
	if w := try(t, th, "carol", "192.0.2.10", true); w != 0 {
		t.Errorf("another source waited %v", w)
	}
}

// Attempts of one pair are checked one at a time, so a burst of parallel
// guesses gets exactly the free failures, never more.
func TestLoginParallelGuessesDoNotSlipIn(t *testing.T) {
	th, _ := testThrottle(5, 1000)
	var mu sync.Mutex
	checked := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			a, wait, err := th.begin(context.Background(), "alice", "192.0.2.1")
			if err != nil || wait > 0 {
				return
			}
			mu.Lock()
			checked++
			mu.Unlock()
			a.failed()
		})
	}
	wg.Wait()
	if checked != 5 {
		t.Errorf("%d of 50 parallel guesses were checked, want 5", checked)
	}
}

// The throttle's maps are capped whatever the keys sent: a counted bound.
func TestLoginThrottleKeysCapped(t *testing.T) {
	testkit.Long(t, "fills the throttle three times over")
	th, _ := testThrottle(5, 50)
	for i := range 3 * maxLoginPairs {
		try(t, th, fmt.Sprintf("user%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), false)
	}
	if n := th.pairs.len(); n > maxLoginPairs {
		t.Errorf("%d pairs kept, want at most %d", n, maxLoginPairs)
	}
	if n := th.addrs.len(); n > maxLoginAddrs {
		t.Errorf("%d sources kept, want at most %d", n, maxLoginAddrs)
	}
}

// IPv6 sources are throttled by /64, which one subscriber holds whole.
func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":     "::ffff:192.0.2.1",
		"not an address":       "not an address",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// The per-user and per-address limiters are capped too: a source that
// sends from ever new addresses costs at most maxLimiterKeys buckets.
func TestKeyedLimiterCapped(t *testing.T) {
	k := newKeyedLimiter(5, time.Minute)
	for i := range maxLimiterKeys + 1000 {
		k.take(fmt.Sprintf("2001:db8::%x", i))
	}
	if n := len(k.buckets); n > maxLimiterKeys {
		t.Errorf("%d buckets, want at most %d", n, maxLimiterKeys)
	}
}
