package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Subscribe registers the handler; every event this node takes runs all
// handlers, one after another. The first Subscribe starts one goroutine per
// shard that pulls and handles its events one at a time. Events published before it that no node has handled yet are handled
// too: the stream keeps them.
func (b *Bus) Subscribe(h func(context.Context, pairing.Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	var hs []func(context.Context, pairing.Event)
	if old := b.handlers.Load(); old != nil {
		hs = append(hs, *old...)
	}
	hs = append(hs, h)
	b.handlers.Store(&hs)
	if b.pulling {
		return
	}
	b.pulling = true
	for i, c := range b.consumers {
		b.pullers.Add(1)
		go b.pull(i, c)
	}
}

// pull fetches one shard's events, one at a time, and handles them, until
// Close. Each fetch is a pull request that expires after PullWait, so a
// request the server lost is only a short pause.
func (b *Bus) pull(shard int, c jetstream.Consumer) {
	defer b.pullers.Done()
	for b.stopPull.Err() == nil {
		ctx, cancel := context.WithTimeout(b.stopPull, b.opts.PullWait)
		batch, err := c.Fetch(1, jetstream.FetchContext(ctx))
		if err == nil {
			for msg := range batch.Messages() {
				b.handle(msg)
			}
			err = batch.Error()
		}
		cancel()
		if err != nil && b.stopPull.Err() == nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			b.log.Warn("pulling events", "shard", shard, "err", err)
			select { // e.g. reconnecting: do not spin
			case <-b.stopPull.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// handle runs the handlers for one message and acks it.
func (b *Bus) handle(msg jetstream.Msg) {
	var ev pairing.Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		b.log.Error("dropping an event that cannot be decoded", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("undecodable")
		return
	}
	stop := b.keepAlive(msg)
	err := b.run(ev)
	stop()
	if err == nil {
		if err := msg.Ack(); err != nil {
			b.log.Warn("ack lost; the event may be handled again", "device_id", ev.DeviceID, "err", err)
		}
		return
	}
	b.retry(msg, ev, err)
}

// run calls the handlers; a panic becomes an error, so that one bad event
// does not bring down the node.
func (b *Bus) run(ev pairing.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
			b.log.Error("event handler panicked", "event", string(ev.Kind), "device_id", ev.DeviceID,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	if hs := b.handlers.Load(); hs != nil {
		for _, h := range *hs {
			h(b.hctx, ev)
		}
	}
	return nil
}

// retry hands a failed event back for a later try, or drops it after its
// last delivery. Until then the device's shard waits: order beats progress.
func (b *Bus) retry(msg jetstream.Msg, ev pairing.Event, cause error) {
	md, err := msg.Metadata()
	if err == nil && md.NumDelivered >= uint64(b.opts.MaxDeliver) {
		b.log.Error("dropping event after its last try", "event", string(ev.Kind), "device_id", ev.DeviceID,
			"tries", md.NumDelivered, "err", cause)
		_ = msg.TermWithReason(cause.Error())
		return
	}
	if err := msg.NakWithDelay(b.opts.RetryDelay); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		b.log.Warn("nak lost; the event is tried again after the ack wait", "device_id", ev.DeviceID, "err", err)
	}
}

// keepAlive tells the server, while a handler runs, that the event is being
// worked on, so that it does not go to another node after the ack wait.
func (b *Bus) keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(b.opts.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}
