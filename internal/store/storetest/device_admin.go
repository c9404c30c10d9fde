package storetest

import (
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// deviceAdminTests check the device maker's actions on one device.
var deviceAdminTests = []test{
	{"BlockAndUnblock", blockAndUnblock},
	{"Deprovision", deprovision},
	{"PSKRotation", pskRotation},
}

// pskRotation: a rotation replaces an earlier one; finishing it makes its
// key the device's, only if it is still the rotation that started then.
func pskRotation(t *testing.T, s pairing.Store) {
	ctx := t.Context()
	d := createDevices(t, s, 1)[0]
	d.SealedPSK = []byte("old key")
	wantErr(t, "StartPSKRotation of an unknown device", s.StartPSKRotation(ctx, pairing.PSKRotation{DeviceID: "dev_unknown",
		SealedPSK: []byte("x"), StartedAt: epoch, Deadline: at(time.Hour)}), pairing.ErrNotFound)
	_, err := s.PSKRotation(ctx, d.ID)
	wantErr(t, "PSKRotation before one started", err, pairing.ErrNotFound)
	r1 := pairing.PSKRotation{DeviceID: d.ID, SealedPSK: []byte("new key 1"), StartedAt: at(time.Second), Deadline: at(time.Hour)}
	r2 := pairing.PSKRotation{DeviceID: d.ID, SealedPSK: []byte("new key 2"), StartedAt: at(2 * time.Second), Deadline: at(2 * time.Hour)}
	for _, r := range []pairing.PSKRotation{r1, r2} {
		if err := s.StartPSKRotation(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.PSKRotation(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "PSKRotation after a second start", got, r2)
	wantErr(t, "FinishPSKRotation of the replaced rotation", s.FinishPSKRotation(ctx, d.ID, r1.StartedAt), pairing.ErrNotFound)
	if err := s.FinishPSKRotation(ctx, d.ID, r2.StartedAt); err != nil {
		t.Fatal(err)
	}
	dev, err := s.Device(ctx, d.ID)
	if err != nil || string(dev.SealedPSK) != "new key 2" {
		t.Errorf("the device's key after the rotation: %q, %v; want the rotation's", dev.SealedPSK, err)
	}
	_, err = s.PSKRotation(ctx, d.ID)
	wantErr(t, "PSKRotation after it finished", err, pairing.ErrNotFound)
	wantErr(t, "FinishPSKRotation again", s.FinishPSKRotation(ctx, d.ID, r2.StartedAt), pairing.ErrNotFound)

	// Deprovisioning takes a rotation with it.
	if err := s.StartPSKRotation(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeprovisionDevice(ctx, d.ID, pairing.Notes{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.PSKRotation(ctx, d.ID)
	wantErr(t, "PSKRotation of a deprovisioned device", err, pairing.ErrNotFound)
}

func blockAndUnblock(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2)
	ctx := t.Context()
	wantErr(t, "BlockDevice of an unknown device", s.BlockDevice(ctx, pairing.DeviceBlock{DeviceID: "dev_unknown", At: epoch}), pairing.ErrNotFound)
	_, err := s.DeviceBlock(ctx, devs[0].ID)
	wantErr(t, "DeviceBlock before a block", err, pairing.ErrNotFound)
	b1 := pairing.DeviceBlock{DeviceID: devs[0].ID, At: at(time.Second), Reason: "stolen"}
	b2 := pairing.DeviceBlock{DeviceID: devs[1].ID, At: at(2 * time.Second)}
	for _, b := range []pairing.DeviceBlock{b2, b1} {
		if err := s.BlockDevice(ctx, b); err != nil {
			t.Fatalf("BlockDevice(%s): %v", b.DeviceID, err)
		}
	}
	got, err := s.DeviceBlock(ctx, b1.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "DeviceBlock", got, b1)
	all, err := s.DeviceBlocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "DeviceBlocks", all, []pairing.DeviceBlock{b1, b2})

	// Blocking again replaces the block.
	b1.At, b1.Reason = at(time.Minute), "sends garbage"
	if err := s.BlockDevice(ctx, b1); err != nil {
		t.Fatal(err)
	}
	if got, err = s.DeviceBlock(ctx, b1.DeviceID); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "DeviceBlock after a second block", got, b1)

	if err := s.UnblockDevice(ctx, b1.DeviceID); err != nil {
		t.Fatal(err)
	}
	_, err = s.DeviceBlock(ctx, b1.DeviceID)
	wantErr(t, "DeviceBlock after unblocking", err, pairing.ErrNotFound)
	wantErr(t, "UnblockDevice again", s.UnblockDevice(ctx, b1.DeviceID), pairing.ErrNotFound)
	if all, err = s.DeviceBlocks(ctx); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "DeviceBlocks after unblocking", all, []pairing.DeviceBlock{b2})
}

// deprovision: a device with everything a device can have (an owner, a
// registration, downlinks, activations, a batch entry, a share, a
// transfer, a block) goes for good, its IMEI can be provisioned again, its
// audit entries stay, and the other devices keep theirs.
func deprovision(t *testing.T, s pairing.Store) {
	ctx := t.Context()
	entries := []pairing.BatchEntry{newEntry(1, "S1", true), newEntry(3, "S3", true)}
	createBatch(t, s, newBatch(1, entries), entries)
	d, other := entries[0].Device, entries[1].Device
	u1, u2, u3 := createUser(t, s, 1), createUser(t, s, 2), createUser(t, s, 3)
	h1 := createHome(t, s, 1, u1)
	d = bindTo(t, s, "act1", u1, h1, d, at(time.Second))
	other = bindTo(t, s, "act3", u1, h1, other, at(time.Second))
	createActivation(t, s, newActivation("act2", u2, createHome(t, s, 2, u2), d, at(time.Minute)))
	register(t, s, newRegistration(d, "reg1", at(2*time.Minute)))
	register(t, s, newRegistration(other, "reg3", at(2*time.Minute)))
	putDownlink(t, s, newDownlink(d, wire.BindBound, at(3*time.Minute)))
	putDownlink(t, s, newDownlink(other, wire.BindBound, at(3*time.Minute)))
	putShare(t, s, d, u2, pairing.AccessRead, at(4*time.Minute))
	createTransfer(t, s, "tr1", d, u1, u3, at(5*time.Minute))
	if err := s.BlockDevice(ctx, pairing.DeviceBlock{DeviceID: d.ID, At: at(6 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, pairing.AuditEntry{At: at(7 * time.Minute), Action: pairing.AuditBlock, Outcome: pairing.OutcomeOK,
		Actor: "admin", DeviceID: d.ID}); err != nil {
		t.Fatal(err)
	}

	d, err := s.Device(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.DeprovisionDevice(ctx, d.ID, pairing.Notes{})
	if err != nil {
		t.Fatalf("DeprovisionDevice: %v", err)
	}
	wantEqual(t, "DeprovisionDevice's device", gone, d)
	_, err = s.Device(ctx, d.ID)
	wantErr(t, "Device after deprovisioning", err, pairing.ErrNotFound)
	_, err = s.DeviceByIMEI(ctx, d.IMEI)
	wantErr(t, "DeviceByIMEI after deprovisioning", err, pairing.ErrNotFound)
	_, err = s.DeviceByNbID(ctx, d.NbID)
	wantErr(t, "DeviceByNbID after deprovisioning", err, pairing.ErrNotFound)
	_, err = s.Registration(ctx, "reg1")
	wantErr(t, "Registration after deprovisioning", err, pairing.ErrNotFound)
	for _, id := range []string{"act1", "act2"} {
		_, err = s.Activation(ctx, id)
		wantErr(t, "Activation "+id+" after deprovisioning", err, pairing.ErrNotFound)
	}
	_, err = s.DeviceBlock(ctx, d.ID)
	wantErr(t, "DeviceBlock after deprovisioning", err, pairing.ErrNotFound)
	_, err = s.Transfer(ctx, "tr1")
	wantErr(t, "Transfer after deprovisioning", err, pairing.ErrNotFound)
	if dl, err := s.Downlinks(ctx, d.ID); err != nil || len(dl) != 0 {
		t.Errorf("Downlinks after deprovisioning = %v, %v; want none", dl, err)
	}
	if bd, err := s.BatchDevices(ctx, "bat_00001"); err != nil || len(bd) != 1 || bd[0].ID != other.ID {
		t.Errorf("BatchDevices after deprovisioning = %+v, %v; want only %s", bd, err, other.ID)
	}
	if entries, n, err := s.Audit(ctx, pairing.AuditQuery{DeviceID: d.ID, Limit: 10}); err != nil || n != 1 || len(entries) != 1 {
		t.Errorf("Audit of the deprovisioned device = %d entries, %v; want its one entry kept", n, err)
	}
	_, err = s.DeprovisionDevice(ctx, d.ID, pairing.Notes{})
	wantErr(t, "DeprovisionDevice again", err, pairing.ErrNotFound)

	// The other device keeps what it had.
	if r, err := s.RegistrationOfDevice(ctx, other.ID); err != nil || r.ID != "reg3" {
		t.Errorf("the other device's registration = %+v, %v", r, err)
	}
	if dl, err := s.Downlinks(ctx, other.ID); err != nil || len(dl) != 1 {
		t.Errorf("the other device's downlinks = %v, %v; want one", dl, err)
	}

	// The IMEI is free again, with a new ID and pairing ID.
	again := newDevice(2)
	again.IMEI = d.IMEI
	if err := s.CreateDevice(ctx, again); err != nil {
		t.Fatalf("CreateDevice with the IMEI of the deprovisioned device: %v", err)
	}
	if got, err := s.DeviceByIMEI(ctx, d.IMEI); err != nil || got.ID != again.ID {
		t.Errorf("DeviceByIMEI after provisioning again = %s, %v; want %s", got.ID, err, again.ID)
	}
}
