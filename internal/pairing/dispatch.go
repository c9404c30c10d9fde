package pairing

import (
	"context"
	"errors"
	"hash/maphash"
	"time"
)

// task is one thing the dispatcher does for an event.
type task struct {
	name string
	run  func(s *Service, ctx context.Context, ev Event) error
}

// tasks is step 2 of the pairing flow: the event decides the task. Each
// task is idempotent, so an event handled twice does no harm.
var tasks = map[EventKind][]task{
	EventRegistered: {
		{"record first registration", (*Service).recordFirstRegistration},
		{"bind waiting activations", (*Service).bindWaiting},
		{"tell device its pairing state", (*Service).queuePairingState},
		{"deliver queued downlinks", (*Service).deliverQueued},
	},
	EventUpdated: {
		{"bind waiting activations", (*Service).bindWaiting},
		{"deliver queued downlinks", (*Service).deliverQueued},
	},
	EventBound: {
		{"tell device its pairing state", (*Service).queuePairingState},
		{"deliver queued downlinks", (*Service).deliverQueued},
	},
	EventUnbound: {
		{"tell device its pairing state", (*Service).queuePairingState},
		{"deliver queued downlinks", (*Service).deliverQueued},
	},
	EventDeregistered: {
		{"record offline", (*Service).recordOffline},
	},
	EventExpired: {
		{"record offline", (*Service).recordOffline},
	},
}

// dispatch runs the tasks of one event. A failed task is logged and does not
// stop the ones after it.
func (s *Service) dispatch(ctx context.Context, ev Event) {
	for _, t := range tasks[ev.Kind] {
		if err := t.run(s, ctx, ev); err != nil {
			s.log.Warn("task failed", "task", t.name, "event", ev.Kind, "device_id", ev.DeviceID, "err", err)
		}
	}
}

func (s *Service) recordFirstRegistration(_ context.Context, ev Event) error {
	if ev.First {
		r := ev.Registration
		s.log.Info("device registered for the first time", "device_id", ev.DeviceID, "endpoint", r.Endpoint,
			"lwm2m", r.Version, "binding", r.Binding, "queue", r.QueueMode, "objects", r.Objects)
	}
	return nil
}

func (s *Service) recordOffline(_ context.Context, ev Event) error {
	s.log.Info("device offline", "device_id", ev.DeviceID, "endpoint", ev.Registration.Endpoint, "reason", string(ev.Kind))
	return nil
}

// queuePairingState queues a Write of the device's Pairing object with its
// device ID and bind state as they are now; it goes out while the device is
// awake.
func (s *Service) queuePairingState(ctx context.Context, ev Event) error {
	d, err := s.store.Device(ctx, ev.DeviceID)
	if err != nil {
		return err
	}
	return s.store.PutDownlink(ctx, Downlink{
		DeviceID: ev.DeviceID, Kind: DownlinkPairingState, Pairing: d.PairingState(), CreatedAt: s.now().UTC(),
	})
}

// deliverQueued sends the device's queued downlinks, one at a time, while it
// is awake. What cannot be delivered stays queued for its next wake-up.
func (s *Service) deliverQueued(ctx context.Context, ev Event) error {
	down := s.downlinker()
	if down == nil {
		return nil
	}
	mu := &s.deliverMu[s.shard(ev.DeviceID)]
	mu.Lock()
	defer mu.Unlock()
	r, err := s.store.RegistrationOfDevice(ctx, ev.DeviceID)
	if err != nil {
		if isNotFound(err) { // gone again; deliver after its next Register
			return nil
		}
		return err
	}
	dls, err := s.store.Downlinks(ctx, ev.DeviceID)
	if err != nil {
		return err
	}
	for _, d := range dls {
		if !s.awake(r) {
			return nil
		}
		if err := s.deliver(ctx, down, r, d); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) deliver(ctx context.Context, down Downlinker, r Registration, d Downlink) error {
	log := s.log.With("device_id", d.DeviceID, "endpoint", r.Endpoint, "remote_addr", r.Addr, "downlink", string(d.Kind))
	wctx, cancel := context.WithTimeout(ctx, s.opts.DownlinkTimeout)
	start := time.Now()
	err := down.WritePairing(wctx, r, d.Pairing)
	cancel()
	switch {
	case errors.Is(err, ErrObjectMissing):
		log.Warn("device has no Pairing object; the pairing state could not be written to it", "err", err)
	case err != nil:
		log.Info("downlink not delivered; it stays queued for the next wake-up", "err", err)
		return nil
	default:
		log.Info("downlink delivered", "bind_state", d.Pairing.State.String(), "took", time.Since(start).Round(time.Millisecond))
	}
	return s.store.DeleteDownlink(ctx, d.DeviceID, d.Kind, d.CreatedAt)
}

// awake reports whether a downlink can reach the device now: always for a
// device that is not in queue mode, and for one in queue mode only shortly
// after its last uplink.
func (s *Service) awake(r Registration) bool {
	now := s.now()
	if !r.Online(now) {
		return false
	}
	return !r.QueueMode || now.Sub(r.LastSeen) < s.opts.AwakeWindow
}

func (s *Service) shard(deviceID string) int {
	return int(maphash.String(s.seed, deviceID) % uint64(len(s.deliverMu)))
}
