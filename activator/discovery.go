package activator

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// methods through the d it is given, StopActive included (see
	// StopActive for why d and not another pointer to the Discovery).
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
	s *discoveryState
	// call is set on the Discovery a Delegate is given: the call it stands
	// for, so that StopActive made through it does not wait for that call
	// to end. nil on the Discovery NewDiscovery returns.
	call *delegateCall
}

// discoveryState is what every Discovery value of one NewDiscovery shares.
type discoveryState struct {
	c *Client
	d Delegate

	mu       sync.Mutex
	types    map[ActivatorType]TypeModel // guarded by mu
	runs     map[*run]struct{}           // guarded by mu; started, outcome not yet delivered
	devices  []DeviceModel               // guarded by mu; paired, delivered, not cleared
	queue    []outcome                   // guarded by mu; outcomes waiting for the delegate
	draining bool                        // guarded by mu; a goroutine is calling the delegate
	calling  *delegateCall               // guarded by mu; the delegate call under way, or nil
}

// delegateCall is one call of the Delegate.
type delegateCall struct {
	t    ActivatorType
	done chan struct{} // closed when the call has returned
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
	return &Discovery{s: &discoveryState{c: c, d: d, types: make(map[ActivatorType]TypeModel), runs: make(map[*run]struct{})}}
}

// Register registers pairing types (the seed's registerWithActivatorList);
// StartActive accepts only registered types. Registering a type again
// replaces it.
func (d *Discovery) Register(types ...TypeModel) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range types {
		s.types[t.Type] = t
	}
}

// StartActive starts activating a device (the seed's
// startActive:deviceList:) and returns at once; the Delegate is told the
// outcome exactly once, unless StopActive stops it first. t says which
// device (NbID), which home (SpaceID) and for how long (Timeout); its Type
// must have been registered, or StartActive returns ErrTypeNotRegistered
// and nothing starts. devices is accepted for parity with the seed and is
// not used; pass nil. StartActive is StartActiveContext with a context
// that never ends.
//
// Every failure after that reaches the Delegate as an ErrorModel, the
// server's refusal to start included (CodeDeviceAlreadyBound,
// CodeDeviceNotExist, CodePermissionDenied, CodeDeviceActiveRepeated, …).
// A start request that cannot reach the server is reported as CodeNetwork.
// If the server gives no verdict by 30 s after the activation's deadline
// (it went away, say), the Delegate is told CodeTimeout, with what failed
// meanwhile in the message and behind errors.Unwrap.
func (d *Discovery) StartActive(t TypeModel, devices []DeviceModel) error {
	return d.StartActiveContext(context.Background(), t)
}

// StartActiveContext is StartActive bound to ctx: when ctx ends before the
// outcome is known, the activation is stopped on the server as StopActive
// would stop it, and the Delegate is not told of it (an outcome the server
// gave just before may still be told). The request that starts the
// activation is not cut short, since its answer names the activation to
// stop.
func (d *Discovery) StartActiveContext(ctx context.Context, t TypeModel) error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.types[t.Type]; !ok {
		return fmt.Errorf("%w: %q; call Register first", ErrTypeNotRegistered, t.Type)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &run{t: t, cancel: cancel, done: make(chan struct{})}
	s.runs[r] = struct{}{}
	go s.activate(ctx, r)
	return nil
}

// StopActive stops the activations of the given types (the seed's
// stopActive:clearCache:): those still running are stopped on the server,
// and outcomes not yet delivered are dropped. When StopActive returns, the
// Delegate is not called for them again, and a call for one of them that
// was under way has returned, except the call StopActive was made from: a
// Delegate stops through the d it is given, which stands for its own call
// (StopActive through another pointer to the same Discovery, from within
// the Delegate, would wait for the call it is part of, for ever; use
// StopActiveContext with a deadline if that cannot be ruled out).
// StopActive waits for the server's answers, at most a few seconds each
// (and for a start request still in flight, at most 30 s). A device the
// server bound just before the stop stays bound.
//
// With clearCache, Devices forgets the devices of those types.
func (d *Discovery) StopActive(types []TypeModel, clearCache bool) {
	_ = d.StopActiveContext(context.Background(), types, clearCache)
}

// StopActiveContext is StopActive with its waiting bounded by ctx: the
// activations are stopped and their outcomes dropped at once, whatever
// ctx; if ctx ends before the server has answered and the Delegate's call
// under way for one of the types has returned, it returns ctx's error.
func (d *Discovery) StopActiveContext(ctx context.Context, types []TypeModel, clearCache bool) error {
	s := d.s
	match := func(t ActivatorType) bool {
		return slices.ContainsFunc(types, func(m TypeModel) bool { return m.Type == t })
	}
	s.mu.Lock()
	var stopped []*run
	for r := range s.runs {
		if match(r.t.Type) {
			r.stopped = true
			r.cancel()
			delete(s.runs, r)
			stopped = append(stopped, r)
		}
	}
	if clearCache {
		s.devices = slices.DeleteFunc(s.devices, func(m DeviceModel) bool { return match(m.ActivatorType) })
	}
	// A call of these types that began before the stop ends before
	// StopActive returns, so that no callback follows it. No other can
	// begin: their runs are stopped.
	call := s.calling
	s.mu.Unlock()
	for _, r := range stopped {
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if call != nil && call != d.call && match(call.t) {
		select {
		case <-call.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Devices returns the devices this Discovery paired and delivered to its
// Delegate, oldest first, except those StopActive cleared.
func (d *Discovery) Devices() []DeviceModel {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.devices)
}

// activate is the goroutine of one run: start the activation, follow it,
// and hand its outcome to the delegate; if the run is stopped meanwhile
// (StopActive, or the context of StartActiveContext), stop the activation
// on the server instead.
func (s *discoveryState) activate(ctx context.Context, r *run) {
	defer close(r.done)
	defer r.cancel()
	sctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	a, err := s.c.startActivation(sctx, r.t)
	cancel()
	if err != nil {
		s.deliver(ctx, r, nil, &ErrorModel{Device: DeviceModel{ActivatorType: r.t.Type}, Err: asError(err)})
		return
	}
	if !a.finished() {
		if a, err = s.follow(ctx, a); err != nil {
			s.deliver(ctx, r, nil, &ErrorModel{Device: a.device(), Err: asError(err)})
			return
		}
	}
	dev, e := a.outcome()
	if e != nil {
		s.deliver(ctx, r, nil, &ErrorModel{Device: a.device(), Err: e})
		return
	}
	s.deliver(ctx, r, []DeviceModel{dev}, nil)
}

// follow waits for the started activation a to finish, until a little
// after its deadline. When it does not finish in that time, or ctx ends
// (the run was stopped), it stops the activation on the server and returns
// an error; the activation it returns then is a.
func (s *discoveryState) follow(ctx context.Context, a activation) (activation, error) {
	wait := time.Duration(a.Remaining*float64(time.Second)) + resultGrace
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	done, err := s.c.follow(fctx, a.ID)
	if err == nil {
		return done, nil
	}
	if ctx.Err() != nil || fctx.Err() != nil {
		s.c.stopBounded(ctx, a.ID)
	}
	if ctx.Err() == nil && fctx.Err() != nil && !errors.As(err, new(*Error)) {
		err = &Error{Code: CodeTimeout, Name: ErrTimeout.Name, cause: err,
			Message: fmt.Sprintf("no verdict from the server by %v after the activation's deadline: %v", resultGrace, err)}
	}
	return a, err
}

// deliver queues the outcome of r for the delegate and makes sure a
// goroutine is calling the delegate, unless r was stopped: by StopActive,
// or by the end of ctx, the run's context (it is then forgotten here).
func (s *discoveryState) deliver(ctx context.Context, r *run, devices []DeviceModel, errModel *ErrorModel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.stopped {
		return
	}
	if ctx.Err() != nil {
		delete(s.runs, r)
		return
	}
	s.queue = append(s.queue, outcome{r: r, devices: devices, errModel: errModel})
	if !s.draining {
		s.draining = true
		go s.drain()
	}
}

// drain calls the delegate with the queued outcomes, one at a time, until
// the queue is empty. Whether an outcome is still wanted is decided under
// mu, so that none of a run StopActive stopped is delivered after
// StopActive returned.
func (s *discoveryState) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.draining = false
			s.mu.Unlock()
			return
		}
		o := s.queue[0]
		s.queue[0] = outcome{}
		s.queue = s.queue[1:]
		if o.r.stopped {
			s.mu.Unlock()
			continue
		}
		delete(s.runs, o.r)
		s.devices = append(s.devices, o.devices...)
		call := &delegateCall{t: o.r.t.Type, done: make(chan struct{})}
		s.calling = call
		s.mu.Unlock()
		if s.d != nil {
			s.d.ActivatorService(&Discovery{s: s, call: call}, o.r.t, o.devices, o.errModel)
		}
		s.mu.Lock()
		s.calling = nil
		close(call.done)
		s.mu.Unlock()
	}
}
