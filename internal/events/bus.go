// Package events is the in-process event bus: device events go from the
// CoAP handlers to the pairing dispatcher on a few worker goroutines, with
// each device's events kept in order.
package events

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Bus = (*Bus)(nil)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("event bus closed")

// Bus delivers events to its subscribers on a fixed set of workers. Events
// of one device always go to the same worker, so they are handled in order.
type Bus struct {
	seed   maphash.Seed
	queues []chan item
	wg     sync.WaitGroup

	// handlers is read by workers without a lock, so that a publisher
	// waiting on a full queue never blocks the worker that would drain it.
	handlers atomic.Pointer[[]func(context.Context, pairing.Event)]

	mu     sync.RWMutex
	closed bool // guarded by mu
}

type item struct {
	ctx context.Context
	ev  pairing.Event
}

// New starts a bus with the given number of workers, each with a queue of
// queueLen events; Publish blocks while a worker's queue is full.
func New(workers, queueLen int) *Bus {
	b := &Bus{seed: maphash.MakeSeed(), queues: make([]chan item, max(workers, 1))}
	for i := range b.queues {
		b.queues[i] = make(chan item, queueLen)
		b.wg.Add(1)
		go b.work(b.queues[i])
	}
	return b
}

// Subscribe registers a handler for events published from now on.
func (b *Bus) Subscribe(h func(context.Context, pairing.Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var hs []func(context.Context, pairing.Event)
	if old := b.handlers.Load(); old != nil {
		hs = append(hs, *old...)
	}
	hs = append(hs, h)
	b.handlers.Store(&hs)
}

// Publish queues ev for the subscribers. The handlers run with a context
// that keeps ctx's values but not its cancellation, since a device's request
// is answered before its follow-up tasks run.
func (b *Bus) Publish(ctx context.Context, ev pairing.Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	q := b.queues[maphash.String(b.seed, ev.DeviceID)%uint64(len(b.queues))]
	select {
	case q <- item{context.WithoutCancel(ctx), ev}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bus) work(q chan item) {
	defer b.wg.Done()
	for it := range q {
		hs := b.handlers.Load()
		if hs == nil {
			continue
		}
		for _, h := range *hs {
			b.run(h, it)
		}
	}
}

// run calls one handler; a panic in it is logged, not fatal to the node.
func (b *Bus) run(h func(context.Context, pairing.Event), it item) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("event handler panicked", "kind", it.ev.Kind, "device_id", it.ev.DeviceID, "panic", p)
		}
	}()
	h(it.ctx, it.ev)
}

// Close stops accepting events and waits until the queued ones are handled
// or ctx is done.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for _, q := range b.queues {
			close(q)
		}
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
