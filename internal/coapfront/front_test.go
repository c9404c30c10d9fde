package coapfront

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/coaptx"
	"github.com/nbpair/nbpair/internal/testkit"
)

// startFront serves h on 127.0.0.1 until the test ends.
func startFront(t testing.TB, cfg Config, h Handler) *Front {
	t.Helper()
	f, err := Listen("127.0.0.1:0", cfg, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Serve() }()
	t.Cleanup(func() {
		f.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

// peer is a device's UDP socket.
type peer struct {
	t    testing.TB
	c    *net.UDPConn
	to   netip.AddrPort
	opts message.Options
}

func dialPeer(t testing.TB, f *Front) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, c: c, to: f.LocalAddr().(*net.UDPAddr).AddrPort(), opts: make(message.Options, 0, 16)}
}

func (p *peer) addr() netip.AddrPort { return p.c.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(b []byte) {
	p.t.Helper()
	if _, err := p.c.WriteToUDPAddrPort(b, p.to); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the next datagram and its decoding, or fails the test
// after wait.
func (p *peer) recv(wait time.Duration) ([]byte, message.Message) {
	p.t.Helper()
	b, m, err := p.tryRecv(wait)
	if err != nil {
		p.t.Fatalf("no datagram within %v: %v", wait, err)
	}
	return b, m
}

func (p *peer) tryRecv(wait time.Duration) ([]byte, message.Message, error) {
	buf := make([]byte, MaxDatagram)
	p.c.SetReadDeadline(time.Now().Add(wait))
	n, err := p.c.Read(buf)
	if err != nil {
		return nil, message.Message{}, err
	}
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
		p.t.Fatalf("undecodable datagram %x: %v", buf[:n], err)
	}
	return buf[:n], m, nil
}

// encodeMsg encodes m for a test.
func encodeMsg(t testing.TB, m message.Message) []byte {
	t.Helper()
	b := make([]byte, MaxDatagram)
	n, err := coder.DefaultCoder.Encode(m, b)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

func registerMsg(t testing.TB, typ message.Type, mid uint16) []byte {
	return encodeMsg(t, message.Message{Type: typ, Code: codes.POST, MessageID: int32(mid), Token: []byte{1, 2, 3, 4},
		Options: message.Options{{ID: message.URIPath, Value: []byte("rd")}, {ID: message.URIQuery, Value: []byte("ep=x")}},
		Payload: []byte("</1/0>")})
}

// countingHandler answers 2.01 with a Location-Path that numbers the
// requests it handled.
type countingHandler struct {
	calls   atomic.Int64
	release chan struct{} // when not nil, each call waits for it
}

func (h *countingHandler) ServeCoAP(_ context.Context, req *Request) Response {
	n := h.calls.Add(1)
	if h.release != nil {
		<-h.release
	}
	return Response{Code: codes.Created, Options: message.Options{
		{ID: message.LocationPath, Value: []byte("rd")}, {ID: message.LocationPath, Value: []byte{byte('0' + n)}}}}
}

const wait = 10 * time.Second // a bound on a wait, never the expected time

func TestRetransmittedRequestGetsTheSameAnswerAndIsProcessedOnce(t *testing.T) {
	h := &countingHandler{}
	f := startFront(t, Config{}, h)
	p := dialPeer(t, f)
	req := registerMsg(t, message.Confirmable, 7)
	p.send(req)
	first, m := p.recv(wait)
	if m.Type != message.Acknowledgement || m.MessageID != 7 || m.Code != codes.Created || !bytes.Equal(m.Token, []byte{1, 2, 3, 4}) {
		t.Fatalf("answer %v, want a piggy-backed 2.01 ACK with message ID 7 and the token", m)
	}
	for range 2 {
		p.send(req)
		again, _ := p.recv(wait)
		if !bytes.Equal(again, first) {
			t.Fatalf("retransmission answered %x, first answer %x", again, first)
		}
	}
	if h.calls.Load() != 1 {
		t.Fatalf("handler called %d times, want 1", h.calls.Load())
	}
	if st := f.Stats(); st.Duplicates != 2 {
		t.Fatalf("duplicates = %d, want 2", st.Duplicates)
	}
	p.send(registerMsg(t, message.Confirmable, 8)) // a new message ID is a new request
	if _, m := p.recv(wait); m.MessageID != 8 || h.calls.Load() != 2 {
		t.Fatalf("new request: answer %v, %d calls", m, h.calls.Load())
	}
}

func TestDuplicateWhileProcessingIsNotProcessedTwice(t *testing.T) {
	h := &countingHandler{release: make(chan struct{})}
	f := startFront(t, Config{}, h)
	released := sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(released) // before the front closes, even if the test fails
	p := dialPeer(t, f)
	req := registerMsg(t, message.Confirmable, 9)
	p.send(req)
	testkit.Eventually(t, "the first copy to reach the handler", func() bool { return h.calls.Load() == 1 })
	p.send(req)
	testkit.Eventually(t, "the second copy to be dropped", func() bool { return f.Stats().DroppedPending == 1 })
	released()
	first, _ := p.recv(wait)
	p.send(req)
	again, _ := p.recv(wait)
	if !bytes.Equal(first, again) || h.calls.Load() != 1 {
		t.Fatalf("%d calls; answers %x and %x", h.calls.Load(), first, again)
	}
}

func TestNonConfirmableRequestGetsANonResponse(t *testing.T) {
	f := startFront(t, Config{}, &countingHandler{})
	p := dialPeer(t, f)
	p.send(registerMsg(t, message.NonConfirmable, 11))
	_, m := p.recv(wait)
	if m.Type != message.NonConfirmable || m.Code != codes.Created || !bytes.Equal(m.Token, []byte{1, 2, 3, 4}) {
		t.Fatalf("answer %v, want a NON 2.01 with the token", m)
	}
}

func TestPingMalformedAndReserved(t *testing.T) {
	h := &countingHandler{}
	f := startFront(t, Config{}, h)
	p := dialPeer(t, f)
	p.send(coaptx.AppendEmpty(nil, message.Confirmable, codes.Empty, 21, nil))
	if _, m := p.recv(wait); m.Type != message.Reset || m.MessageID != 21 {
		t.Fatalf("ping answered %v, want a Reset", m)
	}
	p.send([]byte{0x40, 0x02, 0x00, 0x16, 0xff}) // CON POST, payload marker without payload
	if _, m := p.recv(wait); m.Type != message.Reset || m.MessageID != 22 {
		t.Fatalf("malformed CON answered %v, want a Reset", m)
	}
	p.send(coaptx.AppendEmpty(nil, message.Confirmable, codes.Code(32), 23, nil)) // CON with the reserved code 1.00
	if _, m := p.recv(wait); m.Type != message.Reset || m.MessageID != 23 {
		t.Fatalf("CON with a reserved code answered %v, want a Reset", m)
	}
	p.send([]byte{0x40}) // too short for a header
	p.send(make([]byte, MaxDatagram+1))
	testkit.Eventually(t, "four malformed datagrams counted", func() bool { return f.Stats().DroppedMalformed == 4 })
	if h.calls.Load() != 0 {
		t.Fatal("the handler saw a malformed datagram")
	}
}

// With one busy worker and a queue of one, the other datagrams are
// dropped and counted, and the two held are handled once the worker is
// free.
func TestFullQueueDrops(t *testing.T) {
	h := &countingHandler{release: make(chan struct{})}
	f := startFront(t, Config{Workers: 1, QueueLen: 1}, h)
	released := sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(released) // before the front closes, even if the test fails
	p := dialPeer(t, f)
	for mid := range uint16(20) {
		p.send(registerMsg(t, message.Confirmable, 100+mid))
	}
	testkit.Eventually(t, "18 datagrams dropped: one is in the worker, one queued", func() bool { return f.Stats().DroppedQueueFull >= 18 })
	released()
	testkit.Eventually(t, "the two held datagrams handled", func() bool { return h.calls.Load() == 2 })
	for range 2 {
		p.recv(wait)
	}
	if st := f.Stats(); st.DroppedQueueFull != 18 || st.Datagrams != 20 {
		t.Fatalf("%d of %d datagrams dropped, want 18 of 20", st.DroppedQueueFull, st.Datagrams)
	}
}

// A datagram larger than the packets' own buffers is handled whole, and
// a response larger than a worker's buffer is sent whole.
func TestLargeDatagram(t *testing.T) {
	f := startFront(t, Config{}, HandlerFunc(func(_ context.Context, req *Request) Response {
		return Response{Code: codes.Changed, Payload: req.Msg.Payload}
	}))
	p := dialPeer(t, f)
	big := bytes.Repeat([]byte("x"), 5000)
	for mid := range uint16(2) { // the second reuses the worker's grown buffer
		p.send(encodeMsg(t, message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: int32(5 + mid), Payload: big}))
		if _, m := p.recv(wait); m.Code != codes.Changed || !bytes.Equal(m.Payload, big) {
			t.Fatalf("answer %v with %d payload bytes, want 2.04 echoing %d", m.Code, len(m.Payload), len(big))
		}
	}
}

// A front on the unspecified address (dual stack where the system has
// it) answers IPv4 and IPv6 sources, each at its own address.
func TestDualStack(t *testing.T) {
	f, err := Listen(":0", Config{}, &countingHandler{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go f.Serve()
	defer f.Close()
	port := f.LocalAddr().(*net.UDPAddr).Port
	for _, ip := range []string{"127.0.0.1", "::1"} {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Logf("%s: %v (no such stack here)", ip, err)
			continue
		}
		defer c.Close()
		p := &peer{t: t, c: c, to: netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port))}
		p.send(registerMsg(t, message.Confirmable, 1))
		if _, m := p.recv(wait); m.Code != codes.Created {
			t.Fatalf("%s: answer %v", ip, m)
		}
	}
}
