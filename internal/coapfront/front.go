// Package coapfront is nbpair's CoAP-over-UDP device front: one UDP
// socket, a few reader goroutines (batched reads where the platform has
// them), go-coap's message codec, a bounded worker pool behind a bounded
// queue, RFC 7252 deduplication in one compact cache, and the confirmable
// requests the server sends to devices (downlinks) with their
// retransmission and matching.
//
// Nothing is kept per source address besides the deduplication entry of
// each request (a few dozen bytes and the encoded response, for
// EXCHANGE_LIFETIME, under a cap in bytes), so a stranger sending from
// many addresses costs bounded memory. When the queue is full a datagram
// is dropped and counted: the device retransmits.
package coapfront

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/coaptx"
)

// Handler answers the requests that come to the front.
type Handler interface {
	// ServeCoAP returns the response to req, which the front piggy-backs
	// on the ACK of a confirmable request (or sends as a non-confirmable
	// response to a non-confirmable one). req and what it points to are
	// valid only during the call; the response's slices only until the
	// next call on the same goroutine is fine, since the front encodes it
	// at once.
	ServeCoAP(ctx context.Context, req *Request) Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) Response

// ServeCoAP calls f.
func (f HandlerFunc) ServeCoAP(ctx context.Context, req *Request) Response { return f(ctx, req) }

// Request is a decoded request and where it came from.
type Request struct {
	From netip.AddrPort   // the source, IPv4 unmapped
	Msg  *message.Message // options and payload point into the datagram
}

// Response is what a handler answers: a code, options and a payload. A
// zero Code sends nothing.
type Response struct {
	Code    codes.Code
	Options message.Options // in option-number order
	Payload []byte
}

// Config sizes the front. Zero fields take the defaults.
type Config struct {
	// Readers is the number of goroutines reading the socket.
	Readers int
	// Workers is the number of goroutines decoding and handling
	// datagrams. A handler that waits for the store holds its worker, so
	// the workers bound the requests the store can batch into one commit.
	Workers int
	// QueueLen bounds the datagrams waiting for a worker.
	QueueLen int
	// DedupBytes caps the deduplication cache.
	DedupBytes int
	// Transmission are the CoAP transmission parameters: the cache keeps
	// a response for their EXCHANGE_LIFETIME, and downlinks retransmit
	// by them.
	Transmission coaptx.Params
	// MaxInFlight bounds the downlinks in flight.
	MaxInFlight int
}

// Defaults of Config.
const (
	DefaultReaders     = 2
	DefaultWorkers     = 256
	DefaultQueueLen    = 4096
	DefaultDedupBytes  = 64 << 20
	DefaultMaxInFlight = 4096
)

// MaxDatagram is the largest datagram the front handles; larger ones are
// dropped and counted as malformed. CoAP over UDP keeps most messages
// under about 1,152 bytes, but a Register may carry a link-format list of
// up to 4 KiB.
const MaxDatagram = 8192

// smallDatagram is the size of the buffer every queued packet has; a
// larger datagram gets a buffer of its own, and at most maxLarge of those
// wait at once.
const (
	smallDatagram = 2048
	maxLarge      = 64
)

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Readers, DefaultReaders)
	def(&c.Workers, DefaultWorkers)
	def(&c.QueueLen, DefaultQueueLen)
	def(&c.DedupBytes, DefaultDedupBytes)
	def(&c.MaxInFlight, DefaultMaxInFlight)
	if c.Transmission.ACKTimeout <= 0 {
		c.Transmission = coaptx.Default
	}
	return c
}

// Front serves CoAP on one UDP socket.
type Front struct {
	cfg   Config
	h     Handler
	log   *slog.Logger
	conn  *net.UDPConn
	dedup *Dedup
	ex    exchanges
	pool  packetPool
	queue chan *packet

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup

	datagrams      atomic.Uint64
	droppedFull    atomic.Uint64
	droppedBad     atomic.Uint64
	droppedPending atomic.Uint64
}

// Listen binds addr ("host:port", port 0 for any) and returns a front
// that calls h for every request once Serve runs. A nil log logs nothing.
func Listen(addr string, cfg Config, h Handler, log *slog.Logger) (*Front, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("coap address %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("coap listen %s: %w", addr, err)
	}
	conn.SetReadBuffer(4 << 20)
	conn.SetWriteBuffer(4 << 20)
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Front{cfg: cfg, h: h, log: log, conn: conn, ctx: ctx, cancel: cancel,
		dedup: NewDedup(cfg.DedupBytes, cfg.Transmission.ExchangeLifetime()),
		queue: make(chan *packet, cfg.QueueLen+cfg.Workers)} // as many as the pool makes: a send never blocks
	f.pool.init(cfg.QueueLen + cfg.Workers)
	f.ex.init(cfg.MaxInFlight)
	return f, nil
}

// LocalAddr is the bound address.
func (f *Front) LocalAddr() net.Addr { return f.conn.LocalAddr() }

// Serve reads and answers datagrams until Close; it returns nil after
// Close.
func (f *Front) Serve() error {
	for range f.cfg.Workers {
		f.wg.Go(f.work)
	}
	f.wg.Go(f.sweep)
	errs := make(chan error, f.cfg.Readers)
	var readers sync.WaitGroup
	for range f.cfg.Readers {
		readers.Go(func() { errs <- f.read() })
	}
	readers.Wait()
	close(f.queue)
	f.cancel()
	f.wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, net.ErrClosed) && !f.closed.Load() {
			return err
		}
	}
	return nil
}

// Close closes the socket; Serve returns once the workers are done.
// Downlinks in flight fail.
func (f *Front) Close() error {
	f.closed.Store(true)
	f.cancel()
	return f.conn.Close()
}

// sweep expires the deduplication cache now and then until Close.
func (f *Front) sweep() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case now := <-t.C:
			f.dedup.Sweep(now)
		}
	}
}

// Stats are the front's counters.
type Stats struct {
	Datagrams        uint64 // datagrams read
	DroppedQueueFull uint64 // dropped because the queue was full
	DroppedMalformed uint64 // dropped because they did not decode
	DroppedPending   uint64 // duplicates of a request still being processed
	Duplicates       uint64 // duplicates answered from the cache
	DedupEvictions   uint64 // cache entries evicted before their time to stay under the cap
	DedupBytes       int64  // accounted size of the cache
	DedupEntries     int    // entries in the cache
	InFlight         int64  // downlinks in flight
	Retransmissions  uint64 // downlink retransmissions
}

// Stats returns the counters.
func (f *Front) Stats() Stats {
	return Stats{
		Datagrams: f.datagrams.Load(), DroppedQueueFull: f.droppedFull.Load(),
		DroppedMalformed: f.droppedBad.Load(), DroppedPending: f.droppedPending.Load(),
		Duplicates: f.dedup.Duplicates(), DedupEvictions: f.dedup.Evictions(),
		DedupBytes: f.dedup.Bytes(), DedupEntries: f.dedup.Len(),
		InFlight: f.ex.inFlight.Load(), Retransmissions: f.ex.retransmits.Load(),
	}
}
