package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/testkit"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
// The binary has the race detector, except in the fast loop (-short
// without -race), where building every package again for it would take
// longer than the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "nbpair-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nbpair")
	build := []string{"build", "-race", "-o", binary, "."}
	if testing.Short() && !raceDetector {
		build = slices.Delete(build, 1, 2)
	}
	if out, err := exec.Command("go", build...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a running nbpair command whose stdout is read line by line.
type process struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 100), stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// waitLine returns the first stdout line matching re.
func (p *process) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("output ended before a line matching %v; stderr:\n%s", re, p.stderr)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no line matching %v within 20 s", re)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s exited with %v; stderr:\n%s", p.cmd.Args[1], err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30 s of SIGTERM", p.cmd.Args[1])
	}
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nbpair %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The quick start in three terminals: serve, provision, device.
func TestServeProvisionDevice(t *testing.T) {
	testkit.Long(t, "the served binary with a device process; TestDemo runs the story in -short")
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	server := start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr,
		"--coaps-addr", "127.0.0.1:0", "--public-url", "https://pair.example.com")
	waitHealthy(t, "http://"+httpAddr)

	if info, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v, mode %v", err, info.Mode())
	}
	admin := []string{"--server", "http://" + httpAddr, "--token-file", filepath.Join(dir, "admin.token")}
	label := filepath.Join(t.TempDir(), "label.png")
	out := runCLI(t, append([]string{"provision", "--imei", "868000000000001", "--label", label}, admin...)...)
	id := regexp.MustCompile(`device ID:\s+(dev_\w+)`).FindStringSubmatch(out)
	qrText := regexp.MustCompile(`QR text:\s+(https://pair\.example\.com/nb/[0-9a-f]{32})`).FindStringSubmatch(out)
	if id == nil || qrText == nil || !regexp.MustCompile(`short code:\s+([0-9A-Z]{4}-){6}[0-9A-Z]{4}\n`).MatchString(out) {
		t.Fatalf("provision printed:\n%s", out)
	}
	if got := strings.TrimSpace(runCLI(t, "qr", "decode", label)); got != qrText[1] {
		t.Errorf("the label card written by provision --label reads %q, want %q", got, qrText[1])
	}

	dev := start(t, "device", "--server", "coap://"+coapAddr, "--imei", "868000000000001")
	got := dev.waitLine(t, regexp.MustCompile(`device ID (dev_\w+) written by server`))
	if got[1] != id[1] {
		t.Fatalf("device printed device ID %s, provisioned %s", got[1], id[1])
	}
	show := runCLI(t, append(append([]string{"devices"}, admin...), "868000000000001")...)
	if !regexp.MustCompile(`online\s+true`).MatchString(show) || !strings.Contains(show, "urn:imei:868000000000001") {
		t.Fatalf("devices printed:\n%s", show)
	}

	if out := runCLI(t, append(append([]string{"audit"}, admin...), "--device", id[1])...); !regexp.MustCompile(`provision\s+ok\s+admin`).MatchString(out) {
		t.Errorf("audit printed:\n%s", out)
	}

	dev.stop(t) // de-registers on the way out
	show = runCLI(t, append(append([]string{"devices"}, admin...), id[1])...)
	if !regexp.MustCompile(`online\s+false`).MatchString(show) {
		t.Errorf("after the device stopped, devices printed:\n%s", show)
	}
	server.stop(t)
	if !strings.Contains(server.stderr.String(), "msg=stopped") {
		t.Errorf("the server did not log a clean stop:\n%s", server.stderr)
	}
}

// waitHealthy waits until the server at base answers /healthz with 200.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	testkit.Eventually(t, base+"/healthz to answer 200", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestConfigPrintDefaultIsALoadableFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nbpair.json")
	if err := os.WriteFile(file, []byte(runCLI(t, "config", "print-default")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, "config", "check", file); !strings.Contains(out, "ok") {
		t.Fatalf("config check of the default config printed:\n%s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"httpAddr": "8080"}`), 0o600)
	out, err := exec.Command(binary, "config", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "httpAddr") {
		t.Fatalf("config check of a bad file: %v\n%s", err, out)
	}
}

func TestDemo(t *testing.T) {
	label := filepath.Join(t.TempDir(), "label.png")
	out := runCLI(t, "demo", "--label", label)
	if !strings.HasSuffix(strings.TrimSpace(out), "Device is paired") {
		t.Fatalf("demo printed:\n%s", out)
	}
	for step := 1; step <= 10; step++ {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s+\S`, step)).MatchString(out) {
			t.Errorf("step %d missing from:\n%s", step, out)
		}
	}
	if strings.Contains(out, " -") && regexp.MustCompile(`-\d+(\.\d+)? ms`).MatchString(out) {
		t.Errorf("a step took a negative time:\n%s", out)
	}
	if decoded := runCLI(t, "qr", "decode", label); !strings.Contains(decoded, "/nb/") {
		t.Errorf("the demo's label decodes to %q", decoded)
	}
	// Its data directory, with the device keys, is gone.
	m := regexp.MustCompile(`removed the demo's data directory (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo did not say it removed its directory:\n%s", out)
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo's directory %s is still there: %v", m[1], err)
	}
}

// The app on the command line: sign up, create a home, pair a device from
// a photo of its label.
func TestPairCommand(t *testing.T) {
	testkit.Long(t, "the CLI against a served binary, many commands")
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr, "--coaps-addr", "127.0.0.1:0")
	base := "http://" + httpAddr
	waitHealthy(t, base)
	admin := []string{"--server", base, "--token-file", filepath.Join(dir, "admin.token")}
	runCLI(t, append([]string{"provision", "--imei", "868000000000002"}, admin...)...)
	var dev struct{ QR string }
	if err := json.Unmarshal([]byte(runCLI(t, append(append([]string{"devices", "--json"}, admin...), "868000000000002")...)), &dev); err != nil {
		t.Fatal(err)
	}
	label := filepath.Join(t.TempDir(), "label.png")
	runCLI(t, "qr", "encode", "-o", label, dev.QR)

	session := filepath.Join(t.TempDir(), "session.json")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("a long password\n"), 0o600)
	runCLI(t, "signup", "--server", base, "--username", "alice", "--password-file", pw, "--session-file", session)
	runCLI(t, "homes", "--session-file", session, "--create", "Flat")
	start(t, "device", "--server", "coap://"+coapAddr, "--imei", "868000000000002")

	out := runCLI(t, "pair", "--session-file", session, "--home", "flat", "--qr-image", label, "--timeout", "30s")
	if !strings.Contains(out, "Device is paired") {
		t.Fatalf("pair printed:\n%s", out)
	}
	// Pairing it again for another user says whose it is and what to do.
	runCLI(t, "signup", "--server", base, "--username", "bob", "--password-file", pw, "--session-file", session)
	runCLI(t, "homes", "--session-file", session, "--create", "Bob's")
	cmd := exec.Command(binary, "pair", "--session-file", session, "--home", "Bob's", "--code", dev.QR)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "3711") || !strings.Contains(string(b), "what to do") {
		t.Fatalf("pairing a bound device: %v\n%s", err, b)
	}
}
