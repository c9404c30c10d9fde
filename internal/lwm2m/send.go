package lwm2m

import (
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
	"github.com/nbpair/nbpair/internal/pairing"
)

// send handles an LwM2M 1.1 Send (POST /dp) of SenML JSON or CBOR. The one
// value nbpair acts on is the Pairing object's Reset resource; other
// records are accepted and ignored.
func (s *Server) send(w mux.ResponseWriter, r *mux.Message) error {
	body, err := r.ReadBody()
	if err != nil {
		return &coapError{codes.BadRequest, "unreadable payload"}
	}
	cf, err := r.ContentFormat()
	if err != nil {
		return &coapError{codes.BadRequest, "Send needs a Content-Format: SenML JSON (110) or SenML CBOR (112)"}
	}
	var records []wire.SenMLRecord
	switch cf {
	case wire.FormatSenMLJSON:
		records, err = wire.DecodeSenMLJSON(body)
	case wire.FormatSenMLCBOR:
		records, err = wire.DecodeSenMLCBOR(body)
	default:
		return &coapError{codes.UnsupportedMediaType, "Send must be SenML JSON (110) or SenML CBOR (112)"}
	}
	if err != nil {
		return err
	}
	kind, ok, err := wire.ResetRequest(records)
	if err != nil {
		return err
	}
	if ok {
		err = s.svc.RequestReset(r.Context(), pairing.ResetRequest{
			Kind: kind, Addr: w.Conn().RemoteAddr().String(), Peer: s.peer(w.Conn()),
		})
		if err != nil {
			return err
		}
	}
	return w.SetResponse(codes.Changed, message.TextPlain, nil)
}
