package pairing

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// A PSK rotation gives a device a new DTLS key while its old one keeps
// working: until the device completes a handshake with the new key, or
// until the rotation's deadline, both keys are the device's. Then the new
// key is the only one.
//
// pion's DTLS server takes one key per handshake, so the two keys are
// offered in turn: a node offers the key that last worked for the
// identity (the old one at first), and after a handshake fails for a
// wrong key it offers the other. A device that switches keys thus has one
// handshake refused, and the next (its retry) succeeds.

// The audit actions of a PSK rotation.
const (
	AuditPSKRotate  = "psk-rotate"  // a rotation started
	AuditPSKRotated = "psk-rotated" // the new key became the only one
)

// DefaultPSKRotationDeadline is how long the old key of a rotation stays
// valid, at most, when the admin does not say.
const DefaultPSKRotationDeadline = 7 * 24 * time.Hour

// MaxPSKRotationDeadline bounds the deadline an admin may give.
const MaxPSKRotationDeadline = 366 * 24 * time.Hour

// PSKRotation is a device's new key waiting to replace its old one.
type PSKRotation struct {
	DeviceID  string
	SealedPSK []byte // the new key, sealed as Device.SealedPSK
	StartedAt time.Time
	Deadline  time.Time
}

// PSKRotationStore holds the rotations. The Store embeds it through
// DeviceAdminStore.
type PSKRotationStore interface {
	// StartPSKRotation records r, replacing an earlier rotation of the
	// device; ErrNotFound if there is no such device.
	StartPSKRotation(ctx context.Context, r PSKRotation) error
	// PSKRotation returns the device's rotation; ErrNotFound if none.
	PSKRotation(ctx context.Context, deviceID string) (PSKRotation, error)
	// FinishPSKRotation makes the rotation that started at startedAt the
	// device's key and removes it, in one transaction; ErrNotFound if the
	// device has no rotation that started then (finished already, or
	// replaced by a newer one).
	FinishPSKRotation(ctx context.Context, deviceID string, startedAt time.Time) error
}

// RotatedPSK is the answer to a rotation: the new key, shown this once.
type RotatedPSK struct {
	DeviceID    string
	PSKIdentity string
	PSK         []byte
	Deadline    time.Time
}

// RotatePSK starts a rotation of the device's key and returns the new
// key. The old key stays valid until the device completes a handshake
// with the new one or until deadline from now (DefaultPSKRotationDeadline
// when zero). Rotating again replaces a rotation not yet finished.
func (s *Service) RotatePSK(ctx context.Context, idOrIMEI string, deadline time.Duration) (RotatedPSK, error) {
	if deadline == 0 {
		deadline = DefaultPSKRotationDeadline
	}
	if deadline < time.Second || deadline > MaxPSKRotationDeadline {
		return RotatedPSK{}, fmt.Errorf("%w: deadline must be 1s to %s", ErrInvalid, MaxPSKRotationDeadline)
	}
	d, err := s.adminDevice(ctx, idOrIMEI)
	if err != nil {
		return RotatedPSK{}, err
	}
	psk := randomBytes(PSKLen)
	now := s.now().UTC()
	r := PSKRotation{DeviceID: d.ID, SealedPSK: s.sealer.seal(d.ID, psk), StartedAt: now, Deadline: now.Add(deadline)}
	if err := s.store.StartPSKRotation(ctx, r); err != nil {
		return RotatedPSK{}, err
	}
	s.keys.forget(d.Endpoint())
	s.log.Info("psk rotation started", "device_id", d.ID, "deadline", r.Deadline)
	s.audit(ctx, AuditEntry{Action: AuditPSKRotate, Outcome: OutcomeOK, Actor: "admin", DeviceID: d.ID,
		Detail: "old key valid until the device uses the new one, or " + r.Deadline.Format(time.RFC3339)})
	return RotatedPSK{DeviceID: d.ID, PSKIdentity: d.Endpoint(), PSK: psk, Deadline: r.Deadline}, nil
}

// DevicePSK returns the key to offer a handshake of the device whose DTLS
// PSK identity (its endpoint name) is given: its key, or during a
// rotation the one of its two keys this node offers now.
func (s *Service) DevicePSK(ctx context.Context, identity string) ([]byte, error) {
	imei, ok := wire.IMEIFromEndpoint(identity)
	if !ok {
		return nil, fmt.Errorf("%w: identity %q is not urn:imei:<IMEI>", ErrUnknownEndpoint, identity)
	}
	d, err := s.store.DeviceByIMEI(ctx, imei)
	if err != nil {
		return nil, err
	}
	old, err := s.sealer.open(d.ID, d.SealedPSK)
	if err != nil {
		return nil, err
	}
	r, err := s.store.PSKRotation(ctx, d.ID)
	switch {
	case isNotFound(err):
		s.keys.forget(identity) // finished, here or on another node
		return old, nil
	case err != nil:
		return nil, err
	}
	fresh, err := s.sealer.open(d.ID, r.SealedPSK)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(r.Deadline) {
		s.finishRotation(ctx, r, "the deadline passed")
		return fresh, nil
	}
	s.keys.pending(identity, r, fresh)
	if s.keys.offerNew(identity) {
		return fresh, nil
	}
	return old, nil
}

// KeyUsed learns from a handshake how the key DevicePSK offered fared:
// a completed handshake with a rotation's new key finishes the rotation;
// a wrong key makes this node offer the other key next time.
func (s *Service) KeyUsed(ctx context.Context, identity string, key []byte, ok bool) {
	r, isNew, known := s.keys.used(identity, key, ok)
	if known && ok && isNew {
		s.finishRotation(ctx, r, "the device completed a DTLS handshake with the new key")
	}
}

// finishRotation makes the rotation's key the device's only one.
func (s *Service) finishRotation(ctx context.Context, r PSKRotation, why string) {
	err := s.store.FinishPSKRotation(ctx, r.DeviceID, r.StartedAt)
	if isNotFound(err) { // finished by another handshake, node or rotation
		return
	}
	if err != nil {
		s.log.Warn("finishing a psk rotation", "device_id", r.DeviceID, "err", err)
		return
	}
	s.log.Info("psk rotated", "device_id", r.DeviceID, "why", why)
	s.audit(ctx, AuditEntry{Action: AuditPSKRotated, Outcome: OutcomeOK, Actor: "system", DeviceID: r.DeviceID, Detail: why})
}

// rotatingKeys is, per PSK identity with a rotation, which key this node
// offers next and the rotation's new key, so that a handshake's outcome
// can be told apart by key. Entries go when the rotation finishes; the
// map holds only devices under rotation that handshook with this node.
type rotatingKeys struct {
	mu sync.Mutex
	m  map[string]*rotatingKey // guarded by mu
}

type rotatingKey struct {
	r        PSKRotation
	fresh    []byte
	offerNew bool
}

// maxRotatingKeys bounds the map; beyond it the oldest-looking entries
// are not kept (the node then offers the old key, then the new after a
// failure, as for a first handshake).
const maxRotatingKeys = 1 << 16

func (k *rotatingKeys) pending(identity string, r PSKRotation, fresh []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.m[identity]; ok && e.r.StartedAt.Equal(r.StartedAt) {
		return
	}
	if k.m == nil {
		k.m = map[string]*rotatingKey{}
	}
	if len(k.m) >= maxRotatingKeys {
		return
	}
	k.m[identity] = &rotatingKey{r: r, fresh: bytes.Clone(fresh)}
}

func (k *rotatingKeys) offerNew(identity string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.m[identity]
	return ok && e.offerNew
}

// used records a handshake's outcome; it reports the rotation and
// whether key was its new key, known false if the identity has none.
func (k *rotatingKeys) used(identity string, key []byte, ok bool) (PSKRotation, bool, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, found := k.m[identity]
	if !found {
		return PSKRotation{}, false, false
	}
	isNew := subtle.ConstantTimeCompare(key, e.fresh) == 1
	switch {
	case ok && isNew:
		delete(k.m, identity)
	case ok:
		e.offerNew = false // the old key works: keep offering it
	default:
		e.offerNew = !isNew // the key offered was wrong: offer the other
	}
	return e.r, isNew, true
}

func (k *rotatingKeys) forget(identity string) {
	k.mu.Lock()
	delete(k.m, identity)
	k.mu.Unlock()
}
