package pairing

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestHotIndexSharedBounded: the strings the index shares among devices
// stay bounded however many distinct values devices send.
func TestHotIndexSharedBounded(t *testing.T) {
	x := newHotIndex()
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range 2 * maxShared {
		d := Device{ID: fmt.Sprintf("d%d", i), ProductID: DefaultProductID, IMEI: fmt.Sprintf("35%013d", i)}
		h := x.add(d, true)
		// A binding of U, S, N and T letters, distinct for each device.
		b := strings.NewReplacer("0", "U", "1", "S", "2", "N", "3", "T").Replace(fmt.Sprintf("%08s", toBase4(i)))
		x.setReg(h, &Registration{ID: newRegistrationID(), DeviceID: d.ID, Version: "1.1", Binding: b,
			Objects: []string{fmt.Sprintf("/%d/0", i)}})
		if got := x.copyReg(h).Binding; got != b {
			t.Fatalf("binding %q kept as %q", b, got)
		}
	}
	if len(x.strs) > maxShared || len(x.lists) > maxShared {
		t.Errorf("%d shared strings and %d shared lists, want at most %d each", len(x.strs), len(x.lists), maxShared)
	}
}

func toBase4(n int) string {
	var b []byte
	for ; n > 0; n /= 4 {
		b = append([]byte{byte('0' + n%4)}, b...)
	}
	return string(b)
}

// updateOnly is a store that takes Updates and nothing else.
type updateOnly struct{ Store }

func (updateOnly) UpdateRegistration(context.Context, Registration) error { return nil }

// TestHotUpdateKeepsWhatTheStoreKeeps: an Update changes in the index what
// it changes in the store (Store.UpdateRegistration), and keeps the rest,
// such as the content formats the Register announced.
func TestHotUpdateKeepsWhatTheStoreKeeps(t *testing.T) {
	h := newHotStore(updateOnly{}, true)
	d := Device{ID: "d1", ProductID: DefaultProductID, IMEI: "350000000000001"}
	now := time.Now().UTC()
	reg := Registration{ID: newRegistrationID(), DeviceID: d.ID, Endpoint: d.Endpoint(), Lifetime: 60, Version: "1.1",
		Binding: "U", Objects: []string{"/3/0"}, Addr: "192.0.2.1:1", Secure: true, ContentFormat: "110",
		RegisteredAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
	h.x.mu.Lock()
	h.x.setReg(h.x.add(d, true), &reg)
	h.x.mu.Unlock()
	later := now.Add(time.Second)
	update := Registration{ID: reg.ID, DeviceID: d.ID, Lifetime: 120, Binding: "UQ", QueueMode: true,
		Objects: []string{"/3/0", "/33050/0"}, Addr: "192.0.2.2:2", LastSeen: later, ExpiresAt: later.Add(2 * time.Minute)}
	if err := h.UpdateRegistration(context.Background(), update); err != nil {
		t.Fatal(err)
	}
	got, err := h.RegistrationOfDevice(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := reg
	want.Lifetime, want.Binding, want.QueueMode, want.Objects = update.Lifetime, update.Binding, update.QueueMode, update.Objects
	want.Addr, want.LastSeen, want.ExpiresAt = update.Addr, update.LastSeen, update.ExpiresAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("index after the Update:\n got %+v\nwant %+v", got, want)
	}
}

// TestHotIndexGivesBackWhatItWasGiven: a registration comes back from the
// index exactly as it went in, whether it packs or is kept whole.
func TestHotIndexGivesBackWhatItWasGiven(t *testing.T) {
	now := time.Now().UTC()
	local := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	base := Registration{ID: newRegistrationID(), Endpoint: "urn:imei:000000000000042", Lifetime: 60, Version: "1.1",
		Binding: "U", Objects: []string{"/3/0"}, Addr: "192.0.2.1:5683", ContentFormat: "110",
		RegisteredAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
	cases := map[string]struct {
		id     string
		change func(*Registration)
		packed bool
	}{
		"packed":           {newDeviceID(), func(*Registration) {}, true},
		"other device ID":  {"d1", func(*Registration) {}, true},
		"IPv6":             {newDeviceID(), func(r *Registration) { r.Addr = "[2001:db8::1]:5683" }, true},
		"IPv4 in IPv6":     {newDeviceID(), func(r *Registration) { r.Addr = "[::ffff:192.0.2.1]:5683" }, true},
		"no address":       {newDeviceID(), func(r *Registration) { r.Addr = "" }, true},
		"no objects":       {newDeviceID(), func(r *Registration) { r.Objects = nil }, true},
		"zero times":       {newDeviceID(), func(r *Registration) { r.RegisteredAt, r.ExpiresAt = time.Time{}, time.Time{} }, true},
		"flags":            {newDeviceID(), func(r *Registration) { r.QueueMode, r.Secure = true, true }, true},
		"zone":             {newDeviceID(), func(r *Registration) { r.Addr = "[fe80::1%eth0]:5683" }, false},
		"odd address":      {newDeviceID(), func(r *Registration) { r.Addr = "somewhere" }, false},
		"other endpoint":   {newDeviceID(), func(r *Registration) { r.Endpoint = "urn:dev:x" }, false},
		"other ID":         {newDeviceID(), func(r *Registration) { r.ID = "r1" }, false},
		"not UTC":          {newDeviceID(), func(r *Registration) { r.LastSeen = local }, false},
		"monotonic":        {newDeviceID(), func(r *Registration) { r.ExpiresAt = time.Now() }, false},
		"objects with a ,": {newDeviceID(), func(r *Registration) { r.Objects = []string{"/3/0,/4/0"} }, true},
	}
	for name, c := range cases {
		x := newHotIndex()
		x.mu.Lock()
		d := Device{ID: c.id, ProductID: DefaultProductID, IMEI: "000000000000042"}
		h := x.add(d, true)
		r := base
		r.DeviceID = d.ID
		c.change(&r)
		x.setReg(h, &r)
		got := x.copyReg(h)
		if !reflect.DeepEqual(got, r) || got.ExpiresAt != r.ExpiresAt {
			t.Errorf("%s: index gave back\n %+v\nwant %+v", name, got, r)
		}
		if packed := h.flags&devRegExt == 0; packed != c.packed {
			t.Errorf("%s: packed %v, want %v", name, packed, c.packed)
		}
		if x.productID(h) != d.ProductID {
			t.Errorf("%s: product %q kept as %q", name, d.ProductID, x.productID(h))
		}
		if got, _ := x.lookupID(d.ID); got != h || x.deviceID(h) != d.ID {
			t.Errorf("%s: device ID %q not found again", name, d.ID)
		}
		if k, ok := regKey(r.ID); ok && x.byReg[k] != h.slot {
			t.Errorf("%s: registration not indexed by its ID", name)
		}
		x.setReg(h, nil)
		if h.hasReg() || len(x.ext) != 0 || len(x.byReg) != 0 {
			t.Errorf("%s: registration not forgotten", name)
		}
		x.mu.Unlock()
	}
}

// TestHotIndexProductsBeyondTheBound: a device keeps its product ID when
// the shared strings are all taken.
func TestHotIndexProductsBeyondTheBound(t *testing.T) {
	x := newHotIndex()
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range maxShared + 2 {
		for _, id := range []string{newDeviceID(), fmt.Sprintf("d%d", i)} {
			d := Device{ID: id, ProductID: fmt.Sprintf("p%d", i), IMEI: fmt.Sprintf("35%013d", x.n)}
			h := x.add(d, true)
			if got := x.productID(h); got != d.ProductID || x.deviceID(h) != d.ID {
				t.Fatalf("device %s of product %s kept as %s of %s", d.ID, d.ProductID, x.deviceID(h), got)
			}
		}
	}
	if len(x.strs) > maxShared || len(x.others) == 0 {
		t.Errorf("%d shared strings, %d products kept apart", len(x.strs), len(x.others))
	}
}
