package lwm2m

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

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
	cc, err := s.downlinkConn(r)
	if err != nil {
		return err
	}
	resp, err := cc.Put(ctx, pairingPath, message.MediaType(wire.FormatTLV), bytes.NewReader(wire.EncodePairingTLV(st)))
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", pairingPath, r.Addr, err)
	}
	defer cc.ReleaseMessage(resp)
	switch resp.Code() {
	case codes.Changed:
		return nil
	case codes.NotFound:
		return fmt.Errorf("%w: %s answered 4.04 to a write of %s", pairing.ErrObjectMissing, r.Endpoint, pairingPath)
	}
	return fmt.Errorf("write %s to %s: device answered %v", pairingPath, r.Addr, resp.Code())
}

// downlinkConn is the connection a downlink to r goes out on: the DTLS
// session the device was last heard on if it registered over DTLS (never
// plain CoAP), else a UDP connection to its current address.
func (s *Server) downlinkConn(r pairing.Registration) (mux.Conn, error) {
	if !r.Secure {
		return s.conn(r.Addr)
	}
	cc, ok := s.sessions.get(r.Endpoint)
	if !ok {
		return nil, fmt.Errorf("%s registered over DTLS and its session has ended; the write waits for its next uplink", r.Endpoint)
	}
	return cc, nil
}
