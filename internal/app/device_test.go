package app_test

import (
	"context"
	"github.com/nbpair/nbpair/internal/apptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/config"
)

// runDevice starts a simulated device against the node's plain CoAP port
// and stops it (with its De-register) when the test ends.
func runDevice(t *testing.T, n *apptest.Node, cfg device.Config) *device.Client {
	t.Helper()
	cfg.Server = "coap://" + n.CoAPAddr()
	return startDevice(t, cfg)
}

// startDevice runs a simulated device until the test ends.
func startDevice(t *testing.T, cfg device.Config) *device.Client {
	t.Helper()
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = 500 * time.Millisecond
	}
	c, err := device.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("device stopped with: %v", err)
		}
	})
	return c
}

func waitStatus(t *testing.T, c *device.Client, what string, cond func(device.Status) bool) device.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.Wait(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (status %+v)", what, err, c.Status())
	}
	return st
}

func TestDeviceLearnsItsDeviceID(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(60))
	c := runDevice(t, n, device.Config{IMEI: d.IMEI})
	// The server writes the Pairing object right after its 2.01, so the
	// write may reach the device before it has taken in the 2.01's location.
	st := waitStatus(t, c, "the device ID and location", func(s device.Status) bool { return s.Pairing.DeviceID != "" && s.Location != "" })
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
	c := runDevice(t, n, device.Config{IMEI: d.IMEI, WithoutPairingObject: true})
	waitStatus(t, c, "registration", func(s device.Status) bool { return s.Location != "" })
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
	c := runDevice(t, n, device.Config{IMEI: d.IMEI, QueueMode: true, AwakeTime: time.Second, SleepTime: 300 * time.Millisecond,
		OnEvent: func(e device.Event) {
			if e.Kind == device.EventWaking {
				mu.Lock()
				addrs = append(addrs, e.LocalAddr)
				mu.Unlock()
			}
		}})
	waitStatus(t, c, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID == d.ID })
	apptest.WaitFor(t, "two wake-ups", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(addrs) >= 2
	})
	mu.Lock()
	if addrs[0] == addrs[1] {
		t.Errorf("the device woke twice from %s: the test needs a new source port per wake-up", addrs[0])
	}
	mu.Unlock()
	apptest.WaitFor(t, "the server to see the device's latest address", 30*time.Second, func() bool {
		st := c.Status()
		got := n.Device(t, d.ID)
		return st.Awake && got.Reg != nil && got.Reg.Addr == st.LocalAddr
	})
	if got := n.Device(t, d.ID); !got.Reg.QueueMode {
		t.Errorf("registration not in queue mode: %+v", got.Reg)
	}
}
