package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of Ready, naming the part of the node that is not ready.
var (
	ErrStoreNotReady = errors.New("the store does not answer")
	ErrBusNotReady   = errors.New("the event bus is not connected")
)

// readyChecker is a bus that can tell whether it is connected (NATS); the
// in-process bus always is.
type readyChecker interface {
	Ready(ctx context.Context) error
}

// Ready reports whether this node can serve: the store answers a cheap
// query and the event bus, if it is a network one, is connected.
func (s *Service) Ready(ctx context.Context) error {
	if _, err := s.store.Products(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreNotReady, err)
	}
	if rc, ok := s.bus.(readyChecker); ok {
		if err := rc.Ready(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrBusNotReady, err)
		}
	}
	return nil
}

// onlineCounter is a store that can count live registrations cheaply.
type onlineCounter interface {
	OnlineRegistrations(ctx context.Context, now time.Time) (int, error)
}

// ErrNotCounted is returned by OnlineDevices for a store that cannot count.
var ErrNotCounted = errors.New("the store cannot count online devices")

// OnlineDevices counts the devices with a live registration, across the
// cluster (the store is shared).
func (s *Service) OnlineDevices(ctx context.Context) (int, error) {
	if c, ok := s.store.(onlineCounter); ok {
		return c.OnlineRegistrations(ctx, s.now())
	}
	return 0, ErrNotCounted
}
