package device

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/testkit"
)

// rawServer is an LwM2M server written against the bare UDP socket with
// go-coap's message codec, so that a test sees every datagram the device
// sends (notifications included) and can send Resets.
type rawServer struct {
	t    *testing.T
	conn *net.UDPConn
	peer *net.UDPAddr
	mid  int32
	held []message.Message // received while waiting for something else
}

func startRawServer(t *testing.T) *rawServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawServer{t: t, conn: conn, mid: 1000}
}

func (s *rawServer) url() string { return "coap://" + s.conn.LocalAddr().String() }

// recv returns the next datagram from the device, skipping Updates and
// De-registers (answered) and failing after waitTimeout.
func (s *rawServer) recv() message.Message {
	s.t.Helper()
	if len(s.held) > 0 {
		m := s.held[0]
		s.held = s.held[1:]
		return m
	}
	buf := make([]byte, 2048)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(waitTimeout))
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			s.t.Fatalf("no datagram from the device: %v", err)
		}
		m := message.Message{Options: make(message.Options, 0, 16)}
		if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
			s.t.Fatalf("undecodable datagram %x: %v", buf[:n], err)
		}
		s.peer = from
		if path, _ := m.Options.Path(); m.Code == codes.POST && strings.HasPrefix(path, "/rd/") || m.Code == codes.DELETE {
			s.answer(m, codes.Changed)
			continue
		}
		return m
	}
}

// drain answers the device's De-register in the background until the
// socket closes.
func (s *rawServer) drain() {
	_ = s.conn.SetReadDeadline(time.Time{})
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := s.conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m := message.Message{Options: make(message.Options, 0, 16)}
			if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil || m.Code != codes.DELETE {
				continue
			}
			out := make([]byte, 64)
			k, err := coder.DefaultCoder.Encode(message.Message{Token: m.Token, Code: codes.Deleted, Type: message.Acknowledgement, MessageID: m.MessageID}, out)
			if err == nil {
				_, _ = s.conn.WriteToUDP(out[:k], from)
			}
		}
	}()
}

func (s *rawServer) send(m message.Message) {
	s.t.Helper()
	buf := make([]byte, 2048)
	n, err := coder.DefaultCoder.Encode(m, buf)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.conn.WriteToUDP(buf[:n], s.peer); err != nil {
		s.t.Fatal(err)
	}
}

// answer acknowledges a confirmable request with a piggybacked response.
func (s *rawServer) answer(req message.Message, code codes.Code, opts ...message.Option) {
	s.send(message.Message{Token: req.Token, Code: code, Type: message.Acknowledgement, MessageID: req.MessageID, Options: opts})
}

// register accepts the device's Register as rd/1.
func (s *rawServer) register() {
	s.t.Helper()
	m := s.recv()
	if path, _ := m.Options.Path(); m.Code != codes.POST || path != "/rd" {
		s.t.Fatalf("first datagram is %v %s, want the Register", m.Code, path)
	}
	s.answer(m, codes.Created, message.Option{ID: message.LocationPath, Value: []byte("rd")}, message.Option{ID: message.LocationPath, Value: []byte("1")})
}

// request sends a confirmable request and returns the device's answer;
// observe < 0 leaves the Observe option out.
func (s *rawServer) request(code codes.Code, token, path string, observe int, format int, payload []byte) message.Message {
	s.t.Helper()
	s.mid++
	var opts message.Options
	if observe >= 0 {
		opts = append(opts, observeOption(uint32(observe)))
	}
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		opts = append(opts, message.Option{ID: message.URIPath, Value: []byte(seg)})
	}
	if format >= 0 {
		opts = append(opts, message.Option{ID: message.ContentFormat, Value: acceptValue(format)})
	}
	mid := s.mid
	s.send(message.Message{Token: []byte(token), Code: code, Type: message.Confirmable, MessageID: mid, Options: opts, Payload: payload})
	var other []message.Message
	defer func() { s.held = append(other, s.held...) }()
	for {
		m := s.recv()
		if m.MessageID == mid && m.Type == message.Acknowledgement {
			return m
		}
		other = append(other, m) // a notification may overtake the answer
	}
}

// notification waits for the next notification with token.
func (s *rawServer) notification(token string) (seq uint32, payload []byte, mid int32) {
	s.t.Helper()
	for {
		m := s.recv()
		if !bytes.Equal(m.Token, []byte(token)) || m.Code != codes.Content {
			continue
		}
		seq, err := m.Options.Observe()
		if err != nil || m.Type != message.NonConfirmable {
			s.t.Fatalf("notification of type %v without Observe (%v)", m.Type, err)
		}
		return seq, m.Payload, m.MessageID
	}
}

func runRawDevice(t *testing.T, s *rawServer) *runningDevice {
	t.Helper()
	d := launchDevice(t, nil, Config{Server: s.url()})
	t.Cleanup(s.drain) // runs before the device stops: answers its De-register
	s.register()
	testkit.Eventually(t, "registration", func() bool { return d.Location() != "" })
	return d
}

func observeSeq(t *testing.T, m message.Message) (uint32, bool) {
	t.Helper()
	seq, err := m.Options.Observe()
	return seq, err == nil
}

// TestObserveNotifyAndCancelByReset observes the bind state, changes it
// with Writes, checks that notifications carry increasing sequence
// numbers and the new value, and cancels with a Reset.
func TestObserveNotifyAndCancelByReset(t *testing.T) {
	s := startRawServer(t)
	d := runRawDevice(t, s)
	ack := s.request(codes.GET, "ob1", "/33050/0/1", 0, -1, nil)
	if seq, ok := observeSeq(t, ack); ack.Code != codes.Content || !ok || seq != 1 || string(ack.Payload) != "0" {
		t.Fatalf("Observe answer %v seq %d (%v) %q, want 2.05 seq 1 \"0\"", ack.Code, seq, ok, ack.Payload)
	}
	last := uint32(1)
	var mid int32
	for _, state := range []string{"1", "2"} {
		if m := s.request(codes.PUT, "w"+state, "/33050/0/1", -1, text, []byte(state)); m.Code != codes.Changed {
			t.Fatalf("Write = %v", m.Code)
		}
		var seq uint32
		var payload []byte
		seq, payload, mid = s.notification("ob1")
		if seq <= last || string(payload) != state {
			t.Fatalf("notification seq %d %q after seq %d, want a higher one with %q", seq, payload, last, state)
		}
		last = seq
	}
	s.send(message.Message{Type: message.Reset, Code: codes.Empty, MessageID: mid})
	testkit.Eventually(t, "the observation to end", func() bool { return d.obs.count() == 0 })
	s.request(codes.PUT, "w3", "/33050/0/1", -1, text, []byte("0"))
	d.notifyDue(context.Background(), time.Now()) // would send at once if it were still observed
	if m := s.request(codes.GET, "r1", "/3/0/0", -1, -1, nil); string(m.Payload) != DefaultManufacturer {
		t.Fatalf("Read after cancel = %q", m.Payload)
	}
}

// TestObserveCancelByGet cancels with GET Observe=1 (RFC 7641 3.6).
func TestObserveCancelByGet(t *testing.T) {
	s := startRawServer(t)
	d := runRawDevice(t, s)
	s.request(codes.GET, "ob2", "/3/0/2", 0, -1, nil)
	if d.obs.count() != 1 {
		t.Fatalf("%d observations, want 1", d.obs.count())
	}
	m := s.request(codes.GET, "ob2", "/3/0/2", 1, -1, nil)
	if _, ok := observeSeq(t, m); ok || m.Code != codes.Content || string(m.Payload) != testIMEI {
		t.Errorf("cancel answer %v %q (observe %v), want 2.05 with the value and no Observe", m.Code, m.Payload, ok)
	}
	if n := d.obs.count(); n != 0 {
		t.Errorf("%d observations after the cancel, want 0", n)
	}
}

// TestObservePmax observes a value that never changes with pmax=1: the
// device notifies anyway, with increasing sequence numbers.
func TestObservePmax(t *testing.T) {
	s := startRawServer(t)
	runRawDevice(t, s)
	s.mid++
	s.send(message.Message{Token: []byte("wa"), Code: codes.PUT, Type: message.Confirmable, MessageID: s.mid, Options: message.Options{
		{ID: message.URIPath, Value: []byte("3")}, {ID: message.URIPath, Value: []byte("0")}, {ID: message.URIPath, Value: []byte("0")},
		{ID: message.URIQuery, Value: []byte("pmax=1")},
	}})
	if m := s.recv(); m.Code != codes.Changed {
		t.Fatalf("Write-Attributes = %v %q", m.Code, m.Payload)
	}
	s.request(codes.GET, "ob3", "/3/0/0", 0, -1, nil)
	first, payload, _ := s.notification("ob3")
	second, _, _ := s.notification("ob3")
	if first <= 1 || second <= first || string(payload) != DefaultManufacturer {
		t.Errorf("notifications seq %d then %d of %q, want increasing ones of the manufacturer", first, second, payload)
	}
}

// TestObservationsBounded observes with more tokens than the device keeps:
// the extra ones are answered as plain Reads and the count stays at the
// bound.
func TestObservationsBounded(t *testing.T) {
	s := startRawServer(t)
	d := runRawDevice(t, s)
	for i := range maxObservations + 4 {
		token := string(rune('a'+i%26)) + "tok"
		m := s.request(codes.GET, token, "/3/0/1", 0, -1, nil)
		_, observing := observeSeq(t, m)
		if want := i < maxObservations; observing != want || m.Code != codes.Content {
			t.Fatalf("Observe %d: %v, Observe option %v, want %v", i, m.Code, observing, want)
		}
	}
	if n := d.obs.count(); n != maxObservations {
		t.Errorf("%d observations, want the bound %d", n, maxObservations)
	}
}

// TestObserveWithGoCoAPServer observes through go-coap's own client-side
// observation, as a Go LwM2M server would, over CoAP and over DTLS.
func TestObserveWithGoCoAPServer(t *testing.T) {
	for name, secure := range map[string]bool{"coap": false, "coaps": true} {
		t.Run(name, func(t *testing.T) {
			var srv *fakeServer
			var d *runningDevice
			if secure {
				s := startFakeSecureServer(t, "urn:imei:"+testIMEI, testPSK)
				srv, d = s.fakeServer, launchSecureDevice(t, s, Config{})
			} else {
				srv = startFakeServer(t)
				d = launchDevice(t, srv, Config{})
			}
			testkit.Eventually(t, "registration", func() bool { return d.Location() != "" })
			srv.mu.Lock()
			conn := srv.conn
			srv.mu.Unlock()
			values := make(chan string, 8)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			obs, err := conn.Observe(ctx, "/33050/0/2", func(n *pool.Message) {
				body, _ := n.ReadBody()
				values <- string(body)
			})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case v := <-values:
				if v != "" {
					t.Fatalf("first value %q, want the empty owner", v)
				}
			case <-ctx.Done():
				t.Fatal("no first value")
			}
			srv.send(codes.PUT, "/33050/0/2", text, []byte("u_7"))
			select {
			case v := <-values:
				if v != "u_7" {
					t.Errorf("notified %q, want u_7", v)
				}
			case <-ctx.Done():
				t.Fatal("no notification after the Write")
			}
			if err := obs.Cancel(ctx); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "the observation to end", func() bool { return d.obs.count() == 0 })
		})
	}
}
