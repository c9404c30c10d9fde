package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The browser tests drive the web app in a real Chromium (Debian's
// chromium package) through playwright-core, against a real node with real
// simulated devices: web/e2e/flow.mjs signs up, creates a home, pairs a
// powered-on device from a photo of its label, sees it online, removes it,
// meets the error of a device bound to someone else, reloads during a
// pairing and cancels it, tries every form with bad input, and runs the
// admin pages (the dashboard counting a device it asks to be powered on),
// once on a phone's viewport and once on a desktop's. Screenshots of each
// step go to web/e2e/screenshots/<viewport>/.

// chromiumPath is where Debian's chromium package puts the browser;
// NBPAIR_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("NBPAIR_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// need skips the test when a tool is missing, or fails it in CI.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI must run the browser tests (scripts/test installs what they need)", what)
	}
	t.Skipf("%s: skipping the browser tests (./scripts/test installs what they need)", what)
}

func TestBrowser(t *testing.T) {
	testkit.Long(t, "a browser at two sizes")
	e2e, _ := filepath.Abs("../../web/e2e")
	node, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (Debian package nodejs)")
	_, err = os.Stat(chromiumPath())
	need(t, err == nil, "no Chromium at "+chromiumPath()+" (Debian package chromium)")
	_, err = os.Stat(filepath.Join(e2e, "node_modules", "playwright-core", "package.json"))
	need(t, err == nil, "web/e2e/node_modules has no playwright-core (run npm ci in web/e2e)")

	// The flow tries wrong passwords on purpose, more than the login
	// throttle allows from one address.
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) { c.LoginFailures = 1000 })
	for i, vp := range []string{"360x740", "1280x800"} {
		t.Run(vp, func(t *testing.T) {
			env := prepare(t, n, 100*(i+1))
			shots := filepath.Join(e2e, "screenshots", vp)
			os.RemoveAll(shots)
			t.Logf("screenshots: %s", shots)
			env = append(env, "NBPAIR_VIEWPORT="+vp, "NBPAIR_SCREENSHOTS="+shots, "NBPAIR_CHROMIUM="+chromiumPath())
			// The flow asks for the live device to be powered on while it
			// watches the dashboard.
			live := apptest.IMEI(100*(i+1) + 4)
			n.Provision(t, live)
			env = append(env, "NBPAIR_LIVE_IMEI="+live)
			runNode(t, node, e2e, env, map[string]func(){"@@power-on": func() { apptest.RunDevice(t, n, device.Config{IMEI: live, Lifetime: time.Hour}) }})
		})
	}
}

// prepare sets up, for one run of the flow, what a user meets in the
// world: a provisioned device that is powered on and registered, one
// bound to another user's home, one that is provisioned but switched off,
// and their labels as PNG files. It answers the flow's environment.
func prepare(t *testing.T, n *apptest.Node, base int) []string {
	dir := t.TempDir()
	free := n.Provision(t, apptest.IMEI(base+1))
	taken := n.Provision(t, apptest.IMEI(base+2))
	asleep := n.Provision(t, apptest.IMEI(base+3))
	apptest.RunDevice(t, n, device.Config{IMEI: free.IMEI, Lifetime: time.Hour})
	apptest.RunDevice(t, n, device.Config{IMEI: taken.IMEI, Lifetime: time.Hour})
	for _, d := range []apptest.Provisioned{free, taken} {
		testkit.Eventually(t, d.IMEI+" online", func() bool { return n.Device(t, d.ID).Online })
	}

	// Another user owns the second device.
	other := fmt.Sprintf("owner%d", base)
	tok := signUp(t, n, other)
	var home struct{ ID string }
	if code := n.Call(t, tok, "POST", "/v1/homes", map[string]string{"name": "Their flat"}, &home); code != http.StatusCreated {
		t.Fatalf("create home: HTTP %d", code)
	}
	var act struct{ ID, Status string }
	if code := n.Call(t, tok, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": taken.NbID, "spaceId": home.ID, "timeout": 60}, &act); code != http.StatusAccepted {
		t.Fatalf("start activation: HTTP %d", code)
	}
	if n.Call(t, tok, "GET", "/v1/activations/"+act.ID+"?wait=30s", nil, &act); act.Status != "paired" {
		t.Fatalf("the other user's device is %s, not paired", act.Status)
	}

	label := func(d apptest.Provisioned, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, fetchLabel(t, n, d.ID), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []string{
		"NBPAIR_URL=http://" + n.HTTPAddr(),
		"NBPAIR_ADMIN_TOKEN=" + n.Token,
		"NBPAIR_USER=" + fmt.Sprintf("user%d", base),
		"NBPAIR_OTHER_USER=" + other,
		"NBPAIR_LABEL_FREE=" + label(free, "free.png"),
		"NBPAIR_LABEL_TAKEN=" + label(taken, "taken.png"),
		"NBPAIR_LABEL_ASLEEP_TEXT=" + asleep.QR,
		"NBPAIR_FREE_ID=" + free.ID,
		"NBPAIR_LABEL_FREE_TEXT=" + free.QR,
		"NBPAIR_BATCH_IMEIS=" + apptest.IMEI(base+51) + "," + apptest.IMEI(base+52),
	}
}

func signUp(t *testing.T, n *apptest.Node, name string) string {
	creds := map[string]string{"username": name, "password": "a long password"}
	if code := n.Call(t, "", "POST", "/v1/users", creds, nil); code != http.StatusCreated {
		t.Fatalf("sign up %s: HTTP %d", name, code)
	}
	var s struct{ Token string }
	if code := n.Call(t, "", "POST", "/v1/sessions", creds, &s); code != http.StatusCreated {
		t.Fatalf("log in %s: HTTP %d", name, code)
	}
	return s.Token
}

func fetchLabel(t *testing.T, n *apptest.Node, id string) []byte {
	req, _ := http.NewRequest("GET", "http://"+n.HTTPAddr()+"/v1/admin/devices/"+id+"/label.png", nil)
	req.Header.Set("Authorization", "Bearer "+n.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("label of %s: HTTP %d %v", id, resp.StatusCode, err)
	}
	return b
}

// runNode runs the flow in node and fails the test if it fails; its
// output goes to the test log line by line, and a line that is a key of
// on runs its function.
func runNode(t *testing.T, node, dir string, env []string, on map[string]func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "flow.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	out := &lineLogger{t: t, on: on}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	out.flush()
	if ctx.Err() != nil {
		t.Fatalf("the browser flow did not finish within 5 minutes")
	}
	if err != nil {
		t.Fatalf("the browser flow failed: %v", err)
	}
}

type lineLogger struct {
	t   *testing.T
	on  map[string]func()
	buf string
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf += string(p)
	for {
		i := strings.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.buf[:i]
		l.t.Log(line)
		if f := l.on[line]; f != nil {
			f()
		}
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) flush() {
	if l.buf != "" {
		l.t.Log(l.buf)
	}
}
