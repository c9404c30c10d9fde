package pairing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/events"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/wire"
)

// countingStore counts the reads of the device path that reach the store.
type countingStore struct {
	pairing.Store
	reads atomic.Int64
}

func (c *countingStore) DeviceByIMEI(ctx context.Context, imei string) (pairing.Device, error) {
	c.reads.Add(1)
	return c.Store.DeviceByIMEI(ctx, imei)
}

func (c *countingStore) Device(ctx context.Context, id string) (pairing.Device, error) {
	c.reads.Add(1)
	return c.Store.Device(ctx, id)
}

func (c *countingStore) Registration(ctx context.Context, id string) (pairing.Registration, error) {
	c.reads.Add(1)
	return c.Store.Registration(ctx, id)
}

func (c *countingStore) RegistrationOfDevice(ctx context.Context, id string) (pairing.Registration, error) {
	c.reads.Add(1)
	return c.Store.RegistrationOfDevice(ctx, id)
}

func (c *countingStore) PendingActivations(ctx context.Context, id string) ([]pairing.Activation, error) {
	c.reads.Add(1)
	return c.Store.PendingActivations(ctx, id)
}

func (c *countingStore) Downlinks(ctx context.Context, id string) ([]pairing.Downlink, error) {
	c.reads.Add(1)
	return c.Store.Downlinks(ctx, id)
}

// hotNode is a single node on a real SQLite file with a clock the test
// moves, and a device side that takes every downlink.
type hotNode struct {
	store *sqlite.Store
	count *countingStore
	bus   *events.Bus
	svc   *pairing.Service

	mu  sync.Mutex
	now time.Time // guarded by mu
}

func startHotNode(t *testing.T) *hotNode {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &hotNode{store: store, count: &countingStore{Store: store}, bus: events.New(2, 64), now: time.Now().UTC()}
	n.svc, err = pairing.NewService(n.count, n.bus, slog.New(slog.DiscardHandler), pairing.Options{
		PublicURL: "https://pair.example.com", SecretKey: make([]byte, pairing.SecretKeyLen),
	})
	if err != nil {
		t.Fatal(err)
	}
	n.svc.SetNow(n.clock)
	n.svc.SetDownlinker(&scriptedDevice{})
	t.Cleanup(func() {
		n.bus.Close(ctx)
		n.svc.Drain(ctx)
		store.Close()
	})
	return n
}

func (n *hotNode) clock() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

func (n *hotNode) advance(d time.Duration) {
	n.mu.Lock()
	n.now = n.now.Add(d)
	n.mu.Unlock()
}

// consistent compares what the index holds for the device with the store:
// a registration it knows must be the store's, and a flag that says
// "nothing waits" or "unbound" must be true of the store.
func (n *hotNode) consistent(deviceID string) error {
	ctx := context.Background()
	v := n.svc.HotView(deviceID)
	if !v.Indexed {
		return fmt.Errorf("device %s is not in the index", deviceID)
	}
	r, err := n.store.RegistrationOfDevice(ctx, deviceID)
	if err != nil && !isNotFoundErr(err) {
		return err
	}
	var want *pairing.Registration
	if err == nil {
		want = &r
	}
	if v.RegKnown && !reflect.DeepEqual(v.Reg, want) {
		return fmt.Errorf("index has registration %+v, store %+v", v.Reg, want)
	}
	if pending, err := n.store.PendingActivations(ctx, deviceID); err != nil || (!v.MayPending && len(pending) > 0) {
		return fmt.Errorf("index says no activation waits; store has %d (%v)", len(pending), err)
	}
	if queued, err := n.store.Downlinks(ctx, deviceID); err != nil || (!v.MayDownlinks && len(queued) > 0) {
		return fmt.Errorf("index says no downlink is queued; store has %d (%v)", len(queued), err)
	}
	d, err := n.store.Device(ctx, deviceID)
	if err != nil || (v.KnownUnbound && d.OwnerID != "") {
		return fmt.Errorf("index says unbound; store has owner %q (%v)", d.OwnerID, err)
	}
	if v.Owned != nil && *v.Owned != d.PairingState() {
		return fmt.Errorf("index has pairing state %+v; store %+v", *v.Owned, d.PairingState())
	}
	return nil
}

func isNotFoundErr(err error) bool { return err != nil && errors.Is(err, pairing.ErrNotFound) }

// waitConsistent polls until the index agrees with the store (the bus runs
// the follow-up tasks of each step in the background).
func (n *hotNode) waitConsistent(t *testing.T, step, deviceID string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if err = n.consistent(deviceID); err == nil {
			return
		}
	}
	t.Fatalf("after %s: %v", step, err)
}

func TestHotIndexStaysRight(t *testing.T) {
	ctx := context.Background()
	n := startHotNode(t)
	svc := n.svc
	user, err := svc.SignUp(ctx, "alice", "alice password")
	if err != nil {
		t.Fatal(err)
	}
	home, err := svc.CreateHome(ctx, user.ID, "Home")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000700"})
	if err != nil {
		t.Fatal(err)
	}
	var reg pairing.Registration
	register := func(addr string, lifetime int) error {
		var err error
		reg, err = svc.Register(ctx, pairing.RegisterRequest{
			Query:   wire.RegisterQuery{Endpoint: dev.Endpoint(), Lifetime: lifetime, Version: "1.1", Binding: "U"},
			Objects: []wire.ObjectLink{{Object: 3, Instance: 0}, {Object: wire.PairingObjectID, Instance: 0}},
			Addr:    addr,
		})
		return err
	}
	activate := func() error {
		a, err := svc.StartActivation(ctx, user.ID, pairing.StartActivation{Type: pairing.ActivatorTypeNB, NbID: dev.NbID, HomeID: home.ID})
		if err == nil && a.Status != pairing.ActivationPending && a.Status != pairing.ActivationPaired {
			err = fmt.Errorf("activation %s", a.Status)
		}
		return err
	}
	steps := []struct {
		name string
		run  func() error
		// want checks what the index must know after the step.
		want func(pairing.HotView) error
	}{
		{"provision", func() error { return nil }, func(v pairing.HotView) error {
			if !v.RegKnown || v.Reg != nil || v.MayPending || v.MayDownlinks || !v.KnownUnbound {
				return fmt.Errorf("a new device: %+v", v)
			}
			return nil
		}},
		{"register", func() error { return register("10.0.0.1:5683", 300) }, wantReg(&reg)},
		{"update from a new address", func() error {
			var err error
			reg, err = svc.Update(ctx, pairing.UpdateRequest{RegistrationID: reg.ID, Addr: "10.0.0.2:5683"})
			return err
		}, wantReg(&reg)},
		{"register again", func() error { return register("10.0.0.3:5683", 300) }, wantReg(&reg)},
		{"activation binds the registered device", activate, func(v pairing.HotView) error {
			if v.KnownUnbound || v.Owned == nil || v.Owned.OwnerUID != user.ID {
				return fmt.Errorf("bound to %s, but the index has %+v", user.ID, v)
			}
			return nil
		}},
		{"unbind", func() error { return svc.RemoveDevice(ctx, user.ID, dev.ID) }, nil},
		{"activation waits for a de-registered device", func() error {
			if err := svc.Deregister(ctx, reg.ID, pairing.Peer{}); err != nil {
				return err
			}
			return activate()
		}, func(v pairing.HotView) error {
			if !v.MayPending || (v.RegKnown && v.Reg != nil) {
				return fmt.Errorf("an activation waits and the device is gone: %+v", v)
			}
			return nil
		}},
		{"register binds the waiting activation", func() error { return register("10.0.0.4:5683", 300) }, nil},
		{"factory reset", func() error {
			return svc.RequestReset(ctx, pairing.ResetRequest{Kind: wire.ResetFactory, Addr: reg.Addr})
		}, nil},
		{"de-register", func() error { return svc.Deregister(ctx, reg.ID, pairing.Peer{}) }, wantNoReg},
		{"expiry", func() error {
			if err := register("10.0.0.5:5683", 60); err != nil {
				return err
			}
			n.advance(2 * time.Hour)
			return svc.ExpireRegistrations(ctx)
		}, wantNoReg},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		n.waitConsistent(t, st.name, dev.ID)
		if st.want != nil {
			if err := st.want(svc.HotView(dev.ID)); err != nil {
				t.Errorf("after %s: %v", st.name, err)
			}
		}
	}
}

func wantReg(r *pairing.Registration) func(pairing.HotView) error {
	return func(v pairing.HotView) error {
		if !v.RegKnown || v.Reg == nil || v.Reg.ID != r.ID || v.Reg.Addr != r.Addr {
			return fmt.Errorf("index has %+v, want registration %s from %s", v.Reg, r.ID, r.Addr)
		}
		return nil
	}
}

func wantNoReg(v pairing.HotView) error {
	if !v.RegKnown || v.Reg != nil {
		return fmt.Errorf("index has %+v, want no registration", v.Reg)
	}
	return nil
}

// TestRegisterReadsNothing: the common Register and Update of a
// device provisioned alone or in a batch, follow-up tasks included, read nothing from the
// store.
func TestRegisterReadsNothing(t *testing.T) {
	ctx := context.Background()
	n := startHotNode(t)
	dev, err := n.svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000701"})
	if err != nil {
		t.Fatal(err)
	}
	const batchIMEI = "868000000000799"
	if _, _, err := n.svc.ImportBatch(ctx, "", []byte("imei\n"+batchIMEI+"\n")); err != nil {
		t.Fatal(err)
	}
	before := n.count.reads.Load()
	for i, imei := range []string{dev.IMEI, batchIMEI} {
		r, err := n.svc.Register(ctx, registerRequest(imei, i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: "127.0.0.9:7000"}); err != nil {
			t.Fatal(err)
		}
	}
	n.settle(t)
	if reads := n.count.reads.Load() - before; reads != 0 {
		t.Errorf("Registers and Updates of a provisioned and a batch device read the store %d times, want 0", reads)
	}
}

// settle waits until the follow-up tasks of what was sent have run.
func (n *hotNode) settle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := n.bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.svc.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHotIndexAfterRestart: a node that starts on a store with
// registrations reads each device once, then answers from memory.
func TestHotIndexAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	first := newServiceOn(t, store)
	dev, err := first.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000702"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := first.Register(ctx, registerRequest(dev.IMEI, 2))
	if err != nil {
		t.Fatal(err)
	}
	count := &countingStore{Store: store}
	second := newServiceOn(t, count)
	if _, err := second.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: "127.0.0.9:7001"}); err != nil {
		t.Fatalf("update after restart: %v", err)
	}
	r2, err := second.Register(ctx, registerRequest(dev.IMEI, 3))
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.RegistrationOfDevice(ctx, dev.ID)
	if err != nil || got.ID != r2.ID {
		t.Fatalf("store has %+v (%v), want the new registration %s", got, err, r2.ID)
	}
	reads := count.reads.Load()
	if _, err := second.Register(ctx, registerRequest(dev.IMEI, 4)); err != nil {
		t.Fatal(err)
	}
	if more := count.reads.Load() - reads; more != 0 {
		t.Errorf("the second Register after a restart read the store %d times, want 0", more)
	}
	if v := second.HotView(dev.ID); !v.RegKnown || v.Reg == nil {
		t.Errorf("index after restart: %+v", v)
	}
}

// newServiceOn starts a service on st without a bus worker that runs
// follow-up tasks (a bus no one drains would block; this one drops).
func newServiceOn(t *testing.T, st pairing.Store) *pairing.Service {
	t.Helper()
	svc, err := pairing.NewService(st, nopBus{}, slog.New(slog.DiscardHandler), pairing.Options{
		PublicURL: "https://pair.example.com", SecretKey: make([]byte, pairing.SecretKeyLen),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

type nopBus struct{}

func (nopBus) Publish(context.Context, pairing.Event) error   { return nil }
func (nopBus) Subscribe(func(context.Context, pairing.Event)) {}
