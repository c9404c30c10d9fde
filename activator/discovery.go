package activator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Timing of a Discovery's activations.
const (
	// startTimeout bounds the POST that starts an activation. StopActive
	// does not cut it short: its answer names the activation to stop.
	startTimeout = 30 * time.Second
	// resultGrace is how long past an activation's deadline a Discovery
	// waits for the server's verdict before it reports a timeout itself.
	resultGrace = 30 * time.Second
)

// ErrTypeNotRegistered is returned by StartActive for a pairing type that
// was not registered with Register.
var ErrTypeNotRegistered = errors.New("activator: pairing type not registered")

// Delegate receives the outcomes of a Discovery's activations (the seed's
// ThingSmartActivatorActiveDelegate).
type Delegate interface {
	// ActivatorService is called once per activation: with the paired
	// device (a list of one) and a nil errModel, or with nil devices and
	// an errModel saying why the device was not paired. t is the
	// TypeModel StartActive was given. Calls of one Discovery come one at
	// a time, from one goroutine; the delegate may call the Discovery's
	// methods, StopActive included.
	ActivatorService(d *Discovery, t TypeModel, devices []DeviceModel, errModel *ErrorModel)
}

// DelegateFunc adapts a function to a Delegate.
type DelegateFunc func(d *Discovery, t TypeModel, devices []DeviceModel, errModel *ErrorModel)

// ActivatorService calls f.
func (f DelegateFunc) ActivatorService(d *Discovery, t TypeModel, devices []DeviceModel, errModel *ErrorModel) {
	f(d, t, devices, errModel)
}

// Discovery runs activations and tells its Delegate their outcomes (the
// seed's ThingSmartActivatorDiscovery). Create it with NewDiscovery,
// Register the pairing types, then StartActive. It is safe for concurrent
// use.
type Discovery struct {
	c *Client
	d Delegate

	mu       sync.Mutex
	types    map[ActivatorType]TypeModel // guarded by mu
	runs     map[*run]struct{}           // guarded by mu; started, outcome not yet delivered
	devices  []DeviceModel               // guarded by mu; paired, delivered, not cleared
	queue    []outcome                   // guarded by mu; outcomes waiting for the delegate
	draining bool                        // guarded by mu; a goroutine is calling the delegate

	// calling is the type whose outcome the delegate is being told, by the
	// goroutine callingG; StopActive waits for that call to end (unless it
	// is called from within it). Signalled on called.
	calling  ActivatorType // guarded by mu; "" when no call runs
	callingG uint64        // guarded by mu
	called   *sync.Cond
}

// run is one activation a Discovery started.
type run struct {
	t       TypeModel
	cancel  context.CancelFunc
	done    chan struct{} // closed when the run's goroutine has returned
	stopped bool          // guarded by Discovery.mu
}

// outcome is what the delegate is told about one run.
type outcome struct {
	r        *run
	devices  []DeviceModel
	errModel *ErrorModel
}

// NewDiscovery returns a Discovery that activates through c and reports to
// d. A nil d is allowed: outcomes are then only kept for Devices.
func NewDiscovery(c *Client, d Delegate) *Discovery {
	disc := &Discovery{c: c, d: d, types: make(map[ActivatorType]TypeModel), runs: make(map[*run]struct{})}
	disc.called = sync.NewCond(&disc.mu)
	return disc
}

// Register registers pairing types (the seed's registerWithActivatorList);
// StartActive accepts only registered types. Registering a type again
// replaces it.
func (d *Discovery) Register(types ...TypeModel) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range types {
		d.types[t.Type] = t
	}
}

// StartActive starts activating a device (the seed's
// startActive:deviceList:) and returns at once; the Delegate is told the
// outcome exactly once, unless StopActive stops it first. t says which
// device (NbID), which home (SpaceID) and for how long (Timeout); its Type
// must have been registered, or StartActive returns ErrTypeNotRegistered
// and nothing starts. devices is accepted for parity with the seed and is
// not used; pass nil.
//
// Every failure after that reaches the Delegate as an ErrorModel, the
// server's refusal to start included (CodeDeviceAlreadyBound,
// CodeDeviceNotExist, CodePermissionDenied, CodeDeviceActiveRepeated, …).
// A start request that cannot reach the server is reported as CodeNetwork.
// If the server gives no verdict by 30 s after the activation's deadline
// (it went away, say), the Delegate is told CodeTimeout, with what failed
// meanwhile in the message and behind errors.Unwrap.
func (d *Discovery) StartActive(t TypeModel, devices []DeviceModel) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.types[t.Type]; !ok {
		return fmt.Errorf("%w: %q; call Register first", ErrTypeNotRegistered, t.Type)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{t: t, cancel: cancel, done: make(chan struct{})}
	d.runs[r] = struct{}{}
	go d.activate(ctx, r)
	return nil
}

// StopActive stops the activations of the given types (the seed's
// stopActive:clearCache:): those still running are stopped on the server,
// and outcomes not yet delivered are dropped. When StopActive returns, the
// Delegate is not called for them again; a call that had begun before
// StopActive was called may still be running. StopActive waits for the
// server's answers, at most a few seconds each (and for a start request
// still in flight, at most 30 s). A device the server bound just before
// the stop stays bound.
//
// With clearCache, Devices forgets the devices of those types.
func (d *Discovery) StopActive(types []TypeModel, clearCache bool) {
	match := func(t ActivatorType) bool {
		return slices.ContainsFunc(types, func(m TypeModel) bool { return m.Type == t })
	}
	d.mu.Lock()
	var stopped []*run
	for r := range d.runs {
		if match(r.t.Type) {
			r.stopped = true
			r.cancel()
			delete(d.runs, r)
			stopped = append(stopped, r)
		}
	}
	if clearCache {
		d.devices = slices.DeleteFunc(d.devices, func(m DeviceModel) bool { return match(m.ActivatorType) })
	}
	d.mu.Unlock()
	for _, r := range stopped {
		<-r.done
	}
	// A delivery of these types that began before the stop ends before
	// StopActive returns, so that no callback follows it.
	d.mu.Lock()
	for d.calling != "" && match(d.calling) && d.callingG != goroutineID() {
		d.called.Wait()
	}
	d.mu.Unlock()
}

// Devices returns the devices this Discovery paired and delivered to its
// Delegate, oldest first, except those StopActive cleared.
func (d *Discovery) Devices() []DeviceModel {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.devices)
}

// activate is the goroutine of one run: start the activation, follow it,
// and hand its outcome to the delegate; if the run is stopped meanwhile,
// stop the activation on the server instead.
func (d *Discovery) activate(ctx context.Context, r *run) {
	defer close(r.done)
	defer r.cancel()
	sctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	a, err := d.c.startActivation(sctx, r.t)
	cancel()
	if err != nil {
		d.deliver(r, nil, &ErrorModel{Device: DeviceModel{ActivatorType: r.t.Type}, Err: asError(err)})
		return
	}
	if !a.finished() {
		if a, err = d.follow(ctx, a); err != nil {
			if ctx.Err() == nil { // not stopped: tell the delegate
				d.deliver(r, nil, &ErrorModel{Device: a.device(), Err: asError(err)})
			}
			return
		}
	}
	dev, e := a.outcome()
	if e != nil {
		d.deliver(r, nil, &ErrorModel{Device: a.device(), Err: e})
		return
	}
	d.deliver(r, []DeviceModel{dev}, nil)
}

// follow waits for the started activation a to finish, until a little
// after its deadline. When it does not finish in that time, or ctx ends
// (the run was stopped), it stops the activation on the server and returns
// an error; the activation it returns then is a.
func (d *Discovery) follow(ctx context.Context, a activation) (activation, error) {
	wait := time.Duration(a.Remaining*float64(time.Second)) + resultGrace
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	done, err := d.c.follow(fctx, a.ID)
	if err == nil {
		return done, nil
	}
	if ctx.Err() != nil || fctx.Err() != nil {
		d.c.stopBounded(ctx, a.ID)
	}
	if ctx.Err() == nil && fctx.Err() != nil && !errors.As(err, new(*Error)) {
		err = &Error{Code: CodeTimeout, Name: ErrTimeout.Name, cause: err,
			Message: fmt.Sprintf("no verdict from the server by %v after the activation's deadline: %v", resultGrace, err)}
	}
	return a, err
}

// deliver queues the outcome of r for the delegate, unless r was stopped,
// and makes sure a goroutine is calling the delegate.
func (d *Discovery) deliver(r *run, devices []DeviceModel, errModel *ErrorModel) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.stopped {
		return
	}
	d.queue = append(d.queue, outcome{r: r, devices: devices, errModel: errModel})
	if !d.draining {
		d.draining = true
		go d.drain()
	}
}

// drain calls the delegate with the queued outcomes, one at a time, until
// the queue is empty. Whether an outcome is still wanted is decided under
// mu, so that none of a run StopActive stopped is delivered after
// StopActive returned.
func (d *Discovery) drain() {
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.draining = false
			d.mu.Unlock()
			return
		}
		o := d.queue[0]
		d.queue[0] = outcome{}
		d.queue = d.queue[1:]
		if o.r.stopped {
			d.mu.Unlock()
			continue
		}
		delete(d.runs, o.r)
		d.devices = append(d.devices, o.devices...)
		dlg := d.d
		d.calling, d.callingG = o.r.t.Type, goroutineID()
		d.mu.Unlock()
		if dlg != nil {
			dlg.ActivatorService(d, o.r.t, o.devices, o.errModel)
		}
		d.mu.Lock()
		d.calling, d.callingG = "", 0
		d.called.Broadcast()
		d.mu.Unlock()
	}
}

// goroutineID returns the ID of the calling goroutine. It is only used to
// let StopActive, called from within the delegate, not wait for itself.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)] // "goroutine 123 [running]: ..."
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}
