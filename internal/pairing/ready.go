package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of Ready, naming the part of the node that is not ready.
var (
	ErrStoreNotReady    = errors.New("the store does not answer")
	ErrStoreCannotWrite = errors.New("the store cannot write")
	ErrBusNotReady      = errors.New("the event bus is not connected")
)

// writeChecker is a store that can tell whether it can write now: a
// cheap write probe and, on a local disk, the disk's free space.
type writeChecker interface {
	CheckWrite(ctx context.Context) error
}

// readyChecker is a bus that can tell whether it is connected (NATS); the
// in-process bus always is.
type readyChecker interface {
	Ready(ctx context.Context) error
}

// Ready reports whether this node can serve: the store answers a cheap
// query and can write (if it can tell), and the event bus, if it is a
// network one, is connected.
func (s *Service) Ready(ctx context.Context) error {
	if _, err := s.store.Products(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreNotReady, err)
	}
	if wc, ok := s.hot.Store.(writeChecker); ok {
		if err := wc.CheckWrite(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrStoreCannotWrite, err)
		}
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
