package device

import (
	"strconv"
	"strings"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"

	"github.com/nbpair/nbpair/internal/wire"
)

// Objects the device implements besides the Pairing object.
const (
	serverObjectID = 1
	deviceObjectID = 3
)

// Executable resources the device implements.
const (
	// PathReboot is the Device object's Reboot resource; an Execute of it
	// is reported as EventRebootRequested.
	PathReboot = "/3/0/4"
	// PathFactoryReset is the Device object's Factory Reset resource; an
	// Execute of it is reported as EventFactoryResetRequested.
	PathFactoryReset = "/3/0/5"
	// PathUpdateTrigger is the Server object's Registration Update
	// Trigger; an Execute of it makes the device send an Update at once.
	PathUpdateTrigger = "/1/0/8"
)

// LwM2M content formats the device reads and writes.
const (
	formatText       = message.MediaType(wire.FormatText)
	formatTLV        = message.MediaType(wire.FormatTLV)
	formatLinkFormat = message.MediaType(40) // application/link-format
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

// ops are the operations a resource allows.
type ops uint8

const (
	opRead ops = 1 << iota
	opWrite
	opExecute
)

// valueType is the LwM2M data type of a resource.
type valueType uint8

const (
	typeString valueType = iota
	typeInt
	typeTime
	typeNone // executable resources have no value
)

// resourceDef describes one single-instance resource.
type resourceDef struct {
	id  uint16
	ops ops
	typ valueType
}

// The resources of each object the device implements, by object ID, in
// ascending resource ID.
var objectDefs = map[int][]resourceDef{
	serverObjectID: {
		{0, opRead, typeInt},     // Short Server ID
		{1, opRead, typeInt},     // Lifetime
		{7, opRead, typeString},  // Binding
		{8, opExecute, typeNone}, // Registration Update Trigger
	},
	deviceObjectID: {
		{0, opRead, typeString},  // Manufacturer
		{1, opRead, typeString},  // Model Number
		{2, opRead, typeString},  // Serial Number
		{3, opRead, typeString},  // Firmware Version
		{4, opExecute, typeNone}, // Reboot
		{5, opExecute, typeNone}, // Factory Reset
		{13, opRead, typeTime},   // Current Time
		{16, opRead, typeString}, // Supported Binding and Modes
	},
	wire.PairingObjectID: {
		{wire.PairingResDeviceID, opRead | opWrite, typeString},
		{wire.PairingResBindState, opRead | opWrite, typeInt},
		{wire.PairingResOwnerUID, opRead | opWrite, typeString},
		{wire.PairingResHomeID, opRead | opWrite, typeString},
		{wire.PairingResBoundAt, opRead | opWrite, typeTime},
	},
}

// objectIDs lists the objects in the order Register announces them.
var objectIDs = []int{serverObjectID, deviceObjectID, wire.PairingObjectID}

// hasObject reports whether the device implements the object.
func (c *Client) hasObject(object int) bool {
	_, ok := objectDefs[object]
	return ok && (object != wire.PairingObjectID || !c.cfg.WithoutPairingObject)
}

// lookup finds the definitions a path names: ok is false when the device
// has no such object, instance (only instance 0 exists) or resource. For a
// path without a resource, res is the zero value.
func (c *Client) lookup(p objectPath) (defs []resourceDef, res resourceDef, ok bool) {
	if !c.hasObject(p.object) || p.instance > 0 {
		return nil, res, false
	}
	defs = objectDefs[p.object]
	if p.resource < 0 {
		return defs, res, true
	}
	for _, d := range defs {
		if int(d.id) == p.resource {
			return defs, d, true
		}
	}
	return defs, res, false
}

// resource is one single-instance resource value of an object instance.
type resource struct {
	id  uint16
	typ valueType
	str string
	num int64
}

func strRes(id uint16, s string) resource { return resource{id: id, typ: typeString, str: s} }
func numRes(id uint16, n int64) resource  { return resource{id: id, typ: typeInt, num: n} }
func timeRes(id uint16, t time.Time) resource {
	var n int64
	if !t.IsZero() {
		n = t.Unix()
	}
	return resource{id: id, typ: typeTime, num: n}
}

func (r resource) tlv() wire.TLV {
	if r.typ == typeString {
		return wire.TLVString(r.id, r.str)
	}
	return wire.TLVInt(r.id, r.num)
}

func (r resource) text() string {
	if r.typ == typeString {
		return r.str
	}
	return strconv.FormatInt(r.num, 10)
}

// values returns the readable resources of /object/0 with their current
// values; ok is false for an object the device does not have.
func (c *Client) values(object int) (res []resource, ok bool) {
	if !c.hasObject(object) {
		return nil, false
	}
	switch object {
	case serverObjectID:
		return []resource{
			numRes(0, 1), // short server ID
			numRes(1, int64(c.cfg.lifetimeSeconds())),
			strRes(7, c.cfg.binding()),
		}, true
	case deviceObjectID:
		return []resource{
			strRes(0, c.cfg.Manufacturer),
			strRes(1, c.cfg.Model),
			strRes(2, c.cfg.SerialNumber),
			strRes(3, c.cfg.FirmwareVersion),
			timeRes(13, time.Now()),
			strRes(16, c.cfg.binding()),
		}, true
	}
	return pairingResources(c.Pairing()), true
}

// pairingResources lists the Pairing object as wire.EncodePairingTLV
// encodes it.
func pairingResources(s wire.PairingState) []resource {
	return []resource{
		strRes(wire.PairingResDeviceID, s.DeviceID),
		numRes(wire.PairingResBindState, int64(s.State)),
		strRes(wire.PairingResOwnerUID, s.OwnerUID),
		strRes(wire.PairingResHomeID, s.HomeID),
		timeRes(wire.PairingResBoundAt, s.BoundAt),
	}
}

// selectValues returns the values a path names: all readable resources of
// the instance, or the one resource. ok is false when nothing readable is
// there.
func (c *Client) selectValues(p objectPath) ([]resource, bool) {
	res, ok := c.values(p.object)
	if !ok || p.instance > 0 {
		return nil, false
	}
	if p.resource < 0 {
		return res, true
	}
	for _, r := range res {
		if int(r.id) == p.resource {
			return []resource{r}, true
		}
	}
	return nil, false
}
