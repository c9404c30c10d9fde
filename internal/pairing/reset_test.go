package pairing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// A factory reset fails the activations waiting for the device with
// ErrFactoryReset (3716). An activation waits only while the device has no
// registration, so the test puts one in the store directly, without the
// event that would bind at once, as a device that registered and reset in
// the same wake-up would find it.
func TestFactoryResetFailsWaitingActivation(t *testing.T) {
	ctx := context.Background()
	store, svc := newService(t, nil)
	d, err := svc.Provision(ctx, pairing.ProvisionRequest{IMEI: "868000000000300"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.SignUp(ctx, "alice", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.CreateHome(ctx, u.ID, "Flat")
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.StartActivation(ctx, u.ID, pairing.StartActivation{Type: "NB", NbID: d.NbID, HomeID: h.ID, Timeout: 60})
	if err != nil || a.Status != pairing.ActivationPending {
		t.Fatalf("start: %+v, %v", a, err)
	}
	now := time.Now().UTC()
	reg := pairing.Registration{ID: "r1", DeviceID: d.ID, Endpoint: d.Endpoint(), Lifetime: 60, Version: "1.1",
		Binding: "U", Addr: "127.0.0.1:40000", RegisteredAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
	if _, err := store.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := svc.RequestReset(ctx, pairing.ResetRequest{Kind: wire.ResetFactory, Addr: reg.Addr}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Activation(ctx, u.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != pairing.ActivationFailed || !errors.Is(got.Err(), pairing.ErrFactoryReset) {
		t.Fatalf("activation after a factory reset: %+v (%v)", got, got.Err())
	}
	if dev, _ := svc.DeviceStatus(ctx, d.ID); dev.OwnerID != "" {
		t.Errorf("the device was bound: %+v", dev.Device)
	}
}
