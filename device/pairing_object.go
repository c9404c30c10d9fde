package device

import (
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/nbpair/nbpair/internal/wire"
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

// serveWrite answers a Write to the Pairing object: PUT replaces the
// instance (resources left out are reset), POST updates the resources it
// carries. Writing one resource updates just that one. The payload may be
// TLV, SenML JSON, SenML CBOR, or text/plain for one resource.
func (c *Client) serveWrite(w mux.ResponseWriter, r *mux.Message, p objectPath) {
	entries, ref := c.writeEntries(r, p)
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
	next, err := wire.ApplyPairingTLV(base, wire.AppendTLV(nil, entries...))
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
	c.valuesChanged()
	// Emitting under c.mu keeps the events of concurrent Writes in order.
	c.emit(Event{Kind: EventPairingChanged, Pairing: next, Previous: prev})
}

// writeEntries checks the path of a Write and decodes its payload into
// resource entries that may all be written.
func (c *Client) writeEntries(r *mux.Message, p objectPath) ([]wire.TLV, *refusal) {
	defs, def, ok := c.lookup(p)
	switch {
	case !ok:
		return nil, refuse(codes.NotFound, "no such object instance or resource %v", p)
	case p.instance < 0:
		return nil, refuse(codes.MethodNotAllowed, "Create and Write of a whole object are not supported")
	case p.object != wire.PairingObjectID:
		return nil, refuse(codes.MethodNotAllowed, "object %d is read-only", p.object)
	case p.resource >= 0 && def.ops&opWrite == 0:
		return nil, refuse(codes.MethodNotAllowed, "resource %v is not writable", p)
	}
	payload, ref := writePayload(r)
	if ref != nil {
		return nil, ref
	}
	entries, ref := decodeWrite(p, defs, payload.format, payload.body)
	if ref != nil {
		return nil, ref
	}
	for _, e := range entries {
		d, known := findDef(defs, e.ID)
		switch {
		case !known:
			return nil, refuse(codes.BadRequest, "object %d has no resource %d", p.object, e.ID)
		case d.ops&opWrite == 0:
			return nil, refuse(codes.MethodNotAllowed, "resource /%d/0/%d is not writable", p.object, e.ID)
		}
	}
	return entries, nil
}

// findDef returns the definition of resource id among defs.
func findDef(defs []resourceDef, id uint16) (resourceDef, bool) {
	for _, d := range defs {
		if d.id == id {
			return d, true
		}
	}
	return resourceDef{}, false
}

// payload is the body of a Write and its content format.
type payload struct {
	format message.MediaType
	body   []byte
}

// writePayload reads the Write's content format and payload, bounded by
// maxWritePayload.
func writePayload(r *mux.Message) (payload, *refusal) {
	cf, err := r.Options().ContentFormat()
	if err != nil {
		return payload{}, refuse(codes.BadRequest, "a Write needs a Content-Format")
	}
	if size, err := r.BodySize(); err == nil && size > maxWritePayload {
		return payload{}, refuse(codes.RequestEntityTooLarge, "payload is larger than %d bytes", maxWritePayload)
	}
	body, err := r.ReadBody()
	switch {
	case err != nil:
		return payload{}, refuse(codes.BadRequest, "cannot read the payload: %v", err)
	case len(body) > maxWritePayload:
		return payload{}, refuse(codes.RequestEntityTooLarge, "payload is larger than %d bytes", maxWritePayload)
	}
	return payload{format: cf, body: body}, nil
}

// samePairing compares two states, times by instant.
func samePairing(a, b wire.PairingState) bool {
	return a.DeviceID == b.DeviceID && a.State == b.State && a.OwnerUID == b.OwnerUID &&
		a.HomeID == b.HomeID && a.BoundAt.Equal(b.BoundAt)
}
