package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// RegisterRequest is an LwM2M Register as the domain sees it.
type RegisterRequest struct {
	Query   wire.RegisterQuery
	Objects []wire.ObjectLink
	// ContentFormat is the ct of the payload's root link, as
	// wire.RootContentFormat returns it.
	ContentFormat string
	Addr          string // source address, host:port
	// Peer is who sent the request: over DTLS, the PSK identity the
	// handshake proved.
	Peer Peer
}

// Peer is the sender of a device request.
type Peer struct {
	// Secure is set when the request came over DTLS.
	Secure bool
	// Identity is the DTLS PSK identity; it must be the endpoint name.
	Identity string
}

// may reports whether the peer may act for the registration: a device that
// registered over DTLS is only ever heard over DTLS, under its own identity.
func (p Peer) may(r Registration) error {
	switch {
	case r.Secure && !p.Secure:
		return fmt.Errorf("%w: registration %s was made over DTLS; plain CoAP may not change it", ErrPlainRefused, r.ID)
	case p.Secure && p.Identity != r.Endpoint:
		return fmt.Errorf("%w: PSK identity %q may not act for %s", ErrUnknownEndpoint, p.Identity, r.Endpoint)
	}
	return nil
}

// UpdateRequest is an LwM2M Update. Objects is nil when the Update carried
// no payload (the object list stays as it was).
type UpdateRequest struct {
	RegistrationID string
	Query          wire.UpdateQuery
	Objects        []wire.ObjectLink
	Addr           string
	Peer           Peer
}

// registerContext carries a Register through its steps.
type registerContext struct {
	req    RegisterRequest
	now    time.Time
	device Device // ID, ProductID and IMEI only for a device found in the index
	reg    Registration
	first  bool
}

// Register handles a device's Register: find (or auto-create) the device,
// store its registration durably, then publish the event that decides the
// follow-up tasks.
func (s *Service) Register(ctx context.Context, req RegisterRequest) (Registration, error) {
	rc := &registerContext{req: req, now: s.now().UTC()}
	steps := []struct {
		name string
		run  func(context.Context, *registerContext) error
	}{
		{"resolve device", s.resolveDevice},
		{"check transport", s.checkTransport},
		{"build registration", s.buildRegistration},
		{"store registration", s.storeRegistration},
		{"publish event", s.publishRegistered},
	}
	for _, step := range steps {
		if err := step.run(ctx, rc); err != nil {
			return Registration{}, fmt.Errorf("register %s: %s: %w", req.Query.Endpoint, step.name, err)
		}
	}
	s.opts.Metrics.Registered()
	return rc.reg, nil
}

func (s *Service) resolveDevice(ctx context.Context, rc *registerContext) error {
	imei, ok := wire.IMEIFromEndpoint(rc.req.Query.Endpoint)
	if !ok {
		return fmt.Errorf("%w: endpoint is not urn:imei:<15 digits>", ErrUnknownEndpoint)
	}
	ref, err := s.hot.deviceByIMEI(ctx, imei)
	if err == nil {
		rc.device = Device{ID: ref.ID, ProductID: ref.ProductID, IMEI: imei}
		return s.checkBlocked(rc) // a step of its own would cost an allocation per Register
	}
	if !isNotFound(err) {
		return err
	}
	return s.autoRegister(ctx, rc, imei)
}

// autoRegister creates a device that registers without being provisioned,
// if its product allows that.
func (s *Service) autoRegister(ctx context.Context, rc *registerContext, imei string) error {
	pid := rc.req.Query.ProductID
	if pid == "" {
		return fmt.Errorf("%w: no device is provisioned with IMEI %s", ErrUnknownEndpoint, imei)
	}
	p, err := s.product(ctx, pid)
	// A device creates itself only over plain CoAP, where its product
	// allows that: over DTLS it must have been provisioned with its PSK.
	if err != nil || !p.AutoRegister || !p.PlainCoAP || s.opts.RequireDTLS || rc.req.Peer.Secure {
		return fmt.Errorf("%w: IMEI %s is not provisioned and product %q does not allow auto-registration", ErrUnknownEndpoint, imei, pid)
	}
	prov, err := s.Provision(ctx, ProvisionRequest{IMEI: imei, ProductID: pid, AutoRegistered: true})
	d := prov.Device
	if errors.Is(err, ErrDeviceExists) { // a concurrent Register created it
		d, err = s.store.DeviceByIMEI(ctx, imei)
	}
	if err != nil {
		return err
	}
	s.log.Info("device auto-registered", "device_id", d.ID, "imei", imei, "product_id", pid)
	rc.device = d
	return nil
}

// checkTransport refuses plain CoAP for a product that requires DTLS, and
// for every product in the production profile.
func (s *Service) checkTransport(ctx context.Context, rc *registerContext) error {
	if p := rc.req.Peer; p.Secure {
		if p.Identity != rc.req.Query.Endpoint {
			return fmt.Errorf("%w: PSK identity %q may not register as %s", ErrUnknownEndpoint, p.Identity, rc.req.Query.Endpoint)
		}
		return nil
	}
	if s.opts.RequireDTLS {
		return fmt.Errorf("%w: this cloud accepts devices over DTLS only (coaps)", ErrPlainRefused)
	}
	p, err := s.product(ctx, rc.device.ProductID)
	if err != nil {
		return err
	}
	if !p.PlainCoAP {
		return fmt.Errorf("%w: product %q requires DTLS (coaps)", ErrPlainRefused, p.ID)
	}
	// A plain Register may not replace a registration made over DTLS.
	cur, err := s.store.RegistrationOfDevice(ctx, rc.device.ID)
	if err == nil && cur.Secure && cur.Online(rc.now) {
		return fmt.Errorf("%w: the device is registered over DTLS; plain CoAP may not replace that", ErrPlainRefused)
	} else if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

func (s *Service) buildRegistration(_ context.Context, rc *registerContext) error {
	q := rc.req.Query
	rc.reg = Registration{
		ID: newRegistrationID(), DeviceID: rc.device.ID, Endpoint: q.Endpoint,
		Lifetime: q.Lifetime, Version: q.Version, Binding: q.Binding, QueueMode: q.QueueMode,
		Objects: objectPaths(rc.req.Objects), Addr: rc.req.Addr, Secure: rc.req.Peer.Secure, ContentFormat: rc.req.ContentFormat,
		RegisteredAt: rc.now, LastSeen: rc.now,
	}
	rc.reg.ExpiresAt = s.expiry(rc.now, q.Lifetime)
	return nil
}

func (s *Service) storeRegistration(ctx context.Context, rc *registerContext) error {
	first, err := s.storeRegister(ctx, rc)
	if isNotFound(err) {
		// Deprovisioned since the index learnt it (on another node, whose
		// notice this node missed): the next Register resolves afresh.
		s.hot.forget(rc.device.ID)
		return fmt.Errorf("%w: the device was deprovisioned; register again", ErrUnknownEndpoint)
	}
	rc.first = first
	return err
}

func (s *Service) publishRegistered(ctx context.Context, rc *registerContext) error {
	s.publish(ctx, Event{Kind: EventRegistered, DeviceID: rc.device.ID, Registration: rc.reg, First: rc.first, At: rc.now})
	return nil
}

func (s *Service) expiry(now time.Time, lifetime int) time.Time {
	return now.Add(time.Duration(lifetime)*time.Second + s.opts.ExpiryGrace)
}

func objectPaths(objs []wire.ObjectLink) []string {
	paths := make([]string, len(objs))
	for i, o := range objs {
		paths[i] = o.Path()
	}
	return paths
}

// Update handles a device's Update (a wake-up): it refreshes the lifetime,
// the source address and whatever else the device sent.
func (s *Service) Update(ctx context.Context, req UpdateRequest) (Registration, error) {
	r, err := s.store.Registration(ctx, req.RegistrationID)
	if err != nil {
		return Registration{}, err
	}
	now := s.now().UTC()
	if !r.Online(now) { // expired but not yet swept: gone all the same
		return Registration{}, fmt.Errorf("registration %s expired: %w", r.ID, ErrNotFound)
	}
	if err := req.Peer.may(r); err != nil {
		return Registration{}, err
	}
	if s.opts.RequireDTLS && !req.Peer.Secure { // registered before the switch to production
		return Registration{}, fmt.Errorf("%w: this cloud accepts devices over DTLS only (coaps); register again over DTLS", ErrPlainRefused)
	}
	if req.Query.Lifetime > 0 {
		r.Lifetime = req.Query.Lifetime
	}
	if req.Query.Binding != "" {
		r.Binding = req.Query.Binding
	}
	if req.Query.QueueMode != nil {
		r.QueueMode = *req.Query.QueueMode
	}
	if req.Objects != nil {
		r.Objects = objectPaths(req.Objects)
	}
	r.Addr, r.LastSeen, r.ExpiresAt = req.Addr, now, s.expiry(now, r.Lifetime)
	if err := s.store.UpdateRegistration(ctx, r); err != nil {
		return Registration{}, err
	}
	s.opts.Metrics.Updated()
	s.publish(ctx, Event{Kind: EventUpdated, DeviceID: r.DeviceID, Registration: r, At: now})
	return r, nil
}

// Deregister handles a device's De-register.
func (s *Service) Deregister(ctx context.Context, registrationID string, peer Peer) error {
	r, err := s.store.Registration(ctx, registrationID)
	if err != nil {
		return err
	}
	if err := peer.may(r); err != nil {
		return err
	}
	if r, err = s.store.DeleteRegistrationNoting(ctx, registrationID, s.offlineNotes(ctx, r, "deregistered")); err != nil {
		return err
	}
	s.opts.Metrics.Deregistered()
	s.publish(ctx, Event{Kind: EventDeregistered, DeviceID: r.DeviceID, Registration: r, At: s.now().UTC()})
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
