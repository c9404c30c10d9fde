package pairing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// roundRecorder is a delivery round that records the devices it ran for
// and, while gated, blocks until released.
type roundRecorder struct {
	mu     sync.Mutex
	rounds []string       // guarded by mu
	active map[string]int // rounds running per device; guarded by mu
	most   int            // the most rounds of one device seen running at once; guarded by mu
	gate   chan struct{}  // nil: rounds do not block
	inside chan string    // told of each round that starts, when not nil
}

func (r *roundRecorder) round(_ context.Context, deviceID string) {
	r.mu.Lock()
	r.rounds = append(r.rounds, deviceID)
	if r.active == nil {
		r.active = map[string]int{}
	}
	r.active[deviceID]++
	r.most = max(r.most, r.active[deviceID])
	r.mu.Unlock()
	if r.inside != nil {
		r.inside <- deviceID
	}
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.active[deviceID]--
	r.mu.Unlock()
}

func (r *roundRecorder) count(deviceID string) (n, most int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.rounds {
		if id == deviceID {
			n++
		}
	}
	return n, r.most
}

func waitLoops(t *testing.T, e *downlinks) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// A loop started for an idle device runs one round and ends.
func TestDownlinksStartRunsOnce(t *testing.T) {
	var r roundRecorder
	e := newDownlinks(r.round)
	e.start(context.Background(), "dev_1")
	waitLoops(t, e)
	if n, _ := r.count("dev_1"); n != 1 {
		t.Fatalf("rounds = %d, want 1", n)
	}
	e.start(context.Background(), "dev_1")
	waitLoops(t, e)
	if n, _ := r.count("dev_1"); n != 2 {
		t.Fatalf("rounds after a second start = %d, want 2", n)
	}
}

// Starts while a device's loop runs make it go round once more, not run
// twice at once, however many starts come meanwhile; other devices have
// loops of their own.
func TestDownlinksStartWhileRunningGoesRoundOnce(t *testing.T) {
	r := roundRecorder{gate: make(chan struct{}), inside: make(chan string, 8)}
	e := newDownlinks(r.round)
	ctx := context.Background()
	e.start(ctx, "dev_1")
	<-r.inside
	for range 3 {
		e.start(ctx, "dev_1")
	}
	e.start(ctx, "dev_2")
	<-r.inside // dev_2's round runs beside dev_1's
	close(r.gate)
	waitLoops(t, e)
	n1, most := r.count("dev_1")
	n2, _ := r.count("dev_2")
	if n1 != 2 || n2 != 1 || most != 1 {
		t.Fatalf("rounds dev_1 %d, dev_2 %d, most at once %d; want 2, 1, 1", n1, n2, most)
	}
}

// A fresh downlink is taken once; a newer one replaces it; a dropped one
// is gone.
func TestDownlinksFresh(t *testing.T) {
	e := newDownlinks(func(context.Context, string) {})
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	e.setFresh(Downlink{DeviceID: "dev_1", Kind: DownlinkPairingState, CreatedAt: at})
	e.setFresh(Downlink{DeviceID: "dev_1", Kind: DownlinkPairingState, CreatedAt: at.Add(time.Second)})
	e.setFresh(Downlink{DeviceID: "dev_2", Kind: DownlinkPairingState, CreatedAt: at})
	d, ok := e.takeFresh("dev_1")
	if !ok || !d.CreatedAt.Equal(at.Add(time.Second)) {
		t.Fatalf("takeFresh = %+v, %v; want the newer one", d, ok)
	}
	if _, ok := e.takeFresh("dev_1"); ok {
		t.Fatal("a fresh downlink was taken twice")
	}
	e.dropFresh("dev_2")
	if _, ok := e.takeFresh("dev_2"); ok {
		t.Fatal("a dropped fresh downlink was taken")
	}
}

// An uplink from a new address cancels the exchange in flight with
// errSuperseded and sends the loop round again; one from the same address,
// or after the exchange ended, cancels nothing.
func TestDownlinksSupersede(t *testing.T) {
	r := roundRecorder{gate: make(chan struct{}), inside: make(chan string, 8)}
	e := newDownlinks(r.round)
	e.start(context.Background(), "dev_1")
	<-r.inside

	wctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	w := e.begin("dev_1", "127.0.0.1:5683", cancel)
	if e.supersede("dev_1", "127.0.0.1:5683") || wctx.Err() != nil {
		t.Fatal("an uplink from the same address cancelled the exchange")
	}
	if e.supersede("dev_2", "127.0.0.1:9999") {
		t.Fatal("an uplink of another device cancelled the exchange")
	}
	if !e.supersede("dev_1", "127.0.0.1:5684") {
		t.Fatal("an uplink from a new address did not cancel the exchange")
	}
	if !errors.Is(context.Cause(wctx), errSuperseded) {
		t.Fatalf("cause = %v, want errSuperseded", context.Cause(wctx))
	}
	e.end("dev_1", w)
	close(r.gate)
	waitLoops(t, e)
	if n, _ := r.count("dev_1"); n != 2 {
		t.Fatalf("rounds = %d, want 2: the loop goes round again to the new address", n)
	}

	ctx2, cancel2 := context.WithCancelCause(context.Background())
	defer cancel2(nil)
	w2 := e.begin("dev_1", "127.0.0.1:5684", cancel2)
	e.end("dev_1", w2)
	if e.supersede("dev_1", "127.0.0.1:5685") || ctx2.Err() != nil {
		t.Fatal("an ended exchange was cancelled")
	}
}

// The end of an older exchange does not forget the one that replaced it.
func TestDownlinksEndKeepsNewerExchange(t *testing.T) {
	e := newDownlinks(func(context.Context, string) {})
	_, cancel1 := context.WithCancelCause(context.Background())
	defer cancel1(nil)
	old := e.begin("dev_1", "127.0.0.1:1", cancel1)
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	defer cancel2(nil)
	e.begin("dev_1", "127.0.0.1:2", cancel2)
	e.end("dev_1", old)
	if !e.supersede("dev_1", "127.0.0.1:3") || ctx2.Err() == nil {
		t.Fatal("the newer exchange was forgotten with the older one")
	}
}

// wait gives up when its context ends before the loops do.
func TestDownlinksWaitGivesUp(t *testing.T) {
	r := roundRecorder{gate: make(chan struct{}), inside: make(chan string, 1)}
	e := newDownlinks(r.round)
	e.start(context.Background(), "dev_1")
	<-r.inside
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait = %v, want context.Canceled", err)
	}
	close(r.gate)
	waitLoops(t, e)
}
