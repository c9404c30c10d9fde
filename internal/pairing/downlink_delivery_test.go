package pairing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

// funcDevice is the CoAP side of downlinks as a function, with a record of
// the addresses written to.
type funcDevice struct {
	mu    sync.Mutex
	addrs []string // guarded by mu
	write func(ctx context.Context, r pairing.Registration) error
}

func (d *funcDevice) WritePairing(ctx context.Context, r pairing.Registration, _ wire.PairingState, formats []int) (pairing.WriteResult, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, r.Addr)
	d.mu.Unlock()
	return pairing.WriteResult{Format: formats[0]}, d.write(ctx, r)
}

func (d *funcDevice) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

func registerAt(t *testing.T, svc *pairing.Service, d pairing.Device, addr string) pairing.Registration {
	t.Helper()
	r, err := svc.Register(context.Background(), pairing.RegisterRequest{
		Query:   wire.RegisterQuery{Endpoint: d.Endpoint(), Lifetime: 300, Version: "1.1", Binding: "U", QueueMode: true},
		Objects: []wire.ObjectLink{{Object: wire.PairingObjectID, Instance: 0}},
		Addr:    addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A downlink that never gets an answer is tried DownlinkAttempts times, one
// per wake-up, then dropped with an audit entry; later wake-ups send
// nothing.
func TestDownlinkAttemptsBounded(t *testing.T) {
	ctx := context.Background()
	dev := &funcDevice{write: func(context.Context, pairing.Registration) error { return errors.New("no answer") }}
	store, svc := newService(t, dev, func(o *pairing.Options) { o.DownlinkAttempts = 3 })
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000600"})
	if err != nil {
		t.Fatal(err)
	}
	r := registerAt(t, svc, d.Device, "127.0.0.1:40010")
	for i := 2; i <= 4; i++ {
		testkit.Eventually(t, "an attempt", func() bool {
			dls, _ := store.Downlinks(ctx, d.ID)
			return len(dev.calls()) == i-1 && (len(dls) == 1) == (i <= 3)
		})
		if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: r.Addr}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _, err := store.Audit(ctx, pairing.AuditQuery{DeviceID: d.ID, Action: pairing.AuditDownlink, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Outcome != pairing.OutcomeDropped {
		t.Fatalf("audit %+v, want one dropped downlink", entries)
	}
	// One more wake-up, then a bind's write as a marker: nothing of the
	// dropped one goes out before it.
	dev.mu.Lock()
	dev.write = func(context.Context, pairing.Registration) error { return nil }
	dev.mu.Unlock()
	registerAt(t, svc, d.Device, "127.0.0.1:40011")
	testkit.Eventually(t, "the next Register's write", func() bool { return len(dev.calls()) >= 4 })
	if n := len(dev.calls()); n != 4 {
		t.Errorf("%d writes, want 3 attempts and the next Register's one", n)
	}
}

// A write in flight to the address a device has left is cancelled by the
// device's uplink from a new address, and sent there at once: with a
// downlink timeout of an hour, only that ends it.
func TestUplinkFromNewAddressSupersedes(t *testing.T) {
	ctx := context.Background()
	const oldAddr, newAddr = "127.0.0.1:40020", "127.0.0.1:40021"
	release := make(chan struct{}) // ends a write nothing cancelled when the test is over
	noAnswer := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return errors.New("the test is over")
		}
	}
	dev := &funcDevice{write: func(ctx context.Context, r pairing.Registration) error {
		if r.Addr == oldAddr { // the device sleeps there, and has left
			return noAnswer(ctx)
		}
		return nil
	}}
	store, svc := newService(t, dev, func(o *pairing.Options) { o.DownlinkTimeout = time.Hour })
	t.Cleanup(func() { close(release) }) // before the service drains
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000700"})
	if err != nil {
		t.Fatal(err)
	}
	r := registerAt(t, svc, d.Device, oldAddr)
	testkit.Eventually(t, "the write to the old address", func() bool { return len(dev.calls()) == 1 })
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: newAddr}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the write to the new address", func() bool {
		c := dev.calls()
		dls, _ := store.Downlinks(ctx, d.ID)
		return len(c) == 2 && c[1] == newAddr && len(dls) == 0
	})
	// An Update from the address the write goes to does not cancel it.
	dev.mu.Lock()
	dev.write = func(ctx context.Context, _ pairing.Registration) error { return noAnswer(ctx) }
	dev.mu.Unlock()
	registerAt(t, svc, d.Device, newAddr)
	testkit.Eventually(t, "the write after the Register", func() bool { return len(dev.calls()) == 3 })
	r2, err := store.RegistrationOfDevice(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r2.ID, Addr: newAddr}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r2.ID, Addr: oldAddr}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the write to the address of the last Update", func() bool {
		c := dev.calls()
		return len(c) == 4 && c[3] == oldAddr
	})
}

// A write the device refuses for good (4.05, or every format) is dropped
// after one try, and its next wake-up sends nothing.
func TestRefusedDownlinkDropped(t *testing.T) {
	ctx := context.Background()
	dev := &funcDevice{write: func(context.Context, pairing.Registration) error {
		return fmt.Errorf("%w: answered 4.05", pairing.ErrDownlinkRefused)
	}}
	store, svc := newService(t, dev)
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000800"})
	if err != nil {
		t.Fatal(err)
	}
	r := registerAt(t, svc, d.Device, "127.0.0.1:40030")
	var entries []pairing.AuditEntry
	testkit.Eventually(t, "the audit entry", func() bool {
		entries, _, _ = store.Audit(ctx, pairing.AuditQuery{DeviceID: d.ID, Action: pairing.AuditDownlink, Limit: 10})
		return len(entries) == 1
	})
	if e := entries[0]; e.Outcome != pairing.OutcomeDropped || !strings.Contains(e.Detail, "4.05") || e.RemoteAddr != r.Addr {
		t.Errorf("audit entry %+v", e)
	}
	if dls, _ := store.Downlinks(ctx, d.ID); len(dls) != 0 {
		t.Errorf("still queued: %+v", dls)
	}
	// The next wake-up, then a Register whose write is the marker.
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: r.Addr}); err != nil {
		t.Fatal(err)
	}
	registerAt(t, svc, d.Device, "127.0.0.1:40031")
	testkit.Eventually(t, "the next Register's write", func() bool { return len(dev.calls()) >= 2 })
	if c := dev.calls(); len(c) != 2 || c[1] != "127.0.0.1:40031" {
		t.Errorf("writes to %v, want one to each Register's address", c)
	}
}

// gatedStore holds the first Downlinks read after it is armed until the
// test releases it.
type gatedStore struct {
	pairing.Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStore) Downlinks(ctx context.Context, deviceID string) ([]pairing.Downlink, error) {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.Store.Downlinks(ctx, deviceID)
}

// An uplink from a new address that comes while a delivery is about to
// start, after it read the device's address, still sends the write to the
// new address: it is not sent to the old one first.
func TestUplinkBeforeWriteStartsSupersedes(t *testing.T) {
	ctx := context.Background()
	const oldAddr, newAddr = "127.0.0.1:40040", "127.0.0.1:40041"
	release := make(chan struct{}) // ends a write nothing cancelled when the test is over
	var attempts atomic.Int64
	dev := &funcDevice{write: func(ctx context.Context, r pairing.Registration) error {
		if r.Addr == newAddr {
			return nil
		}
		if attempts.Add(1) == 1 {
			return errors.New("no answer") // queued for the next wake-up
		}
		select { // the device sleeps there, and has left
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return errors.New("the test is over")
		}
	}}
	gated := &gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
	store, svc := newServiceOver(t, dev, func(st pairing.Store) pairing.Store { gated.Store = st; return gated },
		func(o *pairing.Options) { o.DownlinkTimeout = time.Hour })
	t.Cleanup(func() { close(release) }) // before the service drains
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000900"})
	if err != nil {
		t.Fatal(err)
	}
	r := registerAt(t, svc, d.Device, oldAddr)
	testkit.Eventually(t, "the first write to fail and be queued", func() bool {
		dls, _ := store.Downlinks(ctx, d.ID)
		return len(dev.calls()) == 1 && len(dls) == 1
	})
	gated.armed.Store(true)
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: oldAddr}); err != nil {
		t.Fatal(err)
	}
	<-gated.entered // the delivery has read the old address
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: newAddr}); err != nil {
		t.Fatal(err)
	}
	close(gated.release)
	testkit.Eventually(t, "the write to the new address", func() bool {
		c := dev.calls()
		return len(c) > 0 && c[len(c)-1] == newAddr
	})
	if c := dev.calls(); len(c) != 2 {
		t.Errorf("writes to %v, want the failed one to the old address, then one to the new", c)
	}
}
