package app

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

	"github.com/nbpair/nbpair/internal/config"
)

// node is an nbpair server running in the test on random ports.
type node struct {
	*App
	dir    string
	token  string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startNode boots the real server on 127.0.0.1 port 0 in dir (a new temp
// dir when empty) and stops it when the test ends.
func startNode(t testing.TB, dir string, mutate ...func(*config.Config)) *node {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.CoAPAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
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
	a, err := New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{App: a, dir: dir, token: strings.TrimSpace(string(tok)), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- a.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop shuts the node down gracefully and waits for it; calling it twice
// is fine.
func (n *node) stop(t testing.TB) {
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

// quietLogs keeps a benchmark's output to errors.
func quietLogs(c *config.Config) { c.LogLevel = "error" }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// api calls the HTTP API and decodes the JSON answer into out.
func (n *node) api(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+n.HTTPAddr()+path, rd)
	req.Header.Set("Authorization", "Bearer "+n.token)
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

type provisioned struct {
	ID     string `json:"id"`
	IMEI   string `json:"imei"`
	NbID   string `json:"nbId"`
	QR     string `json:"qr"`
	Online bool   `json:"online"`
	Reg    *struct {
		ID        string   `json:"id"`
		Endpoint  string   `json:"endpoint"`
		Lifetime  int      `json:"lifetime"`
		Addr      string   `json:"remoteAddr"`
		QueueMode bool     `json:"queueMode"`
		Binding   string   `json:"binding"`
		Objects   []string `json:"objects"`
		LastSeen  time.Time
	} `json:"registration"`
}

func (n *node) provision(t testing.TB, imei string) provisioned {
	t.Helper()
	var d provisioned
	if code := n.api(t, "POST", "/v1/admin/devices", map[string]string{"imei": imei}, &d); code != http.StatusCreated {
		t.Fatalf("provision %s: HTTP %d", imei, code)
	}
	return d
}

func (n *node) device(t testing.TB, id string) provisioned {
	t.Helper()
	var d provisioned
	if code := n.api(t, "GET", "/v1/admin/devices/"+id, nil, &d); code != http.StatusOK {
		t.Fatalf("get device %s: HTTP %d", id, code)
	}
	return d
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func imei(i int) string { return fmt.Sprintf("86800000%07d", i) }
