package pairing_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/testkit"
)

// endCounter records the ActivationEnded metric by outcome.
type endCounter struct {
	mu    sync.Mutex
	ended map[string]int // guarded by mu
}

func (c *endCounter) Registered()     {}
func (c *endCounter) Updated()        {}
func (c *endCounter) Deregistered()   {}
func (c *endCounter) Expired()        {}
func (c *endCounter) Downlink(string) {}

func (c *endCounter) ActivationEnded(outcome string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended == nil {
		c.ended = map[string]int{}
	}
	c.ended[outcome]++
}

func (c *endCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ended)
}

// Every way an activation ends (stopped, paired, timed out) is counted
// once, tells its waiters, and leaves it as it ended: ending it again
// counts nothing.
func TestActivationEndsOnce(t *testing.T) {
	ctx := context.Background()
	metrics := &endCounter{}
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	_, svc := newService(t, nil, func(o *pairing.Options) { o.Metrics = metrics })
	svc.SetNow(func() time.Time { return *now.Load() })

	u, err := svc.SignUp(ctx, "carol", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.CreateHome(ctx, u.ID, "Flat")
	if err != nil {
		t.Fatal(err)
	}
	d1, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000700"})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000701"})
	if err != nil {
		t.Fatal(err)
	}
	activate := func(nbID string, timeout int) pairing.Activation {
		t.Helper()
		a, err := svc.StartActivation(ctx, u.ID, pairing.StartActivation{Type: "NB", NbID: nbID, HomeID: h.ID, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	waitEnd := func(a pairing.Activation) <-chan pairing.Activation {
		ch := make(chan pairing.Activation, 1)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		go func() {
			defer cancel()
			got, _ := svc.WaitActivation(wctx, u.ID, a.ID)
			ch <- got
		}()
		return ch
	}
	expect := func(ch <-chan pairing.Activation, want pairing.ActivationStatus, reason pairing.FailReason) {
		t.Helper()
		if got := <-ch; got.Status != want || got.Reason != reason {
			t.Fatalf("waiter got %s/%s, want %s/%s", got.Status, got.Reason, want, reason)
		}
	}

	stopped := activate(d1.NbID, 60)
	w := waitEnd(stopped)
	if _, err := svc.StopActivation(ctx, u.ID, stopped.ID); err != nil {
		t.Fatal(err)
	}
	expect(w, pairing.ActivationStopped, "")
	if _, err := svc.StopActivation(ctx, u.ID, stopped.ID); err != nil {
		t.Fatal(err)
	}

	timedOut := activate(d2.NbID, 1)
	w = waitEnd(timedOut)
	later := start.Add(2 * time.Second)
	now.Store(&later)
	for range 2 {
		if err := svc.ExpireActivations(ctx); err != nil {
			t.Fatal(err)
		}
	}
	expect(w, pairing.ActivationFailed, pairing.FailTimeout)

	paired := activate(d1.NbID, 60)
	w = waitEnd(paired)
	registerAt(t, svc, d1.Device, "127.0.0.1:40020")
	expect(w, pairing.ActivationPaired, "")
	if _, err := svc.StopActivation(ctx, u.ID, paired.ID); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{"stopped": 1, string(pairing.FailTimeout): 1, "paired": 1}
	testkit.Eventually(t, fmt.Sprintf("ends counted as %v", want), func() bool { return maps.Equal(metrics.counts(), want) })
}
