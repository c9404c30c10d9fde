package dtlsgate

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
)

// session is one DTLS peer from its first hello with a valid cookie until
// it is closed: pion's connection, the packet conn under it, and the keys
// the listener finds it by.
type session struct {
	l      *Listener
	cid    [CIDLen]byte
	random [randomLen]byte // the hello's, to recognise its retransmissions
	cookie []byte
	pc     *packetConn
	conn   *dtls.Conn
	cancel context.CancelFunc // ends the handshake

	identity    atomic.Pointer[string] // the PSK identity the client named
	unknownID   atomic.Bool            // the PSK lookup failed
	wrongKey    atomic.Bool            // the client's Finished did not verify
	key         atomic.Pointer[[]byte] // the key PSK gave
	established atomic.Bool
	closeOnce   sync.Once

	gone bool // guarded by l.mu; closed

	mu   sync.Mutex
	addr netip.AddrPort // guarded by mu
}

// startSession creates the session of a hello with a valid cookie and
// starts its handshake. pion runs the handshake from the start: it is fed
// the client's first hello (rebuilt from this one), its HelloVerifyRequest
// is swallowed and its cookie replaced by the one the client holds, then
// it gets this hello. Its transcript then starts, as RFC 6347 4.2.1 wants,
// with the hello that carries the cookie, and its ServerHello has
// message_seq 1, as the client expects after a HelloVerifyRequest.
func (l *Listener) startSession(h *clientHello, from netip.AddrPort, datagram []byte) error {
	s := &session{l: l, cookie: bytes.Clone(h.cookie), addr: from}
	copy(s.random[:], h.random)
	rand.Read(s.cid[:])
	s.pc = newPacketConn(s)
	conn, err := dtls.ServerWithOptions(s.pc, net.UDPAddrFromAddrPort(from), l.serverOptions(s)...)
	if err != nil {
		return fmt.Errorf("dtls server: %w", err)
	}
	s.conn = conn
	first := h.recordSeq - 1
	if h.recordSeq == 0 {
		first = 1
	}
	s.pc.push(h.firstHello(first), from)
	s.pc.setPending(bytes.Clone(datagram), from)
	var ctx context.Context
	ctx, s.cancel = context.WithTimeout(context.Background(), l.cfg.HandshakeTimeout)
	l.mu.Lock()
	prev := l.byAddr[from]
	l.byAddr[from] = s
	l.byCID[s.cid] = s
	l.mu.Unlock()
	if prev != nil && !prev.established.Load() { // the client gave up on it
		prev.close()
	}
	l.stats.started.Add(1)
	l.running.Add(1)
	go s.handshake(ctx)
	return nil
}

// serverOptions are pion's settings for one session.
func (l *Listener) serverOptions(s *session) []dtls.ServerOption {
	return []dtls.ServerOption{
		dtls.WithPSK(s.psk),
		dtls.WithCipherSuites(l.cfg.CipherSuites...),
		dtls.WithConnectionIDGenerator(func() []byte { return bytes.Clone(s.cid[:]) }),
		dtls.WithExtendedMasterSecret(l.cfg.ExtendedMasterSecret),
		dtls.WithLoggerFactory(sessionLoggerFactory{s}),
	}
}

// psk looks up the key of the identity the client named and remembers it.
func (s *session) psk(identity []byte) ([]byte, error) {
	id := string(identity)
	s.identity.Store(&id)
	key, err := s.l.cfg.PSK(identity)
	if err != nil {
		s.unknownID.Store(true)
		return nil, err
	}
	s.pc.keyed()
	s.key.Store(&key)
	return key, nil
}

// isRetransmit says whether h is the hello that started this session's
// handshake, sent again (even after the handshake completed: a late copy
// must not start a second session on the same address). It is queued
// only once pion has the first copy, which must not overtake pion's
// HelloVerifyRequest.
func (s *session) isRetransmit(h *clientHello) bool {
	return h.messageSeq == 1 && bytes.Equal(h.random, s.random[:])
}

// deliver queues a datagram for the session; a retransmitted hello that
// comes before pion has the first is dropped.
func (s *session) deliver(b []byte, from netip.AddrPort) {
	if s.pc.holdsHello() {
		return
	}
	if !s.pc.push(bytes.Clone(b), from) {
		s.l.stats.drop(DropQueueFull)
	}
}

// handshake runs pion's handshake and hands the session to Accept.
func (s *session) handshake(ctx context.Context) {
	defer s.l.running.Done()
	err := s.conn.HandshakeContext(ctx)
	s.cancel()
	s.l.stats.handshaking.Add(-1)
	if err != nil {
		s.l.stats.failed.Add(1)
		s.keyUsed(false)
		s.refused(err)
		s.close()
		return
	}
	s.l.stats.completed.Add(1)
	s.keyUsed(true)
	s.establish()
}

// keyUsed tells OnKeyUsed how the key PSK gave fared: the handshake
// completed with it (ok), or the client's Finished did not open with it.
func (s *session) keyUsed(ok bool) {
	f, kp, idp := s.l.cfg.OnKeyUsed, s.key.Load(), s.identity.Load()
	if f == nil || kp == nil || idp == nil || (!ok && !s.wrongKey.Load()) {
		return
	}
	f(*idp, *kp, ok)
}

// establish makes the session the one of its identity, closing the one
// before it, and queues it for Accept.
func (s *session) establish() {
	st, _ := s.conn.ConnectionState()
	id := string(st.IdentityHint) // on a server: the client's PSK identity
	s.identity.Store(&id)
	l := s.l
	l.mu.Lock()
	if s.gone { // closed while its handshake completed
		l.mu.Unlock()
		return
	}
	prev := l.byIdentity[id]
	l.byIdentity[id] = s
	s.established.Store(true)
	l.stats.open.Add(1)
	l.mu.Unlock()
	if prev != nil && prev != s {
		l.cfg.Log.Debug("dtls session replaced by a new handshake", "endpoint", ClipIdentity(id), "remote_addr", s.remote().String())
		prev.close()
	}
	l.cfg.Log.Debug("dtls session established", "endpoint", ClipIdentity(id), "remote_addr", s.remote().String(),
		"cipher_suite", st.CipherSuiteID.String())
	select {
	case l.accepted <- &Session{Conn: s.conn, s: s, identity: id}:
	case <-l.closed:
		s.close()
	}
}

// refused logs a failed handshake and, for one that named an identity,
// tells OnRefused, both rate-limited per identity.
func (s *session) refused(err error) {
	l := s.l
	addr := s.remote().String()
	idp := s.identity.Load()
	if idp == nil {
		l.cfg.Log.Debug("dtls handshake failed", "remote_addr", addr, "err", err)
		return
	}
	r := Refusal{Identity: *idp, RemoteAddr: addr, Reason: ReasonFailed, Err: err}
	switch {
	case s.wrongKey.Load():
		r.Reason, r.Err = ReasonWrongKey, errWrongKey
	case s.unknownID.Load():
		r.Reason = ReasonUnknownIdentity
	}
	limiter := &l.strays
	if r.Reason == ReasonWrongKey {
		limiter = &l.refusals
	}
	if !limiter.allow(r.Identity, time.Now()) {
		l.cfg.Log.Debug("dtls handshake refused", "endpoint", ClipIdentity(r.Identity), "remote_addr", addr, "reason", r.Reason, "err", r.Err)
		return
	}
	l.cfg.Log.Info("dtls handshake refused", "endpoint", ClipIdentity(r.Identity), "remote_addr", addr, "reason", r.Reason, "err", r.Err)
	if l.cfg.OnRefused != nil {
		l.cfg.OnRefused(r)
	}
}

// failWrongKey ends a handshake whose client Finished did not verify with
// a fatal bad_record_mac alert: the client's records cannot be opened
// with the key the server holds for its identity. pion itself drops such a
// Finished silently and would resend its flight until its timeout.
func (s *session) failWrongKey() {
	if s.established.Load() || !s.wrongKey.CompareAndSwap(false, true) {
		return
	}
	alert := appendAlert(nil, s.pc.nextSeq0(), alertBadRecordMAC)
	s.l.sock.WriteToUDPAddrPort(alert, s.remote())
	s.cancel()
}

// remote is the peer's current address.
func (s *session) remote() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// moved records that pion now sends to a new address (a tls12_cid
// record it authenticated came from there).
func (s *session) moved(to netip.AddrPort) {
	l := s.l
	l.mu.Lock()
	s.mu.Lock()
	from := s.addr
	s.addr = to
	s.mu.Unlock()
	if l.byAddr[from] == s {
		delete(l.byAddr, from)
	}
	if l.byAddr[to] == nil {
		l.byAddr[to] = s
	}
	l.mu.Unlock()
}

// close ends the session and forgets it.
func (s *session) close() {
	s.closeOnce.Do(func() {
		l := s.l
		l.mu.Lock()
		s.gone = true
		wasOpen := s.established.Load()
		if l.byAddr[s.addr] == s {
			delete(l.byAddr, s.addr)
		}
		if l.byCID[s.cid] == s {
			delete(l.byCID, s.cid)
		}
		if id := s.identity.Load(); id != nil && l.byIdentity[*id] == s {
			delete(l.byIdentity, *id)
		}
		l.mu.Unlock()
		if s.cancel != nil {
			s.cancel()
		}
		if s.conn != nil {
			s.conn.Close() // a close_notify if established; closes pc
		}
		s.pc.Close()
		if wasOpen {
			l.stats.open.Add(-1)
		}
	})
}

// Session is an established DTLS session: pion's connection, with the
// PSK identity its handshake proved.
type Session struct {
	*dtls.Conn
	s        *session
	identity string
}

// Identity is the PSK identity the client proved it holds the key of.
func (c *Session) Identity() string { return c.identity }

// HandshakeContext returns nil: the gate hands out sessions only once
// their handshake is done.
func (c *Session) HandshakeContext(context.Context) error { return nil }

// Close closes the session (with a close_notify) and forgets it.
func (c *Session) Close() error {
	c.s.close()
	return nil
}

// maxLoggedIdentity bounds a client-chosen identity in logs.
const maxLoggedIdentity = 64

// ClipIdentity bounds a client-chosen PSK identity for logs and errors.
func ClipIdentity(identity string) string {
	if len(identity) > maxLoggedIdentity {
		return identity[:maxLoggedIdentity] + "…"
	}
	return identity
}

var errWrongKey = errors.New("the client's Finished does not open with the key held for its identity (bad_record_mac sent)")

var errPionLayout = errors.New("dtlsgate: this pion/dtls version has no Conn.state.cookie; the gate cannot hand it a checked cookie")
