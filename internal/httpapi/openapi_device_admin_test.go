package httpapi_test

import (
	"net/http"
	"strings"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// stepDeviceAdmin drives the admin actions on a device: force-unbind of
// a device of its own (registered and bound first), block, unblock and
// deprovisioning of the meter.
func stepDeviceAdmin(a *apiClient, w *world) {
	var lamp apptest.Provisioned
	a.do(post(w.admin, "/v1/admin/devices", map[string]string{"imei": apptest.IMEI(7)}), http.StatusCreated, &lamp)
	apptest.RunDevice(a.t, w.n, device.Config{IMEI: lamp.IMEI})
	testkit.Eventually(a.t, "the registration", func() bool { return w.n.Device(a.t, lamp.ID).Online })
	var act activationView
	a.do(post(w.alice.token, "/v1/activations", startBody(lamp.NbID, w.alice.home, 60)), http.StatusAccepted, &act)
	a.do(get(w.alice.token, "/v1/activations/"+act.ID+"?wait=20s"), http.StatusOK, &act)
	if act.Status != "paired" {
		a.t.Fatalf("binding the lamp: %+v", act)
	}
	unbind := "/v1/admin/devices/" + lamp.ID + "/unbind"
	var st struct {
		OwnerUID string
		Blocked  *struct{ Reason string }
	}
	a.do(post(w.admin, unbind, nil), http.StatusOK, &st)
	if st.OwnerUID != "" {
		a.t.Errorf("after the force-unbind the spare is still bound to %q", st.OwnerUID)
	}
	a.fail(post(w.admin, unbind, nil), http.StatusConflict, 4501)
	a.fail(post(w.admin, "/v1/admin/devices/dev_nope/unbind", nil), http.StatusNotFound, 4004)

	block := "/v1/admin/devices/" + w.meter.IMEI + "/block"
	a.do(put(w.admin, block, map[string]string{"reason": "reported stolen"}), http.StatusOK, &st)
	if st.Blocked == nil || st.Blocked.Reason != "reported stolen" {
		a.t.Errorf("the blocked meter's state: %+v", st)
	}
	a.do(call{method: "PUT", path: block, token: w.admin}, http.StatusOK, nil) // no body: no reason
	a.fail(put(w.admin, block, []byte(`{"why":"x"}`)), http.StatusBadRequest, 3724)
	a.fail(put(w.admin, block, map[string]string{"reason": "bad\x00reason"}), http.StatusBadRequest, 3723)
	a.fail(put(w.admin, block, map[string]string{"reason": strings.Repeat("x", 201)}), http.StatusBadRequest, 3723)
	a.fail(put(w.admin, "/v1/admin/devices/dev_nope/block", nil), http.StatusNotFound, 4004)
	a.fail(post(w.alice.token, "/v1/activations", startBody(w.meter.NbID, w.alice.home, 60)), http.StatusForbidden, 4500)
	st.Blocked = nil
	a.do(del(w.admin, block), http.StatusOK, &st)
	if st.Blocked != nil {
		a.t.Errorf("the unblocked meter is still blocked: %+v", st)
	}
	a.fail(del(w.admin, block), http.StatusNotFound, 4004)

	psk := "/v1/admin/devices/" + w.meter.ID + "/psk"
	var rot struct{ ID, PSKIdentity, PSK string }
	a.do(post(w.admin, psk, map[string]string{"deadline": "1h"}), http.StatusOK, &rot)
	if rot.ID != w.meter.ID || len(rot.PSK) != 32 || rot.PSK == w.meter.PSK {
		a.t.Errorf("the rotation answered %+v", rot)
	}
	var pending struct{ PSKRotation *struct{ Deadline string } }
	if a.do(get(w.admin, "/v1/admin/devices/"+w.meter.ID), http.StatusOK, &pending); pending.PSKRotation == nil {
		a.t.Errorf("the device shows no rotation under way")
	}
	a.do(call{method: "POST", path: psk, token: w.admin}, http.StatusOK, nil) // no body: seven days
	a.fail(post(w.admin, psk, map[string]string{"deadline": "soon"}), http.StatusBadRequest, 3723)
	a.fail(post(w.admin, psk, map[string]string{"deadline": "10000h"}), http.StatusBadRequest, 3723)
	a.fail(post(w.admin, psk, []byte(`{"when":"1h"}`)), http.StatusBadRequest, 3724)
	a.fail(post(w.admin, "/v1/admin/devices/dev_nope/psk", nil), http.StatusNotFound, 4004)

	path := "/v1/admin/devices/" + w.meter.ID
	var gone struct{ ID, IMEI string }
	a.do(del(w.admin, path), http.StatusOK, &gone)
	if gone.ID != w.meter.ID || gone.IMEI != w.meter.IMEI {
		a.t.Errorf("deprovisioned %+v, want the meter", gone)
	}
	a.fail(get(w.admin, path), http.StatusNotFound, 4004)
	a.fail(del(w.admin, path), http.StatusNotFound, 4004)
}
