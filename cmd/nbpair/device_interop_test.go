package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// stockServerDir holds the stock LwM2M server the interoperability test
// drives: Telefonica's lwm2m-node-lib (the LwM2M server library of
// FIWARE's LwM2M IoT agent), pinned by package-lock.json; scripts/test
// installs it with npm ci.
const stockServerDir = "testdata/lwm2m-node-lib"

// stockServer is lwm2m-node-lib's server, driven through server.js: one
// JSON command a line on stdin, one JSON answer or event a line on stdout.
type stockServer struct {
	port   int
	stdin  io.WriteCloser
	lines  chan map[string]any
	nextID int
}

// startStockServer starts server.js with node on a port the system picks
// and waits until it listens. Without node or the installed package it skips the
// test, or fails it under CI.
func startStockServer(t *testing.T) *stockServer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node is not installed (apt-get install nodejs): the stock LwM2M server cannot run")
	}
	if _, err := os.Stat(filepath.Join(stockServerDir, "node_modules", "lwm2m-node-lib")); err != nil {
		unavailable(t, "lwm2m-node-lib is not installed: run npm ci in cmd/nbpair/"+stockServerDir)
	}
	s := &stockServer{lines: make(chan map[string]any, 100)}
	cmd := exec.Command(node, "server.js", "0") // port 0: the system picks one
	cmd.Dir = stockServerDir
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go s.read(t, stdout)
	t.Cleanup(func() {
		s.stdin.Close()
		cmd.Process.Kill()
		for range s.lines { // the reader ends, and logs nothing after the test
		}
		cmd.Wait() // after the last read of stdout, as os/exec wants
	})
	port, _ := s.waitEvent(t, "ready")["port"].(float64)
	if s.port = int(port); s.port <= 0 {
		t.Fatal("the stock server announced no port")
	}
	return s
}

func (s *stockServer) read(t *testing.T, stdout io.Reader) {
	defer close(s.lines)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Logf("stock server: %s", sc.Text())
			continue
		}
		s.lines <- m
	}
}

// next returns the next line of the server, failing after 20 s.
func (s *stockServer) next(t *testing.T, what string) map[string]any {
	t.Helper()
	select {
	case m, ok := <-s.lines:
		if !ok {
			t.Fatalf("the stock server exited while waiting for %s", what)
		}
		return m
	case <-time.After(20 * time.Second):
		t.Fatalf("the stock server gave no %s within 20 s", what)
	}
	return nil
}

// waitEvent returns the next event of that name, skipping others.
func (s *stockServer) waitEvent(t *testing.T, name string) map[string]any {
	t.Helper()
	for {
		if m := s.next(t, name+" event"); m["event"] == name {
			return m
		}
	}
}

// call sends a command and returns the library's result, failing the
// test when the library reports an error. Events that come first are
// kept in events.
func (s *stockServer) call(t *testing.T, cmd map[string]any, events *[]map[string]any) string {
	t.Helper()
	s.nextID++
	cmd["id"] = s.nextID
	b, _ := json.Marshal(cmd)
	if _, err := s.stdin.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	for {
		m := s.next(t, fmt.Sprintf("answer to %s", b))
		if m["event"] != nil {
			*events = append(*events, m)
			continue
		}
		if id, _ := m["id"].(float64); int(id) != s.nextID {
			continue
		}
		if m["ok"] != true {
			t.Fatalf("stock server %s: %v", b, m["error"])
		}
		r, _ := m["result"].(string)
		return r
	}
}

// TestDeviceInteropStockServer runs `nbpair device` against a stock LwM2M
// server nobody on the team wrote, lwm2m-node-lib's, and has it Register
// the device, Read, Discover, Write, Write-Attributes, Execute, Observe
// and receive a notification; each answer is checked on both sides: the
// server's result and the line the device printed.
func TestDeviceInteropStockServer(t *testing.T) {
	srv := startStockServer(t)
	const imei = "490154203237518"
	dev := start(t, "device", "--server", fmt.Sprintf("coap://127.0.0.1:%d", srv.port), "--imei", imei)
	reg := srv.waitEvent(t, "registration")
	if reg["endpoint"] != wire.EndpointForIMEI(imei) || strings.Contains(fmt.Sprint(reg["payload"]), "ct=") {
		t.Fatalf("registration = %v; want the endpoint and no ct", reg)
	}
	if !strings.Contains(fmt.Sprint(reg["payload"]), "</33050/0>") {
		t.Errorf("registration payload %v lacks the Pairing object", reg["payload"])
	}
	dev.waitLine(t, regexp.MustCompile(`registered as rd/\d+$`))
	var events []map[string]any
	for _, step := range interopSteps {
		t.Run(step.name, func(t *testing.T) {
			got := srv.call(t, step.cmd, &events)
			if !step.result.MatchString(got) {
				t.Errorf("server result %q, want %v", got, step.result)
			}
			for _, line := range step.device {
				dev.waitLine(t, regexp.MustCompile(regexp.QuoteMeta(line)))
			}
		})
	}
	notified := false
	for _, e := range events {
		notified = notified || e["event"] == "notify" && e["path"] == "33050/0/2" && e["value"] == "u_second"
	}
	for !notified {
		e := srv.next(t, "notification of u_second")
		notified = e["event"] == "notify" && e["path"] == "33050/0/2" && e["value"] == "u_second"
	}
	dev.stop(t)
	srv.waitEvent(t, "unregistration")
}

// interopStep is one request of the stock server: the command, what its
// result must match and the lines the device must print, in order.
type interopStep struct {
	name   string
	cmd    map[string]any
	result *regexp.Regexp
	device []string
}

func exact(s string) *regexp.Regexp { return regexp.MustCompile("^" + regexp.QuoteMeta(s) + "$") }

var interopSteps = []interopStep{
	{"read text", map[string]any{"op": "read", "path": []int{3, 0, 0}}, exact("nbpair"),
		[]string{"server Read GET /3/0/0 text/plain -> 2.05 Content"}},
	{"discover object", map[string]any{"op": "discover", "path": []int{3}},
		exact("</3>,</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/5>,</3/0/13>,</3/0/16>"),
		[]string{"server Discover GET /3 link-format -> 2.05 Content"}},
	{"discover instance", map[string]any{"op": "discover", "path": []int{33050, 0}},
		exact("</33050/0>,</33050/0/0>,</33050/0/1>,</33050/0/2>,</33050/0/3>,</33050/0/4>"),
		[]string{"server Discover GET /33050/0 link-format -> 2.05 Content"}},
	{"write text", map[string]any{"op": "write", "path": []int{33050, 0, 2}, "value": "u_interop"}, exact(""),
		[]string{"server Write PUT /33050/0/2 text/plain -> 2.04 Changed"}},
	{"read back", map[string]any{"op": "read", "path": []int{33050, 0, 2}}, exact("u_interop"),
		[]string{"server Read GET /33050/0/2 text/plain -> 2.05 Content"}},
	{"execute reboot", map[string]any{"op": "execute", "path": []int{3, 0, 4}}, exact(""),
		[]string{"server asked for a reboot (Execute /3/0/4)", "server Execute POST /3/0/4 -> 2.04 Changed"}},
	{"execute factory reset", map[string]any{"op": "execute", "path": []int{3, 0, 5}}, exact(""),
		[]string{"server asked for a factory reset (Execute /3/0/5)", "server Execute POST /3/0/5 -> 2.04 Changed"}},
	{"write attributes", map[string]any{"op": "writeAttributes", "path": []int{33050, 0, 2}, "attributes": map[string]string{"pmin": "0", "pmax": "60"}},
		exact(""), []string{"server Write-Attributes PUT /33050/0/2 -> 2.04 Changed"}},
	{"discover resource", map[string]any{"op": "discover", "path": []int{33050, 0, 2}}, exact("</33050/0/2>;pmin=0;pmax=60"),
		[]string{"server Discover GET /33050/0/2 link-format -> 2.05 Content"}},
	{"observe", map[string]any{"op": "observe", "path": []int{33050, 0, 2}}, exact("u_interop"),
		[]string{"server Observe GET /33050/0/2 text/plain seq 1 -> 2.05 Content"}},
	{"write observed", map[string]any{"op": "write", "path": []int{33050, 0, 2}, "value": "u_second"}, exact(""),
		[]string{"server Write PUT /33050/0/2 text/plain", "sent Notify /33050/0/2 text/plain seq 2 -> 2.05 Content"}},
	{"accept TLV", map[string]any{"op": "format", "accept": "tlv"}, regexp.MustCompile("tlv"), nil},
	{"read TLV", map[string]any{"op": "read", "path": []int{3, 0, 1}}, regexp.MustCompile(`^\x{FFFD}\x01\x0anbpair-sim$`), // the library decodes every payload as UTF-8, so the TLV type byte 0xc8 reads as U+FFFD
		[]string{"server Read GET /3/0/1 TLV -> 2.05 Content"}},
	{"accept SenML JSON", map[string]any{"op": "format", "accept": "senmljson"}, regexp.MustCompile("senml"), nil},
	{"read SenML JSON", map[string]any{"op": "read", "path": []int{3, 0, 2}}, exact(`[{"bn":"/3/0/","n":"2","vs":"490154203237518"}]`),
		[]string{"server Read GET /3/0/2 SenML JSON -> 2.05 Content"}},
}
