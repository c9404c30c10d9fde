package fleet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/coaptx"
)

// engine is the generator's CoAP endpoint: a few plain UDP sockets, one
// reader goroutine each, requests encoded with go-coap's message codec,
// answers matched to requests by message ID (and by token for separate
// responses), and a retransmission timer per request as RFC 7252, 4.2
// says: the first after ACKTimeout, each next one twice as late, at most
// MaxRetransmit of them. No go-coap connection, goroutine or pool sits
// between a request and its datagram, so a request costs the generator
// little more than its two system calls.
//
// A socket uses each of its 65,536 message IDs once: a server answers a
// reused message ID from its duplicate cache for EXCHANGE_LIFETIME (247 s),
// so the engine opens a fresh socket for a slot whose IDs are used up and
// keeps the old one open, still answering, until the engine is closed.
type engine struct {
	addr *net.UDPAddr
	t    Transmission

	mu    sync.Mutex
	slots []*sock // guarded by mu
	all   []*sock // guarded by mu

	retransmits atomic.Int64
	downlinks   atomic.Int64
}

// sock is one UDP socket of the engine and its requests in flight.
type sock struct {
	c       *net.UDPConn
	e       *engine
	used    atomic.Uint32 // message IDs handed out
	midBase uint16
	done    chan struct{} // closed when the reader returns

	mu      sync.Mutex
	byMID   map[uint16]*call // guarded by mu
	byToken map[uint32]*call // guarded by mu
}

// call is one request in flight.
type call struct {
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

// tokenLen is the length of the engine's tokens: a socket's request count.
const tokenLen = 4

// dialEngine opens sockets UDP sockets to addr and starts their readers.
func dialEngine(addr string, sockets int, t Transmission) (*engine, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", addr, err)
	}
	e := &engine{addr: ua, t: t}
	for range sockets {
		s, err := e.open()
		if err != nil {
			e.close()
			return nil, err
		}
		e.slots = append(e.slots, s)
	}
	return e, nil
}

// open opens one socket and starts its reader.
func (e *engine) open() (*sock, error) {
	c, err := net.DialUDP("udp", nil, e.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.addr, err)
	}
	c.SetReadBuffer(4 << 20)
	c.SetWriteBuffer(4 << 20)
	s := &sock{c: c, e: e, midBase: uint16(rand.Uint32()), done: make(chan struct{}),
		byMID: map[uint16]*call{}, byToken: map[uint32]*call{}}
	e.mu.Lock()
	e.all = append(e.all, s)
	e.mu.Unlock()
	go s.read()
	return s, nil
}

// close closes every socket and waits for the readers.
func (e *engine) close() {
	e.mu.Lock()
	all := e.all
	e.all = nil
	e.mu.Unlock()
	for _, s := range all {
		s.c.Close()
	}
	for _, s := range all {
		<-s.done
	}
}

// sockets is the number of sockets opened so far.
func (e *engine) sockets() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.all)
}

// next hands out a socket for worker w with a fresh message ID and token,
// opening a new socket for the slot when the current one has used all its
// message IDs.
func (e *engine) next(w int) (*sock, uint16, uint32, error) {
	for {
		e.mu.Lock()
		slot := w % len(e.slots)
		s := e.slots[slot]
		e.mu.Unlock()
		n := s.used.Add(1) - 1
		if n < 1<<16 {
			return s, s.midBase + uint16(n), n, nil
		}
		fresh, err := e.open()
		if err != nil {
			return nil, 0, 0, err
		}
		e.mu.Lock()
		if e.slots[slot] == s {
			e.slots[slot] = fresh
		}
		e.mu.Unlock()
	}
}

// roundTrip sends the request that build encodes (with the message ID
// and token it is given) from worker w's socket as a CON, retransmits it
// as RFC 7252 says until it is answered, and returns the answer and the
// number of retransmissions.
func (e *engine) roundTrip(ctx context.Context, w int, build func(mid uint16, token uint32) []byte) (answer, int, error) {
	s, mid, token, err := e.next(w)
	if err != nil {
		return answer{}, 0, err
	}
	c := &call{mid: mid, token: token, resp: make(chan answer, 1)}
	s.mu.Lock()
	s.byMID[mid], s.byToken[token] = c, c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.byMID, mid)
		delete(s.byToken, token)
		s.mu.Unlock()
	}()
	datagram := build(mid, token)
	if _, err := s.c.Write(datagram); err != nil {
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
		if _, err := s.c.Write(datagram); err != nil {
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
	defer close(s.done)
	buf := make([]byte, 2048)
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
		s.handle(&m)
	}
}

func (s *sock) handle(m *message.Message) {
	switch {
	case m.Type == message.Acknowledgement || m.Type == message.Reset:
		s.mu.Lock()
		c := s.byMID[uint16(m.MessageID)]
		s.mu.Unlock()
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
			s.send(message.Acknowledgement, codes.Empty, uint16(m.MessageID), nil)
		}
		if len(m.Token) != tokenLen {
			return
		}
		s.mu.Lock()
		c := s.byToken[binary.BigEndian.Uint32(m.Token)]
		s.mu.Unlock()
		if c != nil {
			c.deliver(answerOf(m))
		}
	case m.Type == message.Confirmable && m.Code == codes.Empty: // a CoAP ping
		s.send(message.Reset, codes.Empty, uint16(m.MessageID), nil)
	case m.Type == message.Confirmable:
		s.e.downlinks.Add(1)
		s.send(message.Acknowledgement, downlinkCode(m), uint16(m.MessageID), m.Token)
	}
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
func (s *sock) send(typ message.Type, code codes.Code, mid uint16, token []byte) {
	var b [4 + message.MaxTokenSize]byte
	s.c.Write(coaptx.AppendEmpty(b[:0], typ, code, mid, token))
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
