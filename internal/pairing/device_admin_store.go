package pairing

import (
	"context"
	"errors"
	"time"
)

// Errors of the admin actions on a device.
var (
	// ErrDeviceBlocked: the device maker has blocked the device; it may
	// not register and nobody may bind it until it is unblocked.
	ErrDeviceBlocked = errors.New("the device is blocked by the device maker")
	// ErrNotBound: an unbind of a device that has no owner.
	ErrNotBound = errors.New("the device is not bound")
)

// DeviceBlock records that the device maker has blocked a device.
type DeviceBlock struct {
	DeviceID string    `json:"devId"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason,omitempty"`
}

// DeviceAdminStore holds what the device maker's actions on one device
// need: blocks, and the removal of a device for good. The Store embeds it.
type DeviceAdminStore interface {
	// BlockDevice records the block, replacing an earlier block of the
	// same device; ErrNotFound if there is no such device.
	BlockDevice(ctx context.Context, b DeviceBlock) error
	// UnblockDevice removes the device's block; ErrNotFound if it has none.
	UnblockDevice(ctx context.Context, deviceID string) error
	// DeviceBlock returns the device's block; ErrNotFound if it has none.
	DeviceBlock(ctx context.Context, deviceID string) (DeviceBlock, error)
	// DeviceBlocks lists every block, by device ID.
	DeviceBlocks(ctx context.Context) ([]DeviceBlock, error)
	// DeprovisionDevice removes the device for good in one transaction,
	// writing n's events with it: its registration, queued downlinks,
	// activations, batch entries, shares, transfers and block go with it,
	// and its IMEI may be provisioned again. The audit log keeps its
	// entries. It returns the device as it was; ErrNotFound if there is
	// no such device.
	DeprovisionDevice(ctx context.Context, deviceID string, n Notes) (Device, error)

	PSKRotationStore
}
