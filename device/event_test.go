package device

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/wire"
)

func TestEventString(t *testing.T) {
	unbound := wire.PairingState{DeviceID: "dev_1"}
	bound := wire.PairingState{DeviceID: "dev_1", State: wire.BindBound, OwnerUID: "u_1", HomeID: "h_1"}
	tests := map[string]struct {
		event Event
		want  string
	}{
		"registered":      {Event{Kind: EventRegistered, Location: "rd/abc"}, "registered as rd/abc"},
		"updated":         {Event{Kind: EventUpdated, Location: "rd/abc"}, "registration rd/abc updated"},
		"lost":            {Event{Kind: EventRegistrationLost, Location: "rd/abc"}, "registration rd/abc is gone on the server (4.04); registering again"},
		"device ID":       {Event{Kind: EventPairingChanged, Pairing: unbound}, "device ID dev_1 written by server; state: registered, not bound"},
		"device ID bound": {Event{Kind: EventPairingChanged, Pairing: bound}, "device ID dev_1 written by server; state: bound to owner u_1 in home h_1"},
		"bound":           {Event{Kind: EventPairingChanged, Previous: unbound, Pairing: bound}, "bound to owner u_1 in home h_1"},
		"unbound":         {Event{Kind: EventPairingChanged, Previous: bound, Pairing: unbound}, "unbound by server; state: registered, not bound"},
		"sleeping":        {Event{Kind: EventSleeping, Sleep: 30 * time.Second}, "sleeping for 30s (socket closed)"},
		"waking":          {Event{Kind: EventWaking, LocalAddr: "10.0.0.2:40000"}, "waking up on a new socket 10.0.0.2:40000"},
		"deregistered":    {Event{Kind: EventDeregistered, Location: "rd/abc"}, "de-registered rd/abc"},
		"error":           {Event{Kind: EventError, Err: errors.New("boom")}, "error: boom"},
		"unknown":         {Event{Kind: 99}, "event kind 99"},
		"owner written":   {Event{Kind: EventPairingChanged, Previous: unbound, Pairing: wire.PairingState{DeviceID: "dev_1", OwnerUID: "u_1"}}, `owner "u_1" home "" written by server; state: registered, not bound`},
		"server request": {
			Event{Kind: EventServerRequest, Request: Request{Operation: OpObserve, Method: "GET", Path: "/3/0/13", Format: "SenML CBOR", Code: codes.Content, Sequence: 1}},
			"server Observe GET /3/0/13 SenML CBOR seq 1 -> 2.05 Content",
		},
		"notified": {
			Event{Kind: EventNotified, Request: Request{Operation: OpNotify, Path: "/33050/0/1", Format: "TLV", Code: codes.Content, Sequence: 7}},
			"sent Notify /33050/0/1 TLV seq 7 -> 2.05 Content",
		},
		"reboot":        {Event{Kind: EventRebootRequested}, "server asked for a reboot (Execute /3/0/4)"},
		"factory reset": {Event{Kind: EventFactoryResetRequested}, "server asked for a factory reset (Execute /3/0/5)"},
		"normal reset": {
			Event{Kind: EventResetRequested, Reset: ResetNormal, Pairing: wire.PairingState{DeviceID: "dev_1", State: wire.BindResetRequested}},
			"asked the server for a normal reset (unbind, keep data); state: reset requested",
		},
		"factory reset request": {
			Event{Kind: EventResetRequested, Reset: ResetFactory, Pairing: wire.PairingState{DeviceID: "dev_1", State: wire.BindResetRequested}},
			"asked the server for a factory reset (unbind, erase data); state: reset requested",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.event.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEventQueueBounded blocks the callback and pushes more events than
// the queue holds: the pending events stay at the bound, the rest are
// counted as dropped.
func TestEventQueueBounded(t *testing.T) {
	release := make(chan struct{})
	q := eventQueue{fn: func(Event) { <-release }}
	q.start()
	for range 3 * maxPendingEvents { // the dispatcher holds at most one batch of maxPendingEvents
		q.push(Event{Kind: EventServerRequest})
	}
	q.mu.Lock()
	pending, dropped := len(q.pending), q.dropped
	q.mu.Unlock()
	close(release)
	q.stop()
	if pending > maxPendingEvents || dropped < maxPendingEvents {
		t.Errorf("%d pending and %d dropped, want at most %d pending", pending, dropped, maxPendingEvents)
	}
}

func TestEventQueueDeliversInOrder(t *testing.T) {
	var got []string
	q := eventQueue{fn: func(e Event) { got = append(got, e.Location) }}
	q.push(Event{Location: "dropped: not started"})
	q.start()
	var want []string
	for i := range 1000 {
		loc := fmt.Sprint("rd/", i)
		want = append(want, loc)
		q.push(Event{Location: loc})
	}
	q.stop() // delivers what is pending before it returns
	q.push(Event{Location: "dropped: stopped"})
	if !slices.Equal(got, want) {
		t.Errorf("delivered %d events, want %d in order", len(got), len(want))
	}
}
