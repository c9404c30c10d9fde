package pairing

import (
	"context"
	"sync"
	"time"
)

// Cluster tells the other nodes of a cluster what happened on this one.
// Notices are a fast path, not a guarantee: one may be lost (a node
// restarting, a dropped connection), so every receiver also has a slower
// way to learn the same thing from the store. A single node (Options.Cluster
// nil) has the Cluster of one node: it tells nobody, hears nothing, and
// keeps everything in process.
type Cluster interface {
	// Announce sends n to every other node of the cluster without waiting
	// for them.
	Announce(ctx context.Context, n Notice) error
	// Listen registers the handler of notices from the other nodes.
	Listen(handler func(context.Context, Notice))
	// Solo reports whether this node is alone with its store. Then
	// nothing else changes the store: what the node keeps in memory of
	// the store's mutable state (registrations, owners, blocks, webhooks)
	// stays right without reading it again, every device's uplinks come
	// here, and every event is dispatched here. On several nodes none of
	// that holds: caches keep only what does not change, and each node
	// re-reads the store in case a notice was lost.
	Solo() bool
}

// singleNode is the Cluster of a node alone with its store, used when
// Options.Cluster is nil: there is no other node to tell or to hear from.
type singleNode struct{}

// Announce tells nobody: there is no other node.
func (singleNode) Announce(context.Context, Notice) error { return nil }

// Listen drops handler: no other node sends notices.
func (singleNode) Listen(func(context.Context, Notice)) {}

// Solo reports true.
func (singleNode) Solo() bool { return true }

// NoticeKind names what a notice tells.
type NoticeKind string

// The notices nodes send each other.
const (
	// NoticeActivationEnded: the activation with Notice.ID has ended; a
	// node with someone waiting for it answers them from the notice (or
	// from the store, for a notice without the activation).
	NoticeActivationEnded NoticeKind = "activation-ended"
	// NoticeDownlinkQueued: the device with Notice.ID has queued
	// downlinks; the node that last heard it sends them.
	NoticeDownlinkQueued NoticeKind = "downlink-queued"
	// NoticeDeviceBlocked: the device with Notice.ID was blocked or
	// unblocked; every node reads its block again.
	NoticeDeviceBlocked NoticeKind = "device-blocked"
	// NoticeDeviceDeprovisioned: the device with Notice.ID is gone for
	// good; every node forgets it.
	NoticeDeviceDeprovisioned NoticeKind = "device-deprovisioned"
)

// Notice is one message between the nodes of a cluster.
type Notice struct {
	Kind NoticeKind `json:"kind"`
	ID   string     `json:"id"`
	// Activation is the ended activation of a NoticeActivationEnded, as
	// the store has it, so that the waiters need not read it again.
	Activation *EndedActivation `json:"activation,omitempty"`
}

// EndedActivation is an activation as it ended, with its failure reason.
type EndedActivation struct {
	Activation
	Reason FailReason `json:"reason,omitempty"`
}

// DefaultActivationRecheck is how often, on a node of a cluster, a waiter
// re-reads its activation from the store in case the notice of its end was
// lost.
const DefaultActivationRecheck = 2 * time.Second

// onNotice handles a notice from another node. Store reads run off the
// caller's goroutine, so that one slow read does not hold up the notices
// after it.
func (s *Service) onNotice(ctx context.Context, n Notice) {
	switch n.Kind {
	case NoticeActivationEnded:
		if !s.watch.watching(n.ID) {
			return
		}
		if e := n.Activation; e != nil && e.ID == n.ID && e.Status != ActivationPending {
			a := e.Activation
			a.Reason = e.Reason
			s.endActivation(ctx, ending{ended: &a, elsewhere: true})
			return
		}
		go func() {
			a, err := s.store.Activation(ctx, n.ID)
			if err != nil {
				s.log.Warn("reading an activation another node ended", "activation", n.ID, "err", err)
				return
			}
			if a.Status != ActivationPending {
				s.endActivation(ctx, ending{ended: &a, elsewhere: true})
			}
		}()
	case NoticeDownlinkQueued:
		if s.heard.has(n.ID) {
			s.startDelivery(ctx, n.ID)
		}
	case NoticeDeviceBlocked:
		go s.refreshBlock(ctx, n.ID)
	case NoticeDeviceDeprovisioned:
		s.hot.forget(n.ID)
		s.blocks.drop(n.ID)
	}
}

func (s *Service) announce(ctx context.Context, n Notice) {
	if err := s.cluster.Announce(ctx, n); err != nil {
		// The other nodes learn it the slow way: waiters re-read the store,
		// and downlinks wait for the device's next uplink.
		s.log.Warn("telling the other nodes", "notice", string(n.Kind), "id", n.ID, "err", err)
	}
}

// uplinkHeard is called on the node that answered a device's Register or
// Update. On a cluster this node holds the device's address binding (and
// its DTLS session), so it is the one to send the device's downlinks: it
// remembers that and starts delivering what is queued already, without
// waiting for the event to come round through the bus. A node alone hears
// every device, and the event's dispatch here starts its delivery.
func (s *Service) uplinkHeard(ctx context.Context, r Registration) {
	if s.solo {
		return
	}
	s.heard.put(r, s.heardUntil(r))
	s.startDelivery(ctx, r.DeviceID)
}

// heardUntil is how long this node may still reach the device: the awake
// window for a queue-mode device, else its registration's lifetime.
func (s *Service) heardUntil(r Registration) time.Time {
	if r.QueueMode {
		return r.LastSeen.Add(s.opts.AwakeWindow)
	}
	return r.ExpiresAt
}

// holds reports whether this node is the one to send downlinks to r: on
// a single node always, on a cluster if r's last uplink came to this node.
func (s *Service) holds(r Registration) bool {
	return s.solo || s.heard.matches(r)
}

// heardDevices remembers, on a node of a cluster, the last uplink of each
// device this node answered while the device may still be reached from
// here. It is small: queue-mode devices leave it after their awake window.
type heardDevices struct {
	mu sync.Mutex
	m  map[string]heardUplink // device ID → last uplink answered here; guarded by mu
}

type heardUplink struct {
	regID    string
	lastSeen int64 // microseconds: both stores keep at least that
	until    time.Time
}

func (h *heardDevices) put(r Registration, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]heardUplink)
	}
	h.m[r.DeviceID] = heardUplink{regID: r.ID, lastSeen: r.LastSeen.UnixMicro(), until: until}
}

func (h *heardDevices) forget(deviceID string) {
	h.mu.Lock()
	delete(h.m, deviceID)
	h.mu.Unlock()
}

func (h *heardDevices) has(deviceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.m[deviceID]
	return ok
}

// matches reports whether r, as the store has it now, is the uplink this
// node answered last: if the device has since been heard on another node,
// the store's LastSeen is that node's.
func (h *heardDevices) matches(r Registration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.m[r.DeviceID]
	return ok && u.regID == r.ID && u.lastSeen == r.LastSeen.UnixMicro()
}

// prune forgets the devices that can no longer be reached from here.
func (h *heardDevices) prune(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, u := range h.m {
		if now.After(u.until) {
			delete(h.m, id)
		}
	}
}
