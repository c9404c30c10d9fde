package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// cancelledContext calls every method with a context cancelled beforehand:
// each must return an error, and none may change what is stored. It takes
// the methods in the order of pairing.Store.
func cancelledContext(t *testing.T, s pairing.Store) {
	u, h, d := bindFixture(t, s, 1)
	r := newRegistration(d, "reg1", epoch)
	register(t, s, r)
	putDownlink(t, s, newDownlink(d, wire.BindUnbound, epoch))
	se := newSession(u, 1, at(time.Hour))
	if err := s.CreateSession(t.Context(), se); err != nil {
		t.Fatal(err)
	}
	bound, pending := newActivation("act1", u, h, d, epoch), newActivation("act2", u, h, d, at(time.Minute))
	createActivation(t, s, bound)
	wantBind(t, s, bound, at(time.Second))
	createActivation(t, s, pending)
	se2 := newSession(u, 2, at(time.Hour))
	f := snapshotOf{device: d, user: u, sessions: [][]byte{se.TokenHash, se2.TokenHash},
		activations: []string{bound.ID, pending.ID, "act3"}}
	before := f.take(t, s)

	updated := r
	updated.Addr, updated.LastSeen = "192.0.2.99:9", at(time.Hour)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateProduct", func(ctx context.Context) error {
			return s.CreateProduct(ctx, pairing.Product{ID: "cancelled", Name: "Cancelled", CreatedAt: epoch})
		}},
		{"Product", func(ctx context.Context) error { _, err := s.Product(ctx, pairing.DefaultProductID); return err }},
		{"Products", func(ctx context.Context) error { _, err := s.Products(ctx); return err }},
		{"CreateDevice", func(ctx context.Context) error { return s.CreateDevice(ctx, newDevice(2)) }},
		{"Device", func(ctx context.Context) error { _, err := s.Device(ctx, d.ID); return err }},
		{"DeviceByIMEI", func(ctx context.Context) error { _, err := s.DeviceByIMEI(ctx, d.IMEI); return err }},
		{"Devices", func(ctx context.Context) error {
			_, err := s.Devices(ctx, pairing.DeviceQuery{Limit: 10})
			return err
		}},
		{"Register", func(ctx context.Context) error {
			_, err := s.Register(ctx, newRegistration(d, "reg2", at(time.Hour)))
			return err
		}},
		{"Registration", func(ctx context.Context) error { _, err := s.Registration(ctx, r.ID); return err }},
		{"RegistrationOfDevice", func(ctx context.Context) error { _, err := s.RegistrationOfDevice(ctx, d.ID); return err }},
		{"UpdateRegistration", func(ctx context.Context) error { return s.UpdateRegistration(ctx, updated) }},
		{"DeleteRegistration", func(ctx context.Context) error { _, err := s.DeleteRegistration(ctx, r.ID); return err }},
		{"DeleteExpired", func(ctx context.Context) error {
			_, err := s.DeleteExpired(ctx, at(1000*time.Hour), 10)
			return err
		}},
		{"PutDownlink", func(ctx context.Context) error {
			return s.PutDownlink(ctx, newDownlink(d, wire.BindBound, at(time.Hour)))
		}},
		{"Downlinks", func(ctx context.Context) error { _, err := s.Downlinks(ctx, d.ID); return err }},
		{"DeleteDownlink", func(ctx context.Context) error {
			return s.DeleteDownlink(ctx, d.ID, pairing.DownlinkPairingState, at(time.Hour))
		}},
		{"CreateUser", func(ctx context.Context) error { return s.CreateUser(ctx, newUser(2)) }},
		{"User", func(ctx context.Context) error { _, err := s.User(ctx, u.ID); return err }},
		{"UserByName", func(ctx context.Context) error { _, err := s.UserByName(ctx, u.Username); return err }},
		{"CreateSession", func(ctx context.Context) error { return s.CreateSession(ctx, se2) }},
		{"Session", func(ctx context.Context) error { _, err := s.Session(ctx, se.TokenHash); return err }},
		{"DeleteSession", func(ctx context.Context) error { return s.DeleteSession(ctx, se.TokenHash) }},
		{"CreateHome", func(ctx context.Context) error { return s.CreateHome(ctx, newHome(2, u)) }},
		{"Homes", func(ctx context.Context) error { _, err := s.Homes(ctx, u.ID); return err }},
		{"Home", func(ctx context.Context) error { _, err := s.Home(ctx, h.ID, u.ID); return err }},
		{"HomeDevices", func(ctx context.Context) error { _, err := s.HomeDevices(ctx, h.ID); return err }},
		{"DeviceByNbID", func(ctx context.Context) error { _, err := s.DeviceByNbID(ctx, d.NbID); return err }},
		{"RenameDevice", func(ctx context.Context) error { return s.RenameDevice(ctx, d.ID, "Renamed") }},
		{"CreateActivation", func(ctx context.Context) error {
			return s.CreateActivation(ctx, newActivation("act3", u, h, d, at(time.Hour)))
		}},
		{"Activation", func(ctx context.Context) error { _, err := s.Activation(ctx, pending.ID); return err }},
		{"PendingActivations", func(ctx context.Context) error { _, err := s.PendingActivations(ctx, d.ID); return err }},
		{"FinishActivation", func(ctx context.Context) error {
			_, err := s.FinishActivation(ctx, pending.ID, pairing.ActivationStopped, "", at(time.Hour))
			return err
		}},
		{"ExpiredActivations", func(ctx context.Context) error {
			_, err := s.ExpiredActivations(ctx, at(1000*time.Hour), 10)
			return err
		}},
		{"Bind", func(ctx context.Context) error { _, _, err := s.Bind(ctx, pending.ID, at(time.Hour)); return err }},
		{"Unbind", func(ctx context.Context) error { _, err := s.Unbind(ctx, d.ID, ""); return err }},
		{"BlockDevice", func(ctx context.Context) error {
			return s.BlockDevice(ctx, pairing.DeviceBlock{DeviceID: d.ID, At: at(time.Hour)})
		}},
		{"UnblockDevice", func(ctx context.Context) error { return s.UnblockDevice(ctx, d.ID) }},
		{"DeviceBlock", func(ctx context.Context) error { _, err := s.DeviceBlock(ctx, d.ID); return err }},
		{"DeviceBlocks", func(ctx context.Context) error { _, err := s.DeviceBlocks(ctx); return err }},
		{"StartPSKRotation", func(ctx context.Context) error {
			return s.StartPSKRotation(ctx, pairing.PSKRotation{DeviceID: d.ID, SealedPSK: []byte("k"), StartedAt: at(time.Hour), Deadline: at(2 * time.Hour)})
		}},
		{"PSKRotation", func(ctx context.Context) error { _, err := s.PSKRotation(ctx, d.ID); return err }},
		{"FinishPSKRotation", func(ctx context.Context) error { return s.FinishPSKRotation(ctx, d.ID, at(time.Hour)) }},
		{"DeprovisionDevice", func(ctx context.Context) error {
			_, err := s.DeprovisionDevice(ctx, d.ID, pairing.Notes{})
			return err
		}},
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(ctx); err == nil {
				t.Fatalf("%s with a cancelled context returned no error", c.name)
			}
		})
	}
	wantEqual(t, "store after calls with a cancelled context", f.take(t, s), before)
}

// snapshotOf names what a snapshot reads: one device with its registration
// and downlinks, one user with their homes, and sessions and activations by
// key (an unknown key is recorded as absent).
type snapshotOf struct {
	device      pairing.Device
	user        pairing.User
	sessions    [][]byte // token hashes
	activations []string
}

// snapshot is what a store holds about the things a snapshotOf names.
type snapshot struct {
	Products     []pairing.Product
	Devices      []pairing.Device
	Registration pairing.Registration
	Downlinks    []pairing.Downlink
	Users        []pairing.User
	Sessions     []pairing.Session
	Homes        []pairing.Home
	HomeDevices  [][]pairing.Device
	Activations  map[string]pairing.Activation
	Pending      []pairing.Activation
}

func (f snapshotOf) take(t *testing.T, s pairing.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	var snap snapshot
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	snap.Products, err = s.Products(ctx)
	add(err)
	snap.Devices, err = s.Devices(ctx, pairing.DeviceQuery{Limit: 1000})
	add(err)
	snap.Registration, err = s.RegistrationOfDevice(ctx, f.device.ID)
	add(err)
	snap.Downlinks, err = s.Downlinks(ctx, f.device.ID)
	add(err)
	for _, id := range []string{f.user.ID, newUser(2).ID} {
		if u, err := s.User(ctx, id); !errors.Is(err, pairing.ErrNotFound) {
			snap.Users = append(snap.Users, u)
			add(err)
		}
	}
	for _, hash := range f.sessions {
		if se, err := s.Session(ctx, hash); !errors.Is(err, pairing.ErrNotFound) {
			snap.Sessions = append(snap.Sessions, se)
			add(err)
		}
	}
	snap.Homes, err = s.Homes(ctx, f.user.ID)
	add(err)
	for _, h := range snap.Homes {
		devs, err := s.HomeDevices(ctx, h.ID)
		snap.HomeDevices = append(snap.HomeDevices, devs)
		add(err)
	}
	snap.Activations = map[string]pairing.Activation{}
	for _, id := range f.activations {
		if a, err := s.Activation(ctx, id); !errors.Is(err, pairing.ErrNotFound) {
			snap.Activations[id] = a
			add(err)
		}
	}
	snap.Pending, err = s.PendingActivations(ctx, f.device.ID)
	add(err)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return snap
}
