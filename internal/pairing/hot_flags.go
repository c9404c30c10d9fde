package pairing

import (
	"context"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// The "may be waiting" flags and the owner, on a single node. A write that
// may add an activation or a downlink marks the device once it has
// returned, so that a store read that ran before the write committed
// cannot clear the mark: a store read that finds nothing clears the flag
// only as of the generation it saw before it read.

// flag picks one of a device's two flags.
type flag int

const (
	flagPending flag = iota
	flagDownlinks
)

func (f flag) counters(d *hotDevice) (gen, clear *uint32) {
	if f == flagPending {
		return &d.pendGen, &d.pendClear
	}
	return &d.downGen, &d.downClear
}

// raise marks the device: something may be waiting for it.
func (h *hotStore) raise(deviceID string, f flag) {
	if !h.dynamic {
		return
	}
	h.x.mu.Lock()
	if d, ok := h.x.lookupID(deviceID); ok {
		gen, _ := f.counters(d)
		*gen++
	}
	h.x.mu.Unlock()
}

// maybe reports whether something may be waiting for the device, and the
// generation to clear to if the store then finds nothing.
func (h *hotStore) maybe(deviceID string, f flag) (bool, uint32, bool) {
	if !h.dynamic {
		return true, 0, false
	}
	h.x.mu.RLock()
	defer h.x.mu.RUnlock()
	d, ok := h.x.lookupID(deviceID)
	if !ok {
		return true, 0, false
	}
	gen, clear := f.counters(d)
	return *gen != *clear, *gen, true
}

// lower clears the flag as of generation g, unless it was raised since.
func (h *hotStore) lower(deviceID string, f flag, g uint32) {
	h.x.mu.Lock()
	if d, ok := h.x.lookupID(deviceID); ok {
		if gen, clear := f.counters(d); *gen == g {
			*clear = g
		}
	}
	h.x.mu.Unlock()
}

// PendingActivations reads the store only if an activation may wait for
// the device.
func (h *hotStore) PendingActivations(ctx context.Context, deviceID string) ([]Activation, error) {
	may, g, indexed := h.maybe(deviceID, flagPending)
	if !may {
		return nil, nil
	}
	pending, err := h.Store.PendingActivations(ctx, deviceID)
	if err == nil && len(pending) == 0 && indexed {
		h.lower(deviceID, flagPending, g)
	}
	return pending, err
}

// CreateActivation marks the device once the activation is stored.
func (h *hotStore) CreateActivation(ctx context.Context, a Activation) error {
	defer h.raise(a.DeviceID, flagPending)
	return h.Store.CreateActivation(ctx, a)
}

// Downlinks reads the store only if a downlink may be queued for the
// device.
func (h *hotStore) Downlinks(ctx context.Context, deviceID string) ([]Downlink, error) {
	may, g, indexed := h.maybe(deviceID, flagDownlinks)
	if !may {
		return nil, nil
	}
	queued, err := h.Store.Downlinks(ctx, deviceID)
	if err == nil && len(queued) == 0 && indexed {
		h.lower(deviceID, flagDownlinks, g)
	}
	return queued, err
}

// PutDownlink marks the device once the downlink is stored.
func (h *hotStore) PutDownlink(ctx context.Context, d Downlink) error {
	defer h.raise(d.DeviceID, flagDownlinks)
	return h.Store.PutDownlink(ctx, d)
}

// RequeueDownlink marks the device once the downlink is stored.
func (h *hotStore) RequeueDownlink(ctx context.Context, d Downlink) error {
	defer h.raise(d.DeviceID, flagDownlinks)
	return h.Store.RequeueDownlink(ctx, d)
}

// ownerChanged forgets what the index knows of the device's owner after a
// write that changed it: the next reader reads the store. Only a reader
// fills it in, and only if no write came between its read and its fill,
// so writes that finish in any order cannot leave it wrong.
func (h *hotStore) ownerChanged(deviceID string) {
	if !h.dynamic {
		return
	}
	h.x.mu.Lock()
	if d, ok := h.x.lookupID(deviceID); ok {
		d.bindGen++
		d.bind, d.owned = bindUnknown, nil
	}
	h.x.mu.Unlock()
}

// bindGen returns the device's owner generation, to fill from later.
func (h *hotStore) bindGen(deviceID string) uint32 {
	h.x.mu.RLock()
	defer h.x.mu.RUnlock()
	if d, ok := h.x.lookupID(deviceID); ok {
		return d.bindGen
	}
	return 0
}

// setBind records the device as the store had it at generation g (read,
// or written by a write that started then), unless the owner changed
// since.
func (h *hotStore) setBind(d Device, g uint32) {
	h.x.mu.Lock()
	if x, ok := h.x.lookupID(d.ID); ok && x.bindGen == g {
		x.bind, x.owned = bindNone, nil
		if d.OwnerID != "" {
			st := d.PairingState()
			x.bind, x.owned = bindSome, &st
		}
	}
	h.x.mu.Unlock()
}

// Bind forgets the device's owner once the store has bound it.
func (h *hotStore) Bind(ctx context.Context, activationID string, at time.Time) (Device, Activation, error) {
	d, a, err := h.Store.Bind(ctx, activationID, at)
	if err == nil {
		h.ownerChanged(d.ID)
	}
	return d, a, err
}

// bind binds the activation's device and records it bound, with its new
// pairing state, unless another change of its owner finished meanwhile
// (then the next reader reads the store).
func (h *hotStore) bind(ctx context.Context, a Activation, at time.Time, n Notes) (Device, Activation, error) {
	if !h.dynamic {
		return h.BindNoting(ctx, a.ID, at, n)
	}
	g := h.bindGen(a.DeviceID)
	d, bound, err := h.Store.BindNoting(ctx, a.ID, at, n)
	if err != nil {
		return d, bound, err
	}
	st := d.PairingState()
	h.x.mu.Lock()
	if x, ok := h.x.lookupID(d.ID); ok {
		x.bind, x.owned = bindUnknown, nil
		if x.bindGen == g && d.OwnerID != "" {
			x.bind, x.owned = bindSome, &st
		}
		x.bindGen++
	}
	h.x.mu.Unlock()
	return d, bound, nil
}

// Unbind forgets the device's owner once the store has unbound it.
func (h *hotStore) Unbind(ctx context.Context, deviceID, homeID string) (Device, error) {
	d, err := h.Store.Unbind(ctx, deviceID, homeID)
	if err == nil {
		h.ownerChanged(deviceID)
	}
	return d, err
}

// FactoryReset forgets the device's owner once the store has reset it; the
// downlinks it dropped and activations it ended need no mark: the flags
// may stay up until the next read finds nothing.
func (h *hotStore) FactoryReset(ctx context.Context, deviceID, name string, at time.Time) (Device, []Activation, error) {
	d, ended, err := h.Store.FactoryReset(ctx, deviceID, name, at)
	if err == nil {
		h.ownerChanged(deviceID)
	}
	return d, ended, err
}

// pairingState returns what the device's Pairing object should hold: from
// memory when the index knows the owner, else from the store.
func (h *hotStore) pairingState(ctx context.Context, deviceID string) (wire.PairingState, error) {
	var g uint32
	if h.dynamic {
		h.x.mu.RLock()
		d, ok := h.x.lookupID(deviceID)
		if ok {
			g = d.bindGen
			switch {
			case d.bind == bindNone:
				h.x.mu.RUnlock()
				return wire.PairingState{DeviceID: deviceID, State: wire.BindUnbound}, nil
			case d.bind == bindSome && d.owned != nil:
				st := *d.owned
				h.x.mu.RUnlock()
				return st, nil
			}
		}
		h.x.mu.RUnlock()
	}
	d, err := h.Device(ctx, deviceID)
	if err != nil {
		return wire.PairingState{}, err
	}
	if h.dynamic {
		h.setBind(d, g)
	}
	return d.PairingState(), nil
}
