package web_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// TestBrowserAccount drives the account and sharing screens in a real
// Chromium (web/e2e/account.mjs) against a real node, on a phone's and a
// desktop's viewport: a password change ends the user's other session,
// a session is revoked from the Account screen, a device is shared
// read-only (the other user sees it and cannot rename it), offered and
// accepted into the other user's home, a home is deleted, and the account
// too. Screenshots go to web/e2e/screenshots/account-<viewport>/.
func TestBrowserAccount(t *testing.T) {
	testkit.Long(t, "a browser at two sizes")
	e2e, _ := filepath.Abs("../../web/e2e")
	node, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (Debian package nodejs)")
	_, err = os.Stat(chromiumPath())
	need(t, err == nil, "no Chromium at "+chromiumPath()+" (Debian package chromium)")
	_, err = os.Stat(filepath.Join(e2e, "node_modules", "playwright-core", "package.json"))
	need(t, err == nil, "web/e2e/node_modules has no playwright-core (run npm ci in web/e2e)")

	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) { c.LoginFailures = 1000 })
	for i, vp := range []string{"360x740", "1280x800"} {
		t.Run(vp, func(t *testing.T) {
			env := prepareAccounts(t, n, 500+100*i)
			shots := filepath.Join(e2e, "screenshots", "account-"+vp)
			os.RemoveAll(shots)
			env = append(env, "NBPAIR_VIEWPORT="+vp, "NBPAIR_SCREENSHOTS="+shots, "NBPAIR_CHROMIUM="+chromiumPath())
			runFlow(t, node, e2e, "account.mjs", env)
		})
	}
}

// prepareAccounts makes two users, the first ("owner") with a home "Flat"
// holding a powered-on device "Boiler" and a home "Old home" holding
// another, the second ("friend") with a home "Cabin". Both have the
// password "a long password".
func prepareAccounts(t *testing.T, n *apptest.Node, base int) []string {
	owner, friend := fmt.Sprintf("owner%d", base), fmt.Sprintf("friend%d", base)
	tok := signUp(t, n, owner)
	ftok := signUp(t, n, friend)
	home := func(token, name string) string {
		var h struct{ ID string }
		if code := n.Call(t, token, "POST", "/v1/homes", map[string]string{"name": name}, &h); code != http.StatusCreated {
			t.Fatalf("create home %s: HTTP %d", name, code)
		}
		return h.ID
	}
	flat, old := home(tok, "Flat"), home(tok, "Old home")
	home(ftok, "Cabin")
	bind := func(imei, homeID, name string) apptest.Provisioned {
		d := n.Provision(t, imei)
		apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI, Lifetime: time.Hour})
		testkit.Eventually(t, d.IMEI+" online", func() bool { return n.Device(t, d.ID).Online })
		var act struct{ ID, Status string }
		if code := n.Call(t, tok, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": homeID, "timeout": 60}, &act); code != http.StatusAccepted {
			t.Fatalf("start activation: HTTP %d", code)
		}
		if n.Call(t, tok, "GET", "/v1/activations/"+act.ID+"?wait=30s", nil, &act); act.Status != "paired" {
			t.Fatalf("device %s is %s, not paired", d.IMEI, act.Status)
		}
		if code := n.Call(t, tok, "PATCH", "/v1/devices/"+d.ID, map[string]string{"name": name}, nil); code != http.StatusOK {
			t.Fatalf("rename: HTTP %d", code)
		}
		return d
	}
	boiler := bind(apptest.IMEI(base+1), flat, "Boiler")
	lamp := bind(apptest.IMEI(base+2), old, "Lamp")
	return []string{
		"NBPAIR_URL=http://" + n.HTTPAddr(),
		"NBPAIR_OWNER=" + owner,
		"NBPAIR_FRIEND=" + friend,
		"NBPAIR_DEVICE_ID=" + boiler.ID,
		"NBPAIR_OLD_DEVICE_ID=" + lamp.ID,
	}
}

// runFlow runs one flow file in node and fails the test if it fails.
func runFlow(t *testing.T, node, dir, file string, env []string) {
	cmd := exec.Command(node, file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	out := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		out.flush()
		if err != nil {
			t.Fatalf("the browser flow %s failed: %v", file, err)
		}
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		out.flush()
		t.Fatalf("the browser flow %s did not finish within 5 minutes", file)
	}
}
