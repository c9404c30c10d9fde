package pairing_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/events"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/wire"
)

// newService starts a service on a new SQLite store and the in-process
// bus, with down (if not nil) sending its downlinks; the test's cleanup
// stops them in the order the app does.
func newService(t *testing.T, down pairing.Downlinker, mutate ...func(*pairing.Options)) (*sqlite.Store, *pairing.Service) {
	t.Helper()
	return newServiceOver(t, down, nil, mutate...)
}

// newServiceOver is newService with the service on wrap(store), when wrap
// is not nil.
func newServiceOver(t *testing.T, down pairing.Downlinker, wrap func(pairing.Store) pairing.Store, mutate ...func(*pairing.Options)) (*sqlite.Store, *pairing.Service) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var st pairing.Store = store
	if wrap != nil {
		st = wrap(store)
	}
	bus := events.New(1, 16)
	opts := pairing.Options{PublicURL: "https://pair.example.com", SecretKey: make([]byte, pairing.SecretKeyLen)}
	for _, m := range mutate {
		m(&opts)
	}
	svc, err := pairing.NewService(st, bus, slog.New(slog.DiscardHandler), opts)
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	if down != nil {
		svc.SetDownlinker(down)
	}
	t.Cleanup(func() {
		bus.Close(ctx)
		svc.Drain(ctx)
		store.Close()
	})
	return store, svc
}

// scriptedDevice is the CoAP side of downlinks, for the tests of what the
// dispatcher does around them: it records every Pairing-object write and
// fails the first ones as told, as a device that has gone to sleep would.
type scriptedDevice struct {
	mu     sync.Mutex
	fail   int // the next writes that fail
	writes []wire.PairingState
	// hold, when set, is closed by the test to let the next write (which
	// then fails) return; started is closed once that write has begun.
	hold, started chan struct{}
}

func (d *scriptedDevice) WritePairing(_ context.Context, _ pairing.Registration, s wire.PairingState, formats []int) (pairing.WriteResult, error) {
	res := pairing.WriteResult{Format: formats[0]}
	d.mu.Lock()
	if hold := d.hold; hold != nil {
		d.hold = nil
		close(d.started)
		d.mu.Unlock()
		<-hold
		return res, errors.New("no answer: the device sleeps")
	}
	defer d.mu.Unlock()
	if d.fail > 0 {
		d.fail--
		return res, errors.New("no answer: the device sleeps")
	}
	d.writes = append(d.writes, s)
	return res, nil
}

func (d *scriptedDevice) written() []wire.PairingState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]wire.PairingState(nil), d.writes...)
}

// After a Register the pairing state goes to the device from memory; it is
// queued only when it does not arrive, and then goes out at the next
// wake-up; a fresh state replaces an older queued one instead of following
// it.
func TestPairingStateAfterRegister(t *testing.T) {
	ctx := context.Background()
	dev := &scriptedDevice{}
	store, svc := newService(t, dev)
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000400"})
	if err != nil {
		t.Fatal(err)
	}
	register := func() pairing.Registration {
		t.Helper()
		r, err := svc.Register(ctx, pairing.RegisterRequest{
			Query:   wire.RegisterQuery{Endpoint: d.Endpoint(), Lifetime: 300, Version: "1.1", Binding: "U"},
			Objects: []wire.ObjectLink{{Object: 1, Instance: 0}, {Object: 3, Instance: 0}, {Object: wire.PairingObjectID, Instance: 0}},
			Addr:    "127.0.0.1:40001",
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	queued := func() []pairing.Downlink {
		t.Helper()
		dls, err := store.Downlinks(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return dls
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; written %+v, queued %+v", what, dev.written(), queued())
			}
		}
	}

	// A device that answers gets its state, and nothing stays queued.
	register()
	waitFor("the first write", func() bool { return len(dev.written()) == 1 })
	if w := dev.written()[0]; w.DeviceID != d.ID || w.State != wire.BindUnbound {
		t.Errorf("written %+v, want device %s unbound", w, d.ID)
	}
	if q := queued(); len(q) != 0 {
		t.Errorf("queued after a delivered write: %+v", q)
	}

	// A device that does not answer: the state is queued, and goes out at
	// its next wake-up.
	dev.mu.Lock()
	dev.fail = 1
	dev.mu.Unlock()
	r := register()
	waitFor("the missed write to be queued", func() bool { return len(queued()) == 1 })
	if _, err := svc.Update(ctx, pairing.UpdateRequest{RegistrationID: r.ID, Addr: r.Addr}); err != nil {
		t.Fatal(err)
	}
	waitFor("the queued write at the wake-up", func() bool { return len(dev.written()) == 2 && len(queued()) == 0 })

	// An older state queued for the device is replaced by the fresh one,
	// not sent after it.
	stale := pairing.Downlink{DeviceID: d.ID, Kind: pairing.DownlinkPairingState, CreatedAt: time.Now().Add(-time.Hour).UTC(),
		Pairing: wire.PairingState{DeviceID: d.ID, State: wire.BindBound, OwnerUID: "u_gone", HomeID: "h_gone"}}
	if err := store.PutDownlink(ctx, stale); err != nil {
		t.Fatal(err)
	}
	register()
	waitFor("the fresh write and the stale one gone", func() bool { return len(dev.written()) == 3 && len(queued()) == 0 })
	time.Sleep(100 * time.Millisecond) // room for a wrong fourth write
	w := dev.written()
	if len(w) != 3 || w[2].State != wire.BindUnbound || w[2].OwnerUID != "" {
		t.Errorf("writes after a stale queued state: %+v, want one more, unbound", w)
	}
}

// A fresh state whose write fails after the device was bound meanwhile is
// not queued over the newer "bound": the device ends up told it is bound.
func TestFreshStateDoesNotReplaceNewer(t *testing.T) {
	ctx := context.Background()
	hold := make(chan struct{})
	dev := &scriptedDevice{hold: hold, started: make(chan struct{})}
	store, svc := newService(t, dev)
	released := false
	t.Cleanup(func() { // before the service drains: the held write must end
		if !released {
			close(hold)
		}
	})
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000500"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctx, pairing.RegisterRequest{
		Query:   wire.RegisterQuery{Endpoint: d.Endpoint(), Lifetime: 300, Version: "1.1", Binding: "U"},
		Objects: []wire.ObjectLink{{Object: wire.PairingObjectID, Instance: 0}},
		Addr:    "127.0.0.1:40002",
	}); err != nil {
		t.Fatal(err)
	}
	<-dev.started // the "unbound" write is on its way and will fail

	u, err := svc.SignUp(ctx, "bob", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.CreateHome(ctx, u.ID, "Flat")
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.StartActivation(ctx, u.ID, pairing.StartActivation{Type: "NB", NbID: d.NbID, HomeID: h.ID, Timeout: 60})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if dls, _ := store.Downlinks(ctx, d.ID); len(dls) == 1 && dls[0].Pairing.State == wire.BindBound {
			break // the bind has queued "bound"
		}
		if time.Now().After(deadline) {
			got, _ := svc.Activation(ctx, u.ID, a.ID)
			t.Fatalf("no \"bound\" queued; activation %+v", got)
		}
	}
	close(hold) // the stale write fails now
	released = true

	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w := dev.written()
		dls, _ := store.Downlinks(ctx, d.ID)
		if len(w) > 0 && len(dls) == 0 {
			if last := w[len(w)-1]; last.State != wire.BindBound || last.OwnerUID != u.ID {
				t.Fatalf("the device was last told %+v, want bound to %s (writes %+v)", last, u.ID, w)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes %+v, queued %+v: want the bound state delivered and nothing queued", w, dls)
		}
	}
}
