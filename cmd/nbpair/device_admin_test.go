package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/testkit"
)

// nbpair device-admin against a real server: block shows the block in the
// device's state, unbind of an unbound device exits 1 with its code,
// deprovision wants --yes (exit 2) and then frees the IMEI.
func TestDeviceAdminCommands(t *testing.T) {
	testkit.Long(t, "the CLI against a served binary, many commands")
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr, "--coaps-addr", "")
	waitHealthy(t, "http://"+httpAddr)
	admin := []string{"--server", "http://" + httpAddr, "--token-file", filepath.Join(dir, "admin.token")}
	const imei = "868000000000077"
	out := runCLI(t, append([]string{"provision", "--imei", imei}, admin...)...)
	id := regexp.MustCompile(`device ID:\s+(dev_\w+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("provision printed:\n%s", out)
	}

	out = runCLI(t, append([]string{"device-admin", "block", "--reason", "reported stolen", imei}, admin...)...)
	if !regexp.MustCompile(`blocked\s+since .* \(reported stolen\)`).MatchString(out) {
		t.Errorf("block printed:\n%s", out)
	}
	if out := runCLI(t, append([]string{"devices", id[1]}, admin...)...); !strings.Contains(out, "reported stolen") {
		t.Errorf("devices %s does not show the block:\n%s", id[1], out)
	}
	if out := runCLI(t, append([]string{"device-admin", "unblock", id[1]}, admin...)...); strings.Contains(out, "blocked") {
		t.Errorf("unblock printed:\n%s", out)
	}
	out = runCLI(t, append([]string{"device-admin", "rotate-psk", "--deadline", "2h", imei}, admin...)...)
	if !regexp.MustCompile(`new PSK \(hex\): [0-9a-f]{32}\n`).MatchString(out) {
		t.Errorf("rotate-psk printed:\n%s", out)
	}
	r := runBinary(t, append([]string{"device-admin", "unbind", id[1]}, admin...)...)
	if r.code != exitError || !strings.Contains(r.stderr, "4501") {
		t.Errorf("unbind of an unbound device: exit %d, stderr %q; want 1 and 4501", r.code, r.stderr)
	}
	r = runBinary(t, append([]string{"device-admin", "deprovision", id[1]}, admin...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("deprovision without --yes: exit %d, stderr %q; want 2 asking for --yes", r.code, r.stderr)
	}
	out = runCLI(t, append([]string{"device-admin", "deprovision", "--yes", id[1]}, admin...)...)
	if !strings.Contains(out, "deprovisioned device "+id[1]) {
		t.Errorf("deprovision printed:\n%s", out)
	}
	out = runCLI(t, append([]string{"provision", "--imei", imei}, admin...)...)
	if again := regexp.MustCompile(`device ID:\s+(dev_\w+)`).FindStringSubmatch(out); again == nil || again[1] == id[1] {
		t.Errorf("provisioning the IMEI again printed:\n%s", out)
	}
}
