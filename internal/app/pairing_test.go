package app_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// user is a signed-up, logged-in app user with one home.
type user struct {
	uid, token, home string
}

func signUp(t *testing.T, n *apptest.Node, name string) user {
	t.Helper()
	creds := map[string]string{"username": name, "password": "correct horse battery"}
	var se struct{ Token, UID string } // sign-up answers with the account's first session
	if code := n.Call(t, "", "POST", "/v1/users", creds, &se); code != http.StatusCreated || se.Token == "" || se.UID == "" {
		t.Fatalf("sign up %s: HTTP %d %+v", name, code, se)
	}
	var h struct{ ID string }
	if code := n.Call(t, se.Token, "POST", "/v1/homes", map[string]string{"name": name + "'s home"}, &h); code != http.StatusCreated {
		t.Fatalf("create home: HTTP %d", code)
	}
	return user{uid: se.UID, token: se.Token, home: h.ID}
}

type apiErr struct {
	Code          int
	Name, Message string
}

type activation struct {
	ID, Status, DevID string
	Remaining         float64
	Device            *struct{ DevID, OwnerUID, SpaceID string }
	Error             *apiErr
}

func activate(t *testing.T, n *apptest.Node, u user, nbID string, timeout int) (activation, int) {
	t.Helper()
	var a activation
	code := n.Call(t, u.token, "POST", "/v1/activations",
		map[string]any{"type": "NB", "nbId": nbID, "spaceId": u.home, "timeout": timeout, "timeZone": "Europe/Berlin"}, &a)
	return a, code
}

func waitActivation(t *testing.T, n *apptest.Node, u user, id string) activation {
	t.Helper()
	var a activation
	deadline := time.Now().Add(30 * time.Second)
	for a.Status == "" || a.Status == "pending" {
		if time.Now().After(deadline) {
			t.Fatalf("activation %s still pending", id)
		}
		if code := n.Call(t, u.token, "GET", "/v1/activations/"+id+"?wait=10s", nil, &a); code != http.StatusOK {
			t.Fatalf("long-poll: HTTP %d", code)
		}
	}
	return a
}

func TestPairActivationFirstOverHTTP(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(100))
	alice := signUp(t, n, "alice")

	var scan struct {
		ActionName string
		ActionData struct{ ID string }
	}
	if code := n.Call(t, alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": d.QR}, &scan); code != 200 {
		t.Fatalf("parse: HTTP %d", code)
	}
	if scan.ActionName != "device_net_conn_bind_nb" || scan.ActionData.ID != d.NbID {
		t.Fatalf("parse answered %+v", scan)
	}
	a, code := activate(t, n, alice, scan.ActionData.ID, 60)
	if code != http.StatusAccepted || a.Status != "pending" || a.Remaining <= 0 {
		t.Fatalf("start: HTTP %d %+v", code, a)
	}
	// The same activation again is refused while the first runs.
	if _, code := activate(t, n, alice, d.NbID, 60); code != http.StatusConflict {
		t.Errorf("a repeated activation: HTTP %d, want 409 (3710)", code)
	}

	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	got := waitActivation(t, n, alice, a.ID)
	if got.Status != "paired" || got.Device == nil || got.Device.DevID != d.ID || got.Device.OwnerUID != alice.uid || got.Device.SpaceID != alice.home {
		t.Fatalf("activation ended %+v", got)
	}
	st := apptest.WaitDevice(t, dev, "the owner in the Pairing object", func(s device.Status) bool { return s.Pairing.OwnerUID != "" })
	if st.Pairing.OwnerUID != alice.uid || st.Pairing.HomeID != alice.home || st.Pairing.State != device.BindBound {
		t.Errorf("the device holds %+v", st.Pairing)
	}

	var list struct {
		Devices []struct{ DevID, Name string }
	}
	n.Call(t, alice.token, "GET", "/v1/homes/"+alice.home+"/devices", nil, &list)
	if len(list.Devices) != 1 || list.Devices[0].DevID != d.ID {
		t.Fatalf("home devices: %+v", list)
	}
	if code := n.Call(t, alice.token, "PATCH", "/v1/devices/"+d.ID, map[string]string{"name": "Kitchen meter"}, nil); code != 200 {
		t.Errorf("rename: HTTP %d", code)
	}

	// Removing the device unbinds it, and the device is told.
	if code := n.Call(t, alice.token, "DELETE", "/v1/devices/"+d.ID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("remove: HTTP %d", code)
	}
	if err := dev.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	apptest.WaitDevice(t, dev, "the unbind to reach the device", func(s device.Status) bool {
		return s.Pairing.State == device.BindUnbound && s.Pairing.OwnerUID == ""
	})
}

func TestPairingRefusals(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(110))
	alice, bob := signUp(t, n, "alice"), signUp(t, n, "bob")
	apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	a, _ := activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("alice's activation: %+v", got)
	}

	tests := []struct {
		name     string
		token    string
		body     map[string]any
		wantCode int
	}{
		{"bound to another account", bob.token, map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": bob.home}, 3711},
		{"another user's home", bob.token, map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": alice.home}, 3719},
		{"unknown nbId", bob.token, map[string]any{"type": "NB", "nbId": strings.Repeat("ab", 16), "spaceId": bob.home}, 3733},
		{"not logged in", "", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": bob.home}, 3720},
		{"unknown session", "nbs_forged", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": bob.home}, 3720},
		{"missing type", bob.token, map[string]any{"nbId": d.NbID, "spaceId": bob.home}, 3721},
		{"other type", bob.token, map[string]any{"type": "BLE", "nbId": d.NbID, "spaceId": bob.home}, 3723},
		{"missing nbId", bob.token, map[string]any{"type": "NB", "spaceId": bob.home}, 3721},
		{"blank nbId", bob.token, map[string]any{"type": "NB", "nbId": "   ", "spaceId": bob.home}, 3722},
		{"malformed nbId", bob.token, map[string]any{"type": "NB", "nbId": "868000000000110", "spaceId": bob.home}, 3723},
		{"missing spaceId", bob.token, map[string]any{"type": "NB", "nbId": d.NbID}, 3721},
		{"timeout too long", bob.token, map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": bob.home, "timeout": 86400}, 3723},
		{"timeout of the wrong type", bob.token, map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": bob.home, "timeout": "2m"}, 3724},
		{"unknown time zone", bob.token, map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": bob.home, "timeZone": "Mars/Olympus"}, 3723},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiErr
			n.Call(t, tt.token, "POST", "/v1/activations", tt.body, &e)
			if e.Code != tt.wantCode || e.Message == "" {
				t.Errorf("got %+v, want code %d", e, tt.wantCode)
			}
		})
	}
	var got struct{ OwnerUID string }
	n.Call(t, alice.token, "GET", "/v1/devices/"+d.ID, nil, &got)
	if got.OwnerUID != alice.uid {
		t.Errorf("refused attempts changed the owner: %+v", got)
	}
	if code := n.Call(t, bob.token, "GET", "/v1/devices/"+d.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("bob sees alice's device: HTTP %d", code)
	}
}

func TestActivationTimeoutAndStop(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(120))
	alice := signUp(t, n, "alice")
	a, _ := activate(t, n, alice, d.NbID, 1)
	got := waitActivation(t, n, alice, a.ID)
	if got.Status != "failed" || got.Error == nil || got.Error.Code != 1512 {
		t.Fatalf("a 1 s activation with no device ended %+v", got)
	}
	b, _ := activate(t, n, alice, d.NbID, 60)
	var stopped activation
	if code := n.Call(t, alice.token, "DELETE", "/v1/activations/"+b.ID, nil, &stopped); code != 200 || stopped.Status != "stopped" {
		t.Fatalf("stop: HTTP %d %+v", code, stopped)
	}
	// A device that registers afterwards is not bound by the stopped activation.
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	apptest.WaitDevice(t, dev, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID != "" })
	if st := dev.Status(); st.Pairing.OwnerUID != "" {
		t.Errorf("a stopped activation bound the device: %+v", st.Pairing)
	}
}

func TestTwoUsersRaceForOneDevice(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(130))
	users := []user{signUp(t, n, "alice"), signUp(t, n, "bob")}
	ids := make([]string, len(users))
	for i, u := range users {
		a, code := activate(t, n, u, d.NbID, 60)
		if code != http.StatusAccepted {
			t.Fatalf("%s: HTTP %d", u.uid, code)
		}
		ids[i] = a.ID
	}
	apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	results := make([]activation, len(users))
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() { results[i] = waitActivation(t, n, users[i], ids[i]) })
	}
	wg.Wait()
	paired, refused := 0, 0
	for _, r := range results {
		switch {
		case r.Status == "paired":
			paired++
		case r.Error != nil && r.Error.Code == 3711:
			refused++
		}
	}
	if paired != 1 || refused != 1 {
		t.Fatalf("want exactly one winner and one 3711, got %+v", results)
	}
}

func TestSessionExpiryAndLogout(t *testing.T) {
	n := apptest.Start(t, "", func(c *config.Config) { c.SessionTTL = config.Duration(time.Second) })
	u := signUp(t, n, "alice")
	var e apiErr
	testkit.Eventually(t, "the session to expire", func() bool {
		e = apiErr{}
		n.Call(t, u.token, "GET", "/v1/homes", nil, &e)
		return e.Code != 0
	})
	if e.Code != 3718 {
		t.Fatalf("an expired session got %+v, want 3718", e)
	}

	creds := map[string]string{"username": "alice", "password": "correct horse battery"}
	var se struct{ Token string }
	n.Call(t, "", "POST", "/v1/sessions", creds, &se)
	if code := n.Call(t, se.Token, "DELETE", "/v1/sessions/current", nil, nil); code != http.StatusNoContent {
		t.Fatalf("log out: HTTP %d", code)
	}
	e = apiErr{}
	if n.Call(t, se.Token, "GET", "/v1/homes", nil, &e); e.Code != 3720 {
		t.Errorf("after log out: %+v, want 3720", e)
	}
}

func TestAccountAndQRRefusals(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(140))
	alice := signUp(t, n, "alice")
	tests := []struct {
		name, token, method, path string
		body                      any
		wantCode                  int
	}{
		{"username taken", "", "POST", "/v1/users", map[string]string{"username": "ALICE", "password": "another password"}, 4009},
		{"short password", "", "POST", "/v1/users", map[string]string{"username": "carol", "password": "short"}, 3723},
		{"missing username", "", "POST", "/v1/users", map[string]string{"password": "long enough pw"}, 3721},
		{"wrong password", "", "POST", "/v1/sessions", map[string]string{"username": "alice", "password": "not the password"}, 4010},
		{"unknown user", "", "POST", "/v1/sessions", map[string]string{"username": "mallory", "password": "whatever123"}, 4010},
		{"blank home name", alice.token, "POST", "/v1/homes", map[string]string{"name": ""}, 3721},
		{"parse without session", "", "POST", "/v1/qrcode:parse", map[string]string{"code": d.QR}, 3720},
		{"empty code", alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": ""}, 3722},
		{"garbage code", alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": "WIFI:S:home;T:WPA;P:secret;;"}, 4100},
		{"another cloud's label", alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": "https://other.example.com/nb/" + d.NbID}, 4100},
		{"this cloud, not a label", alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": strings.Replace(d.QR, "/nb/", "/x/", 1)}, 4100},
		{"too long", alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": d.QR + strings.Repeat("x", 3000)}, 4101},
		{"unknown nbId", alice.token, "POST", "/v1/qrcode:parse", map[string]string{"code": strings.Replace(d.QR, d.NbID, strings.Repeat("0", 32), 1)}, 3733},
		{"code of the wrong type", alice.token, "POST", "/v1/qrcode:parse", map[string]any{"code": 42}, 3724},
		{"other user's home devices", signUp(t, n, "bob").token, "GET", "/v1/homes/" + alice.home + "/devices", nil, 4004},
		{"unknown activation", alice.token, "GET", "/v1/activations/act_nosuch", nil, 4004},
		{"bad wait", alice.token, "GET", "/v1/activations/act_nosuch?wait=forever", nil, 3723},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiErr
			n.Call(t, tt.token, tt.method, tt.path, tt.body, &e)
			if e.Code != tt.wantCode || e.Message == "" {
				t.Errorf("got %+v, want code %d", e, tt.wantCode)
			}
		})
	}
}

// The events stream sends the state at once and the outcome when it comes.
func TestActivationEventsStream(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(150))
	alice := signUp(t, n, "alice")
	a, _ := activate(t, n, alice, d.NbID, 60)

	req, _ := http.NewRequest("GET", "http://"+n.HTTPAddr()+"/v1/activations/"+a.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				lines <- l
			}
		}
		close(lines)
	}()
	first := <-lines
	if !strings.Contains(first, `"status":"pending"`) {
		t.Fatalf("first event: %s", first)
	}
	apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	select {
	case last := <-lines:
		if !strings.Contains(last, `"status":"paired"`) || !strings.Contains(last, d.ID) {
			t.Fatalf("final event: %s", last)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no final event within 30 s")
	}
	if _, open := <-lines; open {
		t.Error("the stream stayed open after the final event")
	}
}
