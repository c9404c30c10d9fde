package lwm2m

import (
	"context"
	"fmt"
	"strconv"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
	"github.com/nbpair/nbpair/internal/pairing"
)

// pairingPath is the one instance of the Pairing object.
var pairingPath = "/" + strconv.Itoa(wire.PairingObjectID) + "/0"

// WritePairing implements pairing.Downlinker: a confirmable LwM2M Write
// (replace) of the Pairing object instance, TLV encoded, to the device's
// current address, over DTLS for a device that registered over DTLS.
func (s *Server) WritePairing(ctx context.Context, r pairing.Registration, st wire.PairingState) error {
	if !r.HasObject(wire.PairingObjectID) {
		return fmt.Errorf("%w: %s did not announce object %d", pairing.ErrObjectMissing, r.Endpoint, wire.PairingObjectID)
	}
	code, err := s.put(ctx, r, pairingPath, message.MediaType(wire.FormatTLV), wire.EncodePairingTLV(st))
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", pairingPath, r.Addr, err)
	}
	switch code {
	case codes.Changed:
		return nil
	case codes.NotFound:
		return fmt.Errorf("%w: %s answered 4.04 to a write of %s", pairing.ErrObjectMissing, r.Endpoint, pairingPath)
	}
	return fmt.Errorf("write %s to %s: device answered %v", pairingPath, r.Addr, code)
}
