package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The admin actions tell the device maker's webhooks: a force-unbind is
// device.unbound by admin, a block ends the registration (device.offline,
// reason blocked), a deprovisioning of a bound, registered device is
// device.unbound by deprovisioned and device.offline.
func TestDeviceAdminWebhooks(t *testing.T) {
	n := apptest.Start(t, "", fastHooks)
	rc := newReceiver(t, 0)
	rc.setSecret(addWebhook(t, n, rc.URL, "device.unbound", "device.offline").Secret)
	alice := signUp(t, n, "alice")
	bound := func(i int) apptest.Provisioned {
		d := n.Provision(t, apptest.IMEI(i))
		if resp := registerAs(t, rawDevice(t, n.CoAPAddr()), d.IMEI); resp.Code() != codes.Created {
			t.Fatalf("Register: %v", resp.Code())
		}
		a, _ := activate(t, n, alice, d.NbID, 60)
		if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
			t.Fatalf("activation: %+v", got)
		}
		return d
	}
	d1, d2 := bound(540), bound(541)
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/admin/devices/" + d1.ID + "/unbind"},
		{"PUT", "/v1/admin/devices/" + d1.ID + "/block"},
		{"DELETE", "/v1/admin/devices/" + d2.ID},
	} {
		if code := n.API(t, c.method, c.path, nil, nil); code != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d", c.method, c.path, code)
		}
	}
	want := []string{
		d1.ID + " device.unbound by admin",
		d1.ID + " device.offline reason blocked",
		d2.ID + " device.unbound by deprovisioned",
		d2.ID + " device.offline reason deprovisioned",
	}
	var got []string
	testkit.Eventually(t, "the four events delivered", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		got = got[:0]
		for _, d := range rc.ok {
			what := fmt.Sprintf("%v %s", d.Data["deviceId"], d.Type)
			if by, ok := d.Data["by"]; ok {
				what += fmt.Sprintf(" by %v", by)
			}
			if reason, ok := d.Data["reason"]; ok {
				what += fmt.Sprintf(" reason %v", reason)
			}
			got = append(got, what)
		}
		return len(got) >= len(want)
	})
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("webhook events:\n got %q\nwant %q", got, want)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %v", rc.bad)
	}
}
