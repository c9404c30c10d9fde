package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/testkit"
)

// DeviceAckTimeout is the CoAP ACK timeout of the devices RunDevice and
// StartDevice run when their config sets none: a loopback server answers
// at once, so a lost message is sent again sooner than a real module would.
const DeviceAckTimeout = 500 * time.Millisecond

// RunDevice powers a simulated device on against the node's plain CoAP
// port (cfg.Server is set to it) and stops it, with its De-register, when
// the test ends; the node, started earlier, stops after it.
func RunDevice(t testing.TB, n *Node, cfg device.Config) *device.Client {
	t.Helper()
	cfg.Server = "coap://" + n.CoAPAddr()
	return StartDevice(t, cfg)
}

// StartDevice runs a simulated device with cfg (its Server included)
// until the test ends. A config the device refuses fails the test with
// t.Fatal.
func StartDevice(t testing.TB, cfg device.Config) *device.Client {
	t.Helper()
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DeviceAckTimeout
	}
	c, err := device.New(cfg)
	if err != nil {
		t.Fatalf("device %s: %v", cfg.IMEI, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("device %s stopped with: %v", cfg.IMEI, err)
		}
	})
	return c
}

// WaitDevice waits until the device's status satisfies cond and returns
// that status; after testkit.Patience it fails the test naming what it
// waited for and the status the device holds.
func WaitDevice(t testing.TB, c *device.Client, what string, cond func(device.Status) bool) device.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Patience)
	defer cancel()
	st, err := c.Wait(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s on the device: %v (status %+v)", what, err, c.Status())
	}
	return st
}
