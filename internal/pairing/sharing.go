package pairing

import (
	"context"
	"fmt"
	"time"
)

// Sharing: a device's owner (the user who bound it) shares it with another
// user, read-only or with control, until the owner revokes the share, the
// user leaves it, or the device leaves the owner's bind (it is removed,
// reset, transferred, or its home or account deleted). A read-only share
// shows the device and its state; control also lets the user rename it.
// Neither lets the user remove, reset, share or transfer the device.

// The audit log's actions of sharing.
const (
	AuditShare   = "share"
	AuditUnshare = "unshare"
)

// SharedDevice is a device shared with the user who asks.
type SharedDevice struct {
	UserDevice
	Access   Access
	SharedBy string // the owner's username
	SharedAt time.Time
}

// viewer is how a user may see a device: as a member of its home (Role),
// or through a share.
type viewer struct {
	role  Role
	share *Share
}

// viewDevice returns a bound device the user may see, and how. Any other
// device is answered as not found.
func (s *Service) viewDevice(ctx context.Context, userID, deviceID string) (Device, viewer, error) {
	d, role, err := s.memberDevice(ctx, userID, deviceID)
	if err == nil {
		return d, viewer{role: role}, nil
	} else if !isNotFound(err) {
		return Device{}, viewer{}, err
	}
	sh, err := s.store.Share(ctx, deviceID, userID)
	if err != nil {
		return Device{}, viewer{}, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	d, err = s.store.Device(ctx, deviceID)
	return d, viewer{share: &sh}, err
}

// ownDevice returns a device the user owns; a device the user sees but
// does not own is ErrNotDeviceOwner.
func (s *Service) ownDevice(ctx context.Context, userID, deviceID string) (Device, error) {
	d, _, err := s.viewDevice(ctx, userID, deviceID)
	if err != nil {
		return Device{}, err
	}
	if d.OwnerID != userID {
		return Device{}, fmt.Errorf("%w: ask the user who added the device", ErrNotDeviceOwner)
	}
	return d, nil
}

// mayRename returns the device if the user may rename it: an owner or
// admin of its home, or a user it is shared with for control.
func (s *Service) mayRename(ctx context.Context, userID, deviceID string) (Device, error) {
	d, v, err := s.viewDevice(ctx, userID, deviceID)
	switch {
	case err != nil:
		return Device{}, err
	case v.share != nil && v.share.Access == AccessControl, v.role.CanManageDevices():
		return d, nil
	case v.share != nil:
		s.audit(ctx, AuditEntry{Action: AuditRename, Outcome: OutcomeRefused, Actor: "user", UserID: userID, DeviceID: deviceID,
			Detail: "shared read-only"})
		return Device{}, fmt.Errorf("%w: ask its owner for control", ErrShareReadOnly)
	}
	s.audit(ctx, AuditEntry{Action: AuditRename, Outcome: OutcomeRefused, Actor: "user", UserID: userID, DeviceID: deviceID,
		Detail: "a member may not rename devices"})
	return Device{}, fmt.Errorf("%w: only the home's owner or admins may rename devices", ErrPermissionDenied)
}

// otherUser finds the user named username for a share or a transfer by
// userID.
func (s *Service) otherUser(ctx context.Context, userID, username string) (User, error) {
	if username == "" {
		return User{}, fmt.Errorf("%w: username is required", ErrMissing)
	}
	u, err := s.store.UserByName(ctx, username)
	if isNotFound(err) {
		return User{}, fmt.Errorf("no user %.64q: %w", username, ErrNotFound)
	} else if err != nil {
		return User{}, err
	}
	if u.ID == userID {
		return User{}, ErrTargetIsSelf
	}
	return u, nil
}

// ShareDevice shares the owner's device with the user named username, or
// changes the access of its share; it reports whether the share is new.
func (s *Service) ShareDevice(ctx context.Context, ownerID, deviceID, username string, access Access) (Share, bool, error) {
	switch access {
	case "":
		return Share{}, false, fmt.Errorf("%w: access is required (read or control)", ErrMissing)
	case AccessRead, AccessControl:
	default:
		return Share{}, false, fmt.Errorf("%w: access must be read or control", ErrInvalid)
	}
	d, err := s.ownDevice(ctx, ownerID, deviceID)
	if err != nil {
		return Share{}, false, err
	}
	u, err := s.otherUser(ctx, ownerID, username)
	if err != nil {
		return Share{}, false, err
	}
	sh := Share{DeviceID: d.ID, UserID: u.ID, Username: u.Username, Access: access, OwnerID: d.OwnerID,
		BoundAt: d.BoundAt, CreatedAt: s.now().UTC()}
	created, err := s.store.PutShare(ctx, sh)
	if err != nil {
		return Share{}, false, err
	}
	s.audit(ctx, AuditEntry{Action: AuditShare, Outcome: OutcomeOK, Actor: "user", UserID: ownerID, DeviceID: d.ID,
		Detail: fmt.Sprintf("with %s, %s", u.ID, access)})
	sh, err = s.store.Share(ctx, d.ID, u.ID)
	return sh, created, err
}

// DeviceShares lists the shares of the owner's device.
func (s *Service) DeviceShares(ctx context.Context, ownerID, deviceID string) ([]Share, error) {
	if _, err := s.ownDevice(ctx, ownerID, deviceID); err != nil {
		return nil, err
	}
	return s.store.DeviceShares(ctx, deviceID)
}

// Unshare ends the share of the device with the user shareUID: its owner
// revokes it, or that user leaves it.
func (s *Service) Unshare(ctx context.Context, userID, deviceID, shareUID string) error {
	if userID != shareUID {
		if _, err := s.ownDevice(ctx, userID, deviceID); err != nil {
			return err
		}
	}
	if err := s.store.DeleteShare(ctx, deviceID, shareUID); err != nil {
		return err
	}
	s.audit(ctx, AuditEntry{Action: AuditUnshare, Outcome: OutcomeOK, Actor: "user", UserID: userID, DeviceID: deviceID,
		Detail: "with " + shareUID})
	return nil
}

// SharedDevices lists the devices shared with the user, newest share first.
func (s *Service) SharedDevices(ctx context.Context, userID string) ([]SharedDevice, error) {
	shares, err := s.store.SharedWith(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SharedDevice, 0, len(shares))
	for _, sh := range shares {
		d, err := s.store.Device(ctx, sh.DeviceID)
		if err != nil {
			return nil, err
		}
		ud, err := s.userDevice(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, SharedDevice{UserDevice: ud, Access: sh.Access, SharedBy: sh.OwnerUsername, SharedAt: sh.CreatedAt})
	}
	return out, nil
}
