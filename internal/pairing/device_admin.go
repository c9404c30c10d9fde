package pairing

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nbpair/nbpair/internal/wire"
)

// The actions of the device maker on one device, each audited with the
// admin as its actor: block and unblock, force-unbind, deprovision.

// The audit actions of the admin actions on a device.
const (
	AuditBlock       = "block"
	AuditUnblock     = "unblock"
	AuditDeprovision = "deprovision"
)

// maxBlockReason bounds the reason an admin gives for a block.
const maxBlockReason = 200

// adminDevice finds a device by its ID or its IMEI.
func (s *Service) adminDevice(ctx context.Context, idOrIMEI string) (Device, error) {
	if wire.ValidIMEI(idOrIMEI) {
		return s.store.DeviceByIMEI(ctx, idOrIMEI)
	}
	return s.store.Device(ctx, idOrIMEI)
}

// BlockDevice blocks a device: its Registers are refused (CoAP 4.03), its
// live registration ends at once so that its next wake-up must register,
// and nobody may bind it, until it is unblocked. Blocking a blocked device
// replaces the reason.
func (s *Service) BlockDevice(ctx context.Context, idOrIMEI, reason string) (DeviceBlock, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxBlockReason || !validText(reason) {
		return DeviceBlock{}, fmt.Errorf("%w: reason must be at most %d printable characters", ErrInvalid, maxBlockReason)
	}
	d, err := s.adminDevice(ctx, idOrIMEI)
	if err != nil {
		return DeviceBlock{}, err
	}
	bl := DeviceBlock{DeviceID: d.ID, At: s.now().UTC(), Reason: reason}
	if err := s.store.BlockDevice(ctx, bl); err != nil {
		return DeviceBlock{}, err
	}
	s.blocks.put(bl)
	s.announce(ctx, Notice{Kind: NoticeDeviceBlocked, ID: d.ID})
	if r, err := s.store.RegistrationOfDevice(ctx, d.ID); err == nil {
		if r, err = s.store.DeleteRegistrationNoting(ctx, r.ID, s.offlineNotes(ctx, r, "blocked")); err == nil {
			s.publish(ctx, Event{Kind: EventDeregistered, DeviceID: d.ID, Registration: r, At: bl.At})
		}
	}
	s.log.Info("device blocked", "device_id", d.ID, "reason", reason)
	s.audit(ctx, AuditEntry{Action: AuditBlock, Outcome: OutcomeOK, Actor: "admin", DeviceID: d.ID, Detail: reason})
	return bl, nil
}

// UnblockDevice lifts a device's block; ErrNotFound if it has none.
func (s *Service) UnblockDevice(ctx context.Context, idOrIMEI string) error {
	d, err := s.adminDevice(ctx, idOrIMEI)
	if err != nil {
		return err
	}
	if err := s.store.UnblockDevice(ctx, d.ID); err != nil {
		return err
	}
	s.blocks.drop(d.ID)
	s.announce(ctx, Notice{Kind: NoticeDeviceBlocked, ID: d.ID})
	s.log.Info("device unblocked", "device_id", d.ID)
	s.audit(ctx, AuditEntry{Action: AuditUnblock, Outcome: OutcomeOK, Actor: "admin", DeviceID: d.ID})
	return nil
}

// ForceUnbind unbinds a device from its owner on the device maker's
// word, as if the device had asked for a normal reset: it keeps its data,
// is told it is unbound at its next wake-up, and anyone holding its label
// may bind it. ErrNotBound if it has no owner.
func (s *Service) ForceUnbind(ctx context.Context, idOrIMEI string) (Device, error) {
	d, err := s.adminDevice(ctx, idOrIMEI)
	if err != nil {
		return Device{}, err
	}
	if d.OwnerID == "" {
		return Device{}, fmt.Errorf("%w: device %s has no owner", ErrNotBound, d.ID)
	}
	u, err := s.store.UnbindNoting(ctx, d.ID, d.HomeID, s.unboundNotes(ctx, d, "admin", ""))
	if err != nil {
		return Device{}, err
	}
	s.log.Info("device unbound by an admin", "device_id", d.ID, "uid", d.OwnerID)
	s.audit(ctx, AuditEntry{Action: AuditUnbind, Outcome: OutcomeOK, Actor: "admin", UserID: d.OwnerID, DeviceID: d.ID,
		Detail: "forced by an admin"})
	s.publish(ctx, Event{Kind: EventUnbound, DeviceID: d.ID, At: s.now().UTC()})
	return u, nil
}

// Deprovision removes a device for good: its registration, binding, key,
// queued downlinks and activations go, its IMEI may be provisioned again
// (with a new device ID, pairing ID and key), and the audit log keeps its
// history. A bound device's owner gets device.unbound.
func (s *Service) Deprovision(ctx context.Context, idOrIMEI string) (Device, error) {
	d, err := s.adminDevice(ctx, idOrIMEI)
	if err != nil {
		return Device{}, err
	}
	n := s.unboundNotes(ctx, d, "deprovisioned", "")
	if r, err := s.store.RegistrationOfDevice(ctx, d.ID); err == nil {
		n.Events = append(n.Events, s.offlineNotes(ctx, r, "deprovisioned").Events...)
	}
	if d, err = s.store.DeprovisionDevice(ctx, d.ID, n); err != nil {
		return Device{}, err
	}
	s.hot.forget(d.ID)
	s.blocks.drop(d.ID)
	s.downlinks.dropFresh(d.ID)
	s.announce(ctx, Notice{Kind: NoticeDeviceDeprovisioned, ID: d.ID})
	s.log.Info("device deprovisioned", "device_id", d.ID, "imei", d.IMEI)
	s.audit(ctx, AuditEntry{Action: AuditDeprovision, Outcome: OutcomeOK, Actor: "admin", UserID: d.OwnerID, DeviceID: d.ID,
		Detail: "imei " + d.IMEI})
	return d, nil
}

// validText reports whether s holds no control characters.
func validText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
