package pairing

import (
	"context"
	"time"
)

// EventKind names what happened to a device.
type EventKind string

// The events device messages (and their absence) become.
const (
	EventRegistered   EventKind = "registered"
	EventUpdated      EventKind = "updated"
	EventDeregistered EventKind = "deregistered"
	EventExpired      EventKind = "expired"
	// EventBound and EventUnbound are not device messages: they tell the
	// dispatcher that the device's pairing state changed.
	EventBound   EventKind = "bound"
	EventUnbound EventKind = "unbound"
)

// Event is one thing that happened to a device. The dispatcher decides from
// it which tasks to run.
type Event struct {
	Kind         EventKind    `json:"kind"`
	DeviceID     string       `json:"deviceId"`
	Registration Registration `json:"registration"`
	// First is set on the device's first registration ever.
	First bool      `json:"first,omitempty"`
	At    time.Time `json:"at"`
}

// Bus carries events from where they happen to the dispatcher. Events of one
// device are handled in the order they were published.
type Bus interface {
	Publish(ctx context.Context, ev Event) error
	// Subscribe registers the handler for every event published after it.
	Subscribe(handler func(context.Context, Event))
}
