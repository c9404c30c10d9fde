package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/webhooks"
)

// downReceiver is a webhook receiver on 127.0.0.1 that answers 500 to
// everything until it is brought up, then 204; it keeps, per event, how
// often it answered 2xx, and per device the types delivered in order.
type downReceiver struct {
	*httptest.Server
	up atomic.Bool

	mu     sync.Mutex
	secret []byte              // guarded by mu
	tried  map[string]bool     // event IDs answered 500; guarded by mu
	got    map[string]int      // event ID → 2xx answers; guarded by mu
	order  map[string][]string // device ID → types delivered, in order; guarded by mu
	bad    int                 // deliveries whose signature did not verify; guarded by mu
}

func newDownReceiver(t *testing.T) *downReceiver {
	rc := &downReceiver{tried: map[string]bool{}, got: map[string]int{}, order: map[string][]string{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *downReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		ID, Type string
		Data     struct{ DeviceID string }
	}
	json.Unmarshal(body, &ev)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !webhooks.Verify(rc.secret, body, r.Header.Get(webhooks.HeaderSignature)) || ev.ID == "" {
		rc.bad++
	}
	if !rc.up.Load() {
		rc.tried[ev.ID] = true
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
		return
	}
	rc.got[ev.ID]++
	if rc.got[ev.ID] == 1 {
		rc.order[ev.Data.DeviceID] = append(rc.order[ev.Data.DeviceID], ev.Type)
	}
	w.WriteHeader(http.StatusNoContent)
}

// delivered returns how many events were answered 2xx, and the most times
// one of them was.
func (rc *downReceiver) delivered() (events, most int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.got {
		most = max(most, n)
	}
	return len(rc.got), most
}

// footprint is the live heap after two collections, and the goroutines.
func footprint() (heap uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, runtime.NumGoroutine()
}

// cycleDevices registers and de-registers each IMEI rounds times over
// real UDP, from 8 clients (each IMEI always from the same one): two
// webhook events (device.online, device.offline) per cycle.
func cycleDevices(t *testing.T, conns []*client.Conn, imeis []string, rounds int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for c, cc := range conns {
		wg.Go(func() {
			for range rounds {
				for i := c; i < len(imeis); i += len(conns) {
					if err := registerDeregister(cc, imeis[i]); err != nil {
						errs[c] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func registerDeregister(cc *client.Conn, imei string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := cc.Post(ctx, "/rd", message.AppLinkFormat, strings.NewReader("</1/0>,</3/0>,</33050/0>"),
		message.Option{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)},
		message.Option{ID: message.URIQuery, Value: []byte("lt=86400")},
		message.Option{ID: message.URIQuery, Value: []byte("lwm2m=1.1")})
	if err != nil {
		return fmt.Errorf("register %s: %w", imei, err)
	}
	loc, _ := resp.Options().LocationPath()
	code := resp.Code()
	cc.ReleaseMessage(resp)
	if code != codes.Created || loc == "" {
		return fmt.Errorf("register %s: %v, location %q", imei, code, loc)
	}
	resp, err = cc.Delete(ctx, loc)
	if err != nil {
		return fmt.Errorf("de-register %s: %w", imei, err)
	}
	defer cc.ReleaseMessage(resp)
	if resp.Code() != codes.Deleted {
		return fmt.Errorf("de-register %s: %v", imei, resp.Code())
	}
	return nil
}

// TestWebhookDownReceiverBoundedMemory: while a webhook's receiver answers
// 500 to everything, 4,000 events pile up in the outbox of a real server
// (Registers and De-registers over UDP). The server's memory does not grow
// with them: from 1,000 to 4,000 pending events the heap grows by less
// than maxGrowth per event (the CoAP traffic that made them included:
// the same traffic with nothing pending grows it as much), the heap with
// 4,000 pending is at most maxHeld per event above the heap once they are
// all delivered, and the goroutines stay as they were. When the receiver
// comes back, every event reaches it once, signed, in order per device.
func TestWebhookDownReceiverBoundedMemory(t *testing.T) {
	testkit.Long(t, "4,000 events through a real server")
	const (
		devices   = 100
		clients   = 8
		maxGrowth = 500 // bytes per pending event, traffic included
		// bytes per pending event: less than an event and its bookkeeping
		// would take in memory; measured 1 to 108, the rest is room for
		// the collector's timing on a loaded machine.
		maxHeld          = 400
		maxMoreGoroutine = 50 // deliveries in flight and their connections
	)
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) {
		c.WebhookPoll = config.Duration(20 * time.Millisecond)
		c.WebhookRetryMin = config.Duration(50 * time.Millisecond)
		c.WebhookRetryMax = config.Duration(500 * time.Millisecond)
	})
	rc := newDownReceiver(t)
	h := addWebhook(t, n, rc.URL, "device.online", "device.offline")
	rc.mu.Lock()
	rc.secret = []byte(h.Secret)
	rc.mu.Unlock()
	imeis := make([]string, devices)
	for i := range imeis {
		imeis[i] = apptest.IMEI(5000 + i)
		if _, err := n.Service().Provision(t.Context(), pairing.ProvisionRequest{IMEI: imeis[i]}); err != nil {
			t.Fatal(err)
		}
	}
	conns := make([]*client.Conn, clients)
	for i := range conns {
		conns[i] = rawDevice(t, n.CoAPAddr())
	}
	outbox := func() int {
		l, err := n.Service().Outbox().OutboxLen(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	cycleDevices(t, conns, imeis, 5)
	if l := outbox(); l != 1000 {
		t.Fatalf("outbox holds %d events, want 1000", l)
	}
	heap1, g1 := footprint()
	cycleDevices(t, conns, imeis, 15)
	if l := outbox(); l != 4000 {
		t.Fatalf("outbox holds %d events, want 4000", l)
	}
	heap4, g4 := footprint()
	rc.mu.Lock()
	tried := len(rc.tried)
	rc.mu.Unlock()
	perEvent := (float64(heap4) - float64(heap1)) / 3000
	t.Logf("pending 1000: heap %d B, %d goroutines; pending 4000: heap %d B, %d goroutines; %.1f B per extra event; %d events tried meanwhile",
		heap1, g1, heap4, g4, perEvent, tried)
	if tried == 0 || tried > devices {
		t.Errorf("%d distinct events were tried while the receiver was down, want 1 to %d (each device's oldest)", tried, devices)
	}
	if perEvent > maxGrowth {
		t.Errorf("the heap grew by %.0f B per pending event (%d B → %d B from 1,000 to 4,000), want at most %d",
			perEvent, heap1, heap4, maxGrowth)
	}
	if g4 > g1+maxMoreGoroutine {
		t.Errorf("goroutines went from %d to %d with 3,000 more pending events", g1, g4)
	}

	rc.up.Store(true)
	up := time.Now()
	testkit.EventuallyWithin(t, "4,000 events delivered", 3*time.Minute, func() bool { e, _ := rc.delivered(); return e >= 4000 })
	t.Logf("the receiver up: 4,000 events delivered in %v", time.Since(up).Round(100*time.Millisecond))
	time.Sleep(time.Second) // a second delivery would come within the retry times
	events, most := rc.delivered()
	if events != 4000 || most != 1 {
		t.Errorf("%d events delivered, one of them %d times; want 4000, each once", events, most)
	}
	if l := outbox(); l != 0 {
		t.Errorf("%d events left in the outbox", l)
	}
	rc.mu.Lock()
	if rc.bad > 0 {
		t.Errorf("%d deliveries with a bad signature", rc.bad)
	}
	if len(rc.order) != devices {
		t.Errorf("events of %d devices delivered, want %d", len(rc.order), devices)
	}
	for id, types := range rc.order {
		for i, typ := range types {
			if want := []string{"device.online", "device.offline"}[i%2]; typ != want {
				t.Errorf("device %s: event %d delivered is %s, want %s (in order: %v)", id, i, typ, want, types)
				break
			}
		}
	}
	// What the test keeps of the deliveries is not the server's.
	rc.got, rc.order = nil, nil
	rc.mu.Unlock()
	heap0, g0 := footprint()
	held := (float64(heap4) - float64(heap0)) / 4000
	t.Logf("all delivered: heap %d B, %d goroutines; %.1f B per pending event held", heap0, g0, held)
	if held > maxHeld {
		t.Errorf("the heap with 4,000 pending events was %.0f B per event above the heap once they were delivered (%d B → %d B), want at most %d",
			held, heap4, heap0, maxHeld)
	}
	// Stopped while the clients are open: the server still has a
	// pairing-state downlink to send after each Register, which the
	// clients answer 4.04 at once; closed, they would leave each to time
	// out.
	n.Stop(t)
}
