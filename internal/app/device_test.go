package app_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

func TestDeviceLearnsItsDeviceID(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(60))
	c := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	// The server writes the Pairing object right after its 2.01, so the
	// write may reach the device before it has taken in the 2.01's location.
	st := apptest.WaitDevice(t, c, "the device ID and location", func(s device.Status) bool { return s.Pairing.DeviceID != "" && s.Location != "" })
	if st.Pairing.DeviceID != d.ID || st.Pairing.State != device.BindUnbound || st.Pairing.OwnerUID != "" {
		t.Fatalf("the device holds %+v, want device ID %s, registered and not bound", st.Pairing, d.ID)
	}
	got := n.Device(t, d.ID)
	if !got.Online || "rd/"+got.Reg.ID != st.Location {
		t.Errorf("admin API: %+v, device location %q", got, st.Location)
	}
}

// A stock client without the Pairing object registers all the same.
func TestDeviceWithoutPairingObject(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(61))
	c := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI, WithoutPairingObject: true})
	apptest.WaitDevice(t, c, "registration", func(s device.Status) bool { return s.Location != "" })
	got := n.Device(t, d.ID)
	if !got.Online {
		t.Fatalf("not online: %+v", got)
	}
	for _, o := range got.Reg.Objects {
		if strings.HasPrefix(o, "/33050") {
			t.Errorf("objects %v announce the Pairing object", got.Reg.Objects)
		}
	}
	if c.Pairing().DeviceID != "" {
		t.Errorf("a device without the Pairing object got %+v", c.Pairing())
	}
}

// A queue-mode device sleeps with its socket closed and wakes on a new
// source port, like an NB-IoT module behind a NAT; the server follows it.
func TestQueueModeDeviceWakesFromNewAddress(t *testing.T) {
	n := apptest.Start(t, "", func(c *config.Config) { c.AwakeWindow = config.Duration(time.Second) })
	d := n.Provision(t, apptest.IMEI(62))
	var mu sync.Mutex
	var addrs []string
	c := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI, QueueMode: true, AwakeTime: time.Second, SleepTime: 300 * time.Millisecond,
		OnEvent: func(e device.Event) {
			if e.Kind == device.EventWaking {
				mu.Lock()
				addrs = append(addrs, e.LocalAddr)
				mu.Unlock()
			}
		}})
	apptest.WaitDevice(t, c, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID == d.ID })
	testkit.Eventually(t, "two wake-ups", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(addrs) >= 2
	})
	mu.Lock()
	if addrs[0] == addrs[1] {
		t.Errorf("the device woke twice from %s: the test needs a new source port per wake-up", addrs[0])
	}
	mu.Unlock()
	testkit.Eventually(t, "the server to see the device's latest address", func() bool {
		st := c.Status()
		got := n.Device(t, d.ID)
		return st.Awake && got.Reg != nil && got.Reg.Addr == st.LocalAddr
	})
	if got := n.Device(t, d.ID); !got.Reg.QueueMode {
		t.Errorf("registration not in queue mode: %+v", got.Reg)
	}
}
