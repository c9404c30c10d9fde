package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
)

// registerAs sends a Register of imei on cc and returns the answer.
func registerAs(t *testing.T, cc *client.Conn, imei string) *pool.Message {
	t.Helper()
	return post(t, cc, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+imei, "lt=300", "lwm2m=1.1", "b=U")
}

// diagnostic is the text payload of a CoAP answer.
func diagnostic(m *pool.Message) string {
	if m.Body() == nil {
		return ""
	}
	b, _ := io.ReadAll(m.Body())
	return string(b)
}

// auditCount counts the audit entries of the device with that action and
// outcome.
func auditCount(t *testing.T, n *apptest.Node, deviceID, action, outcome string) int {
	t.Helper()
	var log struct{ Total int }
	n.API(t, "GET", "/v1/admin/audit?deviceId="+deviceID+"&action="+action+"&outcome="+outcome, nil, &log)
	return log.Total
}

type blockedView struct {
	Online  bool
	Blocked *struct{ Reason string }
}

// A blocked device's Register is answered 4.03, over plain CoAP and over
// DTLS; nobody may bind it (4500); unblocked, it registers and is bound.
func TestBlockDevice(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(500))
	alice := signUp(t, n, "alice")
	cc := rawDevice(t, n.CoAPAddr())
	if resp := registerAs(t, cc, d.IMEI); resp.Code() != codes.Created {
		t.Fatalf("Register before the block: %v", resp.Code())
	}

	var v blockedView
	if code := n.API(t, "PUT", "/v1/admin/devices/"+d.ID+"/block", map[string]string{"reason": "reported stolen"}, &v); code != http.StatusOK {
		t.Fatalf("block: HTTP %d", code)
	}
	if v.Blocked == nil || v.Blocked.Reason != "reported stolen" || v.Online {
		t.Errorf("the blocked device: %+v; want blocked, its registration ended", v)
	}
	if resp := registerAs(t, cc, d.IMEI); resp.Code() != codes.Forbidden {
		t.Errorf("Register of the blocked device over UDP: %v, want 4.03", resp.Code())
	}
	sc := secureDevice(t, n, "urn:imei:"+d.IMEI, pskOf(t, d))
	resp := registerAs(t, sc, d.IMEI)
	if msg := diagnostic(resp); resp.Code() != codes.Forbidden || !strings.Contains(msg, "blocked") || !strings.Contains(msg, "reported stolen") {
		t.Errorf("Register of the blocked device over DTLS: %v %q, want 4.03 saying it is blocked and why", resp.Code(), msg)
	}
	a, code := activate(t, n, alice, d.NbID, 60)
	var refused apiErr
	if code != http.StatusForbidden {
		t.Errorf("activation of the blocked device: HTTP %d %+v, want 403", code, a)
	}
	n.Call(t, alice.token, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": alice.home}, &refused)
	if refused.Code != 4500 || refused.Name != "DeviceBlocked" {
		t.Errorf("activation of the blocked device: %+v, want 4500 DeviceBlocked", refused)
	}

	if code := n.API(t, "DELETE", "/v1/admin/devices/"+d.ID+"/block", nil, nil); code != http.StatusOK {
		t.Fatalf("unblock: HTTP %d", code)
	}
	if resp := registerAs(t, sc, d.IMEI); resp.Code() != codes.Created {
		t.Fatalf("Register after the unblock: %v", resp.Code())
	}
	a, _ = activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Errorf("activation after the unblock: %+v", got)
	}
	for _, want := range []struct{ action, outcome string }{{"block", "ok"}, {"unblock", "ok"}, {"bind", "refused"}} {
		if got := auditCount(t, n, d.ID, want.action, want.outcome); got == 0 {
			t.Errorf("no %s %s in the audit log", want.outcome, want.action)
		}
	}
}

// A block outlives a restart: the node reads the blocked devices when it
// starts.
func TestBlockSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := apptest.Start(t, dir)
	d := n.Provision(t, apptest.IMEI(501))
	if code := n.API(t, "PUT", "/v1/admin/devices/"+d.IMEI+"/block", nil, nil); code != http.StatusOK {
		t.Fatalf("block: HTTP %d", code)
	}
	n.Stop(t)
	n = apptest.Start(t, dir)
	cc := rawDevice(t, n.CoAPAddr())
	if resp := registerAs(t, cc, d.IMEI); resp.Code() != codes.Forbidden {
		t.Errorf("Register of the blocked device after a restart: %v, want 4.03", resp.Code())
	}
}

// An admin's unbind: the device learns it is unbound at its next wake-up,
// and someone else may bind it.
func TestForceUnbind(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(510))
	alice, bob := signUp(t, n, "alice"), signUp(t, n, "bob")
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	a, _ := activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("alice's activation: %+v", got)
	}
	apptest.WaitDevice(t, dev, "bound", func(s device.Status) bool { return s.Pairing.OwnerUID == alice.uid })

	if code := n.API(t, "POST", "/v1/admin/devices/"+d.ID+"/unbind", nil, nil); code != http.StatusOK {
		t.Fatalf("force-unbind: HTTP %d", code)
	}
	apptest.WaitDevice(t, dev, "told it is unbound", func(s device.Status) bool {
		return s.Pairing.State == device.BindUnbound && s.Pairing.OwnerUID == ""
	})
	if code := n.Call(t, alice.token, "GET", "/v1/devices/"+d.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("the old owner still sees the device: HTTP %d", code)
	}
	var e apiErr
	if code := n.API(t, "POST", "/v1/admin/devices/"+d.ID+"/unbind", nil, &e); code != http.StatusConflict || e.Code != 4501 {
		t.Errorf("force-unbind of an unbound device: HTTP %d %+v, want 409 4501", code, e)
	}
	b, _ := activate(t, n, bob, d.NbID, 60)
	if got := waitActivation(t, n, bob, b.ID); got.Status != "paired" {
		t.Fatalf("bob's activation after the unbind: %+v", got)
	}
	if got := auditCount(t, n, d.ID, "unbind", "ok"); got != 1 {
		t.Errorf("%d unbind entries in the audit log, want 1", got)
	}
}

// A deprovisioned device is gone: its DTLS key, registration and binding;
// its IMEI is provisioned again with a new key, and only the new key
// works.
func TestDeprovision(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(520))
	alice := signUp(t, n, "alice")
	old := pskOf(t, d)
	sc := secureDevice(t, n, "urn:imei:"+d.IMEI, old)
	if resp := registerAs(t, sc, d.IMEI); resp.Code() != codes.Created {
		t.Fatalf("Register: %v", resp.Code())
	}
	a, _ := activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("activation: %+v", got)
	}

	var gone struct{ ID, IMEI string }
	if code := n.API(t, "DELETE", "/v1/admin/devices/"+d.IMEI, nil, &gone); code != http.StatusOK || gone.ID != d.ID {
		t.Fatalf("deprovision: HTTP %d %+v", code, gone)
	}
	if code := n.API(t, "GET", "/v1/admin/devices/"+d.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("the deprovisioned device: HTTP %d, want 404", code)
	}
	if code := n.Call(t, alice.token, "GET", "/v1/devices/"+d.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("its owner still sees it: HTTP %d", code)
	}
	if resp := registerAs(t, sc, d.IMEI); resp.Code() != codes.Forbidden {
		t.Errorf("Register of the deprovisioned device on its old session: %v, want 4.03", resp.Code())
	}

	again := n.Provision(t, d.IMEI)
	if again.ID == d.ID || again.NbID == d.NbID || again.PSK == d.PSK {
		t.Fatalf("provisioned again with the same ID, pairing ID or key: %+v", again)
	}
	if cc, err := dialSecure(n.CoAPSAddr(), "urn:imei:"+d.IMEI, old); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		perr := cc.Ping(ctx)
		cancel()
		cc.Close()
		if perr == nil {
			t.Errorf("a DTLS handshake with the old key succeeded")
		}
	}
	nc := secureDevice(t, n, "urn:imei:"+d.IMEI, pskOf(t, again))
	if resp := registerAs(t, nc, d.IMEI); resp.Code() != codes.Created {
		t.Fatalf("Register with the new key: %v", resp.Code())
	}
	if got := n.Device(t, again.ID); !got.Online {
		t.Errorf("the device provisioned again is not online: %+v", got)
	}
	if got := auditCount(t, n, d.ID, "deprovision", "ok"); got != 1 {
		t.Errorf("%d deprovision entries in the audit log, want 1", got)
	}
}
