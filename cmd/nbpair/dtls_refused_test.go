package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/testkit"
)

// A device with a wrong PSK is refused at once with the server's alert,
// and `nbpair audit --outcome refused` names it.
func TestDeviceWithWrongPSKRefused(t *testing.T) {
	testkit.Long(t, "a served binary and a device process over DTLS")
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	server := start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", "127.0.0.1:0", "--coaps-addr", coapsAddr)
	waitHealthy(t, "http://"+httpAddr)
	admin := []string{"--server", "http://" + httpAddr, "--token-file", filepath.Join(dir, "admin.token")}
	out := runCLI(t, append([]string{"provision", "--imei", "868000000000042"}, admin...)...)
	id := regexp.MustCompile(`device ID:\s+(dev_\w+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("provision printed:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	dev, err := exec.CommandContext(ctx, binary, "device", "--server", "coaps://"+coapsAddr, "--imei", "868000000000042",
		"--psk", "00112233445566778899aabbccddeeff").CombinedOutput()
	took := time.Since(start)
	if err == nil || !strings.Contains(string(dev), "BadRecordMac") {
		t.Fatalf("device with a wrong PSK: %v, printed:\n%s\nwant a failure with the server's bad_record_mac alert", err, dev)
	}
	t.Logf("device with a wrong PSK exited after %v: %s", took, strings.TrimSpace(string(dev)))

	// The refusal is written to the audit log after the alert is sent.
	line := regexp.MustCompile(`(?m)^.*dtls-handshake\s+refused\s+device\s+-\s+` + id[1] + `\s.*urn:imei:868000000000042.*$`)
	testkit.Eventually(t, "audit --outcome refused to name the device", func() bool {
		return line.MatchString(runCLI(t, append(append([]string{"audit"}, admin...), "--outcome", "refused")...))
	})
	server.stop(t)
}
