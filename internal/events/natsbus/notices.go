package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Cluster = (*Bus)(nil)

// nodeHeader names the node that sent a notice, so that it can skip its own.
const nodeHeader = "Nbpair-Node"

// noticeSubject is the core NATS subject (not the stream) the nodes of one
// cluster tell each other things on: every node receives every notice,
// at most once, and a node that is down misses it.
func (b *Bus) noticeSubject() string { return b.opts.Prefix + ".notices" }

// Announce implements pairing.Cluster: it publishes n on the notice subject
// for every other node. It does not wait for the other nodes, nor for the
// server; a notice lost on the way is made up for by the receivers.
func (b *Bus) Announce(_ context.Context, n pairing.Notice) error {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("natsbus: encoding notice: %w", err)
	}
	msg := &nats.Msg{Subject: b.noticeSubject(), Data: data, Header: nats.Header{nodeHeader: []string{b.node}}}
	if err := b.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("natsbus: announcing %s %s: %w", n.Kind, n.ID, err)
	}
	return nil
}

// Solo implements pairing.Cluster: a node on NATS shares its store with
// the other nodes of its cluster.
func (b *Bus) Solo() bool { return false }

// Listen implements pairing.Cluster: h gets every notice of the other
// nodes, one after another, on the connection's goroutine for the
// subscription, so it must not block.
func (b *Bus) Listen(h func(context.Context, pairing.Notice)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	_, err := b.nc.Subscribe(b.noticeSubject(), func(msg *nats.Msg) {
		if msg.Header.Get(nodeHeader) == b.node {
			return
		}
		var n pairing.Notice
		if err := json.Unmarshal(msg.Data, &n); err != nil {
			b.log.Warn("dropping a notice that cannot be decoded", "err", err)
			return
		}
		h(b.hctx, n)
	})
	if err == nil {
		err = b.nc.Flush() // the server has the subscription before the node serves
	}
	if err != nil {
		b.log.Error("listening for notices of the other nodes", "err", err)
	}
}

// Ready reports whether the bus is connected to NATS and the server
// answers a round trip before ctx ends.
func (b *Bus) Ready(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("natsbus: not connected to NATS (%s)", b.nc.Status())
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("natsbus: NATS did not answer: %w", err)
		}
		return fmt.Errorf("natsbus: %w", err)
	}
	return nil
}
