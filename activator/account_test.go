package activator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
)

// TestAccountLifecycle drives sessions, a password change, a share, a
// transfer and an account deletion through the SDK against a real node,
// with a simulated device over UDP.
func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	ctx := testCtx(t)
	alice, bob := newUser(t, n, "alice"), newUser(t, n, "bob")
	d := n.Provision(t, apptest.IMEI(700))
	dev := registered(t, n, d)
	if _, err := alice.c.Activate(ctx, alice.nbType(d.NbID, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	other := activator.NewClient("http://" + n.HTTPAddr())
	if _, err := other.LogIn(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	sessions, err := alice.c.Sessions(ctx)
	if err != nil || len(sessions) != 2 {
		t.Fatalf("Sessions = %+v, %v", sessions, err)
	}
	if err := alice.c.ChangePassword(ctx, "wrong password", "a new password"); !errors.Is(err, activator.ErrWrongPassword) {
		t.Errorf("ChangePassword with a wrong one: %v; want 4400", err)
	}
	if err := alice.c.ChangePassword(ctx, "correct horse battery", "a new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Homes(ctx); !errors.Is(err, activator.ErrUserSessionLoss) {
		t.Errorf("the other session after the change: %v; want 3720", err)
	}

	if _, err := alice.c.ShareDevice(ctx, d.ID, "bob", activator.AccessRead); err != nil {
		t.Fatal(err)
	}
	shared, err := bob.c.SharedDevices(ctx)
	if err != nil || len(shared) != 1 || shared[0].DevID != d.ID || shared[0].SharedBy != "alice" {
		t.Fatalf("SharedDevices = %+v, %v", shared, err)
	}
	if _, err := bob.c.RenameDevice(ctx, d.ID, "Mine"); !errors.Is(err, activator.ErrReadOnlyShare) {
		t.Errorf("RenameDevice read-only: %v; want 4403", err)
	}

	tr, err := alice.c.OfferTransfer(ctx, d.ID, "bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.OfferTransfer(ctx, d.ID, "bob", time.Hour); !errors.Is(err, activator.ErrTransferPending) {
		t.Errorf("a second offer: %v; want 4404", err)
	}
	incoming, _, err := bob.c.Transfers(ctx)
	if err != nil || len(incoming) != 1 || incoming[0].ID != tr.ID {
		t.Fatalf("Transfers = %+v, %v", incoming, err)
	}
	if tr, err = bob.c.AcceptTransfer(ctx, tr.ID, bob.home); err != nil || tr.Status != "accepted" {
		t.Fatalf("AcceptTransfer = %+v, %v", tr, err)
	}
	if err := dev.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitPairing(t, dev, "its new owner", func(p device.PairingState) bool { return p.OwnerUID == bob.uid && p.HomeID == bob.home })

	if err := bob.c.DeleteAccount(ctx, "correct horse battery"); err != nil || bob.c.Token() != "" {
		t.Fatalf("DeleteAccount: %v (token %q)", err, bob.c.Token())
	}
	if err := dev.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitPairing(t, dev, "that it is unbound", func(p device.PairingState) bool { return p.State == device.BindUnbound })
}
