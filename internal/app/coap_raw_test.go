package app_test

import (
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// rawSocket is a bare UDP socket that sends hand-built CoAP datagrams, for
// what a well-behaved client library will not send: garbage, NON Registers,
// exact retransmissions.
type rawSocket struct {
	conn *net.UDPConn
}

func dialRaw(t *testing.T, addr string) *rawSocket {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawSocket{conn: c}
}

type rawRequest struct {
	typ     message.Type
	code    codes.Code
	mid     uint16
	path    []string
	queries []string
	payload string
}

func (r rawRequest) token() []byte { return []byte{byte(r.mid), byte(r.mid >> 8), 0x42} }

// encode builds the datagram of a request.
func (r rawRequest) encode(t *testing.T) []byte {
	t.Helper()
	m := message.Message{Type: r.typ, Code: r.code, MessageID: int32(r.mid), Token: r.token()}
	for _, p := range r.path {
		m.Options = append(m.Options, message.Option{ID: message.URIPath, Value: []byte(p)})
	}
	if r.payload != "" {
		m.Options = append(m.Options, message.Option{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}})
		m.Payload = []byte(r.payload)
	}
	for _, q := range r.queries {
		m.Options = append(m.Options, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	sort.SliceStable(m.Options, func(i, j int) bool { return m.Options[i].ID < m.Options[j].ID })
	buf := make([]byte, 64<<10)
	n, err := coder.DefaultCoder.Encode(m, buf)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf[:n]
}

func (s *rawSocket) send(t *testing.T, b []byte) {
	t.Helper()
	if _, err := s.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// recv reads one datagram and decodes it; ok is false on timeout.
func (s *rawSocket) recv(t *testing.T, timeout time.Duration) (message.Message, bool) {
	t.Helper()
	buf := make([]byte, 2048)
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	n, err := s.conn.Read(buf)
	if err != nil {
		return message.Message{}, false
	}
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
		t.Fatalf("undecodable answer %x: %v", buf[:n], err)
	}
	return m, true
}

// exchange sends a request and returns the answer to it, skipping the
// server's own requests (such as a Write of the Pairing object). Like a
// CoAP client it sends the same datagram again each second without an
// answer: a retransmission that arrives while the first copy is still
// being handled is dropped by the server, and answered once it is done.
func (s *rawSocket) exchange(t *testing.T, r rawRequest) message.Message {
	t.Helper()
	req := r.encode(t)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.send(t, req)
		wait := time.Now().Add(time.Second)
		for time.Now().Before(wait) {
			m, ok := s.recv(t, time.Until(wait))
			if ok && string(m.Token) == string(r.token()) && m.Code >= 64 {
				return m
			}
		}
	}
	t.Fatalf("no answer to %v %s", r.code, strings.Join(r.path, "/"))
	return message.Message{}
}

func locationOf(m message.Message) string {
	var parts []string
	for _, o := range m.Options {
		if o.ID == message.LocationPath {
			parts = append(parts, string(o.Value))
		}
	}
	return strings.Join(parts, "/")
}
