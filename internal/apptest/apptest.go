// Package apptest boots real nbpair nodes for tests: the whole server on
// random loopback ports in a temporary data directory, with helpers to call
// its admin API as a test would and to power simulated devices on against
// it (RunDevice, WaitDevice). Waiting for a condition is testkit.Eventually.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/app"
	"github.com/nbpair/nbpair/internal/config"
)

// Node is an nbpair server running in the test on random ports.
type Node struct {
	*app.App
	Dir    string
	Token  string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start boots the real server on 127.0.0.1 port 0 in dir (a new temp
// dir when empty) and stops it when the test ends.
func Start(t testing.TB, dir string, mutate ...func(*config.Config)) *Node {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.CoAPAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	cfg.CoAPSAddr = "127.0.0.1:0"
	cfg.CoAPACKTimeout = config.Duration(500 * time.Millisecond)
	cfg.LogLevel = "debug"
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, app.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{App: a, Dir: dir, Token: strings.TrimSpace(string(tok)), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- a.Run(ctx) }()
	t.Cleanup(func() { n.Stop(t) })
	return n
}

// Stop shuts the node down gracefully and waits for it; calling it twice
// is fine.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.once.Do(func() {
		n.cancel()
		select {
		case err := <-n.done:
			if err != nil {
				t.Errorf("server stopped with: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop within 30 s")
		}
	})
}

// QuietLogs keeps a benchmark's output to errors.
func QuietLogs(c *config.Config) { c.LogLevel = "error" }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// API calls the HTTP API as the admin and decodes the JSON answer into out.
func (n *Node) API(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	return n.Call(t, n.Token, method, path, body, out)
}

// Call calls the HTTP API with a bearer token (none when empty) and
// decodes the JSON answer into out; it returns the HTTP status.
func (n *Node) Call(t testing.TB, token, method, path string, body any, out any) int {
	t.Helper()
	return Call(t, n.HTTPAddr(), token, method, path, body, out)
}

// Call calls the HTTP API of the node at addr (host:port) with a bearer
// token (none when empty) and decodes the JSON answer into out; it returns
// the HTTP status. Tests that run nbpair as a separate process use it.
func Call(t testing.TB, addr, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// Provisioned is a device as the admin API shows it.
type Provisioned struct {
	ID     string `json:"id"`
	IMEI   string `json:"imei"`
	NbID   string `json:"nbId"`
	QR     string `json:"qr"`
	Online bool   `json:"online"`
	// PSKIdentity and PSK (hex) are in the answer to provisioning only.
	PSKIdentity string `json:"pskIdentity"`
	PSK         string `json:"psk"`
	Reg         *struct {
		ID        string    `json:"id"`
		Endpoint  string    `json:"endpoint"`
		Lifetime  int       `json:"lifetime"`
		Addr      string    `json:"remoteAddr"`
		QueueMode bool      `json:"queueMode"`
		Binding   string    `json:"binding"`
		Objects   []string  `json:"objects"`
		LastSeen  time.Time `json:"lastSeen"`
	} `json:"registration"`
}

// Provision provisions a device with the given IMEI.
func (n *Node) Provision(t testing.TB, imei string) Provisioned {
	t.Helper()
	var d Provisioned
	if code := n.API(t, "POST", "/v1/admin/devices", map[string]string{"imei": imei}, &d); code != http.StatusCreated {
		t.Fatalf("provision %s: HTTP %d", imei, code)
	}
	return d
}

// Device returns a device (by ID or IMEI) from the admin API.
func (n *Node) Device(t testing.TB, id string) Provisioned {
	t.Helper()
	var d Provisioned
	if code := n.API(t, "GET", "/v1/admin/devices/"+id, nil, &d); code != http.StatusOK {
		t.Fatalf("get device %s: HTTP %d", id, code)
	}
	return d
}

// IMEI returns the i-th test IMEI.
func IMEI(i int) string { return fmt.Sprintf("86800000%07d", i) }
