package pairing

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// The events of each change, built for the webhooks subscribed to them
// and handed to the store write that makes the change (Notes).

// subscriptions caches which event types some webhook wants, so that a
// write on a node alone with its store adds nothing when nobody listens:
// a Register storm without webhooks costs what it cost before. On a
// cluster other nodes add webhooks, so every write adds its events and
// the store's fan-out finds who wants them.
type subscriptions struct {
	mu    sync.Mutex
	gen   uint64                          // guarded by mu; bumped by every change of the webhooks
	types atomic.Pointer[map[string]bool] // nil until loaded
}

func (c *subscriptions) reset() {
	c.mu.Lock()
	c.gen++
	c.types.Store(nil)
	c.mu.Unlock()
}

// wants reports whether a webhook may want events of type typ.
func (s *Service) wants(ctx context.Context, typ string) bool {
	if !s.solo { // another node may have added a webhook
		return true
	}
	if m := s.subs.types.Load(); m != nil {
		return (*m)[typ]
	}
	s.subs.mu.Lock()
	gen := s.subs.gen
	s.subs.mu.Unlock()
	hooks, err := s.store.Webhooks(ctx)
	if err != nil {
		return true // the store's fan-out decides
	}
	m := map[string]bool{}
	for _, w := range hooks {
		for _, e := range w.Events {
			m[e] = true
		}
	}
	s.subs.mu.Lock()
	if s.subs.gen == gen {
		s.subs.types.Store(&m)
	}
	s.subs.mu.Unlock()
	return m[typ]
}

// envelope is the JSON body of every webhook delivery.
type envelope struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurredAt"`
	Data       any       `json:"data"`
}

func jsonEnvelope(id, typ string, at time.Time, data any) ([]byte, error) {
	return json.Marshal(envelope{ID: id, Type: typ, OccurredAt: at, Data: data})
}

// event builds the outbox event of type typ about the device, if a
// webhook may want it; else it returns nil.
func (s *Service) event(ctx context.Context, typ, deviceID string, at time.Time, data any) []OutboxEvent {
	if !s.wants(ctx, typ) {
		return nil
	}
	ev := OutboxEvent{ID: NewEventID(), Type: typ, DeviceID: deviceID, OccurredAt: at.UTC()}
	body, err := jsonEnvelope(ev.ID, typ, ev.OccurredAt, data)
	if err != nil { // the data are plain structs: this does not happen
		s.log.Error("encoding a webhook event", "type", typ, "err", err)
		return nil
	}
	ev.Body = body
	return []OutboxEvent{ev}
}

// The data of each event type.
type (
	registrationData struct {
		DeviceID   string   `json:"deviceId"`
		IMEI       string   `json:"imei,omitempty"`
		ProductID  string   `json:"productId,omitempty"`
		Endpoint   string   `json:"endpoint"`
		Version    string   `json:"lwm2mVersion,omitempty"`
		Lifetime   int      `json:"lifetime,omitempty"`
		Binding    string   `json:"binding,omitempty"`
		QueueMode  bool     `json:"queueMode"`
		Objects    []string `json:"objects,omitempty"`
		RemoteAddr string   `json:"remoteAddr,omitempty"`
		Secure     bool     `json:"secure"`
	}
	offlineData struct {
		DeviceID string `json:"deviceId"`
		Endpoint string `json:"endpoint"`
		Reason   string `json:"reason"` // deregistered, expired, blocked or deprovisioned
	}
	bindData struct {
		DeviceID     string `json:"deviceId"`
		UserID       string `json:"uid,omitempty"`
		HomeID       string `json:"homeId,omitempty"`
		ActivationID string `json:"activationId,omitempty"`
		By           string `json:"by,omitempty"` // unbound: removed, reset, factory-reset, admin or deprovisioned
	}
	resetData struct {
		DeviceID string `json:"deviceId"`
		Kind     string `json:"kind"` // normal or factory
	}
	activationData struct {
		ActivationID string `json:"activationId"`
		DeviceID     string `json:"deviceId"`
		UserID       string `json:"uid"`
		HomeID       string `json:"homeId"`
		Reason       string `json:"reason"`
		Detail       string `json:"detail,omitempty"`
	}
)

// storeRegister stores a Register's registration, with its events when a
// webhook wants them; without, through the plain write of the hot path.
func (s *Service) storeRegister(ctx context.Context, rc *registerContext) (bool, error) {
	r := rc.reg
	var n Notes
	if s.wants(ctx, EventTypeRegistered) {
		n.First = s.event(ctx, EventTypeRegistered, r.DeviceID, r.RegisteredAt, registrationData{
			DeviceID: r.DeviceID, IMEI: rc.device.IMEI, ProductID: rc.device.ProductID, Endpoint: r.Endpoint,
			Version: r.Version, Lifetime: r.Lifetime, Binding: r.Binding, QueueMode: r.QueueMode, Objects: r.Objects,
			RemoteAddr: r.Addr, Secure: r.Secure})
	}
	if s.wants(ctx, EventTypeOnline) {
		n.Online = s.event(ctx, EventTypeOnline, r.DeviceID, r.RegisteredAt, registrationData{
			DeviceID: r.DeviceID, Endpoint: r.Endpoint, Lifetime: r.Lifetime, Binding: r.Binding,
			QueueMode: r.QueueMode, RemoteAddr: r.Addr, Secure: r.Secure})
	}
	if n.Empty() {
		return s.store.Register(ctx, r)
	}
	return s.store.RegisterNoting(ctx, r, n)
}

// offlineNotes are the events of a registration that ends.
func (s *Service) offlineNotes(ctx context.Context, r Registration, reason string) Notes {
	return Notes{Events: s.event(ctx, EventTypeOffline, r.DeviceID, s.now(), offlineData{r.DeviceID, r.Endpoint, reason})}
}

// expiredNotes are the events of the registrations the sweeper removes.
func (s *Service) expiredNotes(ctx context.Context) Notes {
	if !s.wants(ctx, EventTypeOffline) {
		return Notes{}
	}
	ctx = context.WithoutCancel(ctx)
	return Notes{Each: func(r Registration) []OutboxEvent {
		return s.event(ctx, EventTypeOffline, r.DeviceID, r.ExpiresAt, offlineData{r.DeviceID, r.Endpoint, "expired"})
	}}
}

// boundNotes are the events of the activation's bind.
func (s *Service) boundNotes(ctx context.Context, a Activation) Notes {
	return Notes{Events: s.event(ctx, EventTypeBound, a.DeviceID, s.now(),
		bindData{DeviceID: a.DeviceID, UserID: a.UserID, HomeID: a.HomeID, ActivationID: a.ID})}
}

// unboundNotes are the events of unbinding the device d (as it was before),
// for the reason by; kind, for a reset, adds its device.reset event.
func (s *Service) unboundNotes(ctx context.Context, d Device, by, kind string) Notes {
	var n Notes
	if kind != "" {
		n.Events = s.event(ctx, EventTypeReset, d.ID, s.now(), resetData{d.ID, kind})
	}
	if d.OwnerID != "" {
		n.Events = append(n.Events, s.event(ctx, EventTypeUnbound, d.ID, s.now(),
			bindData{DeviceID: d.ID, UserID: d.OwnerID, HomeID: d.HomeID, By: by})...)
	}
	return n
}

// failedNotes gives the activation.failed event of each activation that
// ends failed.
func (s *Service) failedNotes(ctx context.Context) func(Activation) []OutboxEvent {
	if !s.wants(ctx, EventTypeActivationFailed) {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	return func(a Activation) []OutboxEvent {
		if a.Status != ActivationFailed {
			return nil
		}
		return s.event(ctx, EventTypeActivationFailed, a.DeviceID, a.FinishedAt, activationData{
			ActivationID: a.ID, DeviceID: a.DeviceID, UserID: a.UserID, HomeID: a.HomeID,
			Reason: string(a.Reason), Detail: a.Detail})
	}
}

func isFinished(err error) bool { return errors.Is(err, ErrActivationFinished) }
