package pairing

import (
	"context"
	"time"
)

// The writes of the account lifecycle and transfers that change devices'
// owners: the index forgets what it knew of each owner once the store has
// changed it.

// DeleteUser forgets the owners of the devices the deletion unbound.
func (h *hotStore) DeleteUser(ctx context.Context, userID, pseudonym string, unbound func(Device) []OutboxEvent) (Deletion, error) {
	del, err := h.Store.DeleteUser(ctx, userID, pseudonym, unbound)
	for _, d := range del.Unbound {
		h.ownerChanged(d.ID)
	}
	return del, err
}

// DeleteHome forgets the owners of the devices the deletion unbound.
func (h *hotStore) DeleteHome(ctx context.Context, homeID string, unbound func(Device) []OutboxEvent) (Deletion, error) {
	del, err := h.Store.DeleteHome(ctx, homeID, unbound)
	for _, d := range del.Unbound {
		h.ownerChanged(d.ID)
	}
	return del, err
}

// AcceptTransfer forgets the device's owner once the store has moved it.
func (h *hotStore) AcceptTransfer(ctx context.Context, id, homeID string, at time.Time, n Notes) (Device, Transfer, error) {
	d, tr, err := h.Store.AcceptTransfer(ctx, id, homeID, at, n)
	if err == nil {
		h.ownerChanged(d.ID)
	}
	return d, tr, err
}
