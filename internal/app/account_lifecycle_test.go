package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The account lifecycle, sharing and transfers end to end: a real node,
// real simulated devices over UDP, the HTTP API, the webhook outbox and
// the audit log.

const testPassword = "correct horse battery"

// logIn starts another session of a signed-up user.
func logIn(t *testing.T, n *apptest.Node, name, password string) (string, int) {
	t.Helper()
	var se struct{ Token string }
	code := n.Call(t, "", "POST", "/v1/sessions", map[string]string{"username": name, "password": password}, &se)
	return se.Token, code
}

// pairRunning provisions device i, runs it over UDP and pairs it to u's
// home; it returns the device ID and the running device.
func pairRunning(t *testing.T, n *apptest.Node, u user, i int) (string, *device.Client) {
	t.Helper()
	d := n.Provision(t, apptest.IMEI(i))
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	a, code := activate(t, n, u, d.NbID, 60)
	if code != http.StatusAccepted {
		t.Fatalf("start activation: HTTP %d", code)
	}
	if got := waitActivation(t, n, u, a.ID); got.Status != "paired" {
		t.Fatalf("activation ended %+v", got)
	}
	apptest.WaitDevice(t, dev, "the owner in the Pairing object", func(s device.Status) bool { return s.Pairing.OwnerUID == u.uid })
	return d.ID, dev
}

// wantCode calls the API and requires the status and, for an error, the
// code.
func wantCode(t *testing.T, n *apptest.Node, token, method, path string, body any, status, code int) {
	t.Helper()
	var e apiErr
	var out any
	if status >= 400 {
		out = &e
	}
	if got := n.Call(t, token, method, path, body, out); got != status || (code != 0 && e.Code != code) {
		t.Fatalf("%s %s: HTTP %d code %d (%s), want %d code %d", method, path, got, e.Code, e.Message, status, code)
	}
}

// wakeUntil has the device send Updates until cond holds of what the
// server wrote to its Pairing object.
func wakeUntil(t *testing.T, dev *device.Client, what string, cond func(device.Status) bool) device.Status {
	t.Helper()
	if err := dev.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	return apptest.WaitDevice(t, dev, what, cond)
}

type auditEntry struct {
	Action, Outcome, UID, DevID, RemoteAddr, Detail string
}

// auditOf lists the audit entries of an action, newest first.
func auditOf(t *testing.T, n *apptest.Node, action string) []auditEntry {
	t.Helper()
	var page struct{ Entries []auditEntry }
	if code := n.API(t, "GET", "/v1/admin/audit?action="+action, nil, &page); code != http.StatusOK {
		t.Fatalf("audit: HTTP %d", code)
	}
	return page.Entries
}

func TestPasswordChangeAndSessions(t *testing.T) {
	n := apptest.Start(t, "")
	alice := signUp(t, n, "alice")
	other, _ := logIn(t, n, "alice", testPassword)
	third, _ := logIn(t, n, "alice", testPassword)

	var list struct {
		Sessions []struct {
			ID, UserAgent, RemoteAddr string
			Current                   bool
			LastUsedAt                time.Time
		}
	}
	if code := n.Call(t, alice.token, "GET", "/v1/sessions", nil, &list); code != http.StatusOK || len(list.Sessions) != 3 {
		t.Fatalf("sessions: HTTP %d %+v", code, list)
	}
	current := slices.IndexFunc(list.Sessions, func(s struct {
		ID, UserAgent, RemoteAddr string
		Current                   bool
		LastUsedAt                time.Time
	}) bool {
		return s.Current
	})
	if current < 0 || list.Sessions[current].RemoteAddr != "127.0.0.1" || list.Sessions[current].UserAgent == "" {
		t.Fatalf("sessions: %+v", list.Sessions)
	}

	// Revoke the third session by its ID: it ends, the others stay.
	var thirdID string
	n.Call(t, third, "GET", "/v1/sessions", nil, &list)
	for _, s := range list.Sessions {
		if s.Current {
			thirdID = s.ID
		}
	}
	if code := n.Call(t, alice.token, "DELETE", "/v1/sessions/"+thirdID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: HTTP %d", code)
	}
	wantCode(t, n, third, "GET", "/v1/homes", nil, http.StatusUnauthorized, 3720)
	wantCode(t, n, alice.token, "DELETE", "/v1/sessions/"+thirdID, nil, http.StatusNotFound, 4004)

	body := map[string]string{"currentPassword": "not the password", "newPassword": "a new long password"}
	wantCode(t, n, alice.token, "PUT", "/v1/account/password", body, http.StatusForbidden, 4400)
	wantCode(t, n, other, "GET", "/v1/homes", nil, http.StatusOK, 0) // a refused change ends nothing
	body["currentPassword"] = testPassword
	body["newPassword"] = "short"
	wantCode(t, n, alice.token, "PUT", "/v1/account/password", body, http.StatusBadRequest, 3723)
	body["newPassword"] = "a new long password"
	wantCode(t, n, alice.token, "PUT", "/v1/account/password", body, http.StatusNoContent, 0)

	wantCode(t, n, alice.token, "GET", "/v1/homes", nil, http.StatusOK, 0) // this session stays
	wantCode(t, n, other, "GET", "/v1/homes", nil, http.StatusUnauthorized, 3720)
	if _, code := logIn(t, n, "alice", testPassword); code != http.StatusUnauthorized {
		t.Errorf("log in with the old password: HTTP %d", code)
	}
	if _, code := logIn(t, n, "alice", "a new long password"); code != http.StatusCreated {
		t.Errorf("log in with the new password: HTTP %d", code)
	}
	changes := auditOf(t, n, "password-change")
	if len(changes) != 2 || changes[0].Outcome != "ok" || changes[1].Outcome != "refused" || changes[0].UID != alice.uid {
		t.Errorf("audit of password changes: %+v", changes)
	}
	if revokes := auditOf(t, n, "session-revoke"); len(revokes) != 1 || revokes[0].UID != alice.uid {
		t.Errorf("audit of session revokes: %+v", revokes)
	}
}

// TestAccountDeletion: deleting an account unbinds its devices, each told
// so over UDP and by a device.unbound webhook; it leaves the homes of
// others; the audit log keeps it under a pseudonym, never its username.
func TestAccountDeletion(t *testing.T) {
	n := apptest.Start(t, "", fastHooks)
	rc := newReceiver(t, 0)
	rc.setSecret(addWebhook(t, n, rc.URL, "device.unbound").Secret)
	alice, bob := signUp(t, n, "alice"), signUp(t, n, "bob")
	if code := n.Call(t, bob.token, "POST", "/v1/homes/"+bob.home+"/members", map[string]string{"username": "alice", "role": "admin"}, nil); code != http.StatusCreated {
		t.Fatalf("add alice to bob's home: HTTP %d", code)
	}
	devID, dev := pairRunning(t, n, alice, 300)
	other := user{uid: alice.uid, token: alice.token, home: bob.home} // alice, adding to bob's home
	devID2, dev2 := pairRunning(t, n, other, 301)
	bobsID, bobsDev := pairRunning(t, n, bob, 302)

	wantCode(t, n, alice.token, "POST", "/v1/account:delete", map[string]string{"password": "wrong password"}, http.StatusForbidden, 4400)
	wantCode(t, n, alice.token, "POST", "/v1/account:delete", map[string]string{}, http.StatusBadRequest, 3721)
	wantCode(t, n, alice.token, "POST", "/v1/account:delete", map[string]string{"password": testPassword}, http.StatusNoContent, 0)

	for _, d := range []*device.Client{dev, dev2} {
		wakeUntil(t, d, "the unbind to reach the device", func(s device.Status) bool {
			return s.Pairing.State == device.BindUnbound && s.Pairing.OwnerUID == ""
		})
	}
	if st := bobsDev.Status(); st.Pairing.OwnerUID != bob.uid {
		t.Errorf("bob's device holds %+v", st.Pairing)
	}
	wantCode(t, n, alice.token, "GET", "/v1/homes", nil, http.StatusUnauthorized, 3720)
	var members struct{ Members []struct{ UID string } }
	n.Call(t, bob.token, "GET", "/v1/homes/"+bob.home+"/members", nil, &members)
	if len(members.Members) != 1 || members.Members[0].UID != bob.uid {
		t.Errorf("bob's home after alice left: %+v", members)
	}
	wantCode(t, n, bob.token, "GET", "/v1/devices/"+bobsID, nil, http.StatusOK, 0)
	wantCode(t, n, bob.token, "GET", "/v1/devices/"+devID2, nil, http.StatusNotFound, 4004)

	testkit.Eventually(t, "the device.unbound webhooks", func() bool { return len(rc.okTypes()) >= 2 })
	rc.mu.Lock()
	var unbound []string
	for _, d := range rc.ok {
		if d.Data["by"] == "account-deleted" {
			unbound = append(unbound, d.Data["deviceId"].(string))
		}
	}
	rc.mu.Unlock()
	slices.Sort(unbound)
	want := []string{devID, devID2}
	slices.Sort(want)
	if !slices.Equal(unbound, want) {
		t.Errorf("device.unbound webhooks for %v, want %v", unbound, want)
	}

	deletions := auditOf(t, n, "account-delete")
	if len(deletions) != 2 || deletions[0].Outcome != "ok" || !strings.HasPrefix(deletions[0].UID, "anon_") ||
		deletions[0].RemoteAddr != "" || deletions[0].Detail != "2 devices unbound, 1 homes deleted, 1 homes left" {
		t.Fatalf("audit of the deletion: %+v", deletions)
	}
	pseudonym := deletions[0].UID
	if deletions[1].Outcome != "refused" || deletions[1].UID != pseudonym {
		t.Errorf("the refused deletion is not under the same pseudonym: %+v", deletions[1])
	}
	var all struct{ Entries []auditEntry }
	n.API(t, "GET", "/v1/admin/audit?limit=1000", nil, &all)
	unbinds := 0
	for _, e := range all.Entries {
		if e.UID == alice.uid || strings.Contains(e.Detail, "alice") || (e.UID == pseudonym && e.RemoteAddr != "") {
			t.Errorf("the audit log still points at alice: %+v", e)
		}
		if e.Action == "unbind" && e.UID == pseudonym && e.Detail == "account deleted" {
			unbinds++
		}
	}
	if unbinds != 2 {
		t.Errorf("%d unbinds audited for the deletion, want 2", unbinds)
	}
	// Logging in to the deleted account fails; that is a new event, audited
	// with the name tried like any unknown username.
	if _, code := logIn(t, n, "alice", testPassword); code != http.StatusUnauthorized {
		t.Errorf("log in to the deleted account: HTTP %d", code)
	}
}

func TestHomeDeletion(t *testing.T) {
	n := apptest.Start(t, "")
	alice, bob := signUp(t, n, "alice"), signUp(t, n, "bob")
	n.Call(t, alice.token, "POST", "/v1/homes/"+alice.home+"/members", map[string]string{"username": "bob", "role": "admin"}, nil)
	devID, dev := pairRunning(t, n, alice, 310)

	wantCode(t, n, bob.token, "DELETE", "/v1/homes/"+alice.home, nil, http.StatusForbidden, 3719)
	wantCode(t, n, bob.token, "DELETE", "/v1/homes/h_nope", nil, http.StatusNotFound, 4004)
	wantCode(t, n, alice.token, "DELETE", "/v1/homes/"+alice.home, nil, http.StatusNoContent, 0)
	wakeUntil(t, dev, "the unbind to reach the device", func(s device.Status) bool { return s.Pairing.State == device.BindUnbound })
	wantCode(t, n, alice.token, "GET", "/v1/homes/"+alice.home+"/devices", nil, http.StatusNotFound, 4004)
	wantCode(t, n, bob.token, "GET", "/v1/devices/"+devID, nil, http.StatusNotFound, 4004)
	if got := auditOf(t, n, "home-delete"); len(got) != 2 || got[0].Outcome != "ok" || got[0].UID != alice.uid || got[1].Outcome != "refused" {
		t.Errorf("audit of home deletions: %+v", got)
	}
}

func TestSharing(t *testing.T) {
	n := apptest.Start(t, "")
	alice, bob, carol := signUp(t, n, "alice"), signUp(t, n, "bob"), signUp(t, n, "carol")
	devID, _ := pairRunning(t, n, alice, 320)
	shares := "/v1/devices/" + devID + "/shares"

	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "bob", "access": "read"}, http.StatusCreated, 0)
	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "alice", "access": "read"}, http.StatusBadRequest, 4401)
	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "nobody", "access": "read"}, http.StatusNotFound, 4004)
	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "bob", "access": "admin"}, http.StatusBadRequest, 3723)
	wantCode(t, n, bob.token, "POST", shares, map[string]string{"username": "carol", "access": "read"}, http.StatusForbidden, 4402)
	wantCode(t, n, carol.token, "POST", shares, map[string]string{"username": "carol", "access": "read"}, http.StatusNotFound, 4004)

	var shared struct {
		Devices []struct{ DevID, Access, SharedBy string }
	}
	n.Call(t, bob.token, "GET", "/v1/shared-devices", nil, &shared)
	if len(shared.Devices) != 1 || shared.Devices[0].DevID != devID || shared.Devices[0].Access != "read" || shared.Devices[0].SharedBy != "alice" {
		t.Fatalf("shared with bob: %+v", shared)
	}
	wantCode(t, n, bob.token, "GET", "/v1/devices/"+devID, nil, http.StatusOK, 0)
	wantCode(t, n, carol.token, "GET", "/v1/devices/"+devID, nil, http.StatusNotFound, 4004)
	wantCode(t, n, bob.token, "PATCH", "/v1/devices/"+devID, map[string]string{"name": "Bob's now"}, http.StatusForbidden, 4403)
	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "bob", "access": "control"}, http.StatusOK, 0)
	wantCode(t, n, bob.token, "PATCH", "/v1/devices/"+devID, map[string]string{"name": "Hall meter"}, http.StatusOK, 0)
	wantCode(t, n, bob.token, "DELETE", "/v1/devices/"+devID, nil, http.StatusNotFound, 4004) // control is not removal
	wantCode(t, n, bob.token, "GET", shares, nil, http.StatusForbidden, 4402)

	var list struct {
		Shares []struct{ UID, Username, Access string }
	}
	n.Call(t, alice.token, "GET", shares, nil, &list)
	if len(list.Shares) != 1 || list.Shares[0].UID != bob.uid || list.Shares[0].Access != "control" {
		t.Fatalf("shares of the device: %+v", list)
	}
	wantCode(t, n, alice.token, "DELETE", shares+"/"+bob.uid, nil, http.StatusNoContent, 0)
	wantCode(t, n, bob.token, "GET", "/v1/devices/"+devID, nil, http.StatusNotFound, 4004)
	wantCode(t, n, alice.token, "DELETE", shares+"/"+bob.uid, nil, http.StatusNotFound, 4004)

	// A user leaves a share; removing the device ends every share.
	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "carol", "access": "read"}, http.StatusCreated, 0)
	wantCode(t, n, carol.token, "DELETE", shares+"/"+carol.uid, nil, http.StatusNoContent, 0)
	wantCode(t, n, alice.token, "POST", shares, map[string]string{"username": "carol", "access": "read"}, http.StatusCreated, 0)
	wantCode(t, n, alice.token, "DELETE", "/v1/devices/"+devID, nil, http.StatusNoContent, 0)
	n.Call(t, carol.token, "GET", "/v1/shared-devices", nil, &shared)
	if len(shared.Devices) != 0 {
		t.Errorf("shared with carol after the device was removed: %+v", shared)
	}
	if got := auditOf(t, n, "share"); len(got) != 4 {
		t.Errorf("audit of shares: %d entries, want 4: %+v", len(got), got)
	}
	if got := auditOf(t, n, "unshare"); len(got) != 2 {
		t.Errorf("audit of unshares: %d entries, want 2: %+v", len(got), got)
	}
}

type transferJSON struct {
	ID, DevID, DeviceName, FromUID, ToUID, Status, SpaceID string
	Deadline                                               time.Time
}

func offer(t *testing.T, n *apptest.Node, from user, devID, to string, expiresIn int) transferJSON {
	t.Helper()
	var tr transferJSON
	if code := n.Call(t, from.token, "POST", "/v1/devices/"+devID+"/transfers", map[string]any{"username": to, "expiresIn": expiresIn}, &tr); code != http.StatusCreated {
		t.Fatalf("offer: HTTP %d", code)
	}
	return tr
}

// TestTransfer: declined, then accepted into the recipient's home (the
// device is told its new owner over UDP), then an offer that expires.
func TestTransfer(t *testing.T) {
	n := apptest.Start(t, "", fastHooks)
	rc := newReceiver(t, 0)
	rc.setSecret(addWebhook(t, n, rc.URL, "device.transferred", "device.bound", "device.unbound").Secret)
	alice, bob, carol := signUp(t, n, "alice"), signUp(t, n, "bob"), signUp(t, n, "carol")
	devID, dev := pairRunning(t, n, alice, 330)
	n.Call(t, alice.token, "POST", "/v1/devices/"+devID+"/shares", map[string]string{"username": "carol", "access": "read"}, nil)

	tr := offer(t, n, alice, devID, "bob", 0)
	if tr.Status != "pending" || tr.ToUID != bob.uid || time.Until(tr.Deadline) < 71*time.Hour {
		t.Fatalf("offer: %+v", tr)
	}
	wantCode(t, n, alice.token, "POST", "/v1/devices/"+devID+"/transfers", map[string]any{"username": "carol"}, http.StatusConflict, 4404)
	wantCode(t, n, bob.token, "POST", "/v1/devices/"+devID+"/transfers", map[string]any{"username": "carol"}, http.StatusNotFound, 4004)
	var lists struct{ Incoming, Outgoing []transferJSON }
	n.Call(t, bob.token, "GET", "/v1/transfers", nil, &lists)
	if len(lists.Incoming) != 1 || lists.Incoming[0].ID != tr.ID || len(lists.Outgoing) != 0 {
		t.Fatalf("bob's transfers: %+v", lists)
	}
	wantCode(t, n, alice.token, "POST", "/v1/transfers/"+tr.ID+"/decline", nil, http.StatusForbidden, 3719)
	wantCode(t, n, carol.token, "GET", "/v1/transfers/"+tr.ID, nil, http.StatusNotFound, 4004)
	wantCode(t, n, bob.token, "POST", "/v1/transfers/"+tr.ID+"/decline", nil, http.StatusOK, 0)
	wantCode(t, n, bob.token, "POST", "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": bob.home}, http.StatusConflict, 4406)

	tr = offer(t, n, alice, devID, "bob", 3600)
	wantCode(t, n, bob.token, "POST", "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": alice.home}, http.StatusForbidden, 3719)
	wantCode(t, n, bob.token, "POST", "/v1/transfers/"+tr.ID+"/accept", map[string]string{}, http.StatusBadRequest, 3721)
	var done transferJSON
	if code := n.Call(t, bob.token, "POST", "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": bob.home}, &done); code != http.StatusOK ||
		done.Status != "accepted" || done.SpaceID != bob.home {
		t.Fatalf("accept: HTTP %d %+v", code, done)
	}
	st := wakeUntil(t, dev, "the new owner to reach the device", func(s device.Status) bool { return s.Pairing.OwnerUID == bob.uid })
	if st.Pairing.HomeID != bob.home || st.Pairing.State != device.BindBound {
		t.Errorf("the device holds %+v", st.Pairing)
	}
	wantCode(t, n, alice.token, "GET", "/v1/devices/"+devID, nil, http.StatusNotFound, 4004)
	wantCode(t, n, carol.token, "GET", "/v1/devices/"+devID, nil, http.StatusNotFound, 4004) // alice's share ended
	var homeDevs struct {
		Devices []struct{ DevID, OwnerUID string }
	}
	n.Call(t, bob.token, "GET", "/v1/homes/"+bob.home+"/devices", nil, &homeDevs)
	if len(homeDevs.Devices) != 1 || homeDevs.Devices[0].DevID != devID || homeDevs.Devices[0].OwnerUID != bob.uid {
		t.Errorf("bob's home: %+v", homeDevs)
	}
	testkit.Eventually(t, "the transfer's webhooks", func() bool {
		return slices.Contains(rc.okTypes(), "device.transferred") && slices.Contains(rc.okTypes(), "device.unbound")
	})

	// An offer not accepted in time expires: the sweeper ends it.
	late := offer(t, n, bob, devID, "carol", 1)
	testkit.Eventually(t, "the offer to expire", func() bool {
		var got transferJSON
		n.Call(t, carol.token, "GET", "/v1/transfers/"+late.ID, nil, &got)
		return got.Status == "expired"
	})
	wantCode(t, n, carol.token, "POST", "/v1/transfers/"+late.ID+"/accept", map[string]string{"spaceId": carol.home}, http.StatusGone, 4405)

	// The sweeper audits an expiry after it has ended the offer.
	testkit.Eventually(t, "the expiry in the audit log", func() bool { return len(auditOf(t, n, "transfer")) >= 6 })
	var steps []string
	for _, e := range auditOf(t, n, "transfer") {
		_, step, _ := strings.Cut(e.Detail, ": ")
		steps = append(steps, strings.Fields(step)[0])
	}
	slices.Reverse(steps)
	if want := []string{"offered", "declined", "offered", "accepted", "offered", "expired,"}; !slices.Equal(steps, want) {
		t.Errorf("audit of the transfers: %v, want %v", steps, want)
	}
}
