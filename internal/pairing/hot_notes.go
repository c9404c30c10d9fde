package pairing

import (
	"context"
	"time"
)

// The writes with webhook events (Notes) keep the hot index as the plain
// writes do.

// RegisterNoting is Register with the Register's events.
func (h *hotStore) RegisterNoting(ctx context.Context, r Registration, n Notes) (bool, error) {
	defer h.lock(r.DeviceID)()
	first, err := h.Store.RegisterNoting(ctx, r, n)
	if err == nil && h.dynamic {
		h.x.mu.Lock()
		if d, ok := h.x.lookupID(r.DeviceID); ok {
			h.x.setReg(d, &r)
		}
		h.x.mu.Unlock()
	}
	return first, err
}

// DeleteRegistrationNoting is DeleteRegistration with its events.
func (h *hotStore) DeleteRegistrationNoting(ctx context.Context, id string, n Notes) (Registration, error) {
	if !h.dynamic {
		return h.Store.DeleteRegistrationNoting(ctx, id, n)
	}
	if cur, err := h.Registration(ctx, id); err == nil {
		defer h.lock(cur.DeviceID)()
	}
	r, err := h.Store.DeleteRegistrationNoting(ctx, id, n)
	if err == nil {
		h.forgetReg(r)
	}
	return r, err
}

// DeleteExpiredNoting is DeleteExpired with the events of each
// registration removed.
func (h *hotStore) DeleteExpiredNoting(ctx context.Context, now time.Time, limit int, n Notes) ([]Registration, error) {
	regs, err := h.Store.DeleteExpiredNoting(ctx, now, limit, n)
	if h.dynamic {
		for _, r := range regs {
			unlock := h.lock(r.DeviceID)
			h.forgetReg(r)
			unlock()
		}
	}
	return regs, err
}

// BindNoting forgets the device's owner once the store has bound it.
func (h *hotStore) BindNoting(ctx context.Context, activationID string, at time.Time, n Notes) (Device, Activation, error) {
	d, a, err := h.Store.BindNoting(ctx, activationID, at, n)
	if err == nil {
		h.ownerChanged(d.ID)
	}
	return d, a, err
}

// UnbindNoting forgets the device's owner once the store has unbound it.
func (h *hotStore) UnbindNoting(ctx context.Context, deviceID, homeID string, n Notes) (Device, error) {
	d, err := h.Store.UnbindNoting(ctx, deviceID, homeID, n)
	if err == nil {
		h.ownerChanged(deviceID)
	}
	return d, err
}

// FactoryResetNoting forgets the device's owner once the store has reset it.
func (h *hotStore) FactoryResetNoting(ctx context.Context, deviceID, name string, at time.Time, n Notes) (Device, []Activation, error) {
	d, ended, err := h.Store.FactoryResetNoting(ctx, deviceID, name, at, n)
	if err == nil {
		h.ownerChanged(deviceID)
	}
	return d, ended, err
}
