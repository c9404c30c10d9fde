package wire

import (
	"fmt"
	"strconv"
	"time"
)

// PairingObjectID is the LwM2M object nbpair uses to tell a device about its
// pairing (vendor range). See docs/pairing-object.md.
const PairingObjectID = 33050

// Resources of the Pairing object, instance 0.
const (
	PairingResDeviceID  = 0 // string, the cloud's device ID
	PairingResBindState = 1 // integer, a BindState
	PairingResOwnerUID  = 2 // string, empty while unbound
	PairingResHomeID    = 3 // string, empty while unbound
	PairingResBoundAt   = 4 // time (Unix seconds), 0 while unbound
	PairingResReset     = 5 // integer, a ResetKind; sent by the device (LwM2M Send), never written by the server
)

// ResetKind is the value of the Pairing object's Reset resource: the reset
// a device asks the cloud for.
type ResetKind int64

// The resets a device can ask for.
const (
	ResetNormal  ResetKind = 1 // unbind, keep the device's data
	ResetFactory ResetKind = 2 // unbind and erase the device's data
)

// String names the kind, for example "factory reset".
func (k ResetKind) String() string {
	switch k {
	case ResetNormal:
		return "normal reset"
	case ResetFactory:
		return "factory reset"
	}
	return "reset kind " + strconv.FormatInt(int64(k), 10)
}

// BindState is the value of the Pairing object's bind-state resource.
type BindState int64

// The bind states a device can be in.
const (
	BindUnbound        BindState = 0 // registered, not bound
	BindBound          BindState = 1
	BindResetRequested BindState = 2
)

// String names the state as the device CLI prints it.
func (s BindState) String() string {
	switch s {
	case BindUnbound:
		return "registered, not bound"
	case BindBound:
		return "bound"
	case BindResetRequested:
		return "reset requested"
	}
	return "bind state " + strconv.FormatInt(int64(s), 10)
}

// PairingState is the content of the Pairing object instance 0.
type PairingState struct {
	DeviceID string
	State    BindState
	OwnerUID string
	HomeID   string
	BoundAt  time.Time
}

// EncodePairingTLV encodes the state as the resources of one object instance,
// the payload of a Write to /33050/0.
func EncodePairingTLV(s PairingState) []byte {
	return AppendTLV(nil,
		TLVString(PairingResDeviceID, s.DeviceID),
		TLVInt(PairingResBindState, int64(s.State)),
		TLVString(PairingResOwnerUID, s.OwnerUID),
		TLVString(PairingResHomeID, s.HomeID),
		TLVInt(PairingResBoundAt, s.boundAtUnix()),
	)
}

// ApplyPairingTLV applies a TLV Write to /33050/0 on top of s. It accepts the
// resources bare or wrapped in an object-instance entry, and leaves s as it
// was when the payload is bad.
func ApplyPairingTLV(s PairingState, payload []byte) (PairingState, error) {
	entries, err := DecodeTLV(payload)
	if err != nil {
		return s, err
	}
	if len(entries) == 1 && entries[0].Kind == TLVObjectInstance {
		entries = entries[0].Children
	}
	next := s
	for _, e := range entries {
		if e.Kind != TLVResource {
			return s, fmt.Errorf("%w: entry %d of kind %d is not a single resource", ErrBadTLV, e.ID, e.Kind)
		}
		switch {
		case isStringResource(e.ID):
			next = setString(next, e.ID, string(e.Value))
		case e.ID == PairingResBindState || e.ID == PairingResBoundAt:
			v, err := e.Int()
			if err != nil {
				return s, err
			}
			next = setInt(next, e.ID, v)
		default:
			return s, fmt.Errorf("%w: the Pairing object has no resource %d", ErrBadTLV, e.ID)
		}
	}
	return next, nil
}
