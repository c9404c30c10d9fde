package activator_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
)

func TestAccounts(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	ctx := testCtx(t)
	c := activator.NewClient("http://" + n.HTTPAddr() + "/")

	u, err := c.SignUp(ctx, "alice", "correct horse battery")
	if err != nil || u.UID == "" || u.Username != "alice" || u.CreatedAt.IsZero() {
		t.Fatalf("SignUp = %+v, %v", u, err)
	}
	// SignUp logs in: the Client holds the account's first session.
	if hs, err := c.Homes(ctx); err != nil || len(hs) != 0 || c.Token() == "" {
		t.Errorf("Homes right after SignUp = %+v, %v; want none, through the new session", hs, err)
	}
	if _, err := c.SignUp(ctx, "alice", "another password"); !errors.Is(err, activator.ErrAlreadyExists) {
		t.Errorf("second SignUp: %v; want 4009", err)
	}
	if _, err := c.LogIn(ctx, "alice", "wrong password"); !errors.Is(err, activator.ErrInvalidCredentials) {
		t.Errorf("LogIn with a wrong password: %v; want 4010", err)
	}
	if _, err := activator.NewClient("http://" + n.HTTPAddr()).Homes(ctx); !errors.Is(err, activator.ErrUserSessionLoss) {
		t.Errorf("Homes without a session: %v; want 3720", err)
	}
	se, err := c.LogIn(ctx, "alice", "correct horse battery")
	if err != nil || se.UID != u.UID || se.Token == "" || !se.ExpiresAt.After(time.Now()) || c.Token() != se.Token {
		t.Fatalf("LogIn = %+v, %v (client token %q)", se, err, c.Token())
	}
	h, err := c.CreateHome(ctx, "Flat")
	if err != nil || h.ID == "" || h.Name != "Flat" || h.OwnerUID != u.UID || h.Role != activator.RoleOwner {
		t.Fatalf("CreateHome = %+v, %v", h, err)
	}
	hs, err := c.Homes(ctx)
	if err != nil || len(hs) != 1 || hs[0].ID != h.ID {
		t.Fatalf("Homes = %+v, %v", hs, err)
	}
	if ds, err := c.HomeDevices(ctx, h.ID); err != nil || len(ds) != 0 {
		t.Errorf("HomeDevices of a new home = %+v, %v", ds, err)
	}

	// Another client can resume the session with the token.
	c2 := activator.NewClient("http://"+n.HTTPAddr(), activator.WithToken(se.Token))
	if hs, err := c2.Homes(ctx); err != nil || len(hs) != 1 {
		t.Errorf("Homes with WithToken = %+v, %v", hs, err)
	}

	if err := c.LogOut(ctx); err != nil || c.Token() != "" {
		t.Fatalf("LogOut: %v (token %q)", err, c.Token())
	}
	_, err = c2.Homes(ctx)
	var e *activator.Error
	if !errors.As(err, &e) || e.Code != activator.CodeUserSessionLoss || e.HTTPStatus != http.StatusUnauthorized || e.Name != "UserSessionLoss" {
		t.Errorf("Homes after LogOut: %#v; want 3720 UserSessionLoss, HTTP 401", err)
	}
	if err := c2.LogOut(ctx); err != nil || c2.Token() != "" {
		t.Errorf("LogOut of a session that is gone: %v (token %q); want nil and no token", err, c2.Token())
	}
}

func TestParseQRCode(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(40))
	alice := newUser(t, n, "alice")
	ctx := testCtx(t)

	m, err := alice.c.ParseQRCode(ctx, d.QR)
	if err != nil {
		t.Fatal(err)
	}
	if m.ActionName != activator.ActionNameNB || m.ActionData.ID != d.NbID || m.ActionData.ProductID == "" {
		t.Errorf("ParseQRCode(%q) = %+v; want %s with id %s", d.QR, m, activator.ActionNameNB, d.NbID)
	}
	// The short code printed under the QR, as a person types it, reads the same.
	var short struct{ ShortCode string }
	n.API(t, "GET", "/v1/admin/devices/"+d.ID, nil, &short)
	typed := strings.ToLower(strings.ReplaceAll(short.ShortCode, "-", " "))
	if m, err := alice.c.ParseQRCode(ctx, typed); err != nil || m.ActionData.ID != d.NbID {
		t.Errorf("ParseQRCode(%q) = %+v, %v; want id %s", typed, m, err, d.NbID)
	}
	tests := map[string]struct {
		code string
		want *activator.Error
	}{
		"the IMEI":           {d.IMEI, activator.ErrQRCodeIsIMEI},
		"not a URL":          {"hello", activator.ErrQRCodeNotRecognised},
		"another cloud":      {"https://example.com/nb/" + d.NbID, activator.ErrQRCodeNotRecognised},
		"blank":              {"   ", activator.ErrRemoteAPIParamBlank},
		"too long":           {strings.Repeat("x", 3000), activator.ErrQRCodeTooLong},
		"unknown pairing ID": {strings.Replace(d.QR, d.NbID, unknownNbID(), 1), activator.ErrDeviceNotExist},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := alice.c.ParseQRCode(ctx, tc.code); !errors.Is(err, tc.want) {
				t.Errorf("ParseQRCode: %v; want %d %s", err, tc.want.Code, tc.want.Name)
			}
		})
	}
	if _, err := activator.NewClient("http://"+n.HTTPAddr()).ParseQRCode(ctx, d.QR); !errors.Is(err, activator.ErrUserSessionLoss) {
		t.Errorf("ParseQRCode without a session: %v; want 3720", err)
	}
}

func TestActivate(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(50))
	alice := newUser(t, n, "alice")
	bob := newUser(t, n, "bob")
	ctx := testCtx(t)

	// Activation first: Activate blocks until the device powers on.
	done := make(chan struct{})
	var got activator.DeviceModel
	var err error
	go func() {
		defer close(done)
		got, err = alice.c.Activate(ctx, alice.nbType(d.NbID, time.Minute))
	}()
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("Activate did not return")
	}
	if err != nil {
		t.Fatal(err)
	}
	checkPaired(t, got, d, alice, dev)

	_, err = bob.c.Activate(ctx, bob.nbType(d.NbID, 0))
	var e *activator.Error
	if !errors.As(err, &e) || e.Code != activator.CodeDeviceAlreadyBound || e.HTTPStatus != http.StatusConflict {
		t.Errorf("bob's Activate: %v; want 3711 with HTTP 409", err)
	}
}

func TestActivateTimeout(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(51))
	alice := newUser(t, n, "alice")
	_, err := alice.c.Activate(testCtx(t), alice.nbType(d.NbID, 500*time.Millisecond))
	var e *activator.Error
	if !errors.As(err, &e) || e.Code != activator.CodeTimeout || e.Name != "Timeout" || e.HTTPStatus != 0 {
		t.Fatalf("Activate of a device that stays off: %#v; want 1512 Timeout as the activation's outcome", err)
	}
}

// When its context ends, Activate stops the activation on the server.
func TestActivateCancelled(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(52))
	obs := newObserver()
	alice := newUser(t, n, "alice", obs.option())

	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := alice.c.Activate(ctx, alice.nbType(d.NbID, 10*time.Minute))
		errc <- err
	}()
	id := obs.nextStart(t)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || errors.As(err, new(*activator.Error)) {
			t.Fatalf("Activate after cancel: %v; want context.Canceled", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Activate did not return after its context was cancelled")
	}
	if st := activationStatus(t, n, alice, id); st != "stopped" {
		t.Errorf("activation %s is %s after Activate was cancelled; want stopped", id, st)
	}
	// Nothing is left running: the device pairs with a new activation.
	registered(t, n, d)
	if _, err := alice.c.Activate(testCtx(t), alice.nbType(d.NbID, 0)); err != nil {
		t.Fatalf("Activate after the cancelled one: %v", err)
	}
}

// Devices can be listed, renamed and removed; removal reaches the device.
func TestDeviceManagement(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(60))
	alice := newUser(t, n, "alice")
	bob := newUser(t, n, "bob")
	ctx := testCtx(t)
	dev := registered(t, n, d)
	if _, err := alice.c.Activate(ctx, alice.nbType(d.NbID, 0)); err != nil {
		t.Fatal(err)
	}
	waitPairing(t, dev, "the owner", func(p device.PairingState) bool { return p.OwnerUID == alice.uid })

	got, err := alice.c.Device(ctx, d.ID)
	if err != nil || got.DevID != d.ID || got.OwnerUID != alice.uid || !got.Online || got.LastSeen.IsZero() {
		t.Errorf("Device = %+v, %v", got, err)
	}
	renamed, err := alice.c.RenameDevice(ctx, d.ID, "Water meter")
	if err != nil || renamed.Name != "Water meter" {
		t.Errorf("RenameDevice = %+v, %v", renamed, err)
	}
	if ds, err := alice.c.HomeDevices(ctx, alice.home); err != nil || len(ds) != 1 || ds[0].Name != "Water meter" {
		t.Errorf("HomeDevices = %+v, %v", ds, err)
	}
	if _, err := alice.c.RenameDevice(ctx, d.ID, ""); !errors.Is(err, activator.ErrRemoteAPIParamLoss) {
		t.Errorf("RenameDevice to no name: %v; want 3721", err)
	}
	if _, err := bob.c.Device(ctx, d.ID); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("bob's Device of alice's device: %v; want 4004", err)
	}
	if err := bob.c.RemoveDevice(ctx, d.ID); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("bob's RemoveDevice of alice's device: %v; want 4004", err)
	}

	if err := alice.c.RemoveDevice(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	p := waitPairing(t, dev, "the unbind", func(p device.PairingState) bool { return p.State == device.BindUnbound })
	if p.OwnerUID != "" || p.HomeID != "" || p.DeviceID != d.ID {
		t.Errorf("after RemoveDevice the device holds %+v; want unbound with its device ID", p)
	}
	if _, err := alice.c.Device(ctx, d.ID); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("Device after RemoveDevice: %v; want 4004", err)
	}
	// Now bob can pair it.
	if got, err := bob.c.Activate(ctx, bob.nbType(d.NbID, 0)); err != nil || got.OwnerUID != bob.uid {
		t.Fatalf("bob's Activate after the removal = %+v, %v", got, err)
	}
	waitPairing(t, dev, "the new owner", func(p device.PairingState) bool { return p.OwnerUID == bob.uid })
}

// Failures to reach the server are wrapped network errors, not *Error.
func TestNetworkErrorIsWrapped(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	addr := n.HTTPAddr()
	n.Stop(t)
	c := activator.NewClient("http://" + addr)
	_, err := c.Homes(testCtx(t))
	if err == nil || errors.As(err, new(*activator.Error)) {
		t.Fatalf("Homes of a stopped server: %#v; want a network error", err)
	}
	if !strings.Contains(err.Error(), "GET /v1/homes") {
		t.Errorf("error %q does not say which request failed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Homes(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Homes with a cancelled context: %v; want context.Canceled", err)
	}
}

// An answer that is not the API's JSON error (a proxy's page) is an *Error
// with code 0 and the HTTP status.
func TestNonAPIErrorAnswer(t *testing.T) {
	t.Parallel()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err := activator.NewClient(proxy.URL).Homes(testCtx(t))
	var e *activator.Error
	if !errors.As(err, &e) || e.Code != 0 || e.HTTPStatus != http.StatusBadGateway || !strings.Contains(e.Message, "bad gateway") {
		t.Fatalf("Homes through a failing proxy: %#v", err)
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	err := error(&activator.Error{Code: 3711, Name: "DeviceAlreadyBound", Message: "its owner must remove it", HTTPStatus: 409})
	wrapped := &activator.ErrorModel{Err: err.(*activator.Error)}
	for _, e := range []error{err, wrapped} {
		if !errors.Is(e, activator.ErrDeviceAlreadyBound) {
			t.Errorf("%v is not ErrDeviceAlreadyBound", e)
		}
		if errors.Is(e, activator.ErrTimeout) {
			t.Errorf("%v is ErrTimeout", e)
		}
	}
	if got, want := err.Error(), "activator: 3711 DeviceAlreadyBound: its owner must remove it"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	if got := wrapped.Error(); got != err.Error() {
		t.Errorf("ErrorModel.Error() = %q; want %q", got, err.Error())
	}
}

// ActivateNotify tells the deadline the server set: its default for a zero
// Timeout, else the one asked for.
func TestActivateNotifyDeadline(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(53))
	alice := newUser(t, n, "alice")
	for _, tt := range []struct {
		timeout, want time.Duration
	}{{0, activator.DefaultTimeout}, {30 * time.Second, 30 * time.Second}} {
		ctx, cancel := context.WithCancel(testCtx(t))
		var got activator.Started
		before := time.Now()
		_, err := alice.c.ActivateNotify(ctx, alice.nbType(d.NbID, tt.timeout), func(s activator.Started) {
			got = s
			cancel() // stop it: only the deadline matters here
		})
		cancel()
		if !errors.Is(err, context.Canceled) || got.ID == "" {
			t.Fatalf("timeout %v: %v, started %+v", tt.timeout, err, got)
		}
		// The server's deadline, give or take the time of the request.
		if left := got.Deadline.Sub(before); left < tt.want-5*time.Second || left > tt.want+time.Second {
			t.Errorf("timeout %v: the deadline is %v after the start, want %v", tt.timeout, left, tt.want)
		}
	}
}
