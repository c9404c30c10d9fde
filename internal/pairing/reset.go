package pairing

import (
	"context"
	"fmt"

	"github.com/nbpair/nbpair/internal/wire"
)

// ResetRequest is a device asking, through LwM2M Send of its Pairing
// object's Reset resource, to be unbound.
type ResetRequest struct {
	Kind wire.ResetKind
	Addr string // source address of the Send
	Peer Peer
}

// RequestReset handles a device's reset request. A normal reset unbinds the
// device and keeps its data; a factory reset unbinds it, erases what the
// cloud holds for it (name, time zone, queued downlinks) and fails every
// activation waiting for it with ErrFactoryReset. Either way the device is
// then told it is unbound, and anyone holding its label may bind it.
func (s *Service) RequestReset(ctx context.Context, req ResetRequest) error {
	r, err := s.senderRegistration(ctx, req)
	if err != nil {
		return err
	}
	if err := req.Peer.may(r); err != nil {
		s.audit(ctx, AuditEntry{Action: AuditReset, Outcome: OutcomeRefused, Actor: "device", DeviceID: r.DeviceID,
			RemoteAddr: req.Addr, Detail: err.Error()})
		return err
	}
	var d Device
	switch req.Kind {
	case wire.ResetNormal:
		d, err = s.normalReset(ctx, r.DeviceID)
	case wire.ResetFactory:
		d, err = s.factoryReset(ctx, r.DeviceID)
	default:
		return fmt.Errorf("%w: reset kind %d", ErrInvalid, req.Kind)
	}
	if err != nil {
		return err
	}
	s.log.Info("device reset", "device_id", d.ID, "kind", req.Kind.String(), "remote_addr", req.Addr)
	s.audit(ctx, AuditEntry{Action: AuditReset, Outcome: OutcomeOK, Actor: "device", DeviceID: d.ID,
		RemoteAddr: req.Addr, Detail: req.Kind.String()})
	s.publish(ctx, Event{Kind: EventUnbound, DeviceID: d.ID, At: s.now().UTC()})
	return nil
}

// senderRegistration finds the registration of the device that sent a
// request outside the registration interface: by its DTLS identity, or
// else by its source address.
func (s *Service) senderRegistration(ctx context.Context, req ResetRequest) (Registration, error) {
	if !req.Peer.Secure {
		return s.store.RegistrationByAddr(ctx, req.Addr)
	}
	imei, ok := wire.IMEIFromEndpoint(req.Peer.Identity)
	if !ok {
		return Registration{}, fmt.Errorf("%w: identity %q", ErrUnknownEndpoint, req.Peer.Identity)
	}
	d, err := s.store.DeviceByIMEI(ctx, imei)
	if err != nil {
		return Registration{}, err
	}
	return s.store.RegistrationOfDevice(ctx, d.ID)
}

func (s *Service) factoryReset(ctx context.Context, deviceID string) (Device, error) {
	d, err := s.store.Device(ctx, deviceID)
	if err != nil {
		return Device{}, err
	}
	n := s.unboundNotes(ctx, d, "factory-reset", "factory")
	n.Ended = s.failedNotes(ctx)
	d, ended, err := s.store.FactoryResetNoting(ctx, deviceID, defaultDeviceName(d.IMEI), s.now().UTC(), n)
	if err != nil {
		return Device{}, err
	}
	s.downlinks.dropFresh(deviceID) // the state it holds is gone with the reset
	for _, a := range ended {
		s.endActivation(ctx, endedAs(a))
	}
	return d, nil
}

// normalReset unbinds the device and keeps its data.
func (s *Service) normalReset(ctx context.Context, deviceID string) (Device, error) {
	d, err := s.store.Device(ctx, deviceID) // who it was bound to, for the webhooks
	if err != nil {
		return Device{}, err
	}
	return s.store.UnbindNoting(ctx, deviceID, "", s.unboundNotes(ctx, d, "reset", "normal"))
}

func defaultDeviceName(imei string) string { return "NB-IoT device " + imei[len(imei)-4:] }
