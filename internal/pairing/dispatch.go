package pairing

import (
	"context"
	"errors"

	"github.com/nbpair/nbpair/internal/wire"
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
	if r := ev.Registration; ev.Kind == EventRegistered && !r.HasObject(wire.PairingObjectID) {
		// A stock client: nothing to write, so nothing to queue and drop.
		s.log.Warn("device has no Pairing object; the pairing state cannot be written to it",
			"device_id", ev.DeviceID, "endpoint", r.Endpoint, "objects", r.Objects)
		return nil
	}
	st, err := s.hot.pairingState(ctx, ev.DeviceID)
	if err != nil {
		return err
	}
	dl := Downlink{DeviceID: ev.DeviceID, Kind: DownlinkPairingState, Pairing: st, CreatedAt: s.now().UTC()}
	if ev.Kind == EventRegistered && s.solo && s.downlinker() != nil {
		// The device has just registered here (a node alone is dispatched
		// the events of its own devices) and listens now: the write
		// goes out from memory, and is queued only if it does not arrive.
		// Nothing is lost with it that the store does not keep: the state
		// is the device's row, and its next Register sends it again.
		s.downlinks.setFresh(dl)
		return nil
	}
	return s.queue(ctx, dl)
}

// queue stores a downlink until the device can be reached.
func (s *Service) queue(ctx context.Context, d Downlink) error {
	return s.countQueued(s.store.PutDownlink(ctx, d))
}

// requeue stores a fresh downlink that did not go out, unless a newer one
// of its kind was queued meanwhile (say a bind while the write was on its
// way): the newer state is the one the device must get.
func (s *Service) requeue(ctx context.Context, d Downlink) error {
	return s.countQueued(s.store.RequeueDownlink(ctx, d))
}

// countQueued counts a downlink stored without error.
func (s *Service) countQueued(err error) error {
	if err == nil {
		s.opts.Metrics.Downlink("queued")
	}
	return err
}

// deliverQueued has the device's queued downlinks sent. On a single node
// it starts the delivery here. On a cluster they must go out from the node
// the device last talked to, which holds its address binding and DTLS
// session: this node tells every other one, and delivers itself if it is
// that node.
func (s *Service) deliverQueued(ctx context.Context, ev Event) error {
	if !s.solo {
		if ev.Kind == EventUpdated {
			// An Update queues nothing, and the node that answered it has
			// started the delivery already (uplinkHeard).
			return nil
		}
		s.announce(ctx, Notice{Kind: NoticeDownlinkQueued, ID: ev.DeviceID})
		if !s.heard.has(ev.DeviceID) {
			return nil
		}
	}
	s.startDelivery(ctx, ev.DeviceID)
	return nil
}

// startDelivery starts the device's delivery loop unless one is running;
// a running one goes round once more. A downlink to a device that has
// fallen asleep takes the whole CoAP exchange (tens of seconds), which must
// not hold up the event workers; the loop also keeps one downlink at a time
// per device.
func (s *Service) startDelivery(ctx context.Context, deviceID string) {
	if s.downlinker() == nil {
		return
	}
	s.downlinks.start(ctx, deviceID)
}

// deliveryRound is one round of a device's delivery loop.
func (s *Service) deliveryRound(ctx context.Context, deviceID string) {
	if err := s.deliverNow(ctx, deviceID); err != nil {
		s.log.Warn("delivering downlinks", "device_id", deviceID, "err", err)
	}
}

// outgoing is a downlink on its way out: queued in the store, or fresh
// from memory, which supersedes what the store has of its kind from
// before it.
type outgoing struct {
	Downlink
	fresh      bool
	supersedes bool // a fresh one: the store has older ones of its kind
}

// deliverNow sends the device's downlinks, one at a time, while it is
// awake: the fresh one first, then the queued ones. What cannot be
// delivered stays queued (a fresh one is queued) for its next wake-up.
func (s *Service) deliverNow(ctx context.Context, deviceID string) error {
	down := s.downlinker()
	fresh, hasFresh := s.downlinks.takeFresh(deviceID)

	r, err := s.store.RegistrationOfDevice(ctx, deviceID)
	if err != nil {
		if isNotFound(err) { // gone again; its next Register sends the state anew
			return nil
		}
		return errors.Join(err, s.keep(ctx, fresh, hasFresh))
	}
	if !s.holds(r) { // the device was last heard on another node, which sends them
		return s.keep(ctx, fresh, hasFresh)
	}
	queued, err := s.store.Downlinks(ctx, deviceID)
	if err != nil {
		return errors.Join(err, s.keep(ctx, fresh, hasFresh))
	}
	var out []outgoing
	if hasFresh {
		out = append(out, outgoing{Downlink: fresh, fresh: true})
	}
	for _, d := range queued {
		if hasFresh && d.Kind == fresh.Kind && !d.CreatedAt.After(fresh.CreatedAt) {
			out[0].supersedes = true
			continue
		}
		out = append(out, outgoing{Downlink: d})
	}
	for _, o := range out {
		if !s.awake(r) {
			return s.keep(ctx, o.Downlink, o.fresh)
		}
		switch err := s.deliver(ctx, down, r, o); {
		case errors.Is(err, errSuperseded):
			return nil // the loop goes round again, to the device's new address
		case err != nil:
			return err
		}
	}
	return nil
}

// keep queues a fresh downlink that could not go out now.
func (s *Service) keep(ctx context.Context, d Downlink, fresh bool) error {
	if !fresh {
		return nil
	}
	return s.requeue(ctx, d)
}

// awake reports whether a downlink can reach the device now: always for a
// device that is not in queue mode, and for one in queue mode only shortly
// after its last uplink: within the awake window, or within the time it
// was seen to fall asleep after its uplinks if that is shorter.
func (s *Service) awake(r Registration) bool {
	now := s.now()
	if !r.Online(now) {
		return false
	}
	return !r.QueueMode || now.Sub(r.LastSeen) < s.awakeFor(r)
}

// Drain waits until the delivery loops have ended or ctx is done; call it
// after the device servers stopped, before the store closes.
func (s *Service) Drain(ctx context.Context) error { return s.downlinks.wait(ctx) }
