package pairing

import (
	"context"
	"fmt"
)

// The membership rules: the owner manages admins and members; an admin
// manages members; anyone may leave a home but its owner, who may not be
// removed. Owners and admins add and remove devices, members see them.

// RenameHome renames a home; its owner and admins may.
func (s *Service) RenameHome(ctx context.Context, userID, homeID, name string) (Home, error) {
	if name == "" {
		return Home{}, fmt.Errorf("%w: name is required", ErrMissing)
	}
	if err := validName("name", name, 1); err != nil {
		return Home{}, err
	}
	h, err := s.store.Home(ctx, homeID, userID)
	if err != nil {
		return Home{}, err
	}
	if !h.Role.CanManageDevices() {
		return Home{}, fmt.Errorf("%w: only the owner or an admin may rename the home", ErrPermissionDenied)
	}
	if err := s.store.RenameHome(ctx, homeID, name); err != nil {
		return Home{}, err
	}
	h.Name = name
	return h, nil
}

// Members lists a home's members to any of its members.
func (s *Service) Members(ctx context.Context, userID, homeID string) ([]Member, error) {
	if _, err := s.store.Home(ctx, homeID, userID); err != nil {
		return nil, err
	}
	return s.store.Members(ctx, homeID)
}

// AddMember adds the user with that username to the home with a role.
func (s *Service) AddMember(ctx context.Context, userID, homeID, username string, role Role) (Member, error) {
	if username == "" || role == "" {
		return Member{}, fmt.Errorf("%w: username and role are required", ErrMissing)
	}
	if role != RoleAdmin && role != RoleMember {
		return Member{}, fmt.Errorf("%w: role must be admin or member", ErrInvalid)
	}
	h, err := s.store.Home(ctx, homeID, userID)
	if err != nil {
		return Member{}, err
	}
	if h.Role != RoleOwner && !(h.Role == RoleAdmin && role == RoleMember) {
		return Member{}, fmt.Errorf("%w: the owner adds admins; the owner and admins add members", ErrPermissionDenied)
	}
	u, err := s.store.UserByName(ctx, username)
	if err != nil {
		return Member{}, fmt.Errorf("no user %q: %w", username, ErrNotFound)
	}
	if err := s.store.AddMember(ctx, homeID, u.ID, role); err != nil {
		return Member{}, err
	}
	return Member{UserID: u.ID, Username: u.Username, Role: role}, nil
}

// RemoveMember removes a member from a home (or lets a member leave).
func (s *Service) RemoveMember(ctx context.Context, userID, homeID, memberID string) error {
	h, err := s.store.Home(ctx, homeID, userID)
	if err != nil {
		return err
	}
	target, err := s.store.Home(ctx, homeID, memberID)
	if err != nil {
		return fmt.Errorf("member %s: %w", memberID, ErrNotFound)
	}
	switch {
	case target.Role == RoleOwner:
		return fmt.Errorf("%w: the owner cannot be removed from the home", ErrPermissionDenied)
	case memberID == userID:
	case h.Role == RoleOwner, h.Role == RoleAdmin && target.Role == RoleMember:
	default:
		return fmt.Errorf("%w: you may not remove this member", ErrPermissionDenied)
	}
	return s.store.RemoveMember(ctx, homeID, memberID)
}

// LogOutEverywhere ends every session of the user.
func (s *Service) LogOutEverywhere(ctx context.Context, userID string) error {
	return s.store.DeleteUserSessions(ctx, userID)
}
