package pairing

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestHotIndexMemoryPerDevice: the index of registered devices stays well
// under the 1 KiB a device may cost the whole process.
func TestHotIndexMemoryPerDevice(t *testing.T) {
	const devices = 100_000
	const limit = 240 // bytes per device, for the index alone
	before := heapInUse()
	x := newHotIndex()
	now := time.Now().UTC()
	for i := range devices {
		imei := fmt.Sprintf("35%013d", i)
		d := Device{ID: newDeviceID(), ProductID: DefaultProductID, IMEI: imei}
		x.mu.Lock()
		h := x.add(d, true)
		x.setReg(h, &Registration{
			ID: newRegistrationID(), DeviceID: d.ID, Endpoint: "urn:imei:" + imei, Lifetime: 86400,
			Version: "1.1", Binding: "U", Objects: []string{"/1/0", "/3/0", "/33050/0"},
			Addr: fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 1024+i%60000), RegisteredAt: now,
			LastSeen: now, ExpiresAt: now.Add(24 * time.Hour),
		})
		x.mu.Unlock()
	}
	per := float64(heapInUse()-before) / devices
	if len(x.ext) != 0 {
		t.Errorf("%d registrations kept whole, want all packed", len(x.ext))
	}
	runtime.KeepAlive(x)
	t.Logf("hot index: %.0f bytes per registered device", per)
	if per > limit {
		t.Errorf("hot index costs %.0f bytes per registered device, want at most %d", per, limit)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
