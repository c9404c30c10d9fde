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
		if h.reg.Binding != b {
			t.Fatalf("binding %q kept as %q", b, h.reg.Binding)
		}
	}
	if len(x.shared) > maxShared || len(x.lists) > maxShared {
		t.Errorf("%d shared strings and %d shared lists, want at most %d each", len(x.shared), len(x.lists), maxShared)
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
