package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// appUser is an app user of the SDK on one node, with a home.
type appUser struct {
	c    *activator.Client
	uid  string
	home string
}

func newAppUser(t *testing.T, n *clusterNode, name string) appUser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := activator.NewClient("http://" + n.http)
	if _, err := c.SignUp(ctx, name, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	se, err := c.LogIn(ctx, name, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.CreateHome(ctx, name+"'s flat")
	if err != nil {
		t.Fatal(err)
	}
	return appUser{c: c, uid: se.UID, home: h.ID}
}

func (u appUser) activate(ctx context.Context, nbID string, timeout time.Duration) (activator.DeviceModel, error) {
	return u.c.Activate(ctx, activator.TypeModel{Type: activator.TypeNB, SpaceID: u.home, NbID: nbID, Timeout: timeout})
}

// deliveredBound reports whether the node logged the delivery of a "bound"
// pairing state to the device.
func deliveredBound(n *clusterNode, deviceID string) bool {
	for _, rec := range n.logged("downlink delivered") {
		if rec["device_id"] == deviceID && rec["bind_state"] == "bound" {
			return true
		}
	}
	return false
}

// Two nodes on one PostgreSQL and one NATS: a device registers through
// node A; the app pairs it through node B; the device, asleep meanwhile,
// wakes up through B and B (the node it now talks to, not A) writes
// "bound" into its Pairing object. Then the two cross-node paths of an
// activation's end: an activation waited for on B and bound by whichever
// node takes the device's Register event, and one waited for on B and
// stopped on A.
func TestTwoNodes(t *testing.T) {
	c := newCluster(t)
	// Waiters hear of an end only from the notices here: the store re-read,
	// the safety net for a lost notice, would otherwise hide a broken one.
	a := c.addNode(t, "A", "--awake-window", "1s", "--activation-recheck", "1h")
	b := c.addNode(t, "B", "--awake-window", "1s", "--activation-recheck", "1h")
	relay := startRelay(t, a.coap)
	d := c.provision(t, a, clusterIMEI(1))
	dev := runClusterDevice(t, device.Config{Server: "coap://" + relay.addr(), IMEI: d.IMEI,
		QueueMode: true, AwakeTime: time.Second, SleepTime: 500 * time.Millisecond})
	apptest.WaitDevice(t, dev, "the device ID, written through A", func(s device.Status) bool { return s.Pairing.DeviceID == d.ID })

	relay.point(t, b.coap)
	testkit.Eventually(t, "the device to wake up through B, and A's awake window to pass", func() bool {
		toB, _ := relay.sentTo(b.coap)
		_, lastA := relay.sentTo(a.coap)
		return toB > 0 && time.Since(lastA) > 2*time.Second
	})
	alice := newAppUser(t, b, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := alice.activate(ctx, d.NbID, 60*time.Second)
	if err != nil || got.DevID != d.ID || got.OwnerUID != alice.uid {
		t.Fatalf("activation through B: %+v, %v", got, err)
	}
	apptest.WaitDevice(t, dev, "bound, written at a wake-up through B", func(s device.Status) bool {
		return s.Pairing.State == device.BindBound && s.Pairing.OwnerUID == alice.uid
	})
	testkit.Eventually(t, "B to log the delivery of the bound state", func() bool { return deliveredBound(b, d.ID) })
	if deliveredBound(a, d.ID) {
		t.Errorf("A delivered the bound state too; the device last talked to B")
	}
	// devices online is read from the store at most every 10 s.
	testkit.Eventually(t, "B's /metrics to show sent downlinks and online devices", func() bool {
		m := scrape(t, b)
		return regexp.MustCompile(`nbpair_downlinks_total\{event="sent"\} [1-9]`).MatchString(m) &&
			regexp.MustCompile(`nbpair_devices_online [1-9]`).MatchString(m)
	})

	t.Run("bound on either node, waited for on B", func(t *testing.T) {
		bob := newAppUser(t, b, "bob")
		d2 := c.provision(t, b, clusterIMEI(2))
		type result struct {
			dev activator.DeviceModel
			err error
		}
		done := make(chan result, 1)
		go func() {
			dm, err := bob.activate(ctx, d2.NbID, 60*time.Second)
			done <- result{dm, err}
		}()
		testkit.Eventually(t, "the activation to be pending", func() bool {
			return c.dbInt(t, "SELECT count(*) FROM activations WHERE device_id = $1 AND status = 'pending'", d2.ID) == 1
		})
		runClusterDevice(t, device.Config{Server: "coap://" + a.coap, IMEI: d2.IMEI})
		res := <-done
		if res.err != nil || res.dev.OwnerUID != bob.uid {
			t.Fatalf("activation: %+v, %v", res.dev, res.err)
		}
		for _, n := range []*clusterNode{a, b} {
			for _, rec := range n.logged("device bound") {
				if rec["device_id"] == d2.ID {
					t.Logf("the Register event was handled, and the device bound, on node %s", n.name)
				}
			}
		}
	})

	t.Run("timed out once, by one of the two sweepers", func(t *testing.T) {
		dave := newAppUser(t, b, "dave")
		d4 := c.provision(t, a, clusterIMEI(4)) // never registers
		_, err := dave.activate(ctx, d4.NbID, 2*time.Second)
		if !errors.Is(err, activator.ErrTimeout) {
			t.Fatalf("got %v, want %v", err, activator.ErrTimeout)
		}
		if n := c.dbInt(t, "SELECT count(*) FROM activations WHERE device_id = $1 AND status = 'failed' AND reason = 'timeout'", d4.ID); n != 1 {
			t.Errorf("%d timed-out activations in the store, want 1", n)
		}
		if n := timeoutsCounted(t, a, b); n != 1 {
			t.Errorf("the nodes counted %d timeouts, want 1", n)
		}
	})

	t.Run("stopped on A, waited for on B", func(t *testing.T) {
		carol := newAppUser(t, b, "carol")
		d3 := c.provision(t, a, clusterIMEI(3))
		done := make(chan error, 1)
		go func() {
			_, err := carol.activate(ctx, d3.NbID, 120*time.Second)
			done <- err
		}()
		var id string
		testkit.Eventually(t, "the activation to be pending", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := c.db.QueryRow(ctx, "SELECT id FROM activations WHERE device_id = $1 AND status = 'pending'", d3.ID).Scan(&id)
			return err == nil
		})
		req, _ := http.NewRequest("DELETE", "http://"+a.http+"/v1/activations/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+carol.c.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stop on A: HTTP %d", resp.StatusCode)
		}
		stopped := time.Now()
		if err := <-done; !errors.Is(err, activator.ErrActivationStopped) {
			t.Fatalf("the waiter on B got %v, want %v", err, activator.ErrActivationStopped)
		}
		t.Logf("the waiter on B heard of the stop on A %v after A answered", time.Since(stopped).Round(10*time.Microsecond))
	})
}

// timeoutsCounted sums nbpair_activations_total{outcome="timeout"} of the
// nodes.
func timeoutsCounted(t *testing.T, nodes ...*clusterNode) int {
	t.Helper()
	sum := 0
	re := regexp.MustCompile(`(?m)^nbpair_activations_total\{outcome="timeout"\} (\d+)$`)
	for _, n := range nodes {
		if m := re.FindStringSubmatch(scrape(t, n)); m != nil {
			var v int
			fmt.Sscan(m[1], &v)
			sum += v
		}
	}
	return sum
}

// SIGKILL of one node of two in the middle of 100 activations (50 users,
// 50 devices, two users racing for each device): every activation ends
// (paired, already bound, or a clean timeout), no device is bound twice
// or to two users, and every registration a device was told was accepted
// is in the store or was replaced by a later one of the same device.
func TestNodeKilledDuringActivations(t *testing.T) {
	const devices = 50
	c := newCluster(t)
	a := c.addNode(t, "A")
	b := c.addNode(t, "B")
	relay := startRelay(t, a.coap)
	devs := make([]provisioned, devices)
	users := make([]appUser, devices)
	for i := range devices {
		devs[i] = c.provision(t, b, clusterIMEI(100+i))
		users[i] = newAppUser(t, b, fmt.Sprintf("user%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Each user i tries devices i and i+1: two users race for each device.
	type outcome struct {
		user, dev int
		got       activator.DeviceModel
		err       error
	}
	results := make(chan outcome, 2*devices)
	var wg sync.WaitGroup
	for i := range devices {
		for _, j := range []int{i, (i + 1) % devices} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := users[i].activate(ctx, devs[j].NbID, 90*time.Second)
				results <- outcome{i, j, got, err}
			}()
		}
	}
	var regMu sync.Mutex
	acked := map[string]string{} // device ID → the last location it was told
	for i := range devices {
		runClusterDevice(t, device.Config{Server: "coap://" + relay.addr(), IMEI: devs[i].IMEI,
			OnEvent: func(e device.Event) {
				if e.Kind == device.EventRegistered {
					regMu.Lock()
					acked[devs[i].ID] = e.Location
					regMu.Unlock()
				}
			}})
		if i == devices/2 { // half of them registered through A: kill it
			testkit.Eventually(t, "some activations to end", func() bool {
				return c.dbInt(t, "SELECT count(*) FROM activations WHERE status <> 'pending'") >= 5
			})
			a.kill(t)
			t.Logf("killed A after %d activations ended", c.dbInt(t, "SELECT count(*) FROM activations WHERE status <> 'pending'"))
			relay.point(t, b.coap)
		}
	}
	wg.Wait()
	close(results)

	paired, alreadyBound, timedOut := 0, 0, 0
	owner := map[int]int{}
	for r := range results {
		switch {
		case r.err == nil && r.got.DevID == devs[r.dev].ID && r.got.OwnerUID == users[r.user].uid:
			paired++
			if prev, ok := owner[r.dev]; ok {
				t.Errorf("device %d paired to user %d and to user %d", r.dev, prev, r.user)
			}
			owner[r.dev] = r.user
		case errors.Is(r.err, activator.ErrDeviceAlreadyBound):
			alreadyBound++
		case errors.Is(r.err, activator.ErrTimeout):
			timedOut++
		default:
			t.Errorf("user %d, device %d: %+v, %v", r.user, r.dev, r.got, r.err)
		}
	}
	t.Logf("100 activations: %d paired, %d already bound, %d timed out", paired, alreadyBound, timedOut)
	if n := c.dbInt(t, "SELECT count(*) FROM activations WHERE status = 'pending'"); n != 0 {
		t.Errorf("%d activations still pending", n)
	}
	if n := c.dbInt(t, "SELECT count(*) FROM (SELECT device_id FROM activations WHERE status = 'paired' GROUP BY device_id HAVING count(*) > 1) x"); n != 0 {
		t.Errorf("%d devices paired by more than one activation", n)
	}
	if n := c.dbInt(t, "SELECT count(*) FROM (SELECT device_id FROM audit_log WHERE action = 'bind' AND outcome = 'ok' GROUP BY device_id HAVING count(*) > 1) x"); n != 0 {
		t.Errorf("%d devices bound more than once in the audit log", n)
	}
	for dev, user := range owner {
		if n := c.dbInt(t, "SELECT count(*) FROM devices WHERE id = $1 AND owner_id = $2", devs[dev].ID, users[user].uid); n != 1 {
			t.Errorf("device %d: the store does not have user %d as its owner", dev, user)
		}
	}
	if n := c.dbInt(t, "SELECT count(*) FROM devices WHERE owner_id IS NOT NULL"); n != len(owner) {
		t.Errorf("%d devices have an owner in the store, %d activations paired one", n, len(owner))
	}
	regMu.Lock()
	defer regMu.Unlock()
	for id, loc := range acked {
		if n := c.dbInt(t, "SELECT count(*) FROM registrations WHERE device_id = $1", id); n != 1 {
			t.Errorf("device %s was told it is registered (%s) and has no registration in the store", id, loc)
		}
	}
}

// A rolling restart of both nodes while a fleet of queue-mode devices
// keeps waking up through the relay, which points at whichever node is up
// once the other has stopped: no device sees a failed uplink; requests
// sent to a stopping node are retransmitted, and answered by the other.
func TestRollingRestart(t *testing.T) {
	const devices = 30
	c := newCluster(t)
	a := c.addNode(t, "A", "--awake-window", "500ms")
	b := c.addNode(t, "B", "--awake-window", "500ms")
	relay := startRelay(t, a.coap)
	var mu sync.Mutex
	counts := map[device.EventKind]int{}
	var errs []error
	clients := make([]*device.Client, devices)
	for i := range devices {
		d := c.provision(t, a, clusterIMEI(200+i))
		clients[i] = runClusterDevice(t, device.Config{Server: "coap://" + relay.addr(), IMEI: d.IMEI,
			QueueMode: true, AwakeTime: 500 * time.Millisecond, SleepTime: 300 * time.Millisecond,
			OnEvent: func(e device.Event) {
				mu.Lock()
				defer mu.Unlock()
				counts[e.Kind]++
				if e.Kind == device.EventError || e.Kind == device.EventRegistrationLost {
					errs = append(errs, fmt.Errorf("%s: %v", e.Kind, e.Err))
				}
			}})
	}
	uplinks := func() int {
		mu.Lock()
		defer mu.Unlock()
		return counts[device.EventRegistered] + counts[device.EventUpdated]
	}
	testkit.Eventually(t, "every device registered", func() bool {
		for _, cl := range clients {
			if cl.Status().Pairing.DeviceID == "" {
				return false
			}
		}
		return true
	})
	for _, step := range []struct{ down, up *clusterNode }{{a, b}, {b, a}} {
		// As a load balancer whose health check notices the node gone:
		// requests sent meanwhile are retransmitted to the other node.
		step.down.stop(t)
		relay.point(t, step.up.coap)
		before := uplinks()
		testkit.Eventually(t, "devices to wake up while "+step.down.name+" is down", func() bool { return uplinks() >= before+devices })
		step.down.start(t)
	}
	before := uplinks()
	testkit.Eventually(t, "devices to wake up after the restarts", func() bool { return uplinks() >= before+devices })

	requests, retrans := relay.counts()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("rolling restart of 2 nodes, %d queue-mode devices: %d requests (%d Registers, %d Updates accepted), %d retransmissions, %d failed uplinks",
		devices, requests, counts[device.EventRegistered], counts[device.EventUpdated], retrans, len(errs))
	for _, err := range errs {
		t.Errorf("a device saw a failed uplink: %v", err)
	}
}

func scrape(t *testing.T, n *clusterNode) string {
	t.Helper()
	resp, err := http.Get("http://" + n.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
