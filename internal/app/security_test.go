package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// One user tries 10,000 random pairing IDs against parse and bind: nothing
// is bound, the rate limit engages, and every attempt is in the audit log.
// A known pairing ID tried by a second user gets 3711, not the device.
func TestGuessingNbIDs(t *testing.T) {
	testkit.Long(t, "10,000 guesses against the rate limit")
	n := apptest.Start(t, "", apptest.QuietLogs)
	d := n.Provision(t, apptest.IMEI(200))
	alice, mallory := signUp(t, n, "alice"), signUp(t, n, "mallory")
	apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	a, _ := activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("alice's activation: %+v", got)
	}

	const attempts = 10000
	codes := map[int]int{}
	base := d.QR[:len(d.QR)-len(d.NbID)]
	for i := range attempts {
		nbID := randomNbID(t)
		var e apiErr
		if i%2 == 0 {
			n.Call(t, mallory.token, "POST", "/v1/qrcode:parse", map[string]string{"code": base + nbID}, &e)
		} else {
			n.Call(t, mallory.token, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": nbID, "spaceId": mallory.home}, &e)
		}
		codes[e.Code]++
	}
	t.Logf("answers to %d guesses by code: %v", attempts, codes)
	if codes[3733]+codes[4290] != attempts {
		t.Fatalf("answers other than 3733 and 4290: %v", codes)
	}
	if codes[4290] < attempts/2 {
		t.Errorf("the rate limit refused only %d of %d guesses", codes[4290], attempts)
	}
	var devs struct{ Devices []any }
	n.Call(t, mallory.token, "GET", "/v1/homes/"+mallory.home+"/devices", nil, &devs)
	if len(devs.Devices) != 0 {
		t.Fatalf("guessing bound %d devices", len(devs.Devices))
	}
	var log struct{ Total int }
	n.API(t, "GET", "/v1/admin/audit?uid="+mallory.uid+"&outcome=refused&limit=1", nil, &log)
	if log.Total != attempts {
		t.Errorf("the audit log holds %d refused attempts of mallory, want %d", log.Total, attempts)
	}

	eve := signUp(t, n, "eve")
	if _, code := activate(t, n, eve, d.NbID, 60); code != http.StatusConflict {
		t.Errorf("a second user with the real label: HTTP %d, want 409 (3711)", code)
	}
	var e apiErr
	n.Call(t, eve.token, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": alice.home}, &e)
	if e.Code != 3719 {
		t.Errorf("eve binding into alice's home: code %d, want 3719", e.Code)
	}
	// Both refusals say which device they were for.
	var refused struct {
		Entries []struct{ DevID, Detail string }
	}
	n.API(t, "GET", "/v1/admin/audit?uid="+eve.uid+"&action=bind&outcome=refused", nil, &refused)
	if len(refused.Entries) != 2 {
		t.Fatalf("eve's refused binds in the audit log: %+v", refused.Entries)
	}
	for _, r := range refused.Entries {
		if r.DevID != d.ID {
			t.Errorf("a refused bind (%s) is recorded for device %q, want %s", r.Detail, r.DevID, d.ID)
		}
	}
}

func randomNbID(t *testing.T) string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// A device asks to be reset, in both ways; then another user can bind it
// and the old owner no longer sees it.
func TestDeviceReset(t *testing.T) {
	for _, tt := range []struct {
		name string
		kind device.ResetKind
	}{{"normal", device.ResetNormal}, {"factory", device.ResetFactory}} {
		t.Run(tt.name, func(t *testing.T) {
			n := apptest.Start(t, "")
			d := n.Provision(t, apptest.IMEI(210))
			alice, bob := signUp(t, n, "alice"), signUp(t, n, "bob")
			dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
			a, _ := activate(t, n, alice, d.NbID, 60)
			if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
				t.Fatalf("alice's activation: %+v", got)
			}
			n.Call(t, alice.token, "PATCH", "/v1/devices/"+d.ID, map[string]string{"name": "Alice's meter"}, nil)
			apptest.WaitDevice(t, dev, "bound", func(s device.Status) bool { return s.Pairing.OwnerUID == alice.uid })

			if err := dev.RequestReset(context.Background(), tt.kind); err != nil {
				t.Fatal(err)
			}
			apptest.WaitDevice(t, dev, "the reset to be confirmed", func(s device.Status) bool {
				return s.Pairing.State == device.BindUnbound && s.Pairing.OwnerUID == ""
			})
			if code := n.Call(t, alice.token, "GET", "/v1/devices/"+d.ID, nil, nil); code != http.StatusNotFound {
				t.Errorf("the old owner still sees the device: HTTP %d", code)
			}
			b, _ := activate(t, n, bob, d.NbID, 60)
			got := waitActivation(t, n, bob, b.ID)
			if got.Status != "paired" {
				t.Fatalf("bob's activation after the reset: %+v", got)
			}
			var view struct{ Name string }
			n.Call(t, bob.token, "GET", "/v1/devices/"+d.ID, nil, &view)
			if erased := view.Name != "Alice's meter"; erased != (tt.kind == device.ResetFactory) {
				t.Errorf("after a %s reset the name is %q", tt.name, view.Name)
			}
			var log struct {
				Entries []struct{ Action, Detail string }
			}
			n.API(t, "GET", "/v1/admin/audit?deviceId="+d.ID+"&action=reset", nil, &log)
			if len(log.Entries) != 1 {
				t.Errorf("audit log of the reset: %+v", log.Entries)
			}
		})
	}
}
