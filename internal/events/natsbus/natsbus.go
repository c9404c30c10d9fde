// Package natsbus is the event bus of a cluster of nbpair nodes, on NATS
// JetStream. Every node publishes into one stream; each event is handled by
// one node, and the events of one device in the order they were published.
//
// Order: the device ID picks one of Options.Shards subjects, and each shard
// has one durable pull consumer shared by all nodes with MaxAckPending 1. The
// server hands out a shard's next event only once the one before it has been
// acked (or has run out of deliveries), and a redelivery comes before any
// newer event, so one device's events are handled one after another even
// with many nodes pulling. Each node pulls from every shard, so the shards
// spread over the nodes and a node that stops leaves its shards to the rest.
//
// Delivery is at least once: an ack lost with a crashing node, or a handler
// that outlives its ack wait, sees the event again. The dispatcher's tasks
// are idempotent, so what users see happens once. Publishes that are retried
// after a lost ack are de-duplicated by the server through the Nats-Msg-Id
// header.
//
// Besides the stream, the bus is the nodes' pairing.Cluster: notices (an
// activation ended, a device has downlinks queued) go to every other node
// on the plain subject prefix.notices, at most once and not stored; the
// pairing service makes up for a lost one.
package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Bus = (*Bus)(nil)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("event bus closed")

// Options tunes the bus. The zero value of each field means its default.
// All nodes of a cluster must use the same Prefix and Shards.
type Options struct {
	// Prefix names the stream (PREFIX_EVENTS) and its subjects
	// (prefix.events.<shard>); letters, digits, '_' and '-'. Default "nbpair".
	Prefix string
	// Shards is the number of subjects, and so of events handled at once
	// across the cluster. Default 16. Changing it while events are queued
	// can reorder them.
	Shards int
	// MaxAge is how long an event that no node handles is kept. Default 24 h.
	MaxAge time.Duration
	// AckWait is how long a node has to handle an event before it goes to
	// another; a running handler extends it. Default 30 s.
	AckWait time.Duration
	// MaxDeliver is how often an event is tried. Default 5.
	MaxDeliver int
	// PullWait is how long one pull request waits for an event. Default 5 s.
	PullWait time.Duration
	// RetryDelay is how long an event whose handler panicked waits before it
	// is tried again. Default 2 s.
	RetryDelay time.Duration
	// PublishAttempts is how often Publish tries before it gives up.
	// Default 3.
	PublishAttempts int
	// Replicas of the stream; 1 for a single NATS server. Default 1.
	Replicas int
	// Name names the connection in the server's monitoring. Default "nbpair".
	Name string
	// Logger gets connection changes and handler failures. Default
	// slog.Default().
	Logger *slog.Logger
}

var validPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (o Options) withDefaults() (Options, error) {
	o.Prefix = cmpOr(o.Prefix, "nbpair")
	if !validPrefix.MatchString(o.Prefix) {
		return o, fmt.Errorf("natsbus: prefix %q: want letters, digits, '_' or '-'", o.Prefix)
	}
	o.Shards = cmpOr(o.Shards, 16)
	o.MaxAge = cmpOr(o.MaxAge, 24*time.Hour)
	o.AckWait = cmpOr(o.AckWait, 30*time.Second)
	o.MaxDeliver = cmpOr(o.MaxDeliver, 5)
	o.RetryDelay = cmpOr(o.RetryDelay, 2*time.Second)
	o.PullWait = cmpOr(o.PullWait, 5*time.Second)
	o.PublishAttempts = cmpOr(o.PublishAttempts, 3)
	o.Replicas = cmpOr(o.Replicas, 1)
	o.Name = cmpOr(o.Name, "nbpair")
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Shards < 1 || o.MaxDeliver < 1 || o.PublishAttempts < 1 || o.AckWait < time.Second {
		return o, errors.New("natsbus: shards, max deliver and publish attempts must be positive, ack wait at least 1s")
	}
	return o, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Bus is one node's connection to the cluster's event stream.
type Bus struct {
	opts       Options
	log        *slog.Logger
	nc         *nats.Conn
	js         jetstream.JetStream
	stream     string
	node       string // this node's name among the nodes, for notices
	consumers  []jetstream.Consumer
	connClosed chan struct{}

	// hctx is the handlers' context; cancelled when Close gives up waiting.
	hctx    context.Context
	hcancel context.CancelFunc

	handlers atomic.Pointer[[]func(context.Context, pairing.Event)]
	// stopPull ends the pullers; pullers counts them, and so the handlers
	// running. Added to only under mu while !closed.
	stopPull context.Context
	endPull  context.CancelFunc
	pullers  sync.WaitGroup

	mu      sync.RWMutex
	closed  bool // guarded by mu
	pulling bool // guarded by mu
}

// New connects to the NATS server at url, creates or updates the stream and
// the shard consumers, and returns the bus. Handling starts with the first
// Subscribe; events published while no node subscribes wait in the stream.
// Handlers run with a context that keeps ctx's values.
func New(ctx context.Context, url string, opts Options) (*Bus, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Bus{opts: opts, log: opts.Logger.With("component", "natsbus"),
		stream: strings.ToUpper(opts.Prefix) + "_EVENTS", node: nuid.Next(), connClosed: make(chan struct{})}
	b.hctx, b.hcancel = context.WithCancel(context.WithoutCancel(ctx))
	b.stopPull, b.endPull = context.WithCancel(context.Background())
	b.nc, err = nats.Connect(url, b.connectOptions()...)
	if err != nil {
		b.hcancel()
		b.endPull()
		return nil, fmt.Errorf("natsbus: connecting to %s: %w", url, err)
	}
	if err := b.setUp(ctx); err != nil {
		b.nc.Close()
		b.hcancel()
		b.endPull()
		return nil, err
	}
	return b, nil
}

func (b *Bus) connectOptions() []nats.Option {
	return []nats.Option{
		nats.Name(b.opts.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.connClosed) }),
	}
}

// setUp creates or updates the stream and one consumer per shard.
func (b *Bus) setUp(ctx context.Context) error {
	var err error
	if b.js, err = jetstream.New(b.nc); err != nil {
		return fmt.Errorf("natsbus: %w", err)
	}
	_, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.stream,
		Description: "nbpair device events; each handled once, by one node",
		Subjects:    []string{b.opts.Prefix + ".events.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      b.opts.MaxAge,
		Duplicates:  min(2*time.Minute, b.opts.MaxAge),
		Replicas:    b.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("natsbus: stream %s: %w", b.stream, err)
	}
	for i := range b.opts.Shards {
		c, err := b.js.CreateOrUpdateConsumer(ctx, b.stream, jetstream.ConsumerConfig{
			Durable:       "dispatch-" + strconv.Itoa(i),
			FilterSubject: b.shardSubject(i),
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       b.opts.AckWait,
			MaxDeliver:    b.opts.MaxDeliver,
			MaxAckPending: 1, // one event per shard at a time: keeps each device's order
		})
		if err != nil {
			return fmt.Errorf("natsbus: consumer for shard %d: %w", i, err)
		}
		b.consumers = append(b.consumers, c)
	}
	return nil
}

func (b *Bus) shardSubject(i int) string {
	return b.opts.Prefix + ".events." + strconv.Itoa(i)
}

// shard is the same on every node for a device: FNV-1a, not a seeded hash.
func (b *Bus) shard(deviceID string) int {
	h := fnv.New32a()
	h.Write([]byte(deviceID))
	return int(h.Sum32() % uint32(b.opts.Shards))
}

// Publish stores ev in the stream and returns once the server has it. A
// publish whose answer was lost is tried again under the same message ID,
// which the server de-duplicates.
func (b *Bus) Publish(ctx context.Context, ev pairing.Event) error {
	return b.publish(ctx, ev, nuid.Next())
}

func (b *Bus) publish(ctx context.Context, ev pairing.Event, msgID string) error {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("natsbus: encoding event: %w", err)
	}
	msg := &nats.Msg{Subject: b.shardSubject(b.shard(ev.DeviceID)), Data: data}
	for attempt := 1; ; attempt++ {
		_, err = b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(b.stream))
		if err == nil || attempt >= b.opts.PublishAttempts || ctx.Err() != nil || !retryable(err) {
			break
		}
		b.log.Warn("publish not acknowledged; trying again", "device_id", ev.DeviceID, "attempt", attempt, "err", err)
	}
	if err != nil {
		return fmt.Errorf("natsbus: publishing %s event of %s: %w", ev.Kind, ev.DeviceID, err)
	}
	return nil
}

// retryable reports whether a publish may have failed only on the way: an
// error from the server about the stream will not go away by trying again.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	return !errors.As(err, &apiErr) && !errors.Is(err, nats.ErrConnectionClosed)
}

// Close stops fetching, waits until the running handlers return, and drains
// and closes the connection. If ctx ends first, the handlers' context is
// cancelled, the connection closed, and their events go to another node
// after the ack wait.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.endPull() // an event fetched just now goes to another node after the ack wait
	err := wait(ctx, b.pullers.Wait)
	if err == nil {
		if err = b.nc.Drain(); err == nil {
			err = waitChan(ctx, b.connClosed)
		}
	}
	b.hcancel()
	b.nc.Close()
	if err != nil {
		return fmt.Errorf("natsbus: closing: %w", err)
	}
	return nil
}

func wait(ctx context.Context, f func()) error {
	done := make(chan struct{})
	go func() { f(); close(done) }()
	return waitChan(ctx, done)
}

func waitChan(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
