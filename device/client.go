// Package device is the device side of nbpair: an OMA LwM2M 1.1 client over
// CoAP/UDP that registers with an LwM2M server, keeps its registration
// fresh, answers the server's Read, Discover, Write, Write-Attributes,
// Execute and Observe (in text/plain, TLV, SenML JSON and SenML CBOR), and
// implements nbpair's Pairing object (33050), through which the cloud tells
// the device its device ID and whom it is bound to. It works with stock
// LwM2M servers as well as with nbpair's.
//
// It is both a library for device firmware written in Go and the engine of
// the simulator (nbpair device). In queue mode it behaves like an NB-IoT
// module in PSM: after each uplink it stays awake for a while, then closes
// its socket, and wakes up later on a new one, so the server sees a new
// source port as it does behind carrier NAT.
package device

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// Errors of Run and Update.
var (
	// ErrNotRunning is returned by Update when Run is not running.
	ErrNotRunning = errors.New("device: client is not running")
	// ErrAlreadyRunning is returned by Run when it is running already.
	ErrAlreadyRunning = errors.New("device: client is running already")
)

// deregisterTimeout bounds the De-register that Run sends on shutdown.
const deregisterTimeout = 5 * time.Second

// Client is one LwM2M device. Create it with New, then call Run.
type Client struct {
	cfg    settings
	log    *slog.Logger
	events eventQueue

	running atomic.Bool
	obs     observerSet
	kick    chan struct{} // wakes Run's scheduler when the timing changed

	// opMu serializes uplinks (Register, Update, De-register) and socket
	// changes. It is held across network I/O and never taken by the
	// handlers of server requests.
	opMu   sync.Mutex
	active bool          // guarded by opMu; between the first Register and shutdown
	sec    secureSession // coaps only; see dtls.go

	mu         sync.Mutex
	conn       *udpclient.Conn // guarded by mu; nil while asleep or stopped
	location   string          // guarded by mu; "" while not registered
	pairing    PairingState    // guarded by mu
	writes     uint64          // guarded by mu; the server's Writes to the Pairing object
	awakeUntil time.Time       // guarded by mu; queue mode: when to go to sleep
	nextUplink time.Time       // guarded by mu; when the next Update (or retry) is due
	failures   int             // guarded by mu; uplinks failed in a row
	changed    chan struct{}   // guarded by mu; closed and replaced on every change
}

// Status is a snapshot of a Client's state.
type Status struct {
	// Location is the registration's location ("rd/abc"), empty while the
	// device is not registered.
	Location string
	// Awake reports whether the device has a socket open.
	Awake bool
	// LocalAddr is the source address of that socket, empty while asleep.
	LocalAddr string
	// Pairing is what the server last wrote to the Pairing object.
	Pairing PairingState
}

// New checks cfg, applies its defaults and returns a Client that is not yet
// running. The error names the first bad field.
func New(cfg Config) (*Client, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     s,
		log:     s.Logger.With("endpoint", s.Endpoint),
		events:  eventQueue{fn: s.OnEvent},
		kick:    make(chan struct{}, 1),
		obs:     newObserverSet(),
		changed: make(chan struct{}),
	}
	return c, nil
}

// Run registers the device and keeps its registration fresh until ctx is
// done; then it de-registers (waiting at most a few seconds for the
// answer), closes its socket and returns nil. If the first Register fails,
// Run returns the error at once; a *ResponseError carries the server's CoAP
// code and diagnostic. Later failures are reported as EventError and
// retried with backoff; an Update answered 4.04 leads to a new Register.
// Run may be called again after it returned, but not while it runs.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	c.events.start()
	defer c.events.stop()

	if err := c.start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the server answered: nothing to undo
		}
		return err
	}
	nctx, stopNotifier := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.notifier(nctx) })
	c.schedule(ctx)
	stopNotifier()
	wg.Wait()
	c.obs.clear()
	c.shutdown(context.WithoutCancel(ctx))
	return nil
}

// start opens the socket and sends the first Register.
func (c *Client) start(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if _, err := c.openSocket(ctx); err != nil {
		return err
	}
	if err := c.register(ctx); err != nil {
		c.closeSocket()
		return err
	}
	c.active = true
	return nil
}

// shutdown de-registers, waking up on a new socket if need be, and closes
// the socket.
func (c *Client) shutdown(ctx context.Context) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.active = false
	ctx, cancel := context.WithTimeout(ctx, deregisterTimeout)
	defer cancel()
	if c.Location() != "" {
		if err := c.deregister(ctx); err != nil {
			c.emit(Event{Kind: EventError, Err: err})
		}
	}
	c.closeSocket()
}

// Update wakes the device up now and sends an Update; in queue mode a
// sleeping device opens a new socket first. When the registration is gone
// (4.04), or an earlier one failed, it registers again. It returns
// ErrNotRunning when Run is not running.
func (c *Client) Update(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if !c.active {
		return ErrNotRunning
	}
	return c.uplink(ctx)
}

// Pairing returns what the server last wrote to the Pairing object.
func (c *Client) Pairing() PairingState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pairing
}

// Location returns the registration's location ("rd/abc"), or "" while the
// device is not registered.
func (c *Client) Location() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.location
}

// Status returns a snapshot of the client's state.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

func (c *Client) statusLocked() Status {
	s := Status{Location: c.location, Pairing: c.pairing}
	if c.conn != nil {
		s.Awake = true
		s.LocalAddr = c.conn.LocalAddr().String()
	}
	return s
}

// Wait blocks until cond holds for the client's status, and returns that
// status; cond is called again after every change. It returns ctx's error
// and the last status when ctx is done first.
func (c *Client) Wait(ctx context.Context, cond func(Status) bool) (Status, error) {
	for {
		c.mu.Lock()
		s, changed := c.statusLocked(), c.changed
		c.mu.Unlock()
		if cond(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-changed:
		}
	}
}

// changedLocked wakes up the callers of Wait. c.mu must be held.
func (c *Client) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// emit logs the event and queues it for OnEvent.
func (c *Client) emit(e Event) {
	e.Time = time.Now()
	level := slog.LevelInfo
	if e.Kind == EventError {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, e.String(), "event", e.Kind.String())
	c.events.push(e)
}

// rescheduled tells Run's scheduler that the timing changed.
func (c *Client) rescheduled() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}
