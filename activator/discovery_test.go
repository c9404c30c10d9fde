package activator_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// checkPaired checks the device the delegate got against the provisioned
// one and its new owner, and that the device itself learns its owner.
func checkPaired(t *testing.T, got activator.DeviceModel, d apptest.Provisioned, u user, dev *device.Client) {
	t.Helper()
	if got.DevID != d.ID || got.UniqueID != d.IMEI || got.OwnerUID != u.uid || got.SpaceID != u.home ||
		got.ActivatorType != activator.TypeNB || got.TimeZone != "Europe/Berlin" || got.BoundAt.IsZero() || !got.Online {
		t.Errorf("paired device %+v; want devId %s, IMEI %s, owner %s, home %s, online", got, d.ID, d.IMEI, u.uid, u.home)
	}
	p := waitPairing(t, dev, "the owner", func(p device.PairingState) bool { return p.State == device.BindBound })
	if p.OwnerUID != u.uid || p.HomeID != u.home || p.DeviceID != d.ID {
		t.Errorf("the device's Pairing object holds %+v; want owner %s, home %s", p, u.uid, u.home)
	}
}

// The device registers first; the activation then binds it at once.
func TestDiscoveryPairsDeviceFirst(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(1))
	alice := newUser(t, n, "alice")
	dev := registered(t, n, d)

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, 0)
	disc.Register(typ)
	if err := disc.StartActive(typ, nil); err != nil {
		t.Fatal(err)
	}
	got := rec.paired(t)
	checkPaired(t, got, d, alice, dev)
	if ds := disc.Devices(); len(ds) != 1 || ds[0].DevID != d.ID {
		t.Errorf("Devices() = %+v; want the paired device", ds)
	}
	home, err := alice.c.HomeDevices(testCtx(t), alice.home)
	if err != nil || len(home) != 1 || home[0].DevID != d.ID {
		t.Errorf("HomeDevices = %+v, %v; want the paired device", home, err)
	}
}

// The activation comes first; the device binds when it powers on.
func TestDiscoveryPairsActivationFirst(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(2))
	obs := newObserver()
	alice := newUser(t, n, "alice", obs.option())

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, time.Minute)
	disc.Register(typ)
	if err := disc.StartActive(typ, []activator.DeviceModel{}); err != nil {
		t.Fatal(err)
	}
	id := obs.nextStart(t)
	if st := activationStatus(t, n, alice, id); st != "pending" {
		t.Fatalf("activation %s is %s before the device powered on; want pending", id, st)
	}
	rec.none(t)
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	got := rec.paired(t)
	checkPaired(t, got, d, alice, dev)
	if events, _ := obs.counts(); events == 0 {
		t.Errorf("the outcome did not come through the event stream")
	}
}

// If the event stream breaks, the SDK long-polls for the outcome.
func TestDiscoveryFallsBackToLongPoll(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(3))
	obs := newObserver()
	obs.breakEvents.Store(true)
	alice := newUser(t, n, "alice", obs.option())

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, time.Minute)
	disc.Register(typ)
	disc.StartActive(typ, nil)
	obs.nextStart(t)
	testkit.Eventually(t, "a long-poll after the event stream broke", func() bool {
		_, polls := obs.counts()
		return polls > 0
	})
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	checkPaired(t, rec.paired(t), d, alice, dev)
}

func TestDiscoveryTimeout(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(4))
	alice := newUser(t, n, "alice")

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, time.Second)
	disc.Register(typ)
	disc.StartActive(typ, nil)
	em := rec.failed(t, activator.ErrTimeout)
	if em.Device.DevID != d.ID || em.Device.SpaceID != alice.home {
		t.Errorf("error model's device %+v; want devId %s in home %s", em.Device, d.ID, alice.home)
	}
	if len(disc.Devices()) != 0 {
		t.Errorf("Devices() = %+v after a timeout", disc.Devices())
	}
}

// The server's refusals reach the delegate as error models.
func TestDiscoveryRefusals(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	bob := newUser(t, n, "bob")
	alice := newUser(t, n, "alice")
	bound := n.Provision(t, apptest.IMEI(10))
	registered(t, n, bound)
	if _, err := bob.c.Activate(testCtx(t), bob.nbType(bound.NbID, 0)); err != nil {
		t.Fatalf("bob pairs the device: %v", err)
	}
	free := n.Provision(t, apptest.IMEI(11))
	busy := n.Provision(t, apptest.IMEI(12)) // alice has an activation running for it
	if err := startPending(t, n, alice, busy.NbID); err != nil {
		t.Fatal(err)
	}
	noSession := activator.NewClient("http://" + n.HTTPAddr())

	tests := map[string]struct {
		c    *activator.Client
		typ  activator.TypeModel
		want *activator.Error
	}{
		"bound to another user": {alice.c, alice.nbType(bound.NbID, 0), activator.ErrDeviceAlreadyBound},
		"another user's home":   {alice.c, withHome(alice.nbType(free.NbID, 0), bob.home), activator.ErrPermissionDenied},
		"unknown nbId":          {alice.c, alice.nbType(unknownNbID(), 0), activator.ErrDeviceNotExist},
		"no session":            {noSession, alice.nbType(free.NbID, 0), activator.ErrUserSessionLoss},
		"started twice":         {alice.c, alice.nbType(busy.NbID, 0), activator.ErrDeviceActiveRepeated},
		"malformed nbId":        {alice.c, alice.nbType("not-a-label", 0), activator.ErrRemoteAPIParamIllegal},
		"missing nbId":          {alice.c, alice.nbType("", 0), activator.ErrRemoteAPIParamLoss},
		"timeout over an hour":  {alice.c, alice.nbType(free.NbID, 2*time.Hour), activator.ErrRemoteAPIParamIllegal},
		"bad time zone":         {alice.c, withZone(alice.nbType(free.NbID, 0), "Mars/Olympus"), activator.ErrRemoteAPIParamIllegal},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := newRecorder(t)
			disc := activator.NewDiscovery(tc.c, rec)
			disc.Register(tc.typ)
			if err := disc.StartActive(tc.typ, nil); err != nil {
				t.Fatal(err)
			}
			em := rec.failed(t, tc.want)
			if em.Err.HTTPStatus < 400 || em.Err.Message == "" {
				t.Errorf("error %+v: want the HTTP status and a message", em.Err)
			}
			if em.Device.ActivatorType != activator.TypeNB {
				t.Errorf("error model's device %+v: want its activator type", em.Device)
			}
		})
	}
}

func withHome(t activator.TypeModel, home string) activator.TypeModel { t.SpaceID = home; return t }
func withZone(t activator.TypeModel, tz string) activator.TypeModel   { t.TimeZone = tz; return t }

// startPending starts an activation of u for nbID that stays pending (its
// device is off) for the rest of the test.
func startPending(t *testing.T, n *apptest.Node, u user, nbID string) error {
	t.Helper()
	var a struct{ Status string }
	code := n.Call(t, u.c.Token(), "POST", "/v1/activations",
		map[string]any{"type": "NB", "nbId": nbID, "spaceId": u.home, "timeout": 600}, &a)
	if code != 202 || a.Status != "pending" {
		return fmt.Errorf("start activation: HTTP %d, status %q", code, a.Status)
	}
	return nil
}

func TestDiscoveryStartActiveUnregisteredType(t *testing.T) {
	t.Parallel()
	c := activator.NewClient("http://127.0.0.1:1")
	rec := newRecorder(t)
	disc := activator.NewDiscovery(c, rec)
	typ := activator.TypeModel{Type: activator.TypeNB, NbID: unknownNbID(), SpaceID: "h"}
	if err := disc.StartActive(typ, nil); !errors.Is(err, activator.ErrTypeNotRegistered) {
		t.Fatalf("StartActive of an unregistered type: %v; want ErrTypeNotRegistered", err)
	}
	disc.Register(activator.TypeModel{Type: "BLE"})
	if err := disc.StartActive(typ, nil); !errors.Is(err, activator.ErrTypeNotRegistered) {
		t.Fatalf("StartActive of another registered type: %v; want ErrTypeNotRegistered", err)
	}
	rec.none(t)
}

// A server that cannot be reached is a CodeNetwork error model that wraps
// the cause.
func TestDiscoveryNetworkFailure(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	alice := newUser(t, n, "alice")
	n.Stop(t)
	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(unknownNbID(), 0)
	disc.Register(typ)
	disc.StartActive(typ, nil)
	em := rec.failed(t, activator.ErrNetwork)
	if errors.Unwrap(em.Err) == nil {
		t.Errorf("network error %v does not wrap its cause", em.Err)
	}
}

// StopActive stops the activation on the server and the delegate is not
// called for it afterwards.
func TestDiscoveryStopActive(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(20))
	obs := newObserver()
	alice := newUser(t, n, "alice", obs.option())

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, time.Minute)
	disc.Register(typ)
	disc.StartActive(typ, nil)
	id := obs.nextStart(t)
	obs.waitFollowing(t)
	disc.StopActive([]activator.TypeModel{typ}, false)
	if st := activationStatus(t, n, alice, id); st != "stopped" {
		t.Errorf("after StopActive the activation is %s; want stopped", st)
	}
	// The device powers on now: it must not be bound, and the delegate
	// must not hear of the stopped activation. An activation started
	// after the stop is told its own outcome, and nothing before it.
	dev := registered(t, n, d)
	rec.none(t)
	other := alice.nbType(unknownNbID(), time.Second)
	disc.StartActive(other, nil)
	o := rec.next(t)
	if o.t.NbID != other.NbID {
		t.Fatalf("delegate called for %s after StopActive; want only %s", o.t.NbID, other.NbID)
	}
	if p := dev.Pairing(); p.State != device.BindUnbound {
		t.Errorf("the device holds %+v after the stopped activation; want unbound", p)
	}
	// The same device can be activated again at once (the stopped
	// activation no longer counts as running).
	disc.StartActive(typ, nil)
	checkPaired(t, rec.paired(t), d, alice, dev)
}

// clearCache drops the devices of the stopped types from Devices.
func TestDiscoveryStopActiveClearCache(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(21))
	alice := newUser(t, n, "alice")
	registered(t, n, d)

	rec := newRecorder(t)
	disc := activator.NewDiscovery(alice.c, rec)
	typ := alice.nbType(d.NbID, 0)
	disc.Register(typ)
	disc.StartActive(typ, nil)
	rec.paired(t)
	disc.StopActive([]activator.TypeModel{typ}, false)
	if ds := disc.Devices(); len(ds) != 1 || ds[0].DevID != d.ID {
		t.Fatalf("Devices() = %+v after StopActive without clearCache; want the paired device", ds)
	}
	disc.StopActive([]activator.TypeModel{{Type: "BLE"}}, true)
	if ds := disc.Devices(); len(ds) != 1 {
		t.Fatalf("Devices() = %+v after clearing another type; want the paired device", ds)
	}
	disc.StopActive([]activator.TypeModel{typ}, true)
	if ds := disc.Devices(); len(ds) != 0 {
		t.Fatalf("Devices() = %+v after StopActive with clearCache; want none", ds)
	}
}

// An outcome that arrives while StopActive runs is never delivered after
// StopActive returned. The device is online and already alice's, so every
// activation pairs at once, racing the StopActive right behind it.
func TestDiscoveryStopActiveRace(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(22))
	alice := newUser(t, n, "alice")
	registered(t, n, d)
	if _, err := alice.c.Activate(testCtx(t), alice.nbType(d.NbID, 0)); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	stoppedRound := -1 // guarded by mu; the last round whose StopActive returned
	delivered := 0     // guarded by mu
	disc := activator.NewDiscovery(alice.c, activator.DelegateFunc(
		func(_ *activator.Discovery, typ activator.TypeModel, devices []activator.DeviceModel, em *activator.ErrorModel) {
			var round int
			fmt.Sscanf(typ.TypeName, "round %d", &round)
			mu.Lock()
			defer mu.Unlock()
			if round <= stoppedRound {
				t.Errorf("delegate called for round %d after its StopActive returned", round)
			}
			if em != nil {
				t.Errorf("round %d: %v", round, em)
			}
			delivered++
		}))
	const rounds = 30
	for i := range rounds {
		typ := alice.nbType(d.NbID, 0)
		typ.TypeName = fmt.Sprintf("round %d", i)
		disc.Register(typ)
		if err := disc.StartActive(typ, nil); err != nil {
			t.Fatal(err)
		}
		if i%3 == 1 { // sometimes let the outcome get further first
			testkit.Eventually(t, "the outcome of round "+typ.TypeName, func() bool {
				return len(disc.Devices()) > 0
			})
		}
		disc.StopActive([]activator.TypeModel{typ}, true)
		mu.Lock()
		stoppedRound = i
		mu.Unlock()
	}
	mu.Lock()
	t.Logf("%d of %d outcomes were delivered before their StopActive", delivered, rounds)
	mu.Unlock()
}

// Two users race for one device: exactly one gets it, the other is told
// 3711.
func TestDiscoveryTwoUsersRace(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(30))
	obs := newObserver()
	alice := newUser(t, n, "alice", obs.option())
	bob := newUser(t, n, "bob", obs.option())

	rec := newRecorder(t)
	discA := activator.NewDiscovery(alice.c, rec)
	discB := activator.NewDiscovery(bob.c, rec)
	typA, typB := alice.nbType(d.NbID, time.Minute), bob.nbType(d.NbID, time.Minute)
	discA.Register(typA)
	discB.Register(typB)
	discA.StartActive(typA, nil)
	discB.StartActive(typB, nil)
	obs.nextStart(t)
	obs.nextStart(t)
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})

	var winner user
	var won, lost int
	for range 2 {
		o := rec.next(t)
		u := alice
		if o.t.SpaceID == bob.home {
			u = bob
		}
		switch {
		case o.errModel == nil:
			won++
			winner = u
			if o.devices[0].OwnerUID != u.uid {
				t.Errorf("winner got %+v; want owner %s", o.devices[0], u.uid)
			}
		case errors.Is(o.errModel, activator.ErrDeviceAlreadyBound):
			lost++
		default:
			t.Errorf("unexpected outcome: %v", o.errModel)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("%d users got the device and %d were told 3711; want one each", won, lost)
	}
	p := waitPairing(t, dev, "the owner", func(p device.PairingState) bool { return p.State == device.BindBound })
	if p.OwnerUID != winner.uid {
		t.Errorf("the device names owner %s; the winner is %s", p.OwnerUID, winner.uid)
	}
}
