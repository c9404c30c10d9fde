package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
)

// The admin commands' --json prints the API's answer as the server sent
// it, and their errors read "Name (code): message".
func TestAdminCommandsPrintTheAPI(t *testing.T) {
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr, "--coaps-addr", "")
	waitHealthy(t, "http://"+httpAddr)
	tokenFile := filepath.Join(dir, "admin.token")
	admin := []string{"--server", "http://" + httpAddr, "--token-file", tokenFile}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	const imei = "868000000000078"
	var d struct{ ID string }
	if err := json.Unmarshal([]byte(runCLI(t, append([]string{"provision", "--json", "--imei", imei, "--name", "Shed <meter>"}, admin...)...)), &d); err != nil || d.ID == "" {
		t.Fatalf("provision --json: %+v, %v", d, err)
	}
	runCLI(t, append([]string{"device-admin", "block", "--reason", "reported stolen", imei}, admin...)...)

	for args, path := range map[string]string{
		"devices " + d.ID + " --json":           "/v1/admin/devices/" + d.ID,
		"audit --json --device " + d.ID:         "/v1/admin/audit?deviceId=" + d.ID + "&limit=50",
		"audit --json --action block --limit 2": "/v1/admin/audit?action=block&limit=2",
	} {
		var raw json.RawMessage
		apptest.Call(t, httpAddr, strings.TrimSpace(string(token)), "GET", path, nil, &raw)
		out := runCLI(t, append(strings.Fields(args), admin...)...)
		if !bytes.Equal(bytes.TrimSpace([]byte(out)), bytes.TrimSpace(raw)) {
			t.Errorf("nbpair %s printed\n%s\nbut GET %s answers\n%s", args, out, path, raw)
		}
	}

	r := runBinary(t, append([]string{"device-admin", "unbind", d.ID}, admin...)...)
	if r.code != exitError || !regexp.MustCompile(`^nbpair: DeviceNotBound \(4501\): \S`).MatchString(r.stderr) {
		t.Errorf("unbind of an unbound device: exit %d, stderr %q", r.code, r.stderr)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.token")
	writeFile(t, wrong, []byte("not-the-token\n"))
	r = runBinary(t, "batch", "list", "--server", "http://"+httpAddr, "--token-file", wrong)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "nbpair: UserSessionLoss (3720): ") {
		t.Errorf("batch list with a wrong token: exit %d, stderr %q", r.code, r.stderr)
	}
}
