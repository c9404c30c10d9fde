// Package testkit holds what nbpair's tests share that needs nothing of
// nbpair itself, so that the test of any package may use it: waiting for
// a condition instead of sleeping. Tests that need a running node use
// package apptest, which also starts simulated devices against one.
package testkit

import (
	"testing"
	"time"
)

// Patience is how long Eventually waits before it fails the test. It is a
// bound on a wait, never the time a test expects: generous enough for a
// shared two-core machine running the race detector, while a passing test
// waits only as long as its condition takes.
const Patience = 60 * time.Second

// The pause between two polls starts short, so that a condition about to
// hold is seen at once, and doubles up to maxPause.
const (
	firstPause = time.Millisecond
	maxPause   = 20 * time.Millisecond
)

// Eventually polls cond until it holds, and fails the test (t.Fatal)
// naming what it waited for if it still does not after Patience. Like
// t.Fatal, it must be called from the test's goroutine.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	eventually(t, what, Patience, cond)
}

// EventuallyWithin is Eventually with a patience of its own, for a wait
// that is known to take longer than Patience (thousands of deliveries
// under the race detector, say).
func EventuallyWithin(t testing.TB, what string, patience time.Duration, cond func() bool) {
	t.Helper()
	eventually(t, what, max(patience, Patience), cond)
}

// eventually is Eventually with its patience.
func eventually(t testing.TB, what string, patience time.Duration, cond func() bool) {
	t.Helper()
	if !poll(patience, cond) {
		t.Fatalf("timed out after %v waiting for %s", patience, what)
	}
}

// poll calls cond until it returns true or patience has passed since the
// first call; it reports whether cond held.
func poll(patience time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(patience)
	for pause := firstPause; !cond(); pause = min(2*pause, maxPause) {
		if time.Now().After(deadline) {
			return cond() // one last look: the deadline may have passed while cond ran
		}
		time.Sleep(pause)
	}
	return true
}

// Long marks a test that takes long (a fleet, a soak, a cluster of
// processes, a browser): `go test -short`, the fast loop, skips it, saying
// why; `go test` without -short and ./scripts/test (what CI runs) run it.
func Long(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("long (%s): skipped by -short; go test without -short, or ./scripts/test, runs it", why)
	}
}
