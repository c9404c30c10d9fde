package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// scrape returns the text of GET /metrics.
func scrape(t *testing.T, n *apptest.Node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: HTTP %d, %v", resp.StatusCode, err)
	}
	return string(b)
}

// TestMetricsAndReadiness drives a registration, an update, a
// de-registration and a pairing, then checks that the counters of GET
// /metrics moved, and that GET /readyz answers ready.
func TestMetricsAndReadiness(t *testing.T) {
	testkit.Long(t, "waits for the count of devices online, taken every 10 s")
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(900))
	cc := rawDevice(t, n.CoAPAddr())
	loc := location(t, post(t, cc, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=60", "b=U"))
	if resp := post(t, cc, "/"+loc, "", "lt=120"); resp.Code() != codes.Changed {
		t.Fatalf("Update: got %v, want 2.04", resp.Code())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if del, err := cc.Delete(ctx, "/"+loc); err != nil || del.Code() != codes.Deleted {
		t.Fatalf("De-register: %v %v, want 2.02", del, err)
	}

	paired := n.Provision(t, apptest.IMEI(901))
	alice := signUp(t, n, "alice")
	a, code := activate(t, n, alice, paired.NbID, 60)
	if code != http.StatusAccepted {
		t.Fatalf("start: HTTP %d", code)
	}
	post(t, rawDevice(t, n.CoAPAddr()), "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+paired.IMEI, "lt=60", "b=U")
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("activation ended %+v", got)
	}

	want := []string{
		"nbpair_registrations_total 2\n",
		"nbpair_updates_total 1\n",
		"nbpair_deregistrations_total 1\n",
		`nbpair_activations_total{outcome="paired"} 1` + "\n",
		"nbpair_activation_duration_seconds_count 1\n",
		`nbpair_http_requests_total{route="POST /v1/activations",status="202"} 1` + "\n",
		"nbpair_devices_online 1\n", // the first de-registered
		"nbpair_coap_duplicates_total 0\n",
		`nbpair_coap_dropped_total{reason="queue_full"} 0` + "\n",
		`nbpair_coap_dropped_total{reason="in_progress"} 0` + "\n",
		"nbpair_coap_dedup_evictions_total 0\n",
		"nbpair_coap_datagrams_total ", // at least the five requests above
		"nbpair_coap_dedup_bytes ",
	}
	var text string
	missing := want
	// The activation is paired in the store a moment before it is counted;
	// devices online are counted at most every 10 s, and the dashboard's
	// sampler may have counted them just before the Registers.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		text = scrape(t, n)
		missing = missing[:0:0]
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = append(missing, strings.TrimSpace(w))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("GET /metrics lacks:\n\t%s\nit served:\n%s", strings.Join(missing, "\n\t"), text)
	}
	if strings.Contains(text, "/v1/activations/"+a.ID) {
		t.Errorf("a raw path is a route label:\n%s", text)
	}

	var ready struct{ Status string }
	if code := n.Call(t, "", "GET", "/readyz", nil, &ready); code != http.StatusOK || ready.Status != "ready" {
		t.Errorf("GET /readyz: HTTP %d %+v, want 200 ready", code, ready)
	}
}
