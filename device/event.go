package device

import (
	"fmt"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// EventKind says what changed.
type EventKind int

// The kinds of Event a Client reports.
const (
	// EventRegistered is reported when the server accepted a Register;
	// Location is set.
	EventRegistered EventKind = iota + 1
	// EventUpdated is reported when the server accepted an Update; Location
	// is set.
	EventUpdated
	// EventRegistrationLost is reported when the server answered an Update
	// with 4.04 (the registration expired or was removed); the client
	// registers again.
	EventRegistrationLost
	// EventPairingChanged is reported when a Write of the server changed
	// the Pairing object; Pairing holds the new state, Previous the old.
	EventPairingChanged
	// EventSleeping is reported in queue mode when the device closed its
	// socket; it wakes up after Sleep.
	EventSleeping
	// EventWaking is reported when the device opened a new socket, bound to
	// LocalAddr, to send an Update: in queue mode after sleeping, otherwise
	// after the old socket failed (go-coap closes it on an ICMP error).
	EventWaking
	// EventDeregistered is reported when the device de-registered Location
	// on shutdown.
	EventDeregistered
	// EventError is reported when an uplink failed; Err says why. The
	// client retries.
	EventError
	// EventResetRequested is reported when the server accepted the
	// device's reset request (RequestReset); Reset says which reset and
	// Pairing holds the state, normally BindResetRequested.
	EventResetRequested
	// EventServerRequest is reported for every request of the server the
	// device answered (Read, Discover, Write, Write-Attributes, Execute,
	// Observe) and for an observation the server cancelled with a Reset;
	// Request describes it.
	EventServerRequest
	// EventNotified is reported for every notification the device sent
	// to an observing server; Request describes it.
	EventNotified
	// EventRebootRequested is reported when the server executed the
	// Device object's Reboot resource (/3/0/4); Arguments holds the
	// Execute's arguments. The program decides how to reboot.
	EventRebootRequested
	// EventFactoryResetRequested is reported when the server executed the
	// Device object's Factory Reset resource (/3/0/5); Arguments holds the
	// Execute's arguments.
	EventFactoryResetRequested
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case EventRegistered:
		return "registered"
	case EventUpdated:
		return "updated"
	case EventRegistrationLost:
		return "registration lost"
	case EventPairingChanged:
		return "pairing changed"
	case EventSleeping:
		return "sleeping"
	case EventWaking:
		return "waking"
	case EventDeregistered:
		return "deregistered"
	case EventError:
		return "error"
	case EventResetRequested:
		return "reset requested"
	case EventServerRequest:
		return "server request"
	case EventNotified:
		return "notified"
	case EventRebootRequested:
		return "reboot requested"
	case EventFactoryResetRequested:
		return "factory reset requested"
	}
	return fmt.Sprintf("event kind %d", int(k))
}

// Event is one state change of a Client. Which fields are set depends on
// Kind; the others are zero.
type Event struct {
	Kind EventKind
	// Time is when the change happened.
	Time time.Time
	// Location is the registration's location ("rd/abc").
	Location string
	// Pairing and Previous are the Pairing object after and before a
	// server's Write.
	Pairing, Previous PairingState
	// LocalAddr is the device's new source address after waking up.
	LocalAddr string
	// Sleep is how long the device is going to sleep.
	Sleep time.Duration
	// Err is what went wrong.
	Err error
	// Reset is the reset the device asked for.
	Reset ResetKind
	// Request is the server's request the device answered, or the
	// notification it sent.
	Request Request
	// Arguments are the arguments of an Execute.
	Arguments string
}

// String describes the event in one line, as the device command prints it,
// for example "registered as rd/abc" or "bound to owner u_1 in home h_1".
func (e Event) String() string {
	switch e.Kind {
	case EventRegistered:
		return "registered as " + e.Location
	case EventUpdated:
		return "registration " + e.Location + " updated"
	case EventRegistrationLost:
		return "registration " + e.Location + " is gone on the server (4.04); registering again"
	case EventPairingChanged:
		return pairingChange(e.Previous, e.Pairing)
	case EventSleeping:
		return fmt.Sprintf("sleeping for %v (socket closed)", e.Sleep)
	case EventWaking:
		return "waking up on a new socket " + e.LocalAddr
	case EventDeregistered:
		return "de-registered " + e.Location
	case EventError:
		return fmt.Sprintf("error: %v", e.Err)
	case EventResetRequested:
		return resetText(e.Reset) + "; state: " + bindText(e.Pairing)
	case EventServerRequest:
		return "server " + e.Request.String()
	case EventNotified:
		return "sent " + e.Request.String()
	case EventRebootRequested:
		return "server asked for a reboot (Execute " + PathReboot + ")"
	case EventFactoryResetRequested:
		return "server asked for a factory reset (Execute " + PathFactoryReset + ")"
	}
	return e.Kind.String()
}

// pairingChange describes the step from prev to next.
func pairingChange(prev, next wire.PairingState) string {
	state := bindText(next)
	switch {
	case next.DeviceID != prev.DeviceID:
		return fmt.Sprintf("device ID %s written by server; state: %s", next.DeviceID, state)
	case next.State == wire.BindUnbound && prev.State != wire.BindUnbound:
		return "unbound by server; state: " + state
	case next.State == prev.State && (next.OwnerUID != prev.OwnerUID || next.HomeID != prev.HomeID):
		return fmt.Sprintf("owner %q home %q written by server; state: %s", next.OwnerUID, next.HomeID, state)
	default:
		return state
	}
}

// resetText describes a reset request, for example "asked the server for a
// factory reset (unbind, erase data)".
func resetText(k wire.ResetKind) string {
	switch k {
	case wire.ResetNormal:
		return "asked the server for a normal reset (unbind, keep data)"
	case wire.ResetFactory:
		return "asked the server for a factory reset (unbind, erase data)"
	}
	return "asked the server for a " + k.String()
}

func bindText(s wire.PairingState) string {
	if s.State == wire.BindBound {
		return fmt.Sprintf("bound to owner %s in home %s", s.OwnerUID, s.HomeID)
	}
	return s.State.String()
}

// maxPendingEvents bounds the events waiting for a slow callback: each
// request of the server is one, so a flood of requests must not grow the
// queue without end. Events beyond it are dropped and counted.
const maxPendingEvents = 4096

// eventQueue hands events to a callback from one goroutine, in order,
// without ever blocking the code that emits them.
type eventQueue struct {
	fn func(Event)

	mu      sync.Mutex
	pending []Event       // guarded by mu
	dropped uint64        // guarded by mu; events dropped while the queue was full
	wake    chan struct{} // guarded by mu; nil when no dispatcher runs
	done    chan struct{} // guarded by mu; closed when the dispatcher exits
}

// start runs the dispatcher until stop.
func (q *eventQueue) start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.wake = make(chan struct{}, 1)
	q.done = make(chan struct{})
	go q.dispatch(q.wake, q.done)
}

// stop delivers what is pending and ends the dispatcher.
func (q *eventQueue) stop() {
	q.mu.Lock()
	wake, done := q.wake, q.done
	q.wake = nil
	q.mu.Unlock()
	if wake == nil {
		return
	}
	close(wake)
	<-done
}

func (q *eventQueue) push(e Event) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wake == nil {
		return // not running: nobody to tell
	}
	if len(q.pending) >= maxPendingEvents {
		q.dropped++
		return
	}
	q.pending = append(q.pending, e)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) dispatch(wake <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		_, open := <-wake
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, e := range batch {
			q.fn(e)
		}
		if !open {
			return
		}
	}
}
