package pairing

import (
	"encoding/binary"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
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
// fixed-size keys. Its registration is kept inline in a packed form
// (hotReg); strings that many devices share (product IDs, object lists,
// versions, bindings, content formats) are kept once and numbered. What
// does not fit the packed form (an ID of another form, a value beyond the
// bound of shared strings, a time that is not UTC) is kept whole on the
// side, so the index gives back exactly what it was given.
type hotIndex struct {
	mu     sync.RWMutex
	byIMEI map[uint64]uint32   // IMEI → slot; guarded by mu
	byID   map[[10]byte]uint32 // device ID (of newDeviceID's form) → slot; guarded by mu
	byName map[string]uint32   // device ID of any other form → slot; guarded by mu
	names  map[uint32]string   // slot → device ID of another form; guarded by mu
	others map[uint32]string   // slot → product ID beyond the shared ones; guarded by mu
	byReg  map[uint64]uint32   // registration ID → slot; guarded by mu
	chunks [][]hotDevice       // slots; guarded by mu
	n      uint32              // slots in use; guarded by mu

	strs    []string          // shared strings by number; guarded by mu
	strNum  map[string]uint16 // number of each shared string; guarded by mu
	lists   [][]string        // shared object lists by number; guarded by mu
	listNum map[string]uint16 // number of each shared list, by its encoding; guarded by mu

	ext map[uint32]*Registration // slot → a registration that does not pack; guarded by mu
}

const hotChunk = 4096

// maxShared bounds the shared strings and object lists: what devices send
// (a binding, a list of objects) may take many values, and beyond the
// bound each device keeps its own.
const maxShared = 4096

// hotDevice is one device in the index. A "may" flag is a pair of
// counters: gen counts the writes that may have added something (an
// activation, a downlink), clear is the gen at which a store read found
// nothing; the flag is up while they differ. A read that races with a
// write cannot clear the flag: it clears to the gen it saw before reading.
type hotDevice struct {
	id    [10]byte // the device ID's random bytes, when devPacked
	flags devFlags
	bind  bindKnown
	slot  uint32 // where the device is
	// product is the number of the device's product ID among the shared
	// strings, unless devProductExt (then others has it).
	product uint16

	bindGen            uint32 // counts bind changes; a read fills bind only if unchanged
	pendGen, pendClear uint32 // pending activations
	downGen, downClear uint32 // queued downlinks

	imei  uint64
	owned *wire.PairingState // a bound device's state, when bind is bindSome

	reg hotReg // the live registration, when devHasReg and not devRegExt
}

// devFlags says what a hotDevice holds.
type devFlags uint8

const (
	devPacked     devFlags = 1 << iota // id holds the device ID; else names has it
	devRegKnown                        // the registration is what the store holds (devHasReg unset: none)
	devHasReg                          // the device has a live registration
	devRegExt                          // it is in ext, not in reg
	devProductExt                      // others has the product ID
)

// hotReg is a registration packed: its ID as regKey gives it, its endpoint
// the device's "urn:imei:" endpoint, its device the index's, times in UTC
// as Unix nanoseconds (noTime: the zero time), the address as IP and port,
// and shared strings and lists by number.
type hotReg struct {
	key                       uint64
	registered, seen, expires int64
	ip                        [16]byte
	port                      uint16
	version, binding, format  uint16
	objects                   uint16
	lifetime                  int32
	flags                     regFlags
}

// regFlags are a packed registration's booleans and the kind of address.
type regFlags uint8

const (
	regQueue  regFlags = 1 << iota // QueueMode
	regSecure                      // Secure
	regAddr4                       // an IPv4 address and port
	regAddr6                       // an IPv6 address and port; neither: no address
)

// noTime stands for the zero time.Time in a packed registration.
const noTime = math.MinInt64

// bindKnown is what the index knows of a device's owner.
type bindKnown uint8

const (
	bindUnknown bindKnown = iota
	bindNone              // unbound
	bindSome              // bound, with the state in owned
)

func newHotIndex() *hotIndex {
	return &hotIndex{byIMEI: map[uint64]uint32{}, byID: map[[10]byte]uint32{}, byName: map[string]uint32{},
		names: map[uint32]string{}, others: map[uint32]string{}, byReg: map[uint64]uint32{}, strNum: map[string]uint16{},
		listNum: map[string]uint16{}, ext: map[uint32]*Registration{}}
}

// imeiKey is the IMEI as a number; ok is false for anything but 15 digits.
func imeiKey(imei string) (uint64, bool) {
	if len(imei) != 15 {
		return 0, false
	}
	n, err := strconv.ParseUint(imei, 10, 64)
	return n, err == nil
}

// regKey is a registration ID (13 characters of base32, 8 random bytes,
// as newRegistrationID makes it) as a number; ok is false for an ID of any
// other form, so that regID(k) gives back exactly the ID.
func regKey(id string) (uint64, bool) {
	if len(id) != 13 {
		return 0, false
	}
	var b [8]byte
	if n, err := idEncoding.Decode(b[:], []byte(id)); err != nil || n != 8 {
		return 0, false
	}
	var again [13]byte
	if idEncoding.Encode(again[:], b[:]); string(again[:]) != id {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[:]), true
}

// regID is the registration ID whose key is k.
func regID(k uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k)
	var id [13]byte
	idEncoding.Encode(id[:], b[:])
	return string(id[:])
}

// deviceKey is the random part of a device ID of newDeviceID's form; ok
// is false for an ID of any other form.
func deviceKey(id string) ([10]byte, bool) {
	var b [10]byte
	if len(id) != 20 || id[:4] != "dev_" {
		return b, false
	}
	if n, err := idEncoding.Decode(b[:], []byte(id[4:])); err != nil || n != 10 {
		return b, false
	}
	var again [16]byte
	if idEncoding.Encode(again[:], b[:]); string(again[:]) != id[4:] {
		return b, false
	}
	return b, true
}

// slot returns the device in slot i. The caller holds mu.
func (x *hotIndex) slot(i uint32) *hotDevice { return &x.chunks[i/hotChunk][i%hotChunk] }

// lookupID returns the slot of the device; the caller holds mu.
func (x *hotIndex) lookupID(id string) (*hotDevice, bool) {
	var i uint32
	var ok bool
	if k, packed := deviceKey(id); packed {
		i, ok = x.byID[k]
	} else {
		i, ok = x.byName[id]
	}
	if !ok {
		return nil, false
	}
	return x.slot(i), true
}

// deviceID returns the device's ID; the caller holds mu.
func (x *hotIndex) deviceID(h *hotDevice) string {
	if h.flags&devPacked != 0 {
		id := [20]byte{'d', 'e', 'v', '_'}
		idEncoding.Encode(id[4:], h.id[:])
		return string(id[:])
	}
	return x.names[h.slot]
}

// productID returns the device's product ID; the caller holds mu.
func (x *hotIndex) productID(h *hotDevice) string {
	if h.flags&devProductExt != 0 {
		return x.others[h.slot]
	}
	return x.strs[h.product]
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
	*h = hotDevice{slot: i, imei: imei}
	if n, ok := x.share(d.ProductID); ok {
		h.product = n
	} else {
		h.flags |= devProductExt
		x.others[i] = d.ProductID
	}
	if k, packed := deviceKey(d.ID); packed {
		h.id = k
		h.flags |= devPacked
		x.byID[k] = i
	} else {
		x.byName[d.ID] = i
		x.names[i] = d.ID
	}
	if fresh {
		h.flags |= devRegKnown
		h.bind = bindNone
	} else { // may have anything: read the store once
		h.pendGen, h.downGen = 1, 1
	}
	x.byIMEI[imei] = i
	return h
}

// share returns the number of a shared string; ok is false once the bound
// is reached and s is not among them.
func (x *hotIndex) share(s string) (uint16, bool) {
	if n, ok := x.strNum[s]; ok {
		return n, true
	}
	if len(x.strs) >= maxShared {
		return 0, false
	}
	s = strings.Clone(s)
	n := uint16(len(x.strs))
	x.strs = append(x.strs, s)
	x.strNum[s] = n
	return n, true
}

func (x *hotIndex) intern(s string) string {
	if n, ok := x.share(s); ok {
		return x.strs[n]
	}
	return s
}

// shareObjects returns the number of a shared list equal to objs; ok is
// false once the bound is reached and objs is not among them. An empty
// list is kept as nil.
func (x *hotIndex) shareObjects(objs []string) (uint16, bool) {
	n := 0
	for _, o := range objs {
		n += len(o) + binary.MaxVarintLen64
	}
	key := make([]byte, 0, n)
	for _, o := range objs {
		key = append(binary.AppendUvarint(key, uint64(len(o))), o...)
	}
	if v, ok := x.listNum[string(key)]; ok {
		return v, true
	}
	if len(x.lists) >= maxShared {
		return 0, false
	}
	var v []string
	for _, o := range objs {
		v = append(v, x.intern(o))
	}
	i := uint16(len(x.lists))
	x.lists = append(x.lists, v)
	x.listNum[string(key)] = i
	return i, true
}

// packTime is t as packed; ok is false for a time that would not come back
// the same (not UTC, a monotonic reading, out of range).
func packTime(t time.Time) (int64, bool) {
	if t.IsZero() {
		return noTime, true
	}
	n := t.UnixNano()
	return n, n != noTime && unpackTime(n) == t
}

func unpackTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// pack returns r packed for device h; ok is false if r does not pack.
func (x *hotIndex) pack(h *hotDevice, r *Registration) (p hotReg, ok bool) {
	if p.key, ok = regKey(r.ID); !ok {
		return p, false
	}
	if len(r.Endpoint) != 24 || r.Endpoint[:9] != "urn:imei:" {
		return p, false
	}
	if k, ok := imeiKey(r.Endpoint[9:]); !ok || k != h.imei {
		return p, false
	}
	if r.Lifetime < math.MinInt32 || r.Lifetime > math.MaxInt32 {
		return p, false
	}
	p.lifetime = int32(r.Lifetime)
	var ok1, ok2, ok3, ok4, ok5, ok6, ok7 bool
	p.registered, ok1 = packTime(r.RegisteredAt)
	p.seen, ok2 = packTime(r.LastSeen)
	p.expires, ok3 = packTime(r.ExpiresAt)
	p.version, ok4 = x.share(r.Version)
	p.binding, ok5 = x.share(r.Binding)
	p.format, ok6 = x.share(r.ContentFormat)
	p.objects, ok7 = x.shareObjects(r.Objects)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return p, false
	}
	if r.Addr != "" {
		a, err := netip.ParseAddrPort(r.Addr)
		if err != nil || a.Addr().Zone() != "" {
			return p, false
		}
		p.ip, p.port = a.Addr().As16(), a.Port()
		if a.Addr().Is4() {
			p.flags |= regAddr4
		} else {
			p.flags |= regAddr6
		}
		if !p.addrIs(r.Addr) {
			return p, false
		}
	}
	if r.QueueMode {
		p.flags |= regQueue
	}
	if r.Secure {
		p.flags |= regSecure
	}
	return p, true
}

// addr is the packed registration's address.
func (p *hotReg) addr() string {
	var b [64]byte
	return string(p.appendAddr(b[:0]))
}

// appendAddr appends the packed registration's address to b.
func (p *hotReg) appendAddr(b []byte) []byte {
	var a netip.Addr
	switch {
	case p.flags&regAddr4 != 0:
		a = netip.AddrFrom16(p.ip).Unmap()
	case p.flags&regAddr6 != 0:
		a = netip.AddrFrom16(p.ip)
	default:
		return b
	}
	return netip.AddrPortFrom(a, p.port).AppendTo(b)
}

// addrIs reports whether the packed registration's address is addr.
func (p *hotReg) addrIs(addr string) bool {
	var b [64]byte
	return string(p.appendAddr(b[:0])) == addr
}

// setReg records r as the device's live registration (nil: none). The
// caller holds mu for writing.
func (x *hotIndex) setReg(h *hotDevice, r *Registration) {
	if k, ok := x.regKeyOf(h); ok {
		delete(x.byReg, k)
	}
	if h.flags&devRegExt != 0 {
		delete(x.ext, h.slot)
	}
	h.flags = h.flags&^(devHasReg|devRegExt) | devRegKnown
	h.reg = hotReg{}
	if r == nil {
		return
	}
	h.flags |= devHasReg
	if p, ok := x.pack(h, r); ok {
		h.reg = p
	} else {
		c := *r
		c.DeviceID = x.deviceID(h)
		c.Version, c.Binding, c.ContentFormat = x.intern(c.Version), x.intern(c.Binding), x.intern(c.ContentFormat)
		if n, ok := x.shareObjects(r.Objects); ok {
			c.Objects = x.lists[n]
		} else {
			c.Objects = append([]string(nil), r.Objects...)
		}
		x.ext[h.slot] = &c
		h.flags |= devRegExt
	}
	if k, ok := x.regKeyOf(h); ok {
		x.byReg[k] = h.slot
	}
}

// regKeyOf returns the key of the device's registration, if it has one
// with a key.
func (x *hotIndex) regKeyOf(h *hotDevice) (uint64, bool) {
	switch {
	case h.flags&devHasReg == 0:
		return 0, false
	case h.flags&devRegExt != 0:
		return regKey(x.ext[h.slot].ID)
	}
	return h.reg.key, true
}

// regKnown reports whether the index knows the device's registration (or
// that it has none); hasReg whether it has one.
func (h *hotDevice) regKnown() bool { return h.flags&devRegKnown != 0 }
func (h *hotDevice) hasReg() bool   { return h.flags&devHasReg != 0 }

// regIs reports whether the device has a live registration with that ID.
func (x *hotIndex) regIs(h *hotDevice, id string) bool {
	switch {
	case h.flags&devHasReg == 0:
		return false
	case h.flags&devRegExt != 0:
		return x.ext[h.slot].ID == id
	}
	k, ok := regKey(id)
	return ok && k == h.reg.key
}

// regAddrIs reports whether the device's live registration has that
// address.
func (x *hotIndex) regAddrIs(h *hotDevice, addr string) bool {
	if h.flags&devRegExt != 0 {
		return x.ext[h.slot].Addr == addr
	}
	return h.reg.addrIs(addr)
}

// mayPending and mayDownlinks report the flags; the caller holds mu.
func (h *hotDevice) mayPending() bool   { return h.pendGen != h.pendClear }
func (h *hotDevice) mayDownlinks() bool { return h.downGen != h.downClear }

// copyReg returns the device's live registration for a caller to keep;
// the caller holds mu and has checked that there is one.
func (x *hotIndex) copyReg(h *hotDevice) Registration {
	if h.flags&devRegExt != 0 {
		r := *x.ext[h.slot]
		r.Objects = append([]string(nil), r.Objects...)
		return r
	}
	p := &h.reg
	endpoint := [24]byte{'u', 'r', 'n', ':', 'i', 'm', 'e', 'i', ':'}
	v := h.imei
	for i := len(endpoint) - 1; i >= 9; i-- {
		endpoint[i] = byte('0' + v%10)
		v /= 10
	}
	return Registration{
		ID: regID(p.key), DeviceID: x.deviceID(h), Endpoint: string(endpoint[:]),
		Lifetime: int(p.lifetime), Version: x.strs[p.version], Binding: x.strs[p.binding],
		QueueMode: p.flags&regQueue != 0, Objects: append([]string(nil), x.lists[p.objects]...),
		Addr: p.addr(), Secure: p.flags&regSecure != 0, ContentFormat: x.strs[p.format],
		RegisteredAt: unpackTime(p.registered), LastSeen: unpackTime(p.seen), ExpiresAt: unpackTime(p.expires),
	}
}
