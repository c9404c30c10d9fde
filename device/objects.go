package device

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
)

// Objects the device implements besides the Pairing object.
const (
	serverObjectID = 1
	deviceObjectID = 3
)

// LwM2M content formats the device reads and writes.
const (
	formatText = message.MediaType(wire.FormatText)
	formatTLV  = message.MediaType(wire.FormatTLV)
)

// objectPath is a request path /object[/instance[/resource]]; absent parts
// are -1.
type objectPath struct {
	object, instance, resource int
}

func (p objectPath) String() string {
	s := "/" + strconv.Itoa(p.object)
	for _, n := range []int{p.instance, p.resource} {
		if n >= 0 {
			s += "/" + strconv.Itoa(n)
		}
	}
	return s
}

// parseObjectPath parses "/3/0/1"; ok is false for anything deeper or not
// numeric.
func parseObjectPath(path string) (p objectPath, ok bool) {
	p = objectPath{-1, -1, -1}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) > 3 {
		return p, false
	}
	ids := []*int{&p.object, &p.instance, &p.resource}
	for i, s := range parts {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 65535 {
			return p, false
		}
		*ids[i] = int(n)
	}
	return p, true
}

// resource is one single-instance resource value of an object instance.
type resource struct {
	id    uint16
	str   string
	num   int64
	isNum bool
}

func strRes(id uint16, s string) resource { return resource{id: id, str: s} }
func numRes(id uint16, n int64) resource  { return resource{id: id, num: n, isNum: true} }

func (r resource) tlv() wire.TLV {
	if r.isNum {
		return wire.TLVInt(r.id, r.num)
	}
	return wire.TLVString(r.id, r.str)
}

func (r resource) text() string {
	if r.isNum {
		return strconv.FormatInt(r.num, 10)
	}
	return r.str
}

// instance returns the resources of object instance /object/0 and the TLV
// encoding of the whole instance; ok is false for an object the device
// does not have.
func (c *Client) instance(object int) (res []resource, encoded []byte, ok bool) {
	switch {
	case object == serverObjectID:
		res = []resource{
			numRes(0, 1), // short server ID
			numRes(1, int64(c.cfg.lifetimeSeconds())),
			strRes(7, c.cfg.binding()),
		}
	case object == deviceObjectID:
		res = []resource{
			strRes(0, c.cfg.Manufacturer),
			strRes(1, c.cfg.Model),
			strRes(2, c.cfg.SerialNumber),
			strRes(3, c.cfg.FirmwareVersion),
		}
	case object == wire.PairingObjectID && !c.cfg.WithoutPairingObject:
		s := c.Pairing()
		return pairingResources(s), wire.EncodePairingTLV(s), true
	default:
		return nil, nil, false
	}
	entries := make([]wire.TLV, len(res))
	for i, r := range res {
		entries[i] = r.tlv()
	}
	return res, wire.AppendTLV(nil, entries...), true
}

// pairingResources lists the Pairing object as EncodePairingTLV encodes it.
func pairingResources(s wire.PairingState) []resource {
	var boundAt int64
	if !s.BoundAt.IsZero() {
		boundAt = s.BoundAt.Unix()
	}
	return []resource{
		strRes(wire.PairingResDeviceID, s.DeviceID),
		numRes(wire.PairingResBindState, int64(s.State)),
		strRes(wire.PairingResOwnerUID, s.OwnerUID),
		strRes(wire.PairingResHomeID, s.HomeID),
		numRes(wire.PairingResBoundAt, boundAt),
	}
}

// serveCOAP answers the server's requests: Read and Write.
func (c *Client) serveCOAP(w mux.ResponseWriter, r *mux.Message) {
	c.stayAwake()
	path, _ := r.Options().Path()
	p, ok := parseObjectPath(path)
	c.log.Debug("server request", "method", r.Code().String(), "path", path)
	switch {
	case !ok:
		reply(w, codes.NotFound, "no such object")
	case r.Code() == codes.GET:
		c.serveRead(w, r, p)
	case r.Code() == codes.PUT || r.Code() == codes.POST:
		c.serveWrite(w, r, p)
	default:
		reply(w, codes.MethodNotAllowed, r.Code().String()+" is not supported")
	}
}

// stayAwake restarts the awake time in queue mode: the device answered the
// server, so it stays reachable a while longer.
func (c *Client) stayAwake() {
	if !c.cfg.QueueMode {
		return
	}
	until := time.Now().Add(c.cfg.AwakeTime)
	c.mu.Lock()
	if until.After(c.awakeUntil) {
		c.awakeUntil = until
	}
	c.mu.Unlock()
	c.rescheduled()
}

// serveRead answers a Read of an object, an instance or a resource.
func (c *Client) serveRead(w mux.ResponseWriter, r *mux.Message, p objectPath) {
	res, encoded, ok := c.instance(p.object)
	if !ok || p.instance > 0 {
		reply(w, codes.NotFound, "no such object instance "+p.String())
		return
	}
	accept, err := r.Options().Accept()
	hasAccept := err == nil
	if p.resource < 0 {
		if hasAccept && accept != formatTLV {
			reply(w, codes.NotAcceptable, "an object or instance is read as TLV (11542) only")
			return
		}
		if p.instance < 0 {
			encoded = wire.AppendTLV(nil, wire.TLV{Kind: wire.TLVObjectInstance, Children: mustDecode(encoded)})
		}
		_ = w.SetResponse(codes.Content, formatTLV, bytes.NewReader(encoded))
		return
	}
	c.serveReadResource(w, res, p, accept, hasAccept)
}

func (c *Client) serveReadResource(w mux.ResponseWriter, res []resource, p objectPath, accept message.MediaType, hasAccept bool) {
	for _, v := range res {
		if int(v.id) != p.resource {
			continue
		}
		switch {
		case !hasAccept || accept == formatText:
			_ = w.SetResponse(codes.Content, formatText, strings.NewReader(v.text()))
		case accept == formatTLV:
			_ = w.SetResponse(codes.Content, formatTLV, bytes.NewReader(wire.AppendTLV(nil, v.tlv())))
		default:
			reply(w, codes.NotAcceptable, "a resource is read as text (0) or TLV (11542)")
		}
		return
	}
	reply(w, codes.NotFound, "no such resource "+p.String())
}

// mustDecode decodes TLV the device encoded itself.
func mustDecode(b []byte) []wire.TLV {
	entries, err := wire.DecodeTLV(b)
	if err != nil {
		panic(fmt.Sprintf("device: own TLV does not decode: %v", err))
	}
	return entries
}

// reply answers with a code and a diagnostic payload.
func reply(w mux.ResponseWriter, code codes.Code, diagnostic string) {
	_ = w.SetResponse(code, message.TextPlain, strings.NewReader(diagnostic))
}
