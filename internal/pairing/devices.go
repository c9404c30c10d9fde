package pairing

import (
	"context"
	"fmt"
	"time"
)

// UserDevice is a device as its home's members see it (the seed's device
// model).
type UserDevice struct {
	UniqueID  string    `json:"uniqueId"` // the IMEI
	DevID     string    `json:"devId"`
	Name      string    `json:"name"`
	ProductID string    `json:"productId"`
	HomeID    string    `json:"spaceId"`
	OwnerID   string    `json:"ownerUid"`
	Type      string    `json:"activatorType"`
	Online    bool      `json:"online"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	BoundAt   time.Time `json:"boundAt"`
	TimeZone  string    `json:"timeZone,omitempty"`
}

func (s *Service) userDevice(ctx context.Context, d Device) (UserDevice, error) {
	ud := UserDevice{
		UniqueID: d.IMEI, DevID: d.ID, Name: d.Name, ProductID: d.ProductID, HomeID: d.HomeID,
		OwnerID: d.OwnerID, Type: ActivatorTypeNB, BoundAt: d.BoundAt, TimeZone: d.TimeZone,
	}
	r, err := s.store.RegistrationOfDevice(ctx, d.ID)
	if err == nil {
		ud.Online, ud.LastSeen = r.Online(s.now()), r.LastSeen
	} else if !isNotFound(err) {
		return UserDevice{}, err
	}
	return ud, nil
}

// ActivatedDevice returns the device an activation bound, as its user sees
// it. Once the device has left that user, the binding shown is the one the
// activation made, not whoever holds the device now.
func (s *Service) ActivatedDevice(ctx context.Context, a Activation) (UserDevice, error) {
	d, err := s.store.Device(ctx, a.DeviceID)
	if err != nil {
		return UserDevice{}, err
	}
	if d.OwnerID != a.UserID || d.HomeID != a.HomeID {
		d.OwnerID, d.HomeID, d.TimeZone, d.BoundAt = a.UserID, a.HomeID, a.TimeZone, a.FinishedAt
		return UserDevice{UniqueID: d.IMEI, DevID: d.ID, Name: d.Name, ProductID: d.ProductID, HomeID: d.HomeID,
			OwnerID: d.OwnerID, Type: ActivatorTypeNB, BoundAt: d.BoundAt, TimeZone: d.TimeZone}, nil
	}
	return s.userDevice(ctx, d)
}

// HomeDevices lists the devices of a home the user is a member of.
func (s *Service) HomeDevices(ctx context.Context, userID, homeID string) ([]UserDevice, error) {
	if _, err := s.store.Home(ctx, homeID, userID); err != nil {
		return nil, err
	}
	devs, err := s.store.HomeDevices(ctx, homeID)
	if err != nil {
		return nil, err
	}
	out := make([]UserDevice, 0, len(devs))
	for _, d := range devs {
		ud, err := s.userDevice(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, ud)
	}
	return out, nil
}

// memberDevice returns a bound device whose home the user is a member of,
// with the user's role there. Any other device is answered as not found.
func (s *Service) memberDevice(ctx context.Context, userID, deviceID string) (Device, Role, error) {
	d, err := s.store.Device(ctx, deviceID)
	if err != nil {
		return Device{}, "", err
	}
	if d.HomeID == "" {
		return Device{}, "", fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	h, err := s.store.Home(ctx, d.HomeID, userID)
	if err != nil {
		return Device{}, "", fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return d, h.Role, nil
}

// UserDevice returns one device of the user's homes, or shared with the
// user.
func (s *Service) UserDevice(ctx context.Context, userID, deviceID string) (UserDevice, error) {
	d, _, err := s.viewDevice(ctx, userID, deviceID)
	if err != nil {
		return UserDevice{}, err
	}
	return s.userDevice(ctx, d)
}

// RenameDevice renames a device; owners and admins of its home may, and
// users it is shared with for control.
func (s *Service) RenameDevice(ctx context.Context, userID, deviceID, name string) (UserDevice, error) {
	if name == "" {
		return UserDevice{}, fmt.Errorf("%w: name is required", ErrMissing)
	}
	if err := validName("name", name, 1); err != nil {
		return UserDevice{}, err
	}
	d, err := s.mayRename(ctx, userID, deviceID)
	if err != nil {
		return UserDevice{}, err
	}
	if err := s.store.RenameDevice(ctx, deviceID, name); err != nil {
		return UserDevice{}, err
	}
	d.Name = name
	return s.userDevice(ctx, d)
}

// RemoveDevice unbinds a device from its home; the device is told at its
// next wake-up and can then be bound by anyone who holds its label.
func (s *Service) RemoveDevice(ctx context.Context, userID, deviceID string) error {
	dev, role, err := s.memberDevice(ctx, userID, deviceID)
	if err != nil {
		return err
	}
	if !role.CanManageDevices() {
		s.audit(ctx, AuditEntry{Action: AuditUnbind, Outcome: OutcomeRefused, Actor: "user", UserID: userID, DeviceID: deviceID,
			Detail: "a member may not remove devices"})
		return fmt.Errorf("%w: only the home's owner or admins may remove devices", ErrPermissionDenied)
	}
	d, err := s.store.UnbindNoting(ctx, deviceID, dev.HomeID, s.unboundNotes(ctx, dev, "removed", "")) // not if it moved meanwhile
	if err != nil {
		return err
	}
	s.log.Info("device unbound", "device_id", d.ID, "uid", userID)
	s.audit(ctx, AuditEntry{Action: AuditUnbind, Outcome: OutcomeOK, Actor: "user", UserID: userID, DeviceID: d.ID})
	s.publish(ctx, Event{Kind: EventUnbound, DeviceID: d.ID, At: s.now().UTC()})
	return nil
}
