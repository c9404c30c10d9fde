package pairing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// Options tune the service. Zero values take the defaults noted.
type Options struct {
	// PublicURL is the base of QR label URLs, e.g. "https://pair.example.com".
	PublicURL string
	// AwakeWindow is how long a queue-mode device listens after an uplink
	// (default 93 s, LwM2M's MAX_TRANSMIT_WAIT).
	AwakeWindow time.Duration
	// ExpiryGrace is added to a registration's lifetime before it expires.
	ExpiryGrace time.Duration
	// SweepInterval is how often expired registrations are removed (default 1 s).
	SweepInterval time.Duration
	// DownlinkTimeout bounds one downlink exchange (default 30 s).
	DownlinkTimeout time.Duration
	// DownlinkAttempts bounds the attempts of one downlink that fail
	// without an answer (a timeout, no session); after that many it is
	// dropped (DefaultDownlinkAttempts).
	DownlinkAttempts int
	// SessionTTL is how long a login lasts (default 30 days).
	SessionTTL time.Duration
	// SecretKey (32 bytes) seals device PSKs at rest.
	SecretKey []byte
	// RequireDTLS refuses plain CoAP registrations for every product.
	RequireDTLS bool
	// Metrics records what the service does; nil records nothing.
	Metrics Metrics
	// Cluster connects this node to the other nodes of a cluster; nil for
	// a single node, which gets the Cluster of one node.
	Cluster Cluster
	// ActivationRecheck is how often a waiter on a node of a cluster
	// re-reads its activation from the store (DefaultActivationRecheck).
	ActivationRecheck time.Duration
}

// Downlinker sends messages to devices. The CoAP server implements it.
type Downlinker interface {
	// WritePairing writes s into the Pairing object of the registered
	// device at its current address, in the first of formats (wire's
	// content formats) the device accepts: on 4.06 Not Acceptable, 4.15
	// Unsupported Content-Format or 4.00 Bad Request it tries the next one
	// at once. The result names the format accepted and those refused
	// before it. The error is ErrObjectMissing if the device answered
	// 4.04, wraps ErrDownlinkRefused if it answered 4.05 or another 4.xx,
	// or refused every format: a downlink that can never be delivered. Any other
	// error (no answer, 5.xx, no DTLS session) may pass.
	WritePairing(ctx context.Context, r Registration, s wire.PairingState, formats []int) (WriteResult, error)
}

// WriteResult is what a device made of a write.
type WriteResult struct {
	// Format is the content format the device accepted; it means nothing
	// when the write failed.
	Format int
	// Refused are the formats the device refused (4.06, 4.15 or 4.00), in
	// the order they were tried.
	Refused []int
}

// ErrObjectMissing is returned by a Downlinker when the device lacks the
// object written to.
var ErrObjectMissing = errors.New("device does not implement the object")

// ErrDownlinkRefused is wrapped by a Downlinker's error when the device
// refused the write for good: 4.05, another 4.xx, or every format.
var ErrDownlinkRefused = errors.New("device refused the downlink")

// Service is the pairing domain: every device message and admin request goes
// through it.
type Service struct {
	store Store     // hot in front of the store given to NewService
	hot   *hotStore // the same, for what only the index offers
	bus   Bus
	// cluster is Options.Cluster, or the Cluster of one node; solo is its
	// Solo, read once: whether this node is alone with its store.
	cluster Cluster
	solo    bool
	log     *slog.Logger
	opts    Options
	now     func() time.Time

	downMu sync.RWMutex
	down   Downlinker // guarded by downMu

	sealer    *sealer
	products  products
	watch     watchers
	heard     heardDevices  // on a cluster: devices whose last uplink this node answered
	hashSlots chan struct{} // argon2 hashes running at once

	downlinks *downlinks  // the delivery engine
	links     deviceLinks // what downlinks taught about each device

	subs       subscriptions  // the event types webhooks want
	blocks     deviceBlocks   // every blocked device
	keys       rotatingKeys   // the keys offered to devices under PSK rotation
	hookCaller BindHookCaller // guarded by downMu
}

// NewService returns a service on store and bus and subscribes its
// dispatcher to the bus.
func NewService(store Store, bus Bus, log *slog.Logger, opts Options) (*Service, error) {
	if opts.AwakeWindow <= 0 {
		opts.AwakeWindow = 93 * time.Second
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Second
	}
	if opts.DownlinkTimeout <= 0 {
		opts.DownlinkTimeout = 30 * time.Second
	}
	if opts.DownlinkAttempts <= 0 {
		opts.DownlinkAttempts = DefaultDownlinkAttempts
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = sessionTTL
	}
	opts.PublicURL = strings.TrimSuffix(opts.PublicURL, "/")
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	if opts.ActivationRecheck <= 0 {
		opts.ActivationRecheck = DefaultActivationRecheck
	}
	sl, err := newSealer(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	cluster := opts.Cluster
	if cluster == nil {
		cluster = singleNode{}
	}
	// Caches of what changes are right only if no other node changes it.
	hot := newHotStore(store, cluster.Solo())
	s := &Service{store: hot, hot: hot, bus: bus, cluster: cluster, solo: cluster.Solo(), log: log, opts: opts, now: time.Now, sealer: sl,
		hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.downlinks = newDownlinks(s.deliveryRound)
	if err := s.loadBlocks(context.Background()); err != nil {
		return nil, fmt.Errorf("reading the blocked devices: %w", err)
	}
	bus.Subscribe(s.dispatch)
	cluster.Listen(s.onNotice)
	return s, nil
}

// SetDownlinker sets what downlinks go out through. Until it is set they
// stay queued.
func (s *Service) SetDownlinker(d Downlinker) {
	s.downMu.Lock()
	s.down = d
	s.downMu.Unlock()
}

func (s *Service) downlinker() Downlinker {
	s.downMu.RLock()
	defer s.downMu.RUnlock()
	return s.down
}

// Run removes expired registrations until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	var recheck <-chan time.Time // another node may block a device, and its notice be lost
	if !s.solo {
		rt := time.NewTicker(DefaultBlockRecheck)
		defer rt.Stop()
		recheck = rt.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-recheck:
			if err := s.loadBlocks(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reloading the blocked devices", "err", err)
			}
		case now := <-t.C:
			s.heard.prune(now)
			if err := errors.Join(s.ExpireRegistrations(ctx), s.ExpireActivations(ctx), s.ExpireTransfers(ctx)); err != nil && ctx.Err() == nil {
				s.log.Error("expiring registrations and activations", "err", err)
			}
		}
	}
}

// ExpireRegistrations removes every registration whose lifetime has run out
// and publishes an expired event for each.
func (s *Service) ExpireRegistrations(ctx context.Context) error {
	for {
		regs, err := s.store.DeleteExpiredNoting(ctx, s.now(), 500, s.expiredNotes(ctx))
		if err != nil {
			return fmt.Errorf("delete expired: %w", err)
		}
		for _, r := range regs {
			s.opts.Metrics.Expired()
			s.publish(ctx, Event{Kind: EventExpired, DeviceID: r.DeviceID, Registration: r, At: s.now()})
		}
		if len(regs) < 500 {
			return nil
		}
	}
}

func (s *Service) publish(ctx context.Context, ev Event) {
	if err := s.bus.Publish(ctx, ev); err != nil {
		s.log.Error("publishing event", "kind", ev.Kind, "device_id", ev.DeviceID, "err", err)
	}
	switch ev.Kind { // Registered, Updated and Deregistered are published where the device was heard
	case EventRegistered, EventUpdated:
		s.supersede(ev.Registration)
		s.uplinkHeard(ctx, ev.Registration)
	case EventDeregistered:
		s.heard.forget(ev.DeviceID)
	}
}

// QRText is the text of the device's QR label: a URL on the public URL.
func (s *Service) QRText(d Device) string { return s.opts.PublicURL + "/nb/" + d.NbID }
