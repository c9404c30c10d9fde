package pairing

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// errSuperseded cancels a downlink exchange to an address the device has
// left: it was heard from another one since.
var errSuperseded = errors.New("superseded by an uplink from a new address")

// downlinks is the engine that sends each device its downlinks: at most
// one delivery loop per device, which goes round once more when asked
// while it runs; the fresh downlink of each device, kept in memory and
// sent before the queued ones; and the exchange in flight to each device,
// which an uplink from a new address cancels. What one round of a loop
// does is the service's (Service.deliverNow); the engine only decides
// when it runs.
type downlinks struct {
	round func(ctx context.Context, deviceID string) // one round of a device's loop

	mu      sync.Mutex
	running map[string]bool     // device ID → its loop goes round again; guarded by mu
	fresh   map[string]Downlink // device ID → to send before the queued ones; guarded by mu
	loops   sync.WaitGroup

	// inflight has a lock of its own: every uplink looks at it.
	flightMu sync.Mutex
	inflight map[string]*inflightWrite // device ID → its exchange; guarded by flightMu
}

// inflightWrite is the downlink exchange running to one device.
type inflightWrite struct {
	addr   string
	cancel context.CancelCauseFunc
}

// newDownlinks returns an engine whose loops run round for each device.
func newDownlinks(round func(ctx context.Context, deviceID string)) *downlinks {
	return &downlinks{round: round, running: map[string]bool{}, fresh: map[string]Downlink{},
		inflight: map[string]*inflightWrite{}}
}

// start starts the device's delivery loop unless one is running; a
// running one goes round once more. The loop runs on its own goroutine,
// with ctx's values but not its cancellation.
func (e *downlinks) start(ctx context.Context, deviceID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, running := e.running[deviceID]; running {
		e.running[deviceID] = true
		return
	}
	e.running[deviceID] = false
	e.loops.Add(1)
	go e.loop(context.WithoutCancel(ctx), deviceID)
}

func (e *downlinks) loop(ctx context.Context, deviceID string) {
	defer e.loops.Done()
	for {
		e.round(ctx, deviceID)
		e.mu.Lock()
		again := e.running[deviceID]
		if again {
			e.running[deviceID] = false
		} else {
			delete(e.running, deviceID)
		}
		e.mu.Unlock()
		if !again {
			return
		}
	}
}

// setFresh makes d the device's fresh downlink, in place of any before.
func (e *downlinks) setFresh(d Downlink) {
	e.mu.Lock()
	e.fresh[d.DeviceID] = d
	e.mu.Unlock()
}

// takeFresh removes the device's fresh downlink and returns it.
func (e *downlinks) takeFresh(deviceID string) (Downlink, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.fresh[deviceID]
	delete(e.fresh, deviceID)
	return d, ok
}

// dropFresh forgets the device's fresh downlink: the state it holds is
// gone (a reset, a deprovisioning).
func (e *downlinks) dropFresh(deviceID string) {
	e.mu.Lock()
	delete(e.fresh, deviceID)
	e.mu.Unlock()
}

// begin records the exchange starting to the device at addr; cancel ends
// it with errSuperseded if the device is heard from another address.
func (e *downlinks) begin(deviceID, addr string, cancel context.CancelCauseFunc) *inflightWrite {
	w := &inflightWrite{addr: addr, cancel: cancel}
	e.flightMu.Lock()
	e.inflight[deviceID] = w
	e.flightMu.Unlock()
	return w
}

// end records that the exchange w has ended.
func (e *downlinks) end(deviceID string, w *inflightWrite) {
	e.flightMu.Lock()
	if e.inflight[deviceID] == w {
		delete(e.inflight, deviceID)
	}
	e.flightMu.Unlock()
}

// supersede is told of every uplink: an exchange in flight to an address
// other than addr is cancelled, and the device's loop goes round once
// more, to the new address, at once. It reports whether it cancelled one.
func (e *downlinks) supersede(deviceID, addr string) bool {
	e.flightMu.Lock()
	w, ok := e.inflight[deviceID]
	if !ok || w.addr == addr {
		e.flightMu.Unlock()
		return false
	}
	w.cancel(errSuperseded)
	delete(e.inflight, deviceID)
	e.flightMu.Unlock()
	e.mu.Lock()
	if _, running := e.running[deviceID]; running {
		e.running[deviceID] = true
	}
	e.mu.Unlock()
	return true
}

// wait waits until every loop has ended or ctx is done.
func (e *downlinks) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { e.loops.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("downlink deliveries still running: %w", ctx.Err())
	}
}
