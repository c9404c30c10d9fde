package lwm2m

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/coaptx"
	"github.com/nbpair/nbpair/internal/events"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/wire"
)

// counting counts accepted Registers; the rest it ignores.
type counting struct{ registers atomic.Int64 }

func (c *counting) Registered()                           { c.registers.Add(1) }
func (c *counting) Updated()                              {}
func (c *counting) Deregistered()                         {}
func (c *counting) Expired()                              {}
func (c *counting) ActivationEnded(string, time.Duration) {}
func (c *counting) Downlink(string)                       {}

// startServer serves the registration interface on plain CoAP over a
// pairing service on SQLite in a temporary directory.
func startServer(t testing.TB, cfg Config) (*Server, *pairing.Service, *counting) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New(1, 16)
	m := &counting{}
	log := slog.New(slog.DiscardHandler)
	svc, err := pairing.NewService(store, bus, log, pairing.Options{
		PublicURL: "https://pair.example.com", SecretKey: make([]byte, pairing.SecretKeyLen), Metrics: m,
	})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	s := New(svc, log, cfg)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	svc.SetDownlinker(s)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Shutdown()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		bus.Close(ctx)
		svc.Drain(ctx)
		store.Close()
	})
	return s, svc, m
}

// device is a raw UDP socket speaking CoAP to the server.
type device struct {
	t  testing.TB
	c  *net.UDPConn
	to *net.UDPAddr
}

func dialDevice(t testing.TB, s *Server) *device {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &device{t: t, c: c, to: s.Addr().(*net.UDPAddr)}
}

func (d *device) send(b []byte) {
	d.t.Helper()
	if _, err := d.c.WriteToUDP(b, d.to); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) recv() ([]byte, message.Message) {
	d.t.Helper()
	buf := make([]byte, 2048)
	d.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := d.c.Read(buf)
	if err != nil {
		d.t.Fatalf("no datagram: %v", err)
	}
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
		d.t.Fatalf("undecodable datagram: %v", err)
	}
	return buf[:n], m
}

// registerDatagram encodes a CON Register of imei announcing objects.
func registerDatagram(t testing.TB, mid uint16, imei, objects string) []byte {
	t.Helper()
	m := message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: int32(mid), Token: []byte{9, 9},
		Options: message.Options{
			{ID: message.URIPath, Value: []byte("rd")},
			{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}},
			{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)},
			{ID: message.URIQuery, Value: []byte("lt=300")},
		}, Payload: []byte(objects)}
	b := make([]byte, 2048)
	n, err := coder.DefaultCoder.Encode(m, b)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

func provision(t testing.TB, svc *pairing.Service, imei string) {
	t.Helper()
	if _, err := svc.Provision(context.Background(), pairing.ProvisionRequest{IMEI: imei}); err != nil {
		t.Fatal(err)
	}
}

// A Register retransmitted (the same message ID from the same source) is
// answered with the same bytes and registers once.
func TestRetransmittedRegisterAnsweredFromTheCache(t *testing.T) {
	s, svc, m := startServer(t, Config{})
	const imei = "868000000000101"
	provision(t, svc, imei)
	d := dialDevice(t, s)
	req := registerDatagram(t, 77, imei, "</1/0>,</3/0>")
	d.send(req)
	first, resp := d.recv()
	if resp.Code != codes.Created || resp.Type != message.Acknowledgement || resp.MessageID != 77 {
		t.Fatalf("answer %v, want a piggy-backed 2.01", resp)
	}
	if loc, _ := resp.Options.LocationPath(); len(loc) < 4 {
		t.Fatalf("Location-Path %q", loc)
	}
	for range 3 {
		d.send(req)
		if again, _ := d.recv(); !bytes.Equal(again, first) {
			t.Fatalf("retransmission answered %x, first answer %x", again, first)
		}
	}
	if n := m.registers.Load(); n != 1 {
		t.Fatalf("%d Registers processed, want 1", n)
	}
	if st := s.FrontStats(); st.Duplicates != 3 {
		t.Fatalf("duplicates answered = %d, want 3", st.Duplicates)
	}
}

// A refused Register gets 4.03 with the one plain-CoAP diagnostic.
func TestPlainForbiddenDiagnostic(t *testing.T) {
	s, _, _ := startServer(t, Config{})
	d := dialDevice(t, s)
	d.send(registerDatagram(t, 1, "999999999999999", "</1/0>"))
	_, resp := d.recv()
	if cf, _ := resp.Options.ContentFormat(); resp.Code != codes.Forbidden || string(resp.Payload) != forbiddenPlain || cf != message.TextPlain {
		t.Fatalf("answer %v %q, want 4.03 with the plain diagnostic as text/plain", resp.Code, resp.Payload)
	}
}

// put reaches a device on plain CoAP at the address of its Register,
// retransmits, and returns the code of the piggy-backed answer.
func TestPutToAPlainDevice(t *testing.T) {
	s, svc, _ := startServer(t, Config{ACKTimeout: 100 * time.Millisecond, MaxRetransmit: 3})
	const imei = "868000000000102"
	provision(t, svc, imei)
	d := dialDevice(t, s)
	d.send(registerDatagram(t, 1, imei, "</1/0>,</3/0>"))
	if _, resp := d.recv(); resp.Code != codes.Created {
		t.Fatalf("Register answered %v", resp.Code)
	}
	reg := pairing.Registration{Endpoint: "urn:imei:" + imei, Addr: d.c.LocalAddr().String()}
	type result struct {
		code codes.Code
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := s.put(context.Background(), reg, pairingPath, message.MediaType(wire.FormatTLV), []byte{1, 2})
		done <- result{code, err}
	}()
	var req message.Message
	for range 2 { // the first transmission and a retransmission
		_, req = d.recv()
		if req.Type != message.Confirmable || req.Code != codes.PUT {
			t.Fatalf("downlink %v, want a CON PUT", req)
		}
	}
	if p, _ := req.Options.Path(); p != pairingPath {
		t.Fatalf("downlink to %q, want %q", p, pairingPath)
	}
	if cf, _ := req.Options.ContentFormat(); cf != message.MediaType(wire.FormatTLV) || !bytes.Equal(req.Payload, []byte{1, 2}) {
		t.Fatalf("downlink format %v payload %x", cf, req.Payload)
	}
	d.send(coaptx.AppendEmpty(nil, message.Acknowledgement, codes.Changed, uint16(req.MessageID), req.Token))
	select {
	case r := <-done:
		if r.err != nil || r.code != codes.Changed {
			t.Fatalf("put: %v, %v; want 2.04", r.code, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("put did not return")
	}
}

func TestUintValue(t *testing.T) {
	for v, want := range map[uint32]string{0: "", 11542: "\x2d\x16", 40: "\x28", 1 << 24: "\x01\x00\x00\x00"} {
		if got := string(uintValue(v)); got != want {
			t.Errorf("uintValue(%d) = %x, want %x", v, got, want)
		}
	}
}

// MaxRetransmit zero takes the default; a negative one means no
// retransmission, which the front then does.
func TestMaxRetransmit(t *testing.T) {
	for give, want := range map[int]int{0: 4, -1: 0, 2: 2} {
		s := New(nil, slog.New(slog.DiscardHandler), Config{MaxRetransmit: give})
		if got := s.cfg.Front.Transmission.MaxRetransmit; got != want {
			t.Errorf("MaxRetransmit %d: the front retransmits %d times, want %d", give, got, want)
		}
	}
}

// A plain request with a critical option the server does not understand
// is refused with 4.02 and not processed (RFC 7252, 5.4.1). Block1 is
// understood (blockwise_test.go); 65001, an experimental critical option,
// is not.
func TestUnrecognizedCriticalOptionRefused(t *testing.T) {
	s, svc, m := startServer(t, Config{})
	provision(t, svc, "860000000000071")
	d := dialDevice(t, s)
	reg := message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: 71, Token: []byte{7},
		Options: message.Options{
			{ID: message.URIPath, Value: []byte("rd")},
			{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}},
			{ID: message.URIQuery, Value: []byte("ep=urn:imei:860000000000071")},
			{ID: 65001, Value: []byte{1}},
		}, Payload: []byte("</1/0>,</3/0>")}
	b := make([]byte, 256)
	n, err := coder.DefaultCoder.Encode(reg, b)
	if err != nil {
		t.Fatal(err)
	}
	d.send(b[:n])
	if _, resp := d.recv(); resp.Code != codes.BadOption || resp.MessageID != 71 {
		t.Fatalf("Register with option 65001 answered %v, want 4.02", resp)
	}
	if m.registers.Load() != 0 {
		t.Fatal("the Register was processed")
	}
}
