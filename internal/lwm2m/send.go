package lwm2m

import (
	"context"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// send handles an LwM2M 1.1 Send (POST /dp) of SenML JSON or CBOR. The one
// value nbpair acts on is the Pairing object's Reset resource; other
// records are accepted and ignored.
func (s *Server) send(ctx context.Context, r *request) (response, error) {
	if !r.hasFormat {
		return response{}, &coapError{codes.BadRequest, "Send needs a Content-Format: SenML JSON (110) or SenML CBOR (112)"}
	}
	var records []wire.SenMLRecord
	var err error
	switch r.format {
	case wire.FormatSenMLJSON:
		records, err = wire.DecodeSenMLJSON(r.body)
	case wire.FormatSenMLCBOR:
		records, err = wire.DecodeSenMLCBOR(r.body)
	default:
		return response{}, &coapError{codes.UnsupportedMediaType, "Send must be SenML JSON (110) or SenML CBOR (112)"}
	}
	if err != nil {
		return response{}, err
	}
	kind, ok, err := wire.ResetRequest(records)
	if err != nil {
		return response{}, err
	}
	if ok {
		err = s.svc.RequestReset(ctx, pairing.ResetRequest{Kind: kind, Addr: r.addr, Peer: r.peer})
		if err != nil {
			return response{}, err
		}
	}
	return response{code: codes.Changed}, nil
}
