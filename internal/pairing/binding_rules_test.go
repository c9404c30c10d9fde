package pairing_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

// The binding rules of binding.go, one table row each, on the service over
// a real SQLite store: who may bind a device, and what every refusal and
// every end of an activation is. Each row names the code the API answers
// with (docs/errors.md); the row asserts the domain's sentinel that the
// API translates into it.

// bindWorld is the cast of the rules: alice owns the homes Flat and Cabin,
// where carol is an admin and dave a plain member; bob owns Shed. The
// device is provisioned and powered off; nobody owns it.
type bindWorld struct {
	t     *testing.T
	ctx   context.Context
	store *sqlite.Store
	svc   *pairing.Service
	clock *bindClock

	alice, bob, carol, dave string // user IDs
	flat, cabin, shed       string // home IDs
	dev                     pairing.Device
}

// bindClock is the service's clock; the timeout rows move it on.
type bindClock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

func (c *bindClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *bindClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newBindWorld(t *testing.T) *bindWorld {
	t.Helper()
	w := &bindWorld{t: t, ctx: context.Background(), clock: &bindClock{now: time.Now().UTC()}}
	w.store, w.svc = newService(t, &scriptedDevice{})
	w.svc.SetNow(w.clock.Now)
	w.alice, w.bob, w.carol, w.dave = w.user("alice"), w.user("bob"), w.user("carol"), w.user("dave")
	w.flat, w.cabin, w.shed = w.home(w.alice, "Flat"), w.home(w.alice, "Cabin"), w.home(w.bob, "Shed")
	w.member(w.flat, "carol", pairing.RoleAdmin)
	w.member(w.flat, "dave", pairing.RoleMember)
	p, err := w.svc.Provision(w.ctx, pairing.ProvisionRequest{IMEI: "868000000000800"})
	if err != nil {
		t.Fatal(err)
	}
	w.dev = p.Device
	return w
}

// user creates an account straight in the store: the rules do not look at
// passwords, and hashing one costs more than the rest of a row.
func (w *bindWorld) user(name string) string {
	w.t.Helper()
	u := pairing.User{ID: "u-" + name, Username: name, PasswordHash: "-", CreatedAt: w.clock.Now()}
	if err := w.store.CreateUser(w.ctx, u); err != nil {
		w.t.Fatal(err)
	}
	return u.ID
}

func (w *bindWorld) home(owner, name string) string {
	w.t.Helper()
	h, err := w.svc.CreateHome(w.ctx, owner, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return h.ID
}

// member adds the user to one of alice's homes.
func (w *bindWorld) member(homeID, username string, role pairing.Role) {
	w.t.Helper()
	if _, err := w.svc.AddMember(w.ctx, w.alice, homeID, username, role); err != nil {
		w.t.Fatal(err)
	}
}

// request is a well-formed request of uid's for the device into homeID.
func (w *bindWorld) request(homeID string) pairing.StartActivation {
	return pairing.StartActivation{Type: pairing.ActivatorTypeNB, NbID: w.dev.NbID, HomeID: homeID, Timeout: 60}
}

// start starts an activation that must be accepted.
func (w *bindWorld) start(uid, homeID string) pairing.Activation {
	w.t.Helper()
	a, err := w.svc.StartActivation(w.ctx, uid, w.request(homeID))
	if err != nil {
		w.t.Fatalf("%s's activation into %s: %v", uid, homeID, err)
	}
	return a
}

// powerOn registers the device, as its Register over CoAP would.
func (w *bindWorld) powerOn() pairing.Registration {
	w.t.Helper()
	r, err := w.svc.Register(w.ctx, pairing.RegisterRequest{
		Query:   wire.RegisterQuery{Endpoint: w.dev.Endpoint(), Lifetime: 300, Version: "1.1", Binding: "U"},
		Objects: []wire.ObjectLink{{Object: 3, Instance: 0}, {Object: wire.PairingObjectID, Instance: 0}},
		Addr:    "127.0.0.1:40800",
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// bound binds the device to uid's home through the rules themselves.
func (w *bindWorld) bound(uid, homeID string) {
	w.t.Helper()
	w.powerOn()
	if a := w.start(uid, homeID); a.Status != pairing.ActivationPaired {
		w.t.Fatalf("binding to %s: the activation is %s", uid, a.Status)
	}
}

// factoryReset is the device's factory reset, sent from its address.
func (w *bindWorld) factoryReset() {
	w.t.Helper()
	if err := w.svc.RequestReset(w.ctx, pairing.ResetRequest{Kind: wire.ResetFactory, Addr: "127.0.0.1:40800"}); err != nil {
		w.t.Fatal(err)
	}
}

// ended waits until the activation has finished and returns it.
func (w *bindWorld) ended(a pairing.Activation) pairing.Activation {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, testkit.Patience)
	defer cancel()
	got, err := w.svc.WaitActivation(ctx, a.UserID, a.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	if got.Status == pairing.ActivationPending {
		w.t.Fatalf("activation %s still pending after %v", a.ID, testkit.Patience)
	}
	return got
}

// device is the device as the store holds it now.
func (w *bindWorld) device() pairing.Device {
	w.t.Helper()
	d, err := w.store.Device(w.ctx, w.dev.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// refusals is the number of bind refusals in the audit log.
func (w *bindWorld) refusals() int {
	w.t.Helper()
	_, n, err := w.svc.AuditLog(w.ctx, pairing.AuditQuery{Action: pairing.AuditBind, Outcome: pairing.OutcomeRefused})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// Requests the rules refuse at once: StartActivation returns the error,
// records no activation and leaves the device as it was. A well-formed
// request is refused in the audit log; a malformed one is not.
func TestBindingRulesRefuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup prepares the world (nil: nothing).
		setup func(w *bindWorld)
		// uid and req are who asks and what; req's zero value is alice's
		// well-formed request into Flat.
		uid     func(w *bindWorld) string
		req     func(w *bindWorld) pairing.StartActivation
		want    error
		audited bool
	}{
		{name: "3721 type missing", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.Type = ""
			return r
		}, want: pairing.ErrMissing},
		{name: "3723 type not NB", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.Type = "WIFI"
			return r
		}, want: pairing.ErrInvalid},
		{name: "3721 nbId missing", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.NbID = ""
			return r
		}, want: pairing.ErrMissing},
		{name: "3722 nbId blank", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.NbID = "   "
			return r
		}, want: pairing.ErrBlank},
		{name: "3723 nbId not the label's 32 hex digits", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.NbID = w.dev.NbID[:31] + "g"
			return r
		}, want: pairing.ErrInvalid},
		{name: "3721 home missing", req: func(w *bindWorld) pairing.StartActivation {
			return w.request("")
		}, want: pairing.ErrMissing},
		{name: "3723 timeout over an hour", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.Timeout = pairing.MaxActivationTimeout + 1
			return r
		}, want: pairing.ErrInvalid},
		{name: "3723 timeout negative", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.Timeout = -1
			return r
		}, want: pairing.ErrInvalid},
		{name: "3723 time zone not IANA", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.TimeZone = "Middle/Earth"
			return r
		}, want: pairing.ErrInvalid},
		{name: "3719 another user's home", req: func(w *bindWorld) pairing.StartActivation {
			return w.request(w.shed)
		}, want: pairing.ErrPermissionDenied, audited: true},
		{name: "3719 no such home", req: func(w *bindWorld) pairing.StartActivation {
			return w.request("h-nowhere")
		}, want: pairing.ErrPermissionDenied, audited: true},
		{name: "3719 a plain member of the home", uid: func(w *bindWorld) string { return w.dave },
			want: pairing.ErrPermissionDenied, audited: true},
		{name: "3733 no device has the nbId", req: func(w *bindWorld) pairing.StartActivation {
			r := w.request(w.flat)
			r.NbID = randomNbID(t)
			return r
		}, want: pairing.ErrDeviceNotExist, audited: true},
		{name: "4500 device blocked", setup: func(w *bindWorld) {
			if _, err := w.svc.BlockDevice(w.ctx, w.dev.ID, "reported stolen"); err != nil {
				w.t.Fatal(err)
			}
		}, want: pairing.ErrDeviceBlocked, audited: true},
		{name: "3711 bound to another user", setup: func(w *bindWorld) { w.bound(w.bob, w.shed) },
			want: pairing.ErrAlreadyBound, audited: true},
		{name: "3711 shared with the user by its owner", setup: func(w *bindWorld) {
			w.bound(w.bob, w.shed)
			if _, _, err := w.svc.ShareDevice(w.ctx, w.bob, w.dev.ID, "alice", pairing.AccessControl); err != nil {
				w.t.Fatal(err)
			}
		}, want: pairing.ErrAlreadyBound, audited: true},
		{name: "3710 the user's activation is running", setup: func(w *bindWorld) { w.start(w.alice, w.cabin) },
			want: pairing.ErrActiveRepeated, audited: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each row has a world of its own
			w := newBindWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			uid, req := w.alice, w.request(w.flat)
			if tc.uid != nil {
				uid = tc.uid(w)
			}
			if tc.req != nil {
				req = tc.req(w)
			}
			before, pendingBefore, refusedBefore := w.device(), w.pending(uid), w.refusals()

			a, err := w.svc.StartActivation(w.ctx, uid, req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("StartActivation: %+v, %v; want %v", a, err, tc.want)
			}
			if after := w.device(); after.OwnerID != before.OwnerID || after.HomeID != before.HomeID {
				t.Errorf("the refusal changed the device's bind: %s/%s, was %s/%s", after.OwnerID, after.HomeID, before.OwnerID, before.HomeID)
			}
			if got := w.pending(uid); got != pendingBefore {
				t.Errorf("%d pending activations of the user after the refusal, want %d", got, pendingBefore)
			}
			if got, want := w.refusals()-refusedBefore, map[bool]int{false: 0, true: 1}[tc.audited]; got != want {
				t.Errorf("%d refusals audited, want %d", got, want)
			}
		})
	}
}

// pending is the number of the user's pending activations.
func (w *bindWorld) pending(uid string) int {
	w.t.Helper()
	as, err := w.store.PendingActivationsOfUser(w.ctx, uid, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return len(as)
}

// Requests the rules accept, and how each activation ends: the status, the
// error it ends with (and so its code), and whose the device is then.
func TestBindingRulesOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run plays the row and returns the activation of the user the
		// row is about, as it ended.
		run        func(w *bindWorld) pairing.Activation
		wantStatus pairing.ActivationStatus
		wantErr    error                                 // the activation's Err()
		owner      func(w *bindWorld) (uid, home string) // the device's bind at the end
	}{
		{name: "paired at once when the device is registered", run: func(w *bindWorld) pairing.Activation {
			w.powerOn()
			return w.start(w.alice, w.flat)
		}, wantStatus: pairing.ActivationPaired, owner: aliceFlat},
		{name: "pending until the device registers, then paired", run: func(w *bindWorld) pairing.Activation {
			a := w.start(w.alice, w.flat)
			if a.Status != pairing.ActivationPending {
				w.t.Fatalf("before the device registers the activation is %s, want pending", a.Status)
			}
			w.powerOn()
			return w.ended(a)
		}, wantStatus: pairing.ActivationPaired, owner: aliceFlat},
		{name: "a home's admin may bind into it", run: func(w *bindWorld) pairing.Activation {
			w.powerOn()
			return w.start(w.carol, w.flat)
		}, wantStatus: pairing.ActivationPaired, owner: func(w *bindWorld) (string, string) { return w.carol, w.flat }},
		{name: "the nbId in upper case names the same device", run: func(w *bindWorld) pairing.Activation {
			w.powerOn()
			r := w.request(w.flat)
			r.NbID = strings.ToUpper(r.NbID)
			a, err := w.svc.StartActivation(w.ctx, w.alice, r)
			if err != nil {
				w.t.Fatal(err)
			}
			return a
		}, wantStatus: pairing.ActivationPaired, owner: aliceFlat},
		{name: "its owner may bind it again into another home", run: func(w *bindWorld) pairing.Activation {
			w.bound(w.alice, w.flat)
			return w.start(w.alice, w.cabin)
		}, wantStatus: pairing.ActivationPaired, owner: func(w *bindWorld) (string, string) { return w.alice, w.cabin }},
		{name: "after a factory reset another user may bind it", run: func(w *bindWorld) pairing.Activation {
			w.bound(w.bob, w.shed)
			w.factoryReset()
			return w.start(w.alice, w.flat)
		}, wantStatus: pairing.ActivationPaired, owner: aliceFlat},
		{name: "3711 two users wait: the first wins, the other fails", run: func(w *bindWorld) pairing.Activation {
			first := w.start(w.bob, w.shed)
			w.clock.advance(time.Second) // the bind takes the oldest first
			second := w.start(w.alice, w.flat)
			w.powerOn()
			if got := w.ended(first); got.Status != pairing.ActivationPaired {
				w.t.Errorf("the first activation ended %s (%v), want paired", got.Status, got.Err())
			}
			return w.ended(second)
		}, wantStatus: pairing.ActivationFailed, wantErr: pairing.ErrAlreadyBound,
			owner: func(w *bindWorld) (string, string) { return w.bob, w.shed }},
		{name: "3719 the user left the home before the device registered", run: func(w *bindWorld) pairing.Activation {
			a := w.start(w.carol, w.flat)
			if err := w.svc.RemoveMember(w.ctx, w.alice, w.flat, w.carol); err != nil {
				w.t.Fatal(err)
			}
			w.powerOn()
			return w.ended(a)
		}, wantStatus: pairing.ActivationFailed, wantErr: pairing.ErrPermissionDenied, owner: nobody},
		{name: "3716 the device was factory-reset while the activation waited", run: func(w *bindWorld) pairing.Activation {
			a := w.start(w.alice, w.flat)
			// An activation waits only while the device has no
			// registration: put one in the store without the event that
			// would bind at once, as a device that registered and reset
			// in one wake-up would find it.
			now := w.clock.Now()
			reg := pairing.Registration{ID: "r-800", DeviceID: w.dev.ID, Endpoint: w.dev.Endpoint(), Lifetime: 60, Version: "1.1",
				Binding: "U", Addr: "127.0.0.1:40800", RegisteredAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
			if _, err := w.store.Register(w.ctx, reg); err != nil {
				w.t.Fatal(err)
			}
			w.factoryReset()
			return w.ended(a)
		}, wantStatus: pairing.ActivationFailed, wantErr: pairing.ErrFactoryReset, owner: nobody},
		{name: "1512 the device did not register before the deadline", run: func(w *bindWorld) pairing.Activation {
			a := w.start(w.alice, w.flat)
			w.clock.advance(61 * time.Second)
			if err := w.svc.ExpireActivations(w.ctx); err != nil {
				w.t.Fatal(err)
			}
			w.powerOn() // too late: the activation has ended
			return w.ended(a)
		}, wantStatus: pairing.ActivationFailed, wantErr: pairing.ErrTimeout, owner: nobody},
		{name: "4020 the user stopped the activation", run: func(w *bindWorld) pairing.Activation {
			a := w.start(w.alice, w.flat)
			a, err := w.svc.StopActivation(w.ctx, w.alice, a.ID)
			if err != nil {
				w.t.Fatal(err)
			}
			w.powerOn() // too late: the activation has ended
			return a
		}, wantStatus: pairing.ActivationStopped, wantErr: pairing.ErrActivationStopped, owner: nobody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each row has a world of its own
			w := newBindWorld(t)
			a := tc.run(w)
			if a.Status != tc.wantStatus || !errors.Is(a.Err(), tc.wantErr) || (tc.wantErr == nil && a.Err() != nil) {
				t.Errorf("the activation ended %s (%v), want %s (%v)", a.Status, a.Err(), tc.wantStatus, tc.wantErr)
			}
			uid, home := tc.owner(w)
			if d := w.device(); d.OwnerID != uid || d.HomeID != home {
				t.Errorf("the device is bound to %q in %q, want %q in %q", d.OwnerID, d.HomeID, uid, home)
			}
		})
	}
}

func aliceFlat(w *bindWorld) (string, string) { return w.alice, w.flat }

func nobody(*bindWorld) (string, string) { return "", "" }

// randomNbID is a well-formed pairing ID that no device has.
func randomNbID(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
