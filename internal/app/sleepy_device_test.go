package app_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The device library in queue mode (awake 1 s, asleep 3 s, the shape of
// `nbpair device --queue --awake 5s --sleep 20s` shortened) learns of each
// bind and removal at its first wake-up after it, with the server's
// defaults.
func TestSleepyLibraryDeviceLearnsInFirstWake(t *testing.T) {
	testkit.Long(t, "a queue-mode device through several sleep cycles")
	n := apptest.Start(t, "")
	p := n.Provision(t, apptest.IMEI(970))
	var mu sync.Mutex
	wakes := 0          // uplinks from a new socket, the Register first; guarded by mu
	var learnedAt []int // the wake-up each change of the Pairing object came in; guarded by mu
	c := apptest.RunDevice(t, n, device.Config{IMEI: p.IMEI, QueueMode: true, AwakeTime: time.Second, SleepTime: 3 * time.Second,
		OnEvent: func(e device.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Kind {
			case device.EventRegistered, device.EventWaking:
				wakes++
			case device.EventPairingChanged:
				learnedAt = append(learnedAt, wakes)
			}
		}})
	apptest.WaitDevice(t, c, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID == p.ID })
	alice := signUp(t, n, "alice")
	remove := func() {
		if code := n.Call(t, alice.token, "DELETE", "/v1/devices/"+p.ID, nil, nil); code != http.StatusNoContent {
			t.Fatalf("remove the device: HTTP %d", code)
		}
	}
	for i, change := range []func(){func() { bindOverHTTP(t, n, alice, p) }, remove, func() { bindOverHTTP(t, n, alice, p) }} {
		apptest.WaitDevice(t, c, "the device asleep", func(s device.Status) bool { return !s.Awake })
		mu.Lock()
		wake, seen := wakes, len(learnedAt)
		mu.Unlock()
		change()
		bound := i%2 == 0
		apptest.WaitDevice(t, c, "the change", func(s device.Status) bool { return (s.Pairing.OwnerUID == alice.uid) == bound })
		testkit.Eventually(t, "the event of the change", func() bool { // events come after the status
			mu.Lock()
			defer mu.Unlock()
			return len(learnedAt) > seen
		})
		mu.Lock()
		if learnedAt[len(learnedAt)-1] > wake+1 {
			t.Errorf("change %d made while asleep after wake-up %d arrived at wake-ups %v, want %d", i, wake, learnedAt[seen:], wake+1)
		}
		mu.Unlock()
	}
}
