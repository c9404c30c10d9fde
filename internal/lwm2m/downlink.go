package lwm2m

import (
	"context"
	"fmt"
	"strconv"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// pairingPath is the one instance of the Pairing object.
var pairingPath = "/" + strconv.Itoa(wire.PairingObjectID) + "/0"

// WritePairing implements pairing.Downlinker: a confirmable LwM2M Write
// (replace) of the Pairing object instance to the device's current
// address, in the first of formats the device accepts. SenML JSON, SenML
// CBOR and TLV carry the instance in one PUT /33050/0; text/plain takes
// one PUT /33050/0/<resource> per resource. A 4.06 or 4.15 moves on to the
// next format at once (so does 4.00, see verdictOf).
func (s *Server) WritePairing(ctx context.Context, r pairing.Registration, st wire.PairingState, formats []int) (pairing.WriteResult, error) {
	var res pairing.WriteResult
	if !r.HasObject(wire.PairingObjectID) {
		return res, fmt.Errorf("%w: %s did not announce object %d", pairing.ErrObjectMissing, r.Endpoint, wire.PairingObjectID)
	}
	for _, cf := range formats {
		code, err := s.writePairingAs(ctx, r, st, cf)
		if err != nil {
			return res, err
		}
		switch verdictOf(code) {
		case accepted:
			res.Format = cf
			return res, nil
		case formatRefused:
			res.Refused = append(res.Refused, cf)
		case objectMissing:
			return res, fmt.Errorf("%w: %s answered 4.04 to a write of %s", pairing.ErrObjectMissing, r.Endpoint, pairingPath)
		case refused:
			return res, fmt.Errorf("%w: %s answered %v to a write of %s as %s", pairing.ErrDownlinkRefused, r.Endpoint, code,
				pairingPath, wire.FormatName(cf))
		default:
			return res, fmt.Errorf("write %s to %s: device answered %v", pairingPath, r.Addr, code)
		}
	}
	return res, fmt.Errorf("%w: %s refused every format it was offered (%d)", pairing.ErrDownlinkRefused, r.Endpoint, len(formats))
}

// verdict is what a device's answer to a write means for the downlink.
type verdict int

const (
	accepted      verdict = iota // 2.xx
	formatRefused                // try the next format
	objectMissing                // 4.04: the device lacks the object
	refused                      // another 4.xx: the write can never succeed
	transient                    // 5.xx and anything else: it may pass
)

// verdictOf judges a response code. 4.06 Not Acceptable and 4.15
// Unsupported Content-Format refuse the format; so does 4.00 Bad Request,
// which some stacks answer to a payload they cannot parse.
func verdictOf(code codes.Code) verdict {
	switch {
	case class(code) == 2:
		return accepted
	case code == codes.NotAcceptable || code == codes.UnsupportedMediaType || code == codes.BadRequest:
		return formatRefused
	case code == codes.NotFound:
		return objectMissing
	case class(code) == 4:
		return refused
	}
	return transient
}

// writePairingAs writes the state in one format and returns the device's
// answer: for text, the first answer that is not a success, else the last.
func (s *Server) writePairingAs(ctx context.Context, r pairing.Registration, st wire.PairingState, cf int) (codes.Code, error) {
	if cf != wire.FormatText {
		body, err := wire.EncodePairing(st, cf)
		if err != nil {
			// A state this format cannot carry (SenML wants UTF-8 text):
			// as good as refused, so the next format is tried.
			s.log.Warn("the Pairing object cannot be encoded in this format", "endpoint", r.Endpoint,
				"format", wire.FormatName(cf), "err", err)
			return codes.NotAcceptable, nil
		}
		return s.put(ctx, r, pairingPath, message.MediaType(cf), body)
	}
	var code codes.Code
	for _, res := range wire.PairingText(st) {
		var err error
		if code, err = s.put(ctx, r, res.Path(), message.TextPlain, res.Body); err != nil || class(code) != 2 {
			return code, err
		}
	}
	return code, nil
}

// class is a response code's class: 2 for success, 4 for a client error,
// 5 for a server error.
func class(c codes.Code) int { return int(c) >> 5 }
