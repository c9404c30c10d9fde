package wire

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrBadPairingWrite is wrapped by the errors of the functions that apply
// a Write of the Pairing object in SenML or text.
var ErrBadPairingWrite = errors.New("bad write of the Pairing object")

// pairingPrefix is the base name of the Pairing object instance's
// resources in SenML.
var pairingPrefix = "/" + strconv.Itoa(PairingObjectID) + "/0/"

// PairingFormats are the content formats a Write of the Pairing object can
// be encoded in, in the order a server tries them when the device gives no
// hint: SenML JSON, SenML CBOR, TLV and, resource by resource, text/plain.
var PairingFormats = []int{FormatSenMLJSON, FormatSenMLCBOR, FormatTLV, FormatText}

// IsPairingFormat reports whether cf is one of PairingFormats.
func IsPairingFormat(cf int) bool {
	for _, f := range PairingFormats {
		if f == cf {
			return true
		}
	}
	return false
}

// FormatName names a content format for logs and metrics.
func FormatName(cf int) string {
	switch cf {
	case FormatText:
		return "text"
	case FormatTLV:
		return "tlv"
	case FormatSenMLJSON:
		return "senml-json"
	case FormatSenMLCBOR:
		return "senml-cbor"
	}
	return strconv.Itoa(cf)
}

// boundAtUnix is the Bound At resource's value: Unix seconds, 0 while
// unbound.
func (s PairingState) boundAtUnix() int64 {
	if s.BoundAt.IsZero() {
		return 0
	}
	return s.BoundAt.Unix()
}

// PairingRecords are the state's five writable resources as SenML records
// named /33050/0/<resource>.
func PairingRecords(s PairingState) []SenMLRecord {
	num := func(v int64) *float64 { f := float64(v); return &f }
	return []SenMLRecord{
		{Name: pairingPrefix + "0", StringValue: ptr(s.DeviceID)},
		{Name: pairingPrefix + "1", Value: num(int64(s.State))},
		{Name: pairingPrefix + "2", StringValue: ptr(s.OwnerUID)},
		{Name: pairingPrefix + "3", StringValue: ptr(s.HomeID)},
		{Name: pairingPrefix + "4", Value: num(s.boundAtUnix())},
	}
}

// EncodePairing encodes the state as the payload of one Write (replace) of
// /33050/0 in a single-payload format: FormatSenMLJSON, FormatSenMLCBOR or
// FormatTLV. Text holds one resource per payload: see PairingText.
func EncodePairing(s PairingState, cf int) ([]byte, error) {
	switch cf {
	case FormatTLV:
		return EncodePairingTLV(s), nil
	case FormatSenMLJSON:
		return EncodeSenMLJSON(PairingRecords(s))
	case FormatSenMLCBOR:
		return EncodeSenMLCBOR(PairingRecords(s))
	}
	return nil, fmt.Errorf("content format %d cannot carry the whole Pairing object", cf)
}

// TextResource is one resource of the Pairing object as text/plain: the
// payload of a Write to /33050/0/<ID>.
type TextResource struct {
	ID   uint16
	Body []byte
}

// Path is the resource's path, /33050/0/<ID>.
func (r TextResource) Path() string { return pairingPrefix + strconv.Itoa(int(r.ID)) }

// PairingText is the state as text/plain, one resource per Write: strings
// as they are, integers and the time in decimal (LwM2M 1.1 Core, 7.4.1).
func PairingText(s PairingState) []TextResource {
	return []TextResource{
		{PairingResDeviceID, []byte(s.DeviceID)},
		{PairingResBindState, strconv.AppendInt(nil, int64(s.State), 10)},
		{PairingResOwnerUID, []byte(s.OwnerUID)},
		{PairingResHomeID, []byte(s.HomeID)},
		{PairingResBoundAt, strconv.AppendInt(nil, s.boundAtUnix(), 10)},
	}
}

// ApplyPairingSenML applies the records of a SenML Write to /33050/0 on
// top of s: strings as vs, the bind state and the time as integral v. It
// leaves s as it was when a record is not one of the writable resources or
// has a value of the wrong type.
func ApplyPairingSenML(s PairingState, records []SenMLRecord) (PairingState, error) {
	next := s
	for i, r := range records {
		rest, ok := strings.CutPrefix(r.Name, pairingPrefix)
		id, err := strconv.ParseUint(rest, 10, 16)
		if !ok || err != nil {
			return s, fmt.Errorf("%w: record %d names %q, not a resource of %s", ErrBadPairingWrite, i, r.Name, pairingPrefix)
		}
		switch {
		case isStringResource(uint16(id)):
			if r.StringValue == nil {
				return s, fmt.Errorf("%w: resource %d wants a string (vs)", ErrBadPairingWrite, id)
			}
			next = setString(next, uint16(id), *r.StringValue)
		case id == PairingResBindState || id == PairingResBoundAt:
			if r.Value == nil || *r.Value != math.Trunc(*r.Value) || math.Abs(*r.Value) > 1<<53 {
				return s, fmt.Errorf("%w: resource %d wants an integer (v)", ErrBadPairingWrite, id)
			}
			next = setInt(next, uint16(id), int64(*r.Value))
		default:
			return s, fmt.Errorf("%w: the Pairing object has no writable resource %d", ErrBadPairingWrite, id)
		}
	}
	return next, nil
}

// ApplyPairingText applies a text/plain Write of one resource of
// /33050/0 on top of s.
func ApplyPairingText(s PairingState, id uint16, body []byte) (PairingState, error) {
	switch {
	case isStringResource(id):
		return setString(s, id, string(body)), nil
	case id == PairingResBindState || id == PairingResBoundAt:
		v, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return s, fmt.Errorf("%w: resource %d wants a decimal integer: %v", ErrBadPairingWrite, id, err)
		}
		return setInt(s, id, v), nil
	}
	return s, fmt.Errorf("%w: the Pairing object has no writable resource %d", ErrBadPairingWrite, id)
}

func isStringResource(id uint16) bool {
	return id == PairingResDeviceID || id == PairingResOwnerUID || id == PairingResHomeID
}

func setString(s PairingState, id uint16, v string) PairingState {
	switch id {
	case PairingResDeviceID:
		s.DeviceID = v
	case PairingResOwnerUID:
		s.OwnerUID = v
	case PairingResHomeID:
		s.HomeID = v
	}
	return s
}

func setInt(s PairingState, id uint16, v int64) PairingState {
	switch {
	case id == PairingResBindState:
		s.State = BindState(v)
	case v == 0:
		s.BoundAt = time.Time{}
	default:
		s.BoundAt = time.Unix(v, 0).UTC()
	}
	return s
}
