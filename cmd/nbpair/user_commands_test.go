package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/testkit"
)

// userServer is a real server with a provisioned device and a logged-in
// user who has a home "Flat" and a home "flat".
type userServer struct {
	base, coap string
	admin      []string // --server and --token-file
	session    string   // --session-file
	dev        struct{ ID, IMEI, QR, ShortCode string }
}

func startUserServer(t *testing.T, imei string) *userServer {
	t.Helper()
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr, "--coaps-addr", "127.0.0.1:0")
	s := &userServer{base: "http://" + httpAddr, coap: "coap://" + coapAddr}
	waitHealthy(t, s.base)
	s.admin = []string{"--server", s.base, "--token-file", filepath.Join(dir, "admin.token")}
	runCLI(t, append([]string{"provision", "--imei", imei, "--name", "Boiler"}, s.admin...)...)
	// Flags after the argument are read, not ignored.
	out := runCLI(t, append([]string{"devices", imei, "--json"}, s.admin...)...)
	if err := json.Unmarshal([]byte(out), &s.dev); err != nil || s.dev.ShortCode == "" {
		t.Fatalf("devices IMEI --json printed %q: %v", out, err)
	}
	s.session = filepath.Join(t.TempDir(), "session.json")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("a long password\n"), 0o600)
	runCLI(t, "signup", "--server", s.base, "--username", "alice", "--password-file", pw, "--session-file", s.session)
	runCLI(t, "homes", "--create", "Flat", "--session-file", s.session)
	runCLI(t, "homes", "--create", "flat", "--session-file", s.session)
	return s
}

// A user pairs a device by typing the short code from its label, into the
// home of that exact name, with the server's default timeout; lists the
// home's devices; and removes it.
func TestPairTypedCodeListAndRemove(t *testing.T) {
	testkit.Long(t, "the CLI against a served binary, many commands")
	s := startUserServer(t, "868000000000041")
	sess := []string{"--session-file", s.session}

	// Typing the IMEI says what to type instead.
	r := runBinary(t, append([]string{"pair", "--home", "Flat", "--code", s.dev.IMEI}, sess...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "type the code under the QR, not the IMEI") || !strings.Contains(r.stderr, "4104") {
		t.Fatalf("pair --code IMEI: exit %d:\n%s", r.code, r.stderr)
	}
	// A name two homes have but for case is ambiguous only without an exact match.
	r = runBinary(t, append([]string{"pair", "--home", "FLAT", "--code", s.dev.ShortCode}, sess...)...)
	if r.code != 1 || !strings.Contains(r.stderr, `2 of your homes are called "FLAT": "Flat" (h_`) || !strings.Contains(r.stderr, `"flat" (h_`) {
		t.Fatalf("pair --home FLAT: exit %d:\n%s", r.code, r.stderr)
	}

	p := start(t, append([]string{"pair", "--home", "flat", "--code", strings.ToLower(s.dev.ShortCode), "--timeout", "0"}, sess...)...)
	// Not a terminal: plain lines, counting down from the server's 120 s.
	left, _ := strconv.Atoi(p.waitLine(t, regexp.MustCompile(`^waiting for the device to register and bind … (\d+) s left$`))[1])
	if left < 110 || left > 120 {
		t.Errorf("the countdown starts at %d s; the server's default is 120 s", left)
	}
	start(t, "device", "--server", s.coap, "--imei", s.dev.IMEI)
	p.waitLine(t, regexp.MustCompile(`^Device is paired: `+s.dev.ID+` "Boiler" .* in home "flat"`))

	list := runCLI(t, append([]string{"devices", "--home", "flat"}, sess...)...)
	if !regexp.MustCompile(`(?m)^Boiler\s+` + s.dev.ID + `\s+` + s.dev.IMEI + `\s+true\s`).MatchString(list) {
		t.Errorf("devices --home flat printed:\n%s", list)
	}
	if other := runCLI(t, append([]string{"devices", "--home", "Flat"}, sess...)...); strings.Contains(other, s.dev.ID) {
		t.Errorf("the device is listed in the other home too:\n%s", other)
	}

	out := runCLI(t, append([]string{"remove", "boiler"}, sess...)...) // by name, case aside
	if !strings.Contains(out, "removed "+s.dev.ID) {
		t.Errorf("remove printed:\n%s", out)
	}
	if list := runCLI(t, append([]string{"devices", "--home", "flat"}, sess...)...); strings.Contains(list, s.dev.ID) {
		t.Errorf("after remove, the home still lists the device:\n%s", list)
	}
	audit := runCLI(t, append([]string{"audit", "--device", s.dev.ID, "--action", "unbind"}, s.admin...)...)
	if !regexp.MustCompile(`unbind\s+ok\s+user`).MatchString(audit) {
		t.Errorf("audit of the unbind printed:\n%s", audit)
	}
	if r := runBinary(t, append([]string{"remove", s.dev.ID}, sess...)...); r.code != 1 || !strings.Contains(r.stderr, "no device") {
		t.Errorf("removing it again: exit %d:\n%s", r.code, r.stderr)
	}
}
