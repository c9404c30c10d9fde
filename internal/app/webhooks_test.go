package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/webhooks"
)

// receiver is a real HTTP receiver of webhook deliveries on 127.0.0.1. It
// fails the first failFirst deliveries of every event with 500, then
// answers 200, and keeps what it got.
type receiver struct {
	*httptest.Server
	failFirst int

	mu       sync.Mutex
	attempts map[string]int // event ID → deliveries seen; guarded by mu
	ok       []delivered    // the deliveries answered 200, in order; guarded by mu
	bad      []string       // what was wrong with a delivery; guarded by mu
	secret   []byte         // guarded by mu
}

type delivered struct {
	ID, Type string
	Data     map[string]any
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	rc := &receiver{failFirst: failFirst, attempts: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	rc.secret = []byte(s)
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		ID, Type   string
		OccurredAt time.Time
		Data       map[string]any
	}
	err := json.Unmarshal(body, &ev)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case err != nil || ev.ID == "" || ev.OccurredAt.IsZero():
		rc.bad = append(rc.bad, "not an event: "+string(body))
	case r.Header.Get("X-Nbpair-Event-Id") != ev.ID:
		rc.bad = append(rc.bad, "X-Nbpair-Event-Id "+r.Header.Get("X-Nbpair-Event-Id")+" for event "+ev.ID)
	case !webhooks.Verify(rc.secret, body, r.Header.Get("X-Nbpair-Signature")):
		rc.bad = append(rc.bad, "signature does not verify: "+r.Header.Get("X-Nbpair-Signature"))
	}
	rc.attempts[ev.ID]++
	if rc.attempts[ev.ID] <= rc.failFirst {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	rc.ok = append(rc.ok, delivered{ID: ev.ID, Type: ev.Type, Data: ev.Data})
	w.WriteHeader(http.StatusNoContent)
}

// okTypes lists the types of the events answered 200, in order.
func (rc *receiver) okTypes() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, d := range rc.ok {
		out = append(out, d.Type)
	}
	return out
}

// fastHooks makes webhook retries quick for tests.
func fastHooks(c *config.Config) {
	c.WebhookPoll = config.Duration(20 * time.Millisecond)
	c.WebhookRetryMin = config.Duration(50 * time.Millisecond)
	c.WebhookRetryMax = config.Duration(200 * time.Millisecond)
}

type createdHook struct {
	ID, URL, Secret string
	Events          []string
}

func addWebhook(t *testing.T, n *apptest.Node, url string, events ...string) createdHook {
	t.Helper()
	var h createdHook
	if code := n.API(t, "POST", "/v1/admin/webhooks", map[string]any{"url": url, "events": events}, &h); code != http.StatusCreated || h.Secret == "" {
		t.Fatalf("create webhook: HTTP %d %+v", code, h)
	}
	return h
}

// TestWebhookDeliveredOnceAfterFailures: a receiver that answers 500 twice
// then 200 gets every event of a device's life exactly once, signed, in the
// order the changes happened; the delivery log shows each attempt.
func TestWebhookDeliveredOnceAfterFailures(t *testing.T) {
	n := apptest.Start(t, "", fastHooks)
	rc := newReceiver(t, 2)
	h := addWebhook(t, n, rc.URL, "device.registered", "device.online", "device.offline", "device.bound", "device.unbound")
	rc.setSecret(h.Secret)
	d := n.Provision(t, apptest.IMEI(900))
	alice := signUp(t, n, "alice")

	a, _ := activate(t, n, alice, d.NbID, 60)
	dev, err := device.New(device.Config{IMEI: d.IMEI, Server: "coap://" + n.CoAPAddr(), AckTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stopDevice := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- dev.Run(ctx) }()
	defer stopDevice()
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("activation: %+v", got)
	}
	if code := n.Call(t, alice.token, "DELETE", "/v1/devices/"+d.ID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("remove: HTTP %d", code)
	}
	stopDevice() // the device de-registers as it stops
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	want := []string{"device.registered", "device.online", "device.bound", "device.unbound", "device.offline"}
	testkit.Eventually(t, "five events delivered", func() bool { return len(rc.okTypes()) >= len(want) })
	time.Sleep(300 * time.Millisecond) // a duplicate would come within the retry times
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := rc.okTypesLocked(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v (each once, in order)", got, want)
	}
	for _, d := range rc.ok {
		if rc.attempts[d.ID] != 3 {
			t.Errorf("event %s (%s) came %d times, want 3 (500, 500, 200)", d.ID, d.Type, rc.attempts[d.ID])
		}
	}
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %q", rc.bad)
	}
	if dd := rc.ok[2].Data; dd["deviceId"] != d.ID || dd["uid"] != alice.uid || dd["homeId"] != alice.home {
		t.Errorf("device.bound data: %v", dd)
	}

	var log struct {
		Deliveries []struct {
			EventID, Type, Outcome string
			StatusCode, Attempt    int
		}
	}
	if code := n.API(t, "GET", "/v1/admin/webhooks/"+h.ID+"/deliveries?limit=1000", nil, &log); code != http.StatusOK {
		t.Fatalf("deliveries: HTTP %d", code)
	}
	if len(log.Deliveries) != 15 {
		t.Fatalf("the delivery log has %d attempts, want 15: %+v", len(log.Deliveries), log.Deliveries)
	}
	last := log.Deliveries[0] // newest first
	if last.Type != "device.offline" || last.StatusCode != 200 && last.StatusCode != 204 || last.Outcome != "delivered" || last.Attempt != 3 {
		t.Errorf("newest delivery: %+v", last)
	}
	if first := log.Deliveries[14]; first.Type != "device.registered" || first.StatusCode != 500 || first.Outcome != "retry" || first.Attempt != 1 {
		t.Errorf("oldest delivery: %+v", first)
	}
}

func (rc *receiver) okTypesLocked() []string {
	var out []string
	for _, d := range rc.ok {
		out = append(out, d.Type)
	}
	return out
}

// TestWebhookAdmin: the routes refuse what they cannot deliver to, and a
// deleted webhook is gone with its log.
func TestWebhookAdmin(t *testing.T) {
	n := apptest.Start(t, "")
	for name, body := range map[string]map[string]any{
		"no url":         {"events": []string{"device.online"}},
		"ftp":            {"url": "ftp://127.0.0.1/x", "events": []string{"device.online"}},
		"javascript":     {"url": "javascript:alert(1)", "events": []string{"device.online"}},
		"no events":      {"url": "http://127.0.0.1:1/x"},
		"unknown event":  {"url": "http://127.0.0.1:1/x", "events": []string{"device.exploded"}},
		"credentials":    {"url": "http://u:p@127.0.0.1:1/x", "events": []string{"device.online"}},
		"no host":        {"url": "http:///x", "events": []string{"device.online"}},
		"url too long":   {"url": "http://127.0.0.1/" + strings.Repeat("a", 3000), "events": []string{"device.online"}},
		"event not text": {"url": "http://127.0.0.1:1/x", "events": []int{1}},
	} {
		var e apiErr
		if code := n.API(t, "POST", "/v1/admin/webhooks", body, &e); code != http.StatusBadRequest || e.Code < 3721 || e.Code > 3724 {
			t.Errorf("%s: HTTP %d %+v, want 400 with 3721..3724", name, code, e)
		}
	}
	h := addWebhook(t, n, "https://hooks.example.com/nbpair", "device.online")
	var list struct{ Webhooks []createdHook }
	n.API(t, "GET", "/v1/admin/webhooks", nil, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != h.ID || list.Webhooks[0].Secret != "" {
		t.Errorf("list: %+v (the secret is shown only at creation)", list)
	}
	if code := n.API(t, "DELETE", "/v1/admin/webhooks/"+h.ID, nil, nil); code != http.StatusNoContent {
		t.Errorf("delete: HTTP %d", code)
	}
	if code := n.API(t, "GET", "/v1/admin/webhooks/"+h.ID+"/deliveries", nil, nil); code != http.StatusNotFound {
		t.Errorf("deliveries of a deleted webhook: HTTP %d, want 404", code)
	}
}

// hookServer is a pre-bind hook on 127.0.0.1 that answers with answer, or
// not at all within the hook's timeout when answer is "".
func hookServer(t *testing.T, answer string, got chan<- map[string]any) (*httptest.Server, *string) {
	secret := new(string)
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		ok := webhooks.Verify([]byte(*secret), body, r.Header.Get("X-Nbpair-Signature"))
		mu.Unlock()
		var req map[string]any
		json.Unmarshal(body, &req)
		req["signatureOK"] = ok
		select {
		case got <- req:
		default:
		}
		if answer == "" {
			select { // longer than the hook's timeout
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s, secret
}

// TestBindHook: a product's pre-bind hook decides the bind. Its refusal
// reaches the app (API and SDK) with code 4300 and the hook's reason, and
// nothing is bound; a hook that does not answer in time denies or allows
// as the product says.
func TestBindHook(t *testing.T) {
	n := apptest.Start(t, "")
	cases := []struct {
		name, answer, onFailure string
		wantStatus              string
		wantCode                int
		wantReason              string
	}{
		{"refuses", `{"allow": false, "reason": "Warranty\u0007 region EU only:\nthis unit is sold for US <b>customers</b>."}`, "", "failed", 4300,
			"Warranty region EU only: this unit is sold for US <b>customers</b>."},
		{"allows", `{"allow": true}`, "", "paired", 0, ""},
		{"times out, deny", "", "deny", "failed", 4301, ""},
		{"times out, allow", "", "allow", "paired", 0, ""},
		{"answers nonsense, deny", `{"ok": 1}`, "", "failed", 4301, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan map[string]any, 1)
			hs, secret := hookServer(t, tc.answer, got)
			product := "p" + string(rune('a'+i))
			var created struct {
				BindHook struct{ Secret, Timeout, OnHookFailure string }
			}
			body := map[string]any{"id": product, "name": "Lock " + tc.name, "bindHook": map[string]any{"url": hs.URL, "timeout": "300ms"}}
			if tc.onFailure != "" {
				body["onHookFailure"] = tc.onFailure
			}
			if code := n.API(t, "POST", "/v1/admin/products", body, &created); code != http.StatusCreated || created.BindHook.Secret == "" {
				t.Fatalf("create product: HTTP %d %+v", code, created)
			}
			*secret = created.BindHook.Secret
			var d apptest.Provisioned
			if code := n.API(t, "POST", "/v1/admin/devices", map[string]string{"imei": apptest.IMEI(910 + i), "productId": product}, &d); code != http.StatusCreated {
				t.Fatalf("provision: HTTP %d", code)
			}
			u := signUp(t, n, "user"+product)
			apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})

			c := activator.NewClient("http://"+n.HTTPAddr(), activator.WithToken(u.token))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dm, err := c.Activate(ctx, activator.TypeModel{Type: activator.TypeNB, TypeName: "NB", Timeout: 30 * time.Second, SpaceID: u.home, NbID: d.NbID})
			req := <-got
			if req["signatureOK"] != true || req["type"] != "bind.check" {
				t.Errorf("the hook got %v", req)
			}
			data, _ := req["data"].(map[string]any)
			if dev, _ := data["device"].(map[string]any); dev["id"] != d.ID || dev["productId"] != product {
				t.Errorf("the hook's device: %v", data["device"])
			}
			if usr, _ := data["user"].(map[string]any); usr["uid"] != u.uid {
				t.Errorf("the hook's user: %v", data["user"])
			}
			if home, _ := data["home"].(map[string]any); home["id"] != u.home {
				t.Errorf("the hook's home: %v", data["home"])
			}
			var owner struct{ OwnerUID string }
			n.API(t, "GET", "/v1/admin/devices/"+d.ID, nil, &owner)
			if tc.wantStatus == "paired" {
				if err != nil || dm.DevID != d.ID || owner.OwnerUID != u.uid {
					t.Fatalf("want paired: %+v, %v; owner %q", dm, err, owner.OwnerUID)
				}
				return
			}
			var ae *activator.Error
			if !errors.As(err, &ae) || ae.Code != tc.wantCode {
				t.Fatalf("SDK error %v, want code %d", err, tc.wantCode)
			}
			if tc.wantReason != "" && !strings.HasSuffix(ae.Message, tc.wantReason) {
				t.Errorf("SDK message %q, want it to end with the hook's reason %q", ae.Message, tc.wantReason)
			}
			if owner.OwnerUID != "" {
				t.Errorf("the device is bound to %q after a refusal", owner.OwnerUID)
			}
		})
	}
}
