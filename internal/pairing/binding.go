package pairing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The binding rules of nbpair, in one place. A device is bound to a user's
// home when both hold: the device has a live registration, and a pending
// activation of that user names it. Either can come first. The bind itself is
// one store transaction that refuses a device another user owns, so of two
// users racing for a device exactly one wins.

// ActivatorTypeNB is the only pairing type nbpair serves: NB-IoT.
const ActivatorTypeNB = "NB"

// Limits of an activation's timeout, in seconds.
const (
	DefaultActivationTimeout = 120
	MaxActivationTimeout     = 3600
)

// StartActivation is the request of thing.m.nb.device.user.bind.
type StartActivation struct {
	Type     string
	NbID     string
	HomeID   string
	Timeout  int // seconds; DefaultActivationTimeout when 0
	TimeZone string
}

// activationContext carries a StartActivation through its steps.
type activationContext struct {
	userID string
	req    StartActivation
	device Device
	act    Activation
}

// StartActivation checks the request against the binding rules, records a
// pending activation, and binds at once if the device is registered.
func (s *Service) StartActivation(ctx context.Context, userID string, req StartActivation) (Activation, error) {
	ac := &activationContext{userID: userID, req: req}
	steps := []func(context.Context, *activationContext) error{
		s.validateActivation, s.checkHome, s.checkDevice, s.createActivation,
	}
	for i, step := range steps {
		if err := step(ctx, ac); err != nil {
			if i > 0 { // a well-formed request refused by the rules
				s.audit(ctx, AuditEntry{Action: AuditBind, Outcome: OutcomeRefused, Actor: "user", UserID: userID,
					DeviceID: s.refusedDevice(ctx, ac), Detail: "nbId " + ac.req.NbID + ": " + err.Error()})
			}
			return Activation{}, err
		}
	}
	bound, ok, err := s.tryBind(ctx, ac.act)
	if err != nil {
		s.endActivation(ctx, failure(ac.act.ID, FailInternal))
		return Activation{}, err
	}
	if ok {
		s.publish(ctx, Event{Kind: EventBound, DeviceID: ac.device.ID, At: s.now().UTC()})
		return bound, nil // as the bind wrote it: it cannot change once paired
	}
	return s.store.Activation(ctx, ac.act.ID)
}

// refusedDevice is the ID of the device a refused activation named, for
// the audit log: the one its steps found, or else the one its nbId names
// ("" if none does).
func (s *Service) refusedDevice(ctx context.Context, ac *activationContext) string {
	if ac.device.ID != "" {
		return ac.device.ID
	}
	d, err := s.store.DeviceByNbID(ctx, ac.req.NbID)
	if err != nil {
		return ""
	}
	return d.ID
}

func (s *Service) validateActivation(_ context.Context, ac *activationContext) error {
	r := &ac.req
	switch {
	case r.Type == "":
		return fmt.Errorf("%w: type is required (NB)", ErrMissing)
	case r.Type != ActivatorTypeNB:
		return fmt.Errorf("%w: type %q is not supported; nbpair pairs NB devices", ErrInvalid, r.Type)
	case r.NbID == "":
		return fmt.Errorf("%w: nbId is required", ErrMissing)
	case strings.TrimSpace(r.NbID) == "":
		return fmt.Errorf("%w: nbId is blank", ErrBlank)
	case !ValidNbID(strings.ToLower(r.NbID)):
		return fmt.Errorf("%w: nbId must be the 32 hex digits from the device's label", ErrInvalid)
	case r.HomeID == "":
		return fmt.Errorf("%w: spaceId (the home) is required", ErrMissing)
	case r.Timeout < 0 || r.Timeout > MaxActivationTimeout:
		return fmt.Errorf("%w: timeout must be 1 to %d seconds", ErrInvalid, MaxActivationTimeout)
	}
	r.NbID = strings.ToLower(r.NbID)
	if r.Timeout == 0 {
		r.Timeout = DefaultActivationTimeout
	}
	if r.TimeZone != "" {
		if _, err := time.LoadLocation(r.TimeZone); err != nil || len(r.TimeZone) > 64 {
			return fmt.Errorf("%w: timeZone %q is not an IANA time zone such as Europe/Berlin", ErrInvalid, r.TimeZone)
		}
	}
	return nil
}

// checkHome: the user may add devices to the home (owner or admin). A home
// the user is not a member of is answered the same as one that does not
// exist.
func (s *Service) checkHome(ctx context.Context, ac *activationContext) error {
	h, err := s.store.Home(ctx, ac.req.HomeID, ac.userID)
	if isNotFound(err) || (err == nil && !h.Role.CanManageDevices()) {
		return fmt.Errorf("%w: you may not add devices to home %s", ErrPermissionDenied, ac.req.HomeID)
	}
	return err
}

// checkDevice: the device exists, is not someone else's, and the user has
// no activation for it running already.
func (s *Service) checkDevice(ctx context.Context, ac *activationContext) error {
	d, err := s.store.DeviceByNbID(ctx, ac.req.NbID)
	if isNotFound(err) {
		return ErrDeviceNotExist
	} else if err != nil {
		return err
	}
	ac.device = d // for the audit entry of a refusal
	if bl, ok := s.blocks.get(d.ID); ok {
		return blockedError(bl)
	}
	if d.OwnerID != "" && d.OwnerID != ac.userID {
		return fmt.Errorf("%w: its owner must remove it, or the device must be reset", ErrAlreadyBound)
	}
	pending, err := s.store.PendingActivations(ctx, d.ID)
	if err != nil {
		return err
	}
	for _, a := range pending {
		if a.UserID == ac.userID {
			return fmt.Errorf("%w: activation %s; stop it or wait for its result", ErrActiveRepeated, a.ID)
		}
	}
	ac.device = d
	return nil
}

func (s *Service) createActivation(ctx context.Context, ac *activationContext) error {
	now := s.now().UTC()
	ac.act = Activation{
		ID: newActivationID(), UserID: ac.userID, NbID: ac.req.NbID, DeviceID: ac.device.ID,
		HomeID: ac.req.HomeID, TimeZone: ac.req.TimeZone, Timeout: ac.req.Timeout,
		Status: ActivationPending, CreatedAt: now, Deadline: now.Add(time.Duration(ac.req.Timeout) * time.Second),
	}
	if err := s.store.CreateActivation(ctx, ac.act); err != nil {
		return err
	}
	// The sweeper of Run ends it with ErrTimeout at its deadline.
	s.log.Info("activation started", "activation", ac.act.ID, "uid", ac.userID, "device_id", ac.device.ID, "timeout", ac.req.Timeout)
	return nil
}

// tryBind binds the activation's device if it has a live registration; if
// it has none yet, the device's Register will call it again. It reports
// whether it bound, and returns the activation as the bind finished it;
// the caller tells the device.
func (s *Service) tryBind(ctx context.Context, a Activation) (Activation, bool, error) {
	now := s.now()
	if !now.Before(a.Deadline) {
		s.endActivation(ctx, failure(a.ID, FailTimeout))
		return Activation{}, false, nil
	}
	reg, err := s.store.RegistrationOfDevice(ctx, a.DeviceID)
	if isNotFound(err) || (err == nil && !reg.Online(now)) {
		return Activation{}, false, nil
	} else if err != nil {
		return Activation{}, false, err
	}
	if end, err := s.checkBindHook(ctx, a); err != nil {
		return Activation{}, false, err
	} else if end != nil {
		s.endActivation(ctx, refusedBind(ending{end: *end}, a, "pre-bind hook: "+string(end.Reason)+": "+end.Detail))
		return Activation{}, false, nil
	}
	d, bound, err := s.hot.bind(ctx, a, now.UTC(), s.boundNotes(ctx, a))
	switch {
	case errors.Is(err, ErrAlreadyBound):
		s.endActivation(ctx, refusedBind(failure(a.ID, FailAlreadyBound), a, ErrAlreadyBound.Error()))
		return Activation{}, false, nil
	case errors.Is(err, ErrPermissionDenied): // removed from the home since the start
		s.endActivation(ctx, refusedBind(failure(a.ID, FailPermission), a, "no longer an owner or admin of home "+a.HomeID))
		return Activation{}, false, nil
	case errors.Is(err, ErrActivationFinished):
		return Activation{}, false, nil
	case err != nil:
		return Activation{}, false, err
	}
	s.log.Info("device bound", "device_id", d.ID, "uid", d.OwnerID, "home_id", d.HomeID, "activation", a.ID)
	e := endedAs(bound) // its waiters are told before the audit write: the app waits for this
	e.audit = &AuditEntry{Action: AuditBind, Outcome: OutcomeOK, Actor: "user", UserID: d.OwnerID, DeviceID: d.ID,
		Detail: "home " + d.HomeID + ", activation " + a.ID}
	s.endActivation(ctx, e)
	return bound, true, nil
}

// bindWaiting is the task a device's uplink triggers: bind every pending
// activation that names it, oldest first. The first one wins; the others
// of other users fail with ErrAlreadyBound. A bind queues the new pairing
// state here rather than through the bus: the dispatcher runs on the bus,
// and the delivery task after this one sends it.
func (s *Service) bindWaiting(ctx context.Context, ev Event) error {
	pending, err := s.store.PendingActivations(ctx, ev.DeviceID)
	if err != nil {
		return err
	}
	var errs []error
	boundAny := false
	for _, a := range pending {
		_, bound, err := s.tryBind(ctx, a)
		boundAny = boundAny || bound
		errs = append(errs, err)
	}
	if boundAny && ev.Kind != EventRegistered { // Registered queues it next anyway
		errs = append(errs, s.queuePairingState(ctx, ev))
	}
	return errors.Join(errs...)
}

// refusedBind adds to e, the end of activation a whose bind was refused,
// the audit entry of the refusal.
func refusedBind(e ending, a Activation, why string) ending {
	e.audit = &AuditEntry{Action: AuditBind, Outcome: OutcomeRefused, Actor: "user", UserID: a.UserID,
		DeviceID: a.DeviceID, Detail: "activation " + a.ID + ": " + why}
	return e
}

// ExpireActivations fails every pending activation past its deadline, for
// those whose timer did not run (the server restarted meanwhile).
func (s *Service) ExpireActivations(ctx context.Context) error {
	expired, err := s.store.ExpiredActivations(ctx, s.now(), 500)
	for _, a := range expired {
		s.endActivation(ctx, failure(a.ID, FailTimeout))
	}
	return err
}

// PendingActivations lists the activations waiting for a device, for
// operators and tools.
func (s *Service) PendingActivations(ctx context.Context, deviceID string) ([]Activation, error) {
	return s.store.PendingActivations(ctx, deviceID)
}

// Activation returns the user's activation.
func (s *Service) Activation(ctx context.Context, userID, id string) (Activation, error) {
	a, err := s.store.Activation(ctx, id)
	if err == nil && a.UserID != userID {
		return Activation{}, fmt.Errorf("activation %s: %w", id, ErrNotFound)
	}
	return a, err
}

// StopActivation stops the user's activation (the SDK's stopActive). A
// finished activation stays as it ended.
func (s *Service) StopActivation(ctx context.Context, userID, id string) (Activation, error) {
	if _, err := s.Activation(ctx, userID, id); err != nil {
		return Activation{}, err
	}
	s.endActivation(ctx, ending{end: ActivationEnd{ID: id, Status: ActivationStopped}})
	return s.store.Activation(ctx, id)
}

// WaitActivation returns the activation once it has finished, or as it is
// when ctx ends.
func (s *Service) WaitActivation(ctx context.Context, userID, id string) (Activation, error) {
	ch, cancel := s.watch.subscribe(id)
	defer cancel()
	a, err := s.Activation(ctx, userID, id)
	if err != nil || a.Status != ActivationPending {
		return a, err
	}
	var recheck <-chan time.Time // on a cluster: in case the notice of its end was lost
	if !s.solo {
		t := time.NewTicker(s.opts.ActivationRecheck)
		defer t.Stop()
		recheck = t.C
	}
	for {
		select {
		case a = <-ch:
			return a, nil
		case <-recheck: // a failed read is tried again at the next tick
			if cur, err := s.Activation(ctx, userID, id); err == nil && cur.Status != ActivationPending {
				return cur, nil
			}
		case <-ctx.Done():
			return s.Activation(context.WithoutCancel(ctx), userID, id)
		}
	}
}
