package device

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

var testPSK = []byte("0123456789abcdef")

// fakeSecureServer is the fake LwM2M server behind DTLS with PSK and
// Connection IDs, as nbpair's server runs it.
type fakeSecureServer struct {
	*fakeServer
	url        string
	handshakes atomic.Int32 // PSK lookups: one per full handshake

	mu         sync.Mutex
	identities []string // guarded by mu; the PSK identities asked for
}

func startFakeSecureServer(t *testing.T, identity string, psk []byte) *fakeSecureServer {
	t.Helper()
	s := &fakeSecureServer{}
	l, err := coapnet.NewDTLSListener("udp", "127.0.0.1:0", coapnet.NewDTLSServerOptions(
		dtls.WithPSK(func(id []byte) ([]byte, error) {
			s.handshakes.Add(1)
			s.mu.Lock()
			s.identities = append(s.identities, string(id))
			s.mu.Unlock()
			if string(id) != identity {
				return nil, errors.New("unknown identity")
			}
			return psk, nil
		}),
		dtls.WithCipherSuites(cipherSuites...),
		dtls.WithConnectionIDGenerator(dtls.RandomCIDGenerator(8)),
	))
	if err != nil {
		t.Fatal(err)
	}
	s.fakeServer = &fakeServer{t: t, addr: l.Addr().String()}
	s.url = "coaps://" + s.addr
	router := mux.NewRouter()
	router.DefaultHandle(mux.HandlerFunc(s.serve))
	srv := coapdtls.NewServer(options.WithMux(router),
		options.WithInactivityMonitor(time.Hour, func(cc *udpclient.Conn) { cc.Close() }))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return s
}

// forgetSession ends the server's side of the last session without the
// device hearing of it, as a server restart or idle timeout would.
func (s *fakeSecureServer) forgetSession() {
	s.fakeServer.mu.Lock()
	conn := s.conn
	s.fakeServer.mu.Unlock()
	if conn != nil {
		conn.Close()
		<-conn.Done()
	}
}

// launchSecureDevice runs a client over coaps against srv.
func launchSecureDevice(t *testing.T, srv *fakeSecureServer, cfg Config) *runningDevice {
	t.Helper()
	rec := &recorder{}
	cfg.Server = srv.url
	if cfg.IMEI == "" {
		cfg.IMEI = testIMEI
	}
	if cfg.PSK == nil {
		cfg.PSK = testPSK
	}
	cfg.OnEvent = rec.add
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-result:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &runningDevice{Client: c, events: rec, stop: stop}
}

func TestSecureConfig(t *testing.T) {
	tests := map[string]struct {
		cfg      Config
		wantAddr string
		wantErr  string
	}{
		"coaps default port": {Config{Server: "coaps://127.0.0.1", PSK: testPSK}, "127.0.0.1:5684", ""},
		"coaps with port":    {Config{Server: "coaps://[::1]:6000", PSK: testPSK}, "[::1]:6000", ""},
		"coaps without PSK":  {Config{Server: "coaps://127.0.0.1"}, "", "needs a PSK"},
		"PSK over coap":      {Config{Server: "coap://127.0.0.1", PSK: testPSK}, "", "needs a coaps://"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.cfg.IMEI = testIMEI
			c, err := New(tt.cfg)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New() = %v, want an ErrConfig with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.addr != tt.wantAddr || !c.cfg.secure {
				t.Errorf("addr %q secure %v, want %q over DTLS", c.cfg.addr, c.cfg.secure, tt.wantAddr)
			}
		})
	}
}

// Over DTLS the device registers with its endpoint as PSK identity, the
// server's Writes reach it through the session, and it de-registers.
func TestSecureRegisterWriteDeregister(t *testing.T) {
	srv := startFakeSecureServer(t, "urn:imei:"+testIMEI, testPSK)
	d := launchSecureDevice(t, srv, Config{})
	testkit.Eventually(t, "registration", func() bool { return d.Location() != "" })
	srv.mu.Lock()
	ids := append([]string(nil), srv.identities...)
	srv.mu.Unlock()
	if len(ids) != 1 || ids[0] != "urn:imei:"+testIMEI {
		t.Errorf("PSK identities %q, want the endpoint once", ids)
	}
	st := wire.PairingState{DeviceID: "dev1", State: wire.BindUnbound}
	if code, _, _ := srv.send(codes.PUT, "/33050/0", int(formatTLV), wire.EncodePairingTLV(st)); code != codes.Changed {
		t.Fatalf("Write over DTLS: %v", code)
	}
	if got := d.Pairing(); got.DeviceID != "dev1" {
		t.Errorf("device holds %+v after the Write", got)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if dels := srv.seen(codes.DELETE, "/rd/1"); len(dels) != 1 {
		t.Errorf("server saw %d De-registers, want 1", len(dels))
	}
}

func TestSecureWrongPSK(t *testing.T) {
	srv := startFakeSecureServer(t, "urn:imei:"+testIMEI, testPSK)
	c, err := New(Config{Server: srv.url, IMEI: testIMEI, PSK: bytes.Repeat([]byte{7}, 16),
		AckTimeout: 200 * time.Millisecond, MaxRetransmit: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "DTLS handshake") {
		t.Errorf("Run() = %v, want a failed DTLS handshake", err)
	}
	if regs := srv.registers(); len(regs) != 0 {
		t.Errorf("server saw %d Registers with a wrong key", len(regs))
	}
}

// A queue-mode device keeps its DTLS session while asleep and resumes it
// from a new socket with its Connection ID: no new handshake, and the
// server hears the same session from a new address.
func TestSecureQueueModeResumesWithConnectionID(t *testing.T) {
	srv := startFakeSecureServer(t, "urn:imei:"+testIMEI, testPSK)
	d := launchSecureDevice(t, srv, Config{QueueMode: true, AwakeTime: 50 * time.Millisecond, SleepTime: 100 * time.Millisecond})
	testkit.Eventually(t, "two Updates after sleeping", func() bool { return len(srv.seen(codes.POST, "/rd/1")) >= 2 })
	// pion moves a Connection ID session to its new address only after it
	// has handed the record's data on, so a request's handler may still
	// see the old address: the device's wake-ups name the sockets it used,
	// and the server's session must end up on one of them.
	regAddr := srv.registers()[0].remote
	testkit.Eventually(t, "two wake-ups", func() bool { return d.events.count(EventWaking) >= 2 })
	wokeOn := func() map[string]bool {
		woke := map[string]bool{}
		for _, e := range d.events.all() {
			if e.Kind == EventWaking {
				woke[e.LocalAddr] = true
			}
		}
		return woke
	}
	if woke := wokeOn(); woke[regAddr] || len(woke) < 2 {
		t.Errorf("Register from %s, wake-ups on %v: want a new socket each time", regAddr, woke)
	}
	testkit.Eventually(t, "the server's session on a socket of a wake-up", func() bool {
		srv.fakeServer.mu.Lock()
		conn := srv.conn
		srv.fakeServer.mu.Unlock()
		return wokeOn()[conn.RemoteAddr().String()]
	})
	if n := srv.handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes, want 1: the wake-ups should resume the session", n)
	}
	st := wire.PairingState{DeviceID: "dev2", State: wire.BindUnbound}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := d.Wait(ctx, func(s Status) bool { return s.Awake }); err != nil {
		t.Fatal(err)
	}
	// The device may fall asleep before the Write reaches it; a later
	// wake-up answers the retransmission, from its new address.
	if code, _, _ := srv.send(codes.PUT, "/33050/0", int(formatTLV), wire.EncodePairingTLV(st)); code != codes.Changed {
		t.Fatalf("Write over the resumed session: %v", code)
	}
	if got := d.Pairing(); got.DeviceID != "dev2" {
		t.Errorf("device holds %+v", got)
	}
}

// When the server has forgotten the session, the resumed one gets no
// answer; the device drops it and does a new handshake.
func TestSecureLostSessionHandshakesAgain(t *testing.T) {
	srv := startFakeSecureServer(t, "urn:imei:"+testIMEI, testPSK)
	d := launchSecureDevice(t, srv, Config{QueueMode: true, AwakeTime: 20 * time.Millisecond, SleepTime: time.Hour,
		Lifetime: 24 * time.Hour, AckTimeout: 100 * time.Millisecond, MaxRetransmit: 1})
	testkit.Eventually(t, "registration", func() bool { return d.Location() != "" })
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	if _, err := d.Wait(ctx, func(s Status) bool { return !s.Awake }); err != nil {
		t.Fatalf("device did not fall asleep: %v", err)
	}
	srv.forgetSession()
	if err := d.Update(ctx); err == nil {
		t.Fatal("Update over a session the server forgot succeeded")
	}
	testkit.Eventually(t, "an Update after a new handshake", func() bool { return len(srv.seen(codes.POST, "/rd/1")) >= 1 })
	if n := srv.handshakes.Load(); n != 2 {
		t.Errorf("%d handshakes, want 2", n)
	}
}
