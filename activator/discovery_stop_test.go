package activator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// A Delegate stops the Discovery from within its own call, through the d
// it is given: StopActive returns (it does not wait for the call it is
// made from), the other activation of the type is stopped on the server,
// and the Delegate hears nothing more of it.
func TestDiscoveryStopActiveFromTheDelegate(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	online := n.Provision(t, apptest.IMEI(24))
	asleep := n.Provision(t, apptest.IMEI(25))
	obs := newObserver()
	alice := newUser(t, n, "alice", obs.option())
	dev := registered(t, n, online)

	stopReturned := make(chan struct{})
	calls := make(chan activator.TypeModel, 10)
	disc := activator.NewDiscovery(alice.c, activator.DelegateFunc(
		func(d *activator.Discovery, typ activator.TypeModel, _ []activator.DeviceModel, em *activator.ErrorModel) {
			calls <- typ
			if em != nil {
				t.Errorf("the activation of %s failed: %v", typ.NbID, em)
			}
			d.StopActive([]activator.TypeModel{typ}, false)
			close(stopReturned)
		}))
	waiting := alice.nbType(asleep.NbID, time.Minute)
	disc.Register(waiting)
	if err := disc.StartActive(waiting, nil); err != nil {
		t.Fatal(err)
	}
	waitingID := obs.nextStart(t)
	if err := disc.StartActive(alice.nbType(online.NbID, time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopReturned:
	case <-time.After(waitLong):
		t.Fatalf("StopActive called from within the Delegate did not return within %v", waitLong)
	}
	if typ := <-calls; typ.NbID != online.NbID {
		t.Fatalf("the Delegate was told of %s; want the online device %s", typ.NbID, online.NbID)
	}
	if st := activationStatus(t, n, alice, waitingID); st != "stopped" {
		t.Errorf("the other activation is %s after the Delegate's StopActive; want stopped", st)
	}
	// The sleeping device powers on: it stays unbound and the Delegate is
	// not called for it.
	late := registered(t, n, asleep)
	if p := late.Pairing(); p.State != device.BindUnbound {
		t.Errorf("the device of the stopped activation holds %+v; want unbound", p)
	}
	select {
	case typ := <-calls:
		t.Errorf("the Delegate was called for %s after its StopActive returned", typ.NbID)
	default:
	}
	waitPairing(t, dev, "the owner", func(p device.PairingState) bool { return p.State == device.BindBound })
}

// StopActiveContext bounds the wait: called through the Discovery
// NewDiscovery returned, from within the Delegate, it would wait for the
// call it is part of; with a deadline it returns the context's error
// instead of hanging, and the activations are stopped all the same.
func TestDiscoveryStopActiveContextBoundsTheWait(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	online := n.Provision(t, apptest.IMEI(26))
	alice := newUser(t, n, "alice")
	registered(t, n, online)

	var disc *activator.Discovery
	result := make(chan error, 1)
	disc = activator.NewDiscovery(alice.c, activator.DelegateFunc(
		func(_ *activator.Discovery, typ activator.TypeModel, _ []activator.DeviceModel, _ *activator.ErrorModel) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			result <- disc.StopActiveContext(ctx, []activator.TypeModel{typ}, true)
		}))
	typ := alice.nbType(online.NbID, time.Minute)
	disc.Register(typ)
	if err := disc.StartActive(typ, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("StopActiveContext from within the Delegate through the outer Discovery: %v; want the deadline's error", err)
		}
	case <-time.After(waitLong):
		t.Fatalf("the Delegate was not called within %v", waitLong)
	}
	if ds := disc.Devices(); len(ds) != 0 {
		t.Errorf("Devices() = %+v after StopActiveContext with clearCache; want none", ds)
	}
}

// When the context given to StartActiveContext ends, the activation is
// stopped on the server and the Delegate is not told of it.
func TestDiscoveryStartActiveContextCancelled(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(27))
	obs := newObserver()
	alice := newUser(t, n, "alice", obs.option())

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, time.Minute)
	disc.Register(typ)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := disc.StartActiveContext(ctx, typ); err != nil {
		t.Fatal(err)
	}
	id := obs.nextStart(t)
	obs.waitFollowing(t)
	cancel()
	testkit.Eventually(t, "the activation to be stopped on the server", func() bool {
		return activationStatus(t, n, alice, id) == "stopped"
	})
	dev := registered(t, n, d)
	if p := dev.Pairing(); p.State != device.BindUnbound {
		t.Errorf("the device holds %+v after its activation's context ended; want unbound", p)
	}
	rec.none(t)
	// The Discovery goes on: the same device is activated again.
	if err := disc.StartActive(typ, nil); err != nil {
		t.Fatal(err)
	}
	checkPaired(t, rec.paired(t), d, alice, dev)
}
