package device

import (
	"strconv"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
)

// PairingState is the content of the Pairing object (/33050/0): the
// device ID, bind state, owner and home the server wrote. It is an alias of
// the wire type so that programs outside this module can name it.
type PairingState = wire.PairingState

// BindState is the Pairing object's bind-state resource.
type BindState = wire.BindState

// The bind states the server writes.
const (
	// BindUnbound means registered, not bound to an account.
	BindUnbound = wire.BindUnbound
	// BindBound means bound; OwnerUID and HomeID say to whom.
	BindBound = wire.BindBound
	// BindResetRequested means the device asked to be reset.
	BindResetRequested = wire.BindResetRequested
)

// PairingObjectID is the LwM2M object ID of the Pairing object.
const PairingObjectID = wire.PairingObjectID

// maxWritePayload bounds a Write; the Pairing object is a few dozen bytes.
const maxWritePayload = 1024

// writeRefusal is why a Write is refused: a CoAP code and a diagnostic.
type writeRefusal struct {
	code codes.Code
	msg  string
}

// serveWrite answers a Write to the Pairing object: PUT replaces the
// instance (resources left out are reset), POST updates the resources it
// carries. Writing one resource, in TLV or text, updates just that one.
func (c *Client) serveWrite(w mux.ResponseWriter, r *mux.Message, p objectPath) {
	if ref := checkWritePath(c, r.Code(), p); ref != nil {
		reply(w, ref.code, ref.msg)
		return
	}
	payload, ref := writePayload(r, p)
	if ref != nil {
		reply(w, ref.code, ref.msg)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, base := c.pairing, c.pairing
	if r.Code() == codes.PUT && p.resource < 0 {
		base = wire.PairingState{}
	}
	next, err := wire.ApplyPairingTLV(base, payload)
	if err != nil {
		reply(w, codes.BadRequest, err.Error())
		return
	}
	_ = w.SetResponse(codes.Changed, message.TextPlain, nil)
	c.writes++
	if samePairing(prev, next) {
		return
	}
	c.pairing = next
	c.changedLocked()
	// Emitting under c.mu keeps the events of concurrent Writes in order.
	c.emit(Event{Kind: EventPairingChanged, Pairing: next, Previous: prev})
}

// checkWritePath refuses a Write to anything but /33050/0[/res].
func checkWritePath(c *Client, method codes.Code, p objectPath) *writeRefusal {
	if _, _, ok := c.instance(p.object); !ok || p.instance > 0 {
		return &writeRefusal{codes.NotFound, "no such object instance " + p.String()}
	}
	switch {
	case p.instance < 0:
		return &writeRefusal{codes.MethodNotAllowed, "Create and Write of a whole object are not supported"}
	case p.object != wire.PairingObjectID:
		return &writeRefusal{codes.MethodNotAllowed, "object " + strconv.Itoa(p.object) + " is read-only"}
	case method == codes.POST && p.resource >= 0:
		return &writeRefusal{codes.MethodNotAllowed, "resource " + p.String() + " cannot be executed"}
	case p.resource > wire.PairingResBoundAt:
		return &writeRefusal{codes.NotFound, "no such resource " + p.String()}
	}
	return nil
}

// writePayload returns the Write's payload as TLV, converting a text/plain
// write of a single resource.
func writePayload(r *mux.Message, p objectPath) ([]byte, *writeRefusal) {
	cf, err := r.Options().ContentFormat()
	if err != nil {
		return nil, &writeRefusal{codes.BadRequest, "a Write needs a Content-Format"}
	}
	if cf != formatTLV && (cf != formatText || p.resource < 0) {
		return nil, &writeRefusal{codes.UnsupportedMediaType,
			"content format " + strconv.Itoa(int(cf)) + " is not supported here: TLV (11542), or text (0) for one resource"}
	}
	body, err := r.ReadBody()
	switch {
	case err != nil:
		return nil, &writeRefusal{codes.BadRequest, "cannot read the payload: " + err.Error()}
	case len(body) > maxWritePayload:
		return nil, &writeRefusal{codes.RequestEntityTooLarge, "payload is larger than " + strconv.Itoa(maxWritePayload) + " bytes"}
	case cf == formatText:
		return textResource(uint16(p.resource), string(body))
	case p.resource >= 0:
		return body, checkSingleResource(body, uint16(p.resource))
	}
	return body, nil
}

// textResource encodes a text/plain value of a Pairing resource as TLV.
func textResource(id uint16, text string) ([]byte, *writeRefusal) {
	if id != wire.PairingResBindState && id != wire.PairingResBoundAt {
		return wire.AppendTLV(nil, wire.TLVString(id, text)), nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, &writeRefusal{codes.BadRequest, "resource " + strconv.Itoa(int(id)) + " is an integer, not " + strconv.Quote(text)}
	}
	return wire.AppendTLV(nil, wire.TLVInt(id, n)), nil
}

// checkSingleResource checks that a TLV Write to one resource holds that
// resource only.
func checkSingleResource(body []byte, id uint16) *writeRefusal {
	entries, err := wire.DecodeTLV(body)
	if err != nil {
		return &writeRefusal{codes.BadRequest, err.Error()}
	}
	if len(entries) != 1 || entries[0].Kind != wire.TLVResource || entries[0].ID != id {
		return &writeRefusal{codes.BadRequest, "a Write to resource " + strconv.Itoa(int(id)) + " must carry that resource only"}
	}
	return nil
}

// samePairing compares two states, times by instant.
func samePairing(a, b wire.PairingState) bool {
	return a.DeviceID == b.DeviceID && a.State == b.State && a.OwnerUID == b.OwnerUID &&
		a.HomeID == b.HomeID && a.BoundAt.Equal(b.BoundAt)
}
