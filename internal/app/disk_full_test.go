package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/testkit"
)

// smallDisk mounts a tmpfs of the given size (such as "16m") on a new
// temporary directory and unmounts it when the test ends. Mounting needs
// root; without it the test is skipped, or fails under CI.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs of %s (the test needs root): %v %s", size, err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

func walBytes(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, sqlite.FileName+"-wal"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// getReady is GET /readyz: its status and the error's message.
func getReady(t *testing.T, n *apptest.Node) (int, string) {
	t.Helper()
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	code := n.Call(t, "", "GET", "/readyz", nil, &body)
	return code, body.Message
}

// createHome is POST /v1/homes: the HTTP status, the Retry-After header
// and the error code.
func createHome(t *testing.T, n *apptest.Node, token, name string) (int, string, int) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name})
	req, _ := http.NewRequest("POST", "http://"+n.HTTPAddr()+"/v1/homes", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code int }
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &e)
	return resp.StatusCode, resp.Header.Get("Retry-After"), e.Code
}

// maxAgeOf is the Max-Age option of m, -1 when it has none.
func maxAgeOf(m message.Message) int {
	for _, o := range m.Options {
		if o.ID == message.MaxAge {
			v := 0
			for _, b := range o.Value {
				v = v<<8 | int(b)
			}
			return v
		}
	}
	return -1
}

// A node whose disk fills up: /readyz says so, a device's Register gets
// 5.03 with Max-Age and an app's write 503 with Retry-After; once space is
// freed everything works again by itself, and the WAL stays small under
// a stream of Registers.
func TestDiskFull(t *testing.T) {
	dir := smallDisk(t, "16m")
	n := apptest.Start(t, dir, func(c *config.Config) {
		c.MinFreeDisk = 1 << 20
		c.SQLiteCheckpoint = config.Duration(200 * time.Millisecond)
		c.LogLevel = "error"
	})
	const devices = 400
	imeis := make([]string, devices)
	for i := range imeis {
		imeis[i] = n.Provision(t, apptest.IMEI(9000+i)).IMEI
	}
	alice := signUp(t, n, "alice")
	sock := dialRaw(t, n.CoAPAddr())
	mid := uint16(0)
	register := func(imei string) message.Message {
		mid++
		return sock.exchange(t, rawRequest{typ: message.Confirmable, code: codes.POST, mid: mid, path: []string{"rd"},
			queries: []string{"ep=urn:imei:" + imei, "lt=3600"}, payload: "</1/0>,</3/0>"})
	}
	if code, msg := getReady(t, n); code != http.StatusOK {
		t.Fatalf("readyz before the disk fills: %d %s", code, msg)
	}
	// The WAL truncated by the scheduled checkpoint: a write must grow it.
	testkit.Eventually(t, "the WAL to be truncated", func() bool { return walBytes(t, dir) == 0 })

	filler := fill(t, dir)
	code, msg := getReady(t, n)
	t.Logf("readyz on a full disk: %d %s", code, msg)
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "free on the disk") {
		t.Errorf("readyz on a full disk: %d %q; want 503 naming the free space", code, msg)
	}
	reg := register(imeis[0])
	if reg.Code != codes.ServiceUnavailable || maxAgeOf(reg) != 60 {
		t.Errorf("Register on a full disk: %v, Max-Age %d, %q; want 5.03 with Max-Age 60", reg.Code, maxAgeOf(reg), reg.Payload)
	}
	if status, retry, code := createHome(t, n, alice.token, "Flat"); status != http.StatusServiceUnavailable || retry != "60" || code != 5031 {
		t.Errorf("POST /v1/homes on a full disk: HTTP %d, Retry-After %q, code %d; want 503, 60, 5031", status, retry, code)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "readyz once space is freed", func() bool {
		code, _ := getReady(t, n)
		return code == http.StatusOK
	})
	if status, _, code := createHome(t, n, alice.token, "Flat"); status != http.StatusCreated {
		t.Errorf("POST /v1/homes once space is freed: HTTP %d, code %d", status, code)
	}
	var peak int64
	for _, imei := range imeis {
		if reg := register(imei); reg.Code != codes.Created {
			t.Fatalf("Register %s once space is freed: %v %q", imei, reg.Code, reg.Payload)
		}
		peak = max(peak, walBytes(t, dir))
	}
	t.Logf("WAL peak over %d Registers: %d bytes", devices, peak)
	if peak > 1<<20+64<<10 {
		t.Errorf("the WAL grew to %d bytes over %d Registers; want at most 1 MiB and a commit", peak, devices)
	}
	testkit.Eventually(t, "the WAL to be truncated after the Registers", func() bool { return walBytes(t, dir) == 0 })
	if code, msg := getReady(t, n); code != http.StatusOK {
		t.Errorf("readyz at the end: %d %s", code, msg)
	}
}
