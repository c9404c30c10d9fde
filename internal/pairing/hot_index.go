package pairing

import (
	"strconv"
	"sync"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
)

// hotIndex is what the device path reads, kept in memory: for each device
// this node has met, its ID and product (which never change), and on a
// single node also its live registration, whether it is bound, and whether
// an activation or a downlink may be waiting for it. The store stays the
// truth: the index is filled from it, and what the index does not know
// (a device provisioned by another process, a node that has just started)
// is read from the store and remembered.
//
// A device costs one hotDevice (in chunks, so that growing never copies a
// million of them) and an entry in each of three maps with integer or
// shared string keys; strings that many devices share (product IDs, object
// lists, versions, bindings) are kept once.
type hotIndex struct {
	mu     sync.RWMutex
	byIMEI map[uint64]uint32   // IMEI → slot; guarded by mu
	byID   map[string]uint32   // device ID → slot; guarded by mu
	byReg  map[uint64]uint32   // registration ID → slot; guarded by mu
	chunks [][]hotDevice       // slots; guarded by mu
	n      uint32              // slots in use; guarded by mu
	shared map[string]string   // interned strings; guarded by mu
	lists  map[string][]string // interned object lists by their joined text; guarded by mu
}

const hotChunk = 4096

// maxShared bounds the interned strings and object lists: what devices
// send (a binding, a list of objects) may take many values, and beyond the
// bound each device keeps its own.
const maxShared = 4096

// hotDevice is one device in the index. A "may" flag is a pair of
// counters: gen counts the writes that may have added something (an
// activation, a downlink), clear is the gen at which a store read found
// nothing; the flag is up while they differ. A read that races with a
// write cannot clear the flag: it clears to the gen it saw before reading.
type hotDevice struct {
	id, product string
	imei        uint64

	regKnown bool          // reg is what the store holds (nil: none)
	reg      *Registration // the live registration, objects interned

	bind    bindKnown
	bindGen uint32             // counts bind changes; a read fills bind only if unchanged
	owned   *wire.PairingState // a bound device's state, when bind is bindSome

	pendGen, pendClear uint32 // pending activations
	downGen, downClear uint32 // queued downlinks
}

// bindKnown is what the index knows of a device's owner.
type bindKnown uint8

const (
	bindUnknown bindKnown = iota
	bindNone              // unbound
	bindSome              // bound, with the state in owned
)

func newHotIndex() *hotIndex {
	return &hotIndex{byIMEI: map[uint64]uint32{}, byID: map[string]uint32{}, byReg: map[uint64]uint32{},
		shared: map[string]string{}, lists: map[string][]string{}}
}

// imeiKey is the IMEI as a number; ok is false for anything but 15 digits.
func imeiKey(imei string) (uint64, bool) {
	if len(imei) != 15 {
		return 0, false
	}
	n, err := strconv.ParseUint(imei, 10, 64)
	return n, err == nil
}

// regKey is a registration ID (13 characters of base32, 8 random bytes)
// as a number; ok is false for an ID of any other form.
func regKey(id string) (uint64, bool) {
	if len(id) != 13 {
		return 0, false
	}
	var b [8]byte
	if n, err := idEncoding.Decode(b[:], []byte(id)); err != nil || n != 8 {
		return 0, false
	}
	var k uint64
	for _, c := range b {
		k = k<<8 | uint64(c)
	}
	return k, true
}

// slot returns the device in slot i. The caller holds mu.
func (x *hotIndex) slot(i uint32) *hotDevice { return &x.chunks[i/hotChunk][i%hotChunk] }

// lookupID returns the slot of the device; the caller holds mu.
func (x *hotIndex) lookupID(id string) (*hotDevice, bool) {
	i, ok := x.byID[id]
	if !ok {
		return nil, false
	}
	return x.slot(i), true
}

// add puts a device in the index unless it is there already, and returns
// its slot. fresh is set for a device just created: nothing waits for it,
// it has no registration and no owner. The caller holds mu for writing.
func (x *hotIndex) add(d Device, fresh bool) *hotDevice {
	if h, ok := x.lookupID(d.ID); ok {
		return h
	}
	imei, ok := imeiKey(d.IMEI)
	if !ok {
		return nil
	}
	if x.n%hotChunk == 0 {
		x.chunks = append(x.chunks, make([]hotDevice, hotChunk))
	}
	i := x.n
	x.n++
	h := x.slot(i)
	*h = hotDevice{id: d.ID, product: x.intern(d.ProductID), imei: imei}
	if fresh {
		h.regKnown, h.bind = true, bindNone
	} else { // may have anything: read the store once
		h.pendGen, h.downGen = 1, 1
	}
	x.byIMEI[imei] = i
	x.byID[d.ID] = i
	return h
}

func (x *hotIndex) intern(s string) string {
	if v, ok := x.shared[s]; ok {
		return v
	}
	if len(x.shared) < maxShared {
		x.shared[s] = s
	}
	return s
}

// internObjects returns a list equal to objs that devices share.
func (x *hotIndex) internObjects(objs []string) []string {
	n := 0
	for _, o := range objs {
		n += len(o) + 1
	}
	key := make([]byte, 0, n)
	for _, o := range objs {
		key = append(append(key, o...), ',')
	}
	if v, ok := x.lists[string(key)]; ok {
		return v
	}
	if len(x.lists) >= maxShared {
		return objs
	}
	v := append([]string(nil), objs...)
	x.lists[string(key)] = v
	return v
}

// setReg records r as the device's live registration (nil: none). The
// caller holds mu for writing.
func (x *hotIndex) setReg(h *hotDevice, r *Registration) {
	if h.reg != nil {
		if k, ok := regKey(h.reg.ID); ok {
			delete(x.byReg, k)
		}
	}
	h.regKnown, h.reg = true, nil
	if r == nil {
		return
	}
	c := *r
	c.DeviceID, c.Objects = h.id, x.internObjects(r.Objects)
	c.Version, c.Binding = x.intern(c.Version), x.intern(c.Binding)
	h.reg = &c
	if k, ok := regKey(c.ID); ok {
		x.byReg[k] = x.byID[h.id]
	}
}

// mayPending and mayDownlinks report the flags; the caller holds mu.
func (h *hotDevice) mayPending() bool   { return h.pendGen != h.pendClear }
func (h *hotDevice) mayDownlinks() bool { return h.downGen != h.downClear }

// copyReg returns the device's registration for a caller to keep.
func (h *hotDevice) copyReg() Registration {
	r := *h.reg
	r.Objects = append([]string(nil), r.Objects...)
	return r
}
