package pairing

import (
	"testing"
	"time"
)

// A node holds a device (sends its downlinks) only while the store's
// registration is the uplink this node answered last.
func TestHeardDevicesMatch(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	heard := Registration{ID: "r1", DeviceID: "dev_1", LastSeen: at}
	tests := map[string]struct {
		store Registration
		want  bool
	}{
		"the uplink answered here":           {heard, true},
		"the same, read back as UTC":         {Registration{ID: "r1", DeviceID: "dev_1", LastSeen: at.In(time.FixedZone("x", 3600))}, true},
		"a later Update, on another node":    {Registration{ID: "r1", DeviceID: "dev_1", LastSeen: at.Add(time.Second)}, false},
		"a new Register, on another node":    {Registration{ID: "r2", DeviceID: "dev_1", LastSeen: at}, false},
		"another device, never heard here":   {Registration{ID: "r3", DeviceID: "dev_2", LastSeen: at}, false},
		"microseconds kept, nanoseconds not": {Registration{ID: "r1", DeviceID: "dev_1", LastSeen: at.Truncate(time.Microsecond)}, true},
	}
	var h heardDevices
	h.put(heard, at.Add(time.Minute))
	for name, tc := range tests {
		if got := h.matches(tc.store); got != tc.want {
			t.Errorf("%s: matches = %v, want %v", name, got, tc.want)
		}
	}
	h.prune(at.Add(30 * time.Second))
	if !h.has("dev_1") {
		t.Error("pruned before its time")
	}
	h.prune(at.Add(2 * time.Minute))
	if h.has("dev_1") {
		t.Error("kept after its time")
	}
}
