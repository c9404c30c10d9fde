package web_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The admin actions on a device in a real Chromium (web/e2e/device_admin.mjs)
// against a real node: a registered device bound to a user is blocked,
// unblocked, unbound (with the confirm step) and deprovisioned.
func TestBrowserDeviceAdmin(t *testing.T) {
	testkit.Long(t, "a browser")
	e2e, _ := filepath.Abs("../../web/e2e")
	node, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (Debian package nodejs)")
	_, err = os.Stat(chromiumPath())
	need(t, err == nil, "no Chromium at "+chromiumPath()+" (Debian package chromium)")
	_, err = os.Stat(filepath.Join(e2e, "node_modules", "playwright-core", "package.json"))
	need(t, err == nil, "web/e2e/node_modules has no playwright-core (run npm ci in web/e2e)")

	n := apptest.Start(t, "", apptest.QuietLogs)
	d := n.Provision(t, apptest.IMEI(900))
	apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI, Lifetime: time.Hour})
	testkit.Eventually(t, "the device online", func() bool { return n.Device(t, d.ID).Online })
	tok := signUp(t, n, "owner900")
	var home struct{ ID string }
	n.Call(t, tok, "POST", "/v1/homes", map[string]string{"name": "Flat"}, &home)
	var act struct{ ID, Status string }
	if code := n.Call(t, tok, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": home.ID, "timeout": 60}, &act); code != http.StatusAccepted {
		t.Fatalf("start activation: HTTP %d", code)
	}
	if n.Call(t, tok, "GET", "/v1/activations/"+act.ID+"?wait=30s", nil, &act); act.Status != "paired" {
		t.Fatalf("the device is %s, not paired", act.Status)
	}

	shots := filepath.Join(e2e, "screenshots", "device-admin")
	os.RemoveAll(shots)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "device_admin.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "NBPAIR_URL=http://"+n.HTTPAddr(), "NBPAIR_ADMIN_TOKEN="+n.Token,
		"NBPAIR_CHROMIUM="+chromiumPath(), "NBPAIR_SCREENSHOTS="+shots, "NBPAIR_DEVICE_ID="+d.ID)
	cmd.WaitDelay = 10 * time.Second
	out := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.flush()
	if err != nil {
		t.Fatalf("the browser flow failed: %v", err)
	}
}
