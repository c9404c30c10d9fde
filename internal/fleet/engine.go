package fleet

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
	"golang.org/x/net/ipv4"

	"github.com/nbpair/nbpair/internal/coaptx"
)

// engine is the generator's CoAP endpoint: plain UDP sockets, one per
// source address, each with a reader goroutine; requests encoded with
// go-coap's message codec; answers matched to requests by message ID (and
// by token for separate responses); and a retransmission timer per
// request as RFC 7252, 4.2 says: the first after ACKTimeout, each next one
// twice as late, at most MaxRetransmit of them. No go-coap connection,
// goroutine or pool sits between a request and its datagram.
//
// Device i always sends from source i mod n, so the server sees n
// sources, each with the traffic of its devices, as it sees a fleet's NAT
// bindings (source_pool.go opens and closes the sockets; source_addrs.go
// says which addresses they bind).
//
// A source uses each of its 65,536 message IDs once: a server answers a
// reused message ID from its duplicate cache for EXCHANGE_LIFETIME (247 s),
// so a source whose IDs are used up moves to a fresh address, as a device
// behind a NAT does when its binding changes, and its old socket stays
// open, still answering, until the engine is closed.
type engine struct {
	addr    *net.UDPAddr
	t       Transmission
	plan    addrPlan
	first   uint64 // address number of source 0
	n       int    // sources
	keep    bool   // every source's socket stays open until the engine closes
	awake   time.Duration
	maxOpen int
	bufs    bool   // few sources carry all the traffic: large socket buffers
	seed    uint64 // seeds each source's first message ID

	fixed []atomic.Pointer[sock] // keep mode: each source's socket, nil until first used

	mu      sync.Mutex
	open    map[int32]*sock          // guarded by mu; exchange mode: the open sockets by source
	idle    idleQueue                // guarded by mu; exchange mode: open sockets nobody uses
	used    []uint32                 // guarded by mu; exchange mode: message IDs each source used
	moved   map[int32]netip.AddrPort // guarded by mu; sources not at their planned address
	retired []*sock                  // guarded by mu; keep mode: sockets whose IDs are used up
	closed  bool                     // guarded by mu
	nopen   int                      // guarded by mu; sockets open now
	peak    int                      // guarded by mu; most sockets open at once

	readers sync.WaitGroup
	stop    chan struct{} // closed by close: stops the janitor
	swept   chan struct{} // closed when the janitor returns

	shared   []*sock          // shared mode: the sockets every source sends from
	ipBase   uint32           // shared mode: source src's IP is 127.0.0.0 + ipBase + src/len(shared)
	smids    []atomic.Uint32  // shared mode: message IDs each source used
	sharedIP map[int32]uint32 // guarded by mu; shared mode: sources moved to another IP

	retransmits, downlinks, opened, skipped, movedOut atomic.Int64
}

// sock is one socket of the engine, the address of one source, and its
// requests in flight.
type sock struct {
	c       *net.UDPConn
	e       *engine
	src     int32
	used    atomic.Uint32 // message IDs handed out
	midBase uint16
	ready   chan struct{} // closed once c is open or err is set
	err     error
	up      atomic.Bool // c is open: keep mode's way round the lock

	refs    int    // guarded by e.mu; exchanges using it
	idleGen uint32 // guarded by e.mu; tells a current idle entry from an old one
	gone    bool   // guarded by e.mu; out of the open map: closed when unused
	shut    bool   // guarded by e.mu; closed

	pc *ipv4.PacketConn // a shared socket: c with the source address chosen per datagram

	mu    sync.Mutex
	calls []*call // guarded by mu
}

// call is one request in flight.
type call struct {
	ip    [4]byte // the source's IP on a shared socket, else zero
	mid   uint16
	token uint32
	resp  chan answer // buffered 1
	acked atomic.Bool // an empty ACK came: a separate response follows
}

// answer is what came back for a call.
type answer struct {
	code     codes.Code
	location string // Location-Path of a 2.01, without "rd/"
	reset    bool
}

// tokenLen is the length of the engine's tokens: a source's request count.
const tokenLen = 4

// next hands out the socket of device dev's source with a fresh message
// ID and token, and the source's IP when the socket is shared (else zero);
// the caller releases the socket when its exchange is done.
func (e *engine) next(dev int) (*sock, [4]byte, uint16, uint32, error) {
	src := dev % e.n
	if e.shared != nil {
		s, ip, mid, token := e.nextShared(src)
		return s, ip, mid, token, nil
	}
	for {
		s, err := e.acquire(src)
		if err != nil {
			return nil, [4]byte{}, 0, 0, err
		}
		n := s.used.Add(1) - 1
		if n < 1<<16 {
			return s, [4]byte{}, s.midBase + uint16(n), n, nil
		}
		e.retire(s)
	}
}

// roundTrip sends the request that build encodes (with the message ID
// and token it is given) from device dev's source as a CON, retransmits it
// as RFC 7252 says until it is answered, and returns the answer and the
// number of retransmissions.
func (e *engine) roundTrip(ctx context.Context, dev int, build func(mid uint16, token uint32) []byte) (answer, int, error) {
	s, ip, mid, token, err := e.next(dev)
	if err != nil {
		return answer{}, 0, err
	}
	defer e.release(s)
	c := &call{ip: ip, mid: mid, token: token, resp: make(chan answer, 1)}
	s.add(c)
	defer s.remove(c)
	datagram := build(mid, token)
	if err := s.write(ip, datagram); err != nil {
		return answer{}, 0, err
	}
	timeout := e.t.ACKTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for retrans, waited := 0, time.Duration(0); ; {
		select {
		case a := <-c.resp:
			if a.reset {
				return a, retrans, errReset
			}
			return a, retrans, nil
		case <-ctx.Done():
			return answer{}, retrans, ctx.Err()
		case <-timer.C:
		}
		waited += timeout
		if c.acked.Load() || retrans == e.t.MaxRetransmit {
			// Acknowledged but not yet answered, or out of retransmissions:
			// wait out MAX_TRANSMIT_WAIT, then give up.
			if rest := e.t.maxTransmitWait() - waited; rest > 0 {
				timeout = rest
				timer.Reset(rest)
				continue
			}
			return answer{}, retrans, errTimeout
		}
		retrans++
		e.retransmits.Add(1)
		if err := s.write(ip, datagram); err != nil {
			return answer{}, retrans, err
		}
		timeout *= 2
		timer.Reset(timeout)
	}
}

// errReset is a request the server answered with a Reset.
var errReset = errors.New("answered with a Reset")

// read handles every datagram that comes to the socket until it is
// closed: answers go to their calls, the server's requests (the Pairing
// object Writes) are answered as a device would.
func (s *sock) read() {
	defer s.e.readers.Done()
	if s.pc != nil {
		s.readShared()
		return
	}
	buf := make([]byte, 1500)
	var m message.Message
	m.Options = make(message.Options, 0, 16)
	for {
		n, err := s.c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
			continue
		}
		s.handle(&m, [4]byte{})
	}
}

// handle handles a datagram of the server to the source at ip (zero when
// the socket is the source's own).
func (s *sock) handle(m *message.Message, ip [4]byte) {
	switch {
	case m.Type == message.Acknowledgement || m.Type == message.Reset:
		c := s.find(func(c *call) bool { return c.mid == uint16(m.MessageID) && c.ip == ip })
		if c == nil {
			return // a late or duplicate answer
		}
		switch {
		case m.Type == message.Reset:
			c.deliver(answer{reset: true})
		case m.Code == codes.Empty:
			c.acked.Store(true)
		default:
			c.deliver(answerOf(m))
		}
	case m.Code >= 64: // a separate response, CON or NON
		if m.Type == message.Confirmable {
			s.send(ip, message.Acknowledgement, codes.Empty, uint16(m.MessageID), nil)
		}
		if len(m.Token) != tokenLen {
			return
		}
		token := binary.BigEndian.Uint32(m.Token)
		c := s.find(func(c *call) bool { return c.token == token && c.ip == ip })
		if c != nil {
			c.deliver(answerOf(m))
		}
	case m.Type == message.Confirmable && m.Code == codes.Empty: // a CoAP ping
		s.send(ip, message.Reset, codes.Empty, uint16(m.MessageID), nil)
	case m.Type == message.Confirmable:
		s.e.downlinks.Add(1)
		s.send(ip, message.Acknowledgement, downlinkCode(m), uint16(m.MessageID), m.Token)
	}
}

// add registers a request in flight on the socket.
func (s *sock) add(c *call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

// remove forgets a request once it is done.
func (s *sock) remove(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.calls {
		if x == c {
			last := len(s.calls) - 1
			s.calls[i], s.calls[last] = s.calls[last], nil
			s.calls = s.calls[:last]
			return
		}
	}
}

// find is the request in flight that match says is the one, or nil. A
// socket has few requests in flight (those of its devices), so a scan is
// cheaper than a map.
func (s *sock) find(match func(*call) bool) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if match(c) {
			return c
		}
	}
	return nil
}

// deliver hands the first answer to the waiting request; later ones (the
// answers to retransmissions) are dropped.
func (c *call) deliver(a answer) {
	select {
	case c.resp <- a:
	default:
	}
}

// answerOf reads what the fleet needs of a response.
func answerOf(m *message.Message) answer {
	a := answer{code: m.Code}
	if m.Code == codes.Created {
		if loc, err := m.Options.LocationPath(); err == nil {
			a.location = strings.TrimPrefix(strings.Trim(loc, "/"), "rd/")
		}
	}
	return a
}

// downlinkCode is a simulated device's answer to a request of the server:
// 2.04 for a Write (PUT or POST) to its Pairing object, 4.04 for anything
// else.
func downlinkCode(m *message.Message) codes.Code {
	if m.Code == codes.PUT || m.Code == codes.POST {
		if p, err := m.Options.Path(); err == nil && strings.Trim(p, "/") == "33050/0" {
			return codes.Changed
		}
	}
	return codes.NotFound
}

// send sends a message without options or payload: an ACK (piggy-backed
// answer or empty) or a Reset.
func (s *sock) send(ip [4]byte, typ message.Type, code codes.Code, mid uint16, token []byte) {
	var b [4 + message.MaxTokenSize]byte
	s.write(ip, coaptx.AppendEmpty(b[:0], typ, code, mid, token))
}

// encode encodes a CON request with the engine's token.
func encode(code codes.Code, mid uint16, token uint32, opts message.Options, payload []byte) []byte {
	var tok [tokenLen]byte
	binary.BigEndian.PutUint32(tok[:], token)
	m := message.Message{Token: tok[:], Options: opts, Code: code, Payload: payload,
		MessageID: int32(mid), Type: message.Confirmable}
	size, err := coder.DefaultCoder.Size(m)
	if err != nil {
		panic(err) // the fleet's own messages are well formed
	}
	buf := make([]byte, size)
	if _, err := coder.DefaultCoder.Encode(m, buf); err != nil {
		panic(err)
	}
	return buf
}

// patchHeader writes a message ID and token into an encoded request whose
// token is tokenLen bytes long.
func patchHeader(b []byte, mid uint16, token uint32) {
	binary.BigEndian.PutUint16(b[2:], mid)
	binary.BigEndian.PutUint32(b[4:], token)
}
