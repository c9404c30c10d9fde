package activator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/app"
	"github.com/nbpair/nbpair/internal/config"
)

// exampleServer is a real nbpair node for the examples, which have no
// testing.TB for apptest: the whole server on random loopback ports in a
// temporary data directory. Its helpers panic on failure, which fails the
// example.
type exampleServer struct {
	URL   string // base URL of the HTTP API
	coap  string // CoAP address of the LwM2M server
	admin string // admin bearer token
	dir   string
	stop  context.CancelFunc
	done  chan error
}

// startServer boots a node; Close stops it.
func startServer() *exampleServer {
	dir, err := os.MkdirTemp("", "nbpair-example-")
	if err != nil {
		panic(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.CoAPAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	cfg.CoAPSAddr = "127.0.0.1:0"
	cfg.CoAPACKTimeout = config.Duration(500 * time.Millisecond)
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, app.AdminTokenFile))
	if err != nil {
		panic(err)
	}
	s := &exampleServer{URL: "http://" + a.HTTPAddr(), coap: a.CoAPAddr(), admin: strings.TrimSpace(string(tok)),
		dir: dir, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Run(ctx) }()
	return s
}

// Close stops the node and removes its data.
func (s *exampleServer) Close() {
	s.stop()
	select {
	case err := <-s.done:
		if err != nil {
			panic(err)
		}
	case <-time.After(30 * time.Second):
		panic("the server did not stop")
	}
	os.RemoveAll(s.dir)
}

// provision provisions a device at the factory, as its maker does, and
// returns the text of its QR label.
func (s *exampleServer) provision(imei string) (label string) {
	d, err := activator.NewAdminClient(s.URL, s.admin).Provision(context.Background(), activator.ProvisionRequest{IMEI: imei})
	if err != nil {
		panic(fmt.Sprintf("provision %s: %v", imei, err))
	}
	return d.QR
}

// powerOn runs a simulated device until off is called, and returns once
// the device has registered and learnt its device ID.
func (s *exampleServer) powerOn(imei string) (off func()) {
	c, err := device.New(device.Config{Server: "coap://" + s.coap, IMEI: imei, AckTimeout: 500 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if _, err := c.Wait(wctx, func(st device.Status) bool { return st.Pairing.DeviceID != "" }); err != nil {
		panic(fmt.Sprintf("device %s did not register: %v", imei, err))
	}
	return func() {
		cancel()
		<-done
	}
}

// user signs up and logs in name, creates a home, and returns the logged-in
// client and the home's ID.
func (s *exampleServer) user(ctx context.Context, name string) (*activator.Client, string) {
	c := activator.NewClient(s.URL)
	if _, err := c.SignUp(ctx, name, "correct horse battery"); err != nil {
		panic(err)
	}
	if _, err := c.LogIn(ctx, name, "correct horse battery"); err != nil {
		panic(err)
	}
	h, err := c.CreateHome(ctx, name+"'s home")
	if err != nil {
		panic(err)
	}
	return c, h.ID
}
