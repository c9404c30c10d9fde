package pairing

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// hotStore is the store as the service sees it: the real store, with the
// hot index in front of what the device path reads. Every write of the
// service goes through it, so the index sees each change as the store
// makes it.
//
// On a single node the index answers for registrations, owners and the
// "may be waiting" flags. On a cluster other nodes change those, so only
// what never changes (a device's ID and product by its IMEI) comes from
// memory; the rest is read from the store as before.
type hotStore struct {
	Store
	x       *hotIndex
	dynamic bool // single node: keep registrations, owners and flags too

	seed maphash.Seed
	// stripes order each device's registration writes as the store does.
	// A write holds its stripe through its commit, so two devices that
	// share one wait for each other: 4,096 keep that rare while hundreds
	// of Registers are in flight.
	stripes [4096]sync.Mutex
}

func newHotStore(st Store, single bool) *hotStore {
	return &hotStore{Store: st, x: newHotIndex(), dynamic: single, seed: maphash.MakeSeed()}
}

// lock serializes the registration writes of one device, so that the
// index applies them in the order the store did.
func (h *hotStore) lock(deviceID string) func() {
	m := &h.stripes[maphash.String(h.seed, deviceID)%uint64(len(h.stripes))]
	m.Lock()
	return m.Unlock
}

// deviceRef is a device as a Register needs it: ID and product.
type deviceRef struct{ ID, ProductID string }

// deviceByIMEI returns the device's ID and product, from memory when the
// index has it.
func (h *hotStore) deviceByIMEI(ctx context.Context, imei string) (deviceRef, error) {
	if k, ok := imeiKey(imei); ok {
		h.x.mu.RLock()
		i, hit := h.x.byIMEI[k]
		var ref deviceRef
		if hit {
			d := h.x.slot(i)
			ref = deviceRef{h.x.deviceID(d), h.x.productID(d)}
		}
		h.x.mu.RUnlock()
		if hit {
			return ref, nil
		}
	}
	d, err := h.DeviceByIMEI(ctx, imei)
	if err != nil {
		return deviceRef{}, err
	}
	return deviceRef{d.ID, d.ProductID}, nil
}

// remember puts a device the store has returned into the index.
func (h *hotStore) remember(d Device, fresh bool) {
	h.x.mu.Lock()
	h.x.add(d, fresh)
	h.x.mu.Unlock()
}

// CreateDevice stores d and indexes it as a new device: nothing waits for
// it yet.
func (h *hotStore) CreateDevice(ctx context.Context, d Device) error {
	if err := h.Store.CreateDevice(ctx, d); err != nil {
		return err
	}
	h.remember(d, true)
	return nil
}

// DeviceByIMEI reads the store and indexes what it found.
func (h *hotStore) DeviceByIMEI(ctx context.Context, imei string) (Device, error) {
	d, err := h.Store.DeviceByIMEI(ctx, imei)
	if err == nil {
		h.remember(d, false)
	}
	return d, err
}

// Register stores r and makes it the device's registration in the index.
func (h *hotStore) Register(ctx context.Context, r Registration) (bool, error) {
	defer h.lock(r.DeviceID)()
	first, err := h.Store.Register(ctx, r)
	if err == nil && h.dynamic {
		h.x.mu.Lock()
		if d, ok := h.x.lookupID(r.DeviceID); ok {
			h.x.setReg(d, &r)
		}
		h.x.mu.Unlock()
	}
	return first, err
}

// UpdateRegistration stores what an Update changed, and in the index if
// r is still the device's registration there: the fields the store
// changes, and no others.
func (h *hotStore) UpdateRegistration(ctx context.Context, r Registration) error {
	defer h.lock(r.DeviceID)()
	if err := h.Store.UpdateRegistration(ctx, r); err != nil {
		return err
	}
	if h.dynamic {
		h.x.mu.Lock()
		if d, ok := h.x.lookupID(r.DeviceID); ok && h.x.regIs(d, r.ID) {
			u := h.x.copyReg(d)
			u.Lifetime, u.Binding, u.QueueMode, u.Objects = r.Lifetime, r.Binding, r.QueueMode, r.Objects
			u.Addr, u.LastSeen, u.ExpiresAt = r.Addr, r.LastSeen, r.ExpiresAt
			h.x.setReg(d, &u)
		}
		h.x.mu.Unlock()
	}
	return nil
}

// DeleteRegistration removes the registration from the store and the index.
func (h *hotStore) DeleteRegistration(ctx context.Context, id string) (Registration, error) {
	if !h.dynamic {
		return h.Store.DeleteRegistration(ctx, id)
	}
	if cur, err := h.Registration(ctx, id); err == nil {
		defer h.lock(cur.DeviceID)()
	}
	r, err := h.Store.DeleteRegistration(ctx, id)
	if err == nil {
		h.forgetReg(r)
	}
	return r, err
}

// DeleteExpired removes expired registrations from the store and the index.
func (h *hotStore) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Registration, error) {
	regs, err := h.Store.DeleteExpired(ctx, now, limit)
	if h.dynamic {
		for _, r := range regs {
			unlock := h.lock(r.DeviceID)
			h.forgetReg(r)
			unlock()
		}
	}
	return regs, err
}

// forgetReg notes that r is gone, unless the device has registered anew.
func (h *hotStore) forgetReg(r Registration) {
	h.x.mu.Lock()
	if d, ok := h.x.lookupID(r.DeviceID); ok && d.regKnown() && (!d.hasReg() || h.x.regIs(d, r.ID)) {
		h.x.setReg(d, nil)
	}
	h.x.mu.Unlock()
}

// Registration returns the registration with that ID, from memory when the
// index knows it.
func (h *hotStore) Registration(ctx context.Context, id string) (Registration, error) {
	if h.dynamic {
		if k, ok := regKey(id); ok {
			h.x.mu.RLock()
			i, hit := h.x.byReg[k]
			var r Registration
			if hit {
				r = h.x.copyReg(h.x.slot(i))
			}
			h.x.mu.RUnlock()
			if hit {
				return r, nil
			}
		}
	}
	// Not filled from here: without the device's lock, what was read may
	// be gone by the time it is filled.
	return h.Store.Registration(ctx, id)
}

// RegistrationOfDevice returns the device's registration, from memory when
// the index knows it.
func (h *hotStore) RegistrationOfDevice(ctx context.Context, deviceID string) (Registration, error) {
	if !h.dynamic {
		return h.Store.RegistrationOfDevice(ctx, deviceID)
	}
	h.x.mu.RLock()
	d, ok := h.x.lookupID(deviceID)
	known, has := ok && d.regKnown(), ok && d.hasReg()
	var r Registration
	if has {
		r = h.x.copyReg(d)
	}
	h.x.mu.RUnlock()
	switch {
	case has:
		return r, nil
	case known:
		return Registration{}, errNoRegistration(deviceID)
	}
	defer h.lock(deviceID)() // no registration write between the read and the fill
	r, err := h.Store.RegistrationOfDevice(ctx, deviceID)
	switch {
	case err == nil:
		h.fillReg(deviceID, &r)
	case isNotFound(err):
		h.fillReg(deviceID, nil)
	}
	return r, err
}

// movedFrom reports whether the index knows that the device's last uplink
// came from another address than r's.
func (h *hotStore) movedFrom(r Registration) bool {
	if !h.dynamic {
		return false
	}
	h.x.mu.RLock()
	defer h.x.mu.RUnlock()
	d, ok := h.x.lookupID(r.DeviceID)
	return ok && d.hasReg() && !h.x.regAddrIs(d, r.Addr)
}

// fillReg records what the store said of a device the index did not know
// the registration of. The caller holds the device's lock.
func (h *hotStore) fillReg(deviceID string, r *Registration) {
	h.x.mu.Lock()
	if d, ok := h.x.lookupID(deviceID); ok && !d.regKnown() {
		h.x.setReg(d, r)
	}
	h.x.mu.Unlock()
}

func errNoRegistration(deviceID string) error {
	return fmt.Errorf("registration of device %s: %w", deviceID, ErrNotFound)
}

// CreateBatch stores the batch and indexes the devices it created as new
// devices.
func (h *hotStore) CreateBatch(ctx context.Context, b Batch, entries []BatchEntry) error {
	if err := h.Store.CreateBatch(ctx, b, entries); err != nil {
		return err
	}
	h.x.mu.Lock()
	for _, e := range entries {
		if e.New {
			h.x.add(e.Device, true)
		}
	}
	h.x.mu.Unlock()
	return nil
}

// OnlineRegistrations counts live registrations, if the store can.
func (h *hotStore) OnlineRegistrations(ctx context.Context, now time.Time) (int, error) {
	if c, ok := h.Store.(onlineCounter); ok {
		return c.OnlineRegistrations(ctx, now)
	}
	return 0, ErrNotCounted
}
