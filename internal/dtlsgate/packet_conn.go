package dtlsgate

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/deadline"
)

// datagram is one datagram for a session, with where it came from.
type datagram struct {
	b    []byte
	from netip.AddrPort
}

// packetConn is the net.PacketConn pion runs a session on: it reads what
// the listener routed to the session and writes to the listener's socket.
// It also watches the handshake go by: it swallows pion's
// HelloVerifyRequest (the client already passed the gate's), and notices a
// client Finished that pion does not answer.
type packetConn struct {
	s      *session
	in     chan datagram
	rd     *deadline.Deadline
	closed chan struct{}
	once   sync.Once

	mu          sync.Mutex
	pending     *datagram      // guarded by mu; the client's hello, until pion asks for it
	seq0        uint64         // guarded by mu; the last epoch-0 record number pion sent
	clientCCS   bool           // guarded by mu; the client changed cipher spec
	finished    bool           // guarded by mu; its encrypted Finished came
	serverCCS   bool           // guarded by mu; pion answered it
	hasKey      bool           // guarded by mu; pion has the identity's key
	armed       bool           // guarded by mu; the backstop timer runs
	lastFrom    netip.AddrPort // guarded by mu
	lastUDPAddr *net.UDPAddr   // guarded by mu
}

func newPacketConn(s *session) *packetConn {
	return &packetConn{s: s, in: make(chan datagram, sessionQueue), rd: deadline.New(), closed: make(chan struct{})}
}

// push queues a datagram; false if the queue is full or closed.
func (p *packetConn) push(b []byte, from netip.AddrPort) bool {
	select {
	case <-p.closed:
		return false
	default:
	}
	select {
	case p.in <- datagram{b, from}:
		return true
	default:
		return false
	}
}

func (p *packetConn) setPending(b []byte, from netip.AddrPort) {
	p.mu.Lock()
	p.pending = &datagram{b, from}
	p.mu.Unlock()
}

// holdsHello says whether the client's hello still waits for pion's
// HelloVerifyRequest: until then nothing else may reach pion.
func (p *packetConn) holdsHello() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending != nil
}

// ReadFrom implements net.PacketConn.
func (p *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-p.in:
		p.watchIn(d.b)
		return copy(b, d.b), p.udpAddr(d.from), nil
	case <-p.rd.Done():
		return 0, nil, errTimeout{}
	case <-p.closed:
		return 0, nil, net.ErrClosed
	}
}

// udpAddr returns the *net.UDPAddr of from, reusing the last one.
func (p *packetConn) udpAddr(from netip.AddrPort) *net.UDPAddr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastUDPAddr == nil || from != p.lastFrom {
		p.lastFrom, p.lastUDPAddr = from, net.UDPAddrFromAddrPort(from)
	}
	return p.lastUDPAddr
}

// watchIn notes the client's ChangeCipherSpec and the encrypted Finished
// after it. pion reports a Finished it cannot decrypt at once (see
// sessionLogger); as a backstop, if pion has the key and the Finished and
// has not answered within FinishedGrace, the key is taken for wrong.
func (p *packetConn) watchIn(b []byte) {
	if p.s.established.Load() {
		return
	}
	eachRecord(b, func(r record) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case r.contentType == typeChangeCipherSpec && r.epoch == 0:
			p.clientCCS = true
		case r.epoch == 1 && p.clientCCS && !p.finished:
			p.finished = true
		}
	})
	p.armBackstop()
}

// keyed notes that pion looked up the key of the client's identity.
func (p *packetConn) keyed() {
	p.mu.Lock()
	p.hasKey = true
	p.mu.Unlock()
	p.armBackstop()
}

// armBackstop starts the FinishedGrace timer once pion has both the key
// and the client's Finished (a lost ClientKeyExchange delays the key, and
// must not be taken for a wrong one).
func (p *packetConn) armBackstop() {
	p.mu.Lock()
	arm := p.finished && p.hasKey && !p.armed
	p.armed = p.armed || arm
	p.mu.Unlock()
	if !arm {
		return
	}
	time.AfterFunc(p.s.l.cfg.FinishedGrace, func() {
		p.mu.Lock()
		answered := p.serverCCS
		p.mu.Unlock()
		if !answered {
			p.s.failWrongKey()
		}
	})
}

// WriteTo implements net.PacketConn.
func (p *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if p.watchOut(b) {
		return len(b), nil
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: net.InvalidAddrError(addr.String())}
	}
	to := ua.AddrPort()
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	if to != p.s.remote() {
		p.s.moved(to)
	}
	return p.s.l.sock.WriteToUDPAddrPort(b, to)
}

// watchOut notes what pion sends. It swallows pion's HelloVerifyRequest:
// pion's cookie becomes the one the client holds, and the client's hello
// is released to pion. It reports whether b was swallowed.
func (p *packetConn) watchOut(b []byte) (swallow bool) {
	eachRecord(b, func(r record) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.epoch == 0 {
			p.seq0 = max(p.seq0, r.seq)
		}
		switch {
		case r.contentType == typeChangeCipherSpec:
			p.serverCCS = true
		case r.contentType == typeHandshake && r.epoch == 0 && len(r.body) > 0 && r.body[0] == hsHelloVerifyRequest:
			swallow = true
		}
	})
	if !swallow {
		return false
	}
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	if pending != nil && setPionCookie(p.s.conn, p.s.cookie) == nil {
		p.push(pending.b, pending.from)
	}
	return true
}

// nextSeq0 is a record number for a plaintext record of epoch 0 that the
// client has not seen from pion.
func (p *packetConn) nextSeq0() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq0++
	return p.seq0
}

// Close implements net.PacketConn; the socket is the listener's.
func (p *packetConn) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// LocalAddr implements net.PacketConn.
func (p *packetConn) LocalAddr() net.Addr { return p.s.l.sock.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (p *packetConn) SetDeadline(t time.Time) error { return p.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (p *packetConn) SetReadDeadline(t time.Time) error {
	p.rd.Set(t)
	return nil
}

// SetWriteDeadline implements net.PacketConn; writes to UDP do not block.
func (p *packetConn) SetWriteDeadline(time.Time) error { return nil }

// errTimeout is the net.Error of a read past its deadline.
type errTimeout struct{}

func (errTimeout) Error() string   { return "dtlsgate: read deadline exceeded" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

// eachRecord calls f for each record of a datagram. Records of content
// type tls12_cid carry the gate's Connection ID length.
func eachRecord(b []byte, f func(record)) {
	for len(b) > 0 {
		r, err := parseRecord(b, CIDLen)
		if err != nil {
			return
		}
		f(r)
		hdr := recordHeaderLen
		if r.contentType == typeTLS12CID {
			hdr += CIDLen
		}
		b = b[hdr+len(r.body):]
	}
}

// cookieField is where pion keeps the cookie its server expects: pion
// v3 offers no way to accept a cookie checked by someone else while keeping
// the transcript RFC 6347 asks for (InsecureSkipVerifyHello makes it
// expect the hello at message_seq 0 and answer at message_seq 0, which a
// client that did a cookie exchange refuses), so the gate sets this one
// field. checkPionLayout verifies at start that it is there.
var cookieField = []string{"state", "cookie"}

// checkPionLayout reports whether dtls.Conn has the field setPionCookie
// writes.
func checkPionLayout() error {
	t := reflect.TypeFor[dtls.Conn]()
	for _, name := range cookieField {
		f, ok := t.FieldByName(name)
		if !ok {
			return errPionLayout
		}
		t = f.Type
	}
	if t != reflect.TypeFor[[]byte]() {
		return errPionLayout
	}
	return nil
}

// setPionCookie makes c expect cookie in the client's second hello. It is
// called from pion's handshake goroutine (in WriteTo, as pion sends its
// HelloVerifyRequest), before the hello that pion checks it against is
// released to pion.
func setPionCookie(c *dtls.Conn, cookie []byte) error {
	if err := checkPionLayout(); err != nil {
		return err
	}
	v := reflect.ValueOf(c).Elem()
	for _, name := range cookieField {
		v = v.FieldByName(name)
	}
	reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem().SetBytes(append([]byte(nil), cookie...))
	return nil
}

// sessionLoggerFactory gives pion a logger per session that discards
// everything but watches for a record pion could not decrypt during the
// handshake: the client's Finished, sealed with a key that is not the
// one the server holds for its identity.
type sessionLoggerFactory struct{ s *session }

func (f sessionLoggerFactory) NewLogger(string) logging.LeveledLogger { return sessionLogger(f) }

type sessionLogger struct{ s *session }

func (l sessionLogger) Trace(string)          {}
func (l sessionLogger) Tracef(string, ...any) {}
func (l sessionLogger) Debug(string)          {}
func (l sessionLogger) Info(string)           {}
func (l sessionLogger) Infof(string, ...any)  {}

// Warn, Warnf, Error and Errorf pass pion's complaints on at debug level:
// a peer can provoke them at will.
func (l sessionLogger) Warn(msg string)                { l.pass(msg) }
func (l sessionLogger) Warnf(format string, a ...any)  { l.pass(fmt.Sprintf(format, a...)) }
func (l sessionLogger) Error(msg string)               { l.pass(msg) }
func (l sessionLogger) Errorf(format string, a ...any) { l.pass(fmt.Sprintf(format, a...)) }

func (l sessionLogger) pass(msg string) {
	l.s.l.cfg.Log.Debug("dtls", "remote_addr", l.s.remote().String(), "pion", msg)
}

// watchDecryptFailures is whether sessionLogger acts on pion's "decrypt
// failed"; tests turn it off to prove the backstop alone.
var watchDecryptFailures = true

// Debugf watches for pion's "decrypt failed".
func (l sessionLogger) Debugf(format string, _ ...any) {
	if watchDecryptFailures && strings.Contains(format, "decrypt failed") && !l.s.established.Load() {
		l.s.pc.mu.Lock()
		finished := l.s.pc.finished
		l.s.pc.mu.Unlock()
		if finished {
			l.s.failWrongKey()
		}
	}
}
