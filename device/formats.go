package device

import (
	"fmt"
	"math"
	"strconv"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/wire"
)

// refusal is why a request is refused: a CoAP code and a diagnostic.
type refusal struct {
	code codes.Code
	msg  string
}

func refuse(code codes.Code, format string, args ...any) *refusal {
	return &refusal{code: code, msg: fmt.Sprintf(format, args...)}
}

// formatName names a content format for the device's request log.
func formatName(f message.MediaType) string {
	switch f {
	case formatText:
		return "text/plain"
	case formatTLV:
		return "TLV"
	case formatSenMLJSON:
		return "SenML JSON"
	case formatSenMLCBOR:
		return "SenML CBOR"
	case formatLinkFormat:
		return "link-format"
	}
	return "format " + strconv.Itoa(int(f))
}

// encodeRead encodes the values at p in the format the server accepts.
// Without an Accept option a resource is sent as text and an instance or
// object as TLV, the LwM2M 1.0 defaults every server reads.
func encodeRead(p objectPath, res []resource, accept message.MediaType, hasAccept bool) (message.MediaType, []byte, *refusal) {
	if !hasAccept {
		accept = formatTLV
		if p.resource >= 0 {
			accept = formatText
		}
	}
	switch accept {
	case formatText:
		if p.resource < 0 {
			return 0, nil, refuse(codes.NotAcceptable, "an object or instance cannot be read as text/plain")
		}
		return formatText, []byte(res[0].text()), nil
	case formatTLV:
		return formatTLV, encodeTLV(p, res), nil
	case formatSenMLJSON, formatSenMLCBOR:
		b, err := encodeSenML(p, res, accept)
		if err != nil {
			return 0, nil, refuse(codes.InternalServerError, "encode SenML: %v", err)
		}
		return accept, b, nil
	}
	return 0, nil, refuse(codes.NotAcceptable, "content format %d is not supported: text/plain (0), TLV (11542), SenML JSON (110), SenML CBOR (112)", accept)
}

// encodeTLV encodes a resource, an instance or (wrapped in an object
// instance entry) an object.
func encodeTLV(p objectPath, res []resource) []byte {
	entries := make([]wire.TLV, len(res))
	for i, r := range res {
		entries[i] = r.tlv()
	}
	if p.instance < 0 {
		return wire.AppendTLV(nil, wire.TLV{Kind: wire.TLVObjectInstance, Children: entries})
	}
	return wire.AppendTLV(nil, entries...)
}

// encodeSenML encodes the resources as SenML records named by their full
// path.
func encodeSenML(p objectPath, res []resource, format message.MediaType) ([]byte, error) {
	records := make([]wire.SenMLRecord, len(res))
	for i, r := range res {
		records[i].Name = objectPath{p.object, 0, int(r.id)}.String()
		if r.typ == typeString {
			s := r.str
			records[i].StringValue = &s
		} else {
			v := float64(r.num)
			records[i].Value = &v
		}
	}
	if format == formatSenMLJSON {
		return wire.EncodeSenMLJSON(records)
	}
	return wire.EncodeSenMLCBOR(records)
}

// decodeWrite decodes the payload of a Write to p into single-resource TLV
// entries, converting text/plain and SenML; defs are the resources of the
// object, which give the type of each value.
func decodeWrite(p objectPath, defs []resourceDef, format message.MediaType, body []byte) ([]wire.TLV, *refusal) {
	switch format {
	case formatTLV:
		return decodeTLVWrite(p, body)
	case formatText:
		if p.resource < 0 {
			return nil, refuse(codes.UnsupportedMediaType, "text/plain carries one resource, not %v", p)
		}
		e, ref := textValue(defOf(defs, uint16(p.resource)), string(body))
		if ref != nil {
			return nil, ref
		}
		return []wire.TLV{e}, nil
	case formatSenMLJSON, formatSenMLCBOR:
		return decodeSenMLWrite(p, defs, format, body)
	}
	return nil, refuse(codes.UnsupportedMediaType,
		"content format %d is not supported here: TLV (11542), SenML JSON (110), SenML CBOR (112), or text (0) for one resource", format)
}

// defOf returns the definition of resource id, or a string resource of
// that id when the object has none (the write is refused later).
func defOf(defs []resourceDef, id uint16) resourceDef {
	if d, ok := findDef(defs, id); ok {
		return d
	}
	return resourceDef{id: id, typ: typeString}
}

// decodeTLVWrite checks a TLV Write: single resources, optionally wrapped
// in one object instance entry, and only the named resource for a Write to
// a resource.
func decodeTLVWrite(p objectPath, body []byte) ([]wire.TLV, *refusal) {
	entries, err := wire.DecodeTLV(body)
	if err != nil {
		return nil, refuse(codes.BadRequest, "%v", err)
	}
	if len(entries) == 1 && entries[0].Kind == wire.TLVObjectInstance && p.resource < 0 {
		if entries[0].ID != 0 {
			return nil, refuse(codes.NotFound, "no such object instance /%d/%d", p.object, entries[0].ID)
		}
		entries = entries[0].Children
	}
	for _, e := range entries {
		if e.Kind != wire.TLVResource {
			return nil, refuse(codes.BadRequest, "entry %d of kind %d is not a single resource", e.ID, e.Kind)
		}
	}
	if p.resource >= 0 && (len(entries) != 1 || int(entries[0].ID) != p.resource) {
		return nil, refuse(codes.BadRequest, "a Write to resource %v must carry that resource only", p)
	}
	return entries, nil
}

// textValue converts a text/plain value to a TLV entry of the resource's
// type.
func textValue(d resourceDef, text string) (wire.TLV, *refusal) {
	if d.typ == typeString {
		return wire.TLVString(d.id, text), nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return wire.TLV{}, refuse(codes.BadRequest, "resource %d is an integer, not %q", d.id, text)
	}
	return wire.TLVInt(d.id, n), nil
}

// decodeSenMLWrite converts the records of a SenML Write into TLV entries:
// each record must name a resource under p and carry a value of its type.
func decodeSenMLWrite(p objectPath, defs []resourceDef, format message.MediaType, body []byte) ([]wire.TLV, *refusal) {
	var records []wire.SenMLRecord
	var err error
	if format == formatSenMLJSON {
		records, err = wire.DecodeSenMLJSON(body)
	} else {
		records, err = wire.DecodeSenMLCBOR(body)
	}
	if err != nil {
		return nil, refuse(codes.BadRequest, "%v", err)
	}
	entries := make([]wire.TLV, 0, len(records))
	for _, r := range records {
		e, ref := senMLValue(p, defs, r)
		if ref != nil {
			return nil, ref
		}
		entries = append(entries, e)
	}
	if p.resource >= 0 && len(entries) != 1 {
		return nil, refuse(codes.BadRequest, "a Write to resource %v must carry that resource only", p)
	}
	return entries, nil
}

// senMLValue converts one SenML record of a Write to p into a TLV entry.
func senMLValue(p objectPath, defs []resourceDef, r wire.SenMLRecord) (wire.TLV, *refusal) {
	rp, ok := parseObjectPath(r.Name)
	switch {
	case !ok || rp.resource < 0:
		return wire.TLV{}, refuse(codes.BadRequest, "SenML name %q is not a resource path", r.Name)
	case rp.object != p.object || rp.instance != max(p.instance, 0) || p.resource >= 0 && rp.resource != p.resource:
		return wire.TLV{}, refuse(codes.BadRequest, "SenML name %q is not under %v", r.Name, p)
	}
	d := defOf(defs, uint16(rp.resource))
	if d.typ == typeString {
		if r.StringValue == nil {
			return wire.TLV{}, refuse(codes.BadRequest, "%s is a string resource: want vs", r.Name)
		}
		return wire.TLVString(d.id, *r.StringValue), nil
	}
	if r.Value == nil || *r.Value != math.Trunc(*r.Value) || math.Abs(*r.Value) > 1<<53 {
		return wire.TLV{}, refuse(codes.BadRequest, "%s is an integer resource: want an integral v", r.Name)
	}
	return wire.TLVInt(d.id, int64(*r.Value)), nil
}
