package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/webhooks"
)

// hookReceiver is a webhook receiver on 127.0.0.1 that answers 503 until
// it is opened, then 204 (after delay), and counts by event ID.
type hookReceiver struct {
	*httptest.Server
	delay time.Duration

	mu       sync.Mutex
	open     bool           // guarded by mu
	secret   []byte         // guarded by mu
	attempts map[string]int // guarded by mu
	ok       map[string]int // event ID → 2xx answers; guarded by mu
	types    map[string]string
	bad      int // deliveries whose signature did not verify; guarded by mu
}

func newHookReceiver(t *testing.T, open bool, delay time.Duration) *hookReceiver {
	r := &hookReceiver{open: open, delay: delay, attempts: map[string]int{}, ok: map[string]int{}, types: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev struct{ ID, Type string }
	json.Unmarshal(body, &ev)
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !webhooks.Verify(r.secret, body, req.Header.Get(webhooks.HeaderSignature)) || ev.ID != req.Header.Get(webhooks.HeaderEventID) {
		r.bad++
	}
	r.attempts[ev.ID]++
	r.types[ev.ID] = ev.Type
	if !r.open {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.ok[ev.ID]++
	w.WriteHeader(http.StatusNoContent)
}

// counts returns how many events were attempted and delivered, and the
// most any event was delivered.
func (r *hookReceiver) counts() (attempted, delivered, most int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.ok {
		most = max(most, n)
	}
	return len(r.attempts), len(r.ok), most
}

func addHook(t *testing.T, addr, token, url string, events ...string) string {
	t.Helper()
	var h struct{ ID, Secret string }
	if code := apptest.Call(t, addr, token, "POST", "/v1/admin/webhooks", map[string]any{"url": url, "events": events}, &h); code != http.StatusCreated {
		t.Fatalf("create webhook: HTTP %d", code)
	}
	return h.Secret
}

var fastHookFlags = []string{"--webhook-poll", "20ms", "--webhook-retry-min", "50ms", "--webhook-retry-max", "200ms"}

// TestWebhookSurvivesKill: events written with a Register, whose receiver
// is down, survive a kill -9 of the server (SQLite) and are delivered once
// after the restart.
func TestWebhookSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	n := &clusterNode{name: "solo", http: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), coap: fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))}
	n.args = append([]string{"serve", "--data-dir", dir, "--http-addr", n.http, "--coap-addr", n.coap, "--coaps-addr", "",
		"--log-format", "json", "--public-url", "https://pair.example.com"}, fastHookFlags...)
	n.start(t)
	t.Cleanup(func() { n.kill(t) })
	b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))

	rc := newHookReceiver(t, false, 0)
	secret := addHook(t, n.http, token, rc.URL, "device.registered", "device.online")
	rc.mu.Lock()
	rc.secret = []byte(secret)
	rc.mu.Unlock()
	const devices = 5
	for i := range devices {
		imei := clusterIMEI(500 + i)
		if code := apptest.Call(t, n.http, token, "POST", "/v1/admin/devices", map[string]string{"imei": imei}, nil); code != http.StatusCreated {
			t.Fatalf("provision: HTTP %d", code)
		}
		dev := runClusterDevice(t, device.Config{IMEI: imei, Server: "coap://" + n.coap})
		apptest.WaitDevice(t, dev, "registered", func(s device.Status) bool { return s.Location != "" })
	}
	// Each device's first event is tried and refused; its second waits
	// behind it (in order per device).
	testkit.Eventually(t, "each device's first event tried and refused", func() bool { a, _, _ := rc.counts(); return a == devices })

	n.kill(t)
	rc.mu.Lock()
	rc.open = true
	rc.mu.Unlock()
	n.start(t)
	testkit.Eventually(t, "every event delivered after the restart", func() bool { _, d, _ := rc.counts(); return d == 2*devices })
	time.Sleep(500 * time.Millisecond) // a second delivery would come within this
	attempted, delivered, most := rc.counts()
	if attempted != 2*devices || delivered != 2*devices || most != 1 {
		t.Errorf("%d events attempted, %d delivered, one of them %d times; want %d, %d, once each", attempted, delivered, most, 2*devices, 2*devices)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad > 0 {
		t.Errorf("%d deliveries with a bad signature or event ID header", rc.bad)
	}
}

// TestWebhookTwoNodes: two nodes on one PostgreSQL (and NATS) deliver the
// outbox together, and each event reaches the receiver once.
func TestWebhookTwoNodes(t *testing.T) {
	c := newCluster(t)
	a := c.addNode(t, "a", fastHookFlags...)
	b := c.addNode(t, "b", fastHookFlags...)
	rc := newHookReceiver(t, true, 5*time.Millisecond)
	secret := addHook(t, a.http, c.token, rc.URL, "device.registered", "device.online", "device.offline")
	rc.mu.Lock()
	rc.secret = []byte(secret)
	rc.mu.Unlock()

	const devices = 20
	for i := range devices {
		node := []*clusterNode{a, b}[i%2]
		d := c.provision(t, node, clusterIMEI(600+i))
		dev := runClusterDevice(t, device.Config{IMEI: d.IMEI, Server: "coap://" + node.coap})
		apptest.WaitDevice(t, dev, "registered", func(s device.Status) bool { return s.Location != "" })
	}
	testkit.Eventually(t, "every event delivered", func() bool { _, d, _ := rc.counts(); return d == 2*devices })
	time.Sleep(time.Second)
	attempted, delivered, most := rc.counts()
	if attempted != 2*devices || delivered != 2*devices || most != 1 {
		t.Errorf("%d events attempted, %d delivered, one of them %d times; want %d, %d, once each", attempted, delivered, most, 2*devices, 2*devices)
	}
	if left := c.dbInt(t, "SELECT count(*) FROM webhook_outbox"); left != 0 {
		t.Errorf("%d events left in the outbox", left)
	}
	if n := c.dbInt(t, "SELECT count(DISTINCT event_id) FROM webhook_deliveries WHERE outcome = 'delivered'"); n != 2*devices {
		t.Errorf("the delivery log has %d delivered events, want %d", n, 2*devices)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad > 0 {
		t.Errorf("%d deliveries with a bad signature or event ID header", rc.bad)
	}
}

// TestWebhooksCommand drives nbpair webhooks add, list, deliveries and rm
// against a running server.
func TestWebhooksCommand(t *testing.T) {
	dir := t.TempDir()
	n := &clusterNode{name: "cli", http: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), coap: fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))}
	n.args = []string{"serve", "--data-dir", dir, "--http-addr", n.http, "--coap-addr", n.coap, "--coaps-addr", "", "--log-format", "json"}
	n.start(t)
	t.Cleanup(func() { n.kill(t) })
	run := func(args ...string) string {
		t.Helper()
		full := append([]string{"webhooks"}, args[0])
		full = append(full, "--server", "http://"+n.http, "--token-file", filepath.Join(dir, "admin.token"))
		out, err := exec.Command(binary, append(full, args[1:]...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nbpair webhooks %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("add", "--url", "http://127.0.0.1:9/hook", "--events", "device.online, device.bound")
	m := regexp.MustCompile(`(?m)^webhook (wh_\w+)\n.*\nevents  device.online, device.bound\nsecret  [0-9a-f]{64}\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add printed:\n%s", out)
	}
	if out := run("list"); !strings.Contains(out, m[1]) || !strings.Contains(out, "http://127.0.0.1:9/hook") {
		t.Errorf("list printed:\n%s", out)
	}
	if out := run("deliveries", m[1]); !strings.HasPrefix(out, "TIME") {
		t.Errorf("deliveries printed:\n%s", out)
	}
	if out := run("rm", m[1]); !strings.Contains(out, "deleted webhook "+m[1]) {
		t.Errorf("rm printed:\n%s", out)
	}
	if out, err := exec.Command(binary, "webhooks", "add", "--server", "http://"+n.http, "--token-file", filepath.Join(dir, "admin.token"),
		"--url", "ftp://x", "--events", "device.online").CombinedOutput(); err == nil || !strings.Contains(string(out), "3723") {
		t.Errorf("add of an ftp URL: %v\n%s", err, out)
	}
}
