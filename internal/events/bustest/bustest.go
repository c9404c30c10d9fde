// Package bustest is the conformance suite every pairing.Bus must pass: the
// in-process bus and the NATS one.
package bustest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Node is one node's bus.
type Node interface {
	pairing.Bus
	Close(ctx context.Context) error
}

// NewCluster returns fresh buses that share one stream of events, as the
// nodes of one cluster do: one for a bus that lives in one process. The
// suite closes them; the stream is the caller's to clean up.
type NewCluster func(t *testing.T) []Node

// Timeout bounds each wait of the suite.
const Timeout = 30 * time.Second

// Run runs the suite, each test on a new cluster.
func Run(t *testing.T, newCluster NewCluster) {
	tests := map[string]func(*testing.T, []Node){
		"fields intact":                 testFieldsIntact,
		"device order and exactly once": testOrderExactlyOnce,
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) { test(t, newCluster(t)) })
	}
}

// record is one event as one node's handler saw it.
type record struct {
	node int
	ev   pairing.Event
}

// recorder subscribes to every node and keeps what the handlers saw.
type recorder struct {
	mu   sync.Mutex
	seen []record // guarded by mu
}

func subscribeAll(nodes []Node) *recorder {
	r := &recorder{}
	for i, n := range nodes {
		n.Subscribe(func(_ context.Context, ev pairing.Event) {
			r.mu.Lock()
			r.seen = append(r.seen, record{i, ev})
			r.mu.Unlock()
		})
	}
	return r
}

func (r *recorder) records() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.seen...)
}

// WaitFor polls cond until it holds or Timeout passes.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeAll closes the nodes, which waits for handlers still running, so
// that the records are final.
func closeAll(t *testing.T, nodes []Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for i, n := range nodes {
		if err := n.Close(ctx); err != nil {
			t.Errorf("closing node %d: %v", i, err)
		}
	}
}

// FullEvent returns an event with every field set; seq goes into
// Registration.Lifetime so that tests can tell events apart.
func FullEvent(deviceID string, seq int) pairing.Event {
	at := time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)
	return pairing.Event{
		Kind: pairing.EventRegistered, DeviceID: deviceID, First: true, At: at.Add(time.Duration(seq)),
		Registration: pairing.Registration{
			ID: fmt.Sprintf("reg-%s-%d", deviceID, seq), DeviceID: deviceID, Endpoint: "urn:imei:" + deviceID,
			Lifetime: seq, Version: "1.1", Binding: "UQ", QueueMode: true, Objects: []string{"/1/0", "/3/0", "/33000/0"},
			Addr: "203.0.113.7:5683", Secure: true, RegisteredAt: at, LastSeen: at.Add(time.Minute), ExpiresAt: at.Add(time.Hour),
		},
	}
}

func testFieldsIntact(t *testing.T, nodes []Node) {
	r := subscribeAll(nodes)
	want := FullEvent("dev-fields", 7)
	if err := nodes[0].Publish(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the event", func() bool { return len(r.records()) > 0 })
	closeAll(t, nodes)
	got := r.records()
	if len(got) != 1 {
		t.Fatalf("handled %d times, want once", len(got))
	}
	if !sameEvent(got[0].ev, want) {
		t.Errorf("handler saw\n%+v\nwant\n%+v", got[0].ev, want)
	}
}

// sameEvent compares the times by instant: an encoding may drop the
// monotonic reading and the location.
func sameEvent(a, b pairing.Event) bool {
	times := func(e *pairing.Event) []time.Time {
		ts := []time.Time{e.At, e.Registration.RegisteredAt, e.Registration.LastSeen, e.Registration.ExpiresAt}
		e.At, e.Registration.RegisteredAt, e.Registration.LastSeen, e.Registration.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		return ts
	}
	ta, tb := times(&a), times(&b)
	for i := range ta {
		if !ta[i].Equal(tb[i]) {
			return false
		}
	}
	return reflect.DeepEqual(a, b)
}

// testOrderExactlyOnce publishes 50 events for each of 20 devices, each
// device from its own goroutine and round robin over the nodes, and checks
// that each is handled once and each device's in publish order.
func testOrderExactlyOnce(t *testing.T, nodes []Node) {
	const devices, perDevice = 20, 50
	r := subscribeAll(nodes)
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for d := range devices {
		wg.Go(func() {
			dev := fmt.Sprintf("dev-%02d", d)
			for seq := range perDevice {
				if err := nodes[(d+seq)%len(nodes)].Publish(context.Background(), FullEvent(dev, seq)); err != nil {
					errs <- fmt.Errorf("publishing %s/%d: %w", dev, seq, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	WaitFor(t, "every event", func() bool { return len(r.records()) >= devices*perDevice })
	closeAll(t, nodes)

	next := map[string]int{}
	perNode := make([]int, len(nodes))
	for _, rec := range r.records() {
		dev, seq := rec.ev.DeviceID, rec.ev.Registration.Lifetime
		if seq != next[dev] {
			t.Fatalf("%s: handled event %d, want %d (order broken, or handled twice)", dev, seq, next[dev])
		}
		next[dev]++
		perNode[rec.node]++
	}
	if n := len(r.records()); n != devices*perDevice {
		t.Fatalf("handled %d events, want %d", n, devices*perDevice)
	}
	t.Logf("events handled per node: %v", perNode)
}
