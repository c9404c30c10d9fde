package pairing

import (
	"context"
	"sync"
	"time"
)

// deviceBlocks is every blocked device, kept in memory so that a Register
// reads no store to learn whether its device is blocked. Blocks are few
// (a device maker blocks a stolen or misbehaving device, not a fleet), so
// the whole set is loaded when the service starts. On a cluster the node
// that blocks announces it; every node also reloads the set from the
// store every BlockRecheck, in case a notice was lost.
type deviceBlocks struct {
	mu sync.RWMutex
	m  map[string]DeviceBlock // device ID → block; guarded by mu
}

// DefaultBlockRecheck is how often a node of a cluster reloads the blocked
// devices from the store.
const DefaultBlockRecheck = 10 * time.Second

func (b *deviceBlocks) get(deviceID string) (DeviceBlock, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bl, ok := b.m[deviceID]
	return bl, ok
}

func (b *deviceBlocks) put(bl DeviceBlock) {
	b.mu.Lock()
	if b.m == nil {
		b.m = map[string]DeviceBlock{}
	}
	b.m[bl.DeviceID] = bl
	b.mu.Unlock()
}

func (b *deviceBlocks) drop(deviceID string) {
	b.mu.Lock()
	delete(b.m, deviceID)
	b.mu.Unlock()
}

func (b *deviceBlocks) replace(all []DeviceBlock) {
	m := make(map[string]DeviceBlock, len(all))
	for _, bl := range all {
		m[bl.DeviceID] = bl
	}
	b.mu.Lock()
	b.m = m
	b.mu.Unlock()
}

// loadBlocks reads every block from the store into memory.
func (s *Service) loadBlocks(ctx context.Context) error {
	all, err := s.store.DeviceBlocks(ctx)
	if err != nil {
		return err
	}
	s.blocks.replace(all)
	return nil
}

// refreshBlock reads the device's block (or that it has none) from the
// store, after another node said it changed.
func (s *Service) refreshBlock(ctx context.Context, deviceID string) {
	bl, err := s.store.DeviceBlock(ctx, deviceID)
	switch {
	case err == nil:
		s.blocks.put(bl)
	case isNotFound(err):
		s.blocks.drop(deviceID)
	default:
		s.log.Warn("reading a block another node changed", "device_id", deviceID, "err", err)
	}
}

// checkBlocked refuses a blocked device, from memory.
func (s *Service) checkBlocked(rc *registerContext) error {
	if bl, ok := s.blocks.get(rc.device.ID); ok {
		return blockedError(bl)
	}
	return nil
}

func blockedError(bl DeviceBlock) error { return &blocked{bl} }

// blocked is ErrDeviceBlocked with the block.
type blocked struct{ DeviceBlock }

func (b *blocked) Error() string {
	msg := ErrDeviceBlocked.Error() + " since " + b.At.UTC().Format(time.RFC3339)
	if b.Reason != "" {
		msg += " (" + b.Reason + ")"
	}
	return msg + "; an admin must unblock it"
}

func (b *blocked) Unwrap() error { return ErrDeviceBlocked }
