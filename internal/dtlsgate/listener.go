// Package dtlsgate is a DTLS 1.2 PSK listener that keeps no state for a
// stranger. It owns the UDP socket and hands each datagram to its session:
// by source address, or by Connection ID for tls12_cid records (RFC 9146),
// so that a session survives an address change. A ClientHello from an
// unknown source is answered with a HelloVerifyRequest whose cookie is an
// HMAC over the client's address and hello (RFC 6347, 4.2.1), and nothing
// is kept; anything else from an unknown source is dropped and counted.
// Only a hello with a valid cookie creates a session, whose handshake
// pion/dtls runs over a per-session packet conn; the number of handshakes
// in progress is capped. A handshake that fails because the client's key
// is wrong ends at once with a fatal alert.
package dtlsgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// CIDLen is the length of the Connection IDs the gate hands out.
const CIDLen = 8

// Defaults of Config.
const (
	DefaultMaxHandshakes    = 256
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultCookiePeriod     = 2 * time.Minute
	DefaultFinishedGrace    = 3 * time.Second
	DefaultRefusalInterval  = time.Minute
	maxDatagram             = 8 << 10
	sessionQueue            = 32
	acceptQueue             = 64
	maxRefusalsTracked      = 4096
)

// ErrClosed is returned by Accept once the listener is closed.
var ErrClosed = errors.New("dtlsgate: listener closed")

// Reasons of a Refusal.
const (
	ReasonWrongKey        = "wrong-key"        // the client's Finished did not open with the identity's key
	ReasonUnknownIdentity = "unknown-identity" // PSK had no key for the identity
	ReasonFailed          = "handshake-failed" // anything else, such as a timeout
)

// Refusal is a handshake that failed after the client named its PSK
// identity.
type Refusal struct {
	Identity   string
	RemoteAddr string
	Reason     string // one of the Reason constants
	Err        error
}

// Config configures a Listener. PSK and CipherSuites are required.
type Config struct {
	// PSK returns the key of a PSK identity, or an error if it has none.
	PSK          func(identity []byte) ([]byte, error)
	CipherSuites []dtls.CipherSuiteID
	// ExtendedMasterSecret is pion's setting (RequestExtendedMasterSecret
	// when zero).
	ExtendedMasterSecret dtls.ExtendedMasterSecretType
	// MaxHandshakes caps the handshakes in progress; over the cap, valid
	// hellos are dropped and counted (DefaultMaxHandshakes when zero).
	MaxHandshakes    int
	HandshakeTimeout time.Duration
	// CookiePeriod is how long a cookie key is used; cookies of the
	// previous key are accepted too.
	CookiePeriod time.Duration
	// FinishedGrace is how long the gate waits, after the client's
	// encrypted Finished, for the handshake to complete before it takes
	// the key for wrong and sends the alert itself. A Finished that does
	// not decrypt is seen at once; this is the backstop.
	FinishedGrace time.Duration
	// OnRefused, if set, is called for a refused handshake at most once
	// per identity every RefusalInterval (the audit log); every refusal
	// is logged, refusals beyond that rate at debug level. Wrong keys are
	// limited apart from the other reasons, so that a stranger naming
	// unknown identities cannot crowd the audit of wrong keys out.
	OnRefused       func(Refusal)
	RefusalInterval time.Duration
	// OnKeyUsed, if set, is called after every handshake in which PSK
	// gave a key: with ok set when the handshake completed, unset when
	// the client's Finished did not open with that key. Not rate-limited:
	// it is for a key rotation to learn which key a device holds.
	OnKeyUsed func(identity string, key []byte, ok bool)
	Log       *slog.Logger
	// Registerer, if set, gets the gate's nbpair_dtls_* metrics.
	Registerer prometheus.Registerer
}

func (c *Config) defaults() {
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = DefaultMaxHandshakes
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.CookiePeriod <= 0 {
		c.CookiePeriod = DefaultCookiePeriod
	}
	if c.FinishedGrace <= 0 {
		c.FinishedGrace = DefaultFinishedGrace
	}
	if c.RefusalInterval <= 0 {
		c.RefusalInterval = DefaultRefusalInterval
	}
	if c.ExtendedMasterSecret == 0 {
		c.ExtendedMasterSecret = dtls.RequestExtendedMasterSecret
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Listener is a DTLS listener on one UDP socket. Its methods are safe for
// concurrent use.
type Listener struct {
	cfg      Config
	sock     *net.UDPConn
	cookies  *cookieJar
	stats    counters
	refusals refusalLimiter // wrong keys
	strays   refusalLimiter // unknown identities and other failures
	accepted chan *Session
	closed   chan struct{}
	done     chan struct{} // closed when the read loop has returned
	once     sync.Once
	running  sync.WaitGroup // handshake goroutines, which may call OnRefused

	mu         sync.Mutex
	byAddr     map[netip.AddrPort]*session // guarded by mu
	byCID      map[[CIDLen]byte]*session   // guarded by mu
	byIdentity map[string]*session         // guarded by mu; established sessions
}

// Listen binds addr ("host:port", port 0 for any) and starts reading.
func Listen(network, addr string, cfg Config) (*Listener, error) {
	if cfg.PSK == nil || len(cfg.CipherSuites) == 0 {
		return nil, errors.New("dtlsgate: PSK and CipherSuites are required")
	}
	if err := checkPionLayout(); err != nil {
		return nil, err
	}
	cfg.defaults()
	ua, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		return nil, fmt.Errorf("dtlsgate: %w", err)
	}
	sock, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, fmt.Errorf("dtlsgate: %w", err)
	}
	l := &Listener{
		cfg: cfg, sock: sock, cookies: newCookieJar(cfg.CookiePeriod, time.Now),
		refusals: newRefusalLimiter(cfg.RefusalInterval), strays: newRefusalLimiter(cfg.RefusalInterval),
		accepted: make(chan *Session, acceptQueue), closed: make(chan struct{}), done: make(chan struct{}),
		byAddr: make(map[netip.AddrPort]*session), byCID: make(map[[CIDLen]byte]*session),
		byIdentity: make(map[string]*session),
	}
	if cfg.Registerer != nil {
		if err := l.stats.register(cfg.Registerer); err != nil {
			sock.Close()
			return nil, fmt.Errorf("dtlsgate: metrics: %w", err)
		}
	}
	go l.readLoop()
	return l, nil
}

// Addr is the bound address of the socket.
func (l *Listener) Addr() net.Addr { return l.sock.LocalAddr() }

// Stats returns the gate's counters.
func (l *Listener) Stats() Stats { return l.stats.snapshot() }

// Accept waits for the next established session.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptWithContext(context.Background()) }

// AcceptWithContext waits for the next established session, a *Session.
func (l *Listener) AcceptWithContext(ctx context.Context) (net.Conn, error) {
	select {
	case s := <-l.accepted:
		return s, nil
	case <-l.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes every session (established ones with a close_notify), then
// the socket, and returns once no handshake goroutine runs (so OnRefused is
// not called after it).
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.closeSessions() // with a close_notify to the established ones
		l.sock.Close()
		<-l.done
		l.closeSessions() // any the read loop started meanwhile
		l.running.Wait()  // no OnRefused after Close
	})
	return nil
}

// closeSessions closes every session.
func (l *Listener) closeSessions() {
	l.mu.Lock()
	all := make([]*session, 0, len(l.byCID))
	for _, s := range l.byCID {
		all = append(all, s)
	}
	l.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}

// readLoop reads the socket until it is closed.
func (l *Listener) readLoop() {
	defer close(l.done)
	buf := make([]byte, maxDatagram)
	out := make([]byte, 0, 512)
	for {
		n, from, err := l.sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.cfg.Log.Debug("dtls read", "err", err)
			continue
		}
		out = l.dispatch(buf[:n], from.Addr().Unmap(), from.Port(), out[:0])
	}
}

// dispatch routes one datagram; out is scratch space for an answer.
func (l *Listener) dispatch(b []byte, ip netip.Addr, port uint16, out []byte) []byte {
	from := netip.AddrPortFrom(ip, port)
	rec, err := parseRecord(b, CIDLen)
	if err != nil {
		l.stats.drop(DropMalformed)
		return out
	}
	if rec.contentType == typeTLS12CID {
		l.mu.Lock()
		s := l.byCID[[CIDLen]byte(rec.cid)]
		l.mu.Unlock()
		if s == nil {
			l.stats.drop(DropUnknownCID)
			return out
		}
		s.deliver(b, from)
		return out
	}
	l.mu.Lock()
	s := l.byAddr[from]
	l.mu.Unlock()
	hello, herr := parseClientHello(rec)
	if s != nil && (herr != nil || s.isRetransmit(&hello)) {
		s.deliver(b, from)
		return out
	}
	if herr != nil {
		l.stats.drop(DropUnknownSource)
		return out
	}
	return l.hello(&hello, from, b, out)
}

// hello answers a ClientHello from a source with no session (or a new
// hello from a source that has one): a HelloVerifyRequest without a valid
// cookie, a new session with one.
func (l *Listener) hello(h *clientHello, from netip.AddrPort, datagram, out []byte) []byte {
	if !l.cookies.valid(from, h) {
		var c [cookieLen]byte
		out = appendHelloVerifyRequest(out, h.recordSeq, l.cookies.make(c[:0], from, h))
		if _, err := l.sock.WriteToUDPAddrPort(out, from); err == nil {
			l.stats.hvr.Add(1)
		}
		return out
	}
	if h.messageSeq != 1 { // a first hello cannot carry our cookie
		l.stats.drop(DropBadHello)
		return out
	}
	if l.stats.handshaking.Add(1) > int64(l.cfg.MaxHandshakes) {
		l.stats.handshaking.Add(-1)
		l.stats.drop(DropHandshakeCap)
		return out
	}
	if err := l.startSession(h, from, datagram); err != nil {
		l.stats.handshaking.Add(-1)
		l.stats.drop(DropBadHello)
		l.cfg.Log.Debug("dtls session not started", "remote_addr", from.String(), "err", err)
	}
	return out
}

// refusalLimiter lets through one refusal per identity per interval; it
// tracks at most maxRefusalsTracked identities. When full, it sweeps out
// old entries at most every interval/8, so that a flood of identities
// cannot make every refusal scan the map.
type refusalLimiter struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time // guarded by mu
	sweptAt  time.Time            // guarded by mu
}

func newRefusalLimiter(interval time.Duration) refusalLimiter {
	return refusalLimiter{interval: interval, last: make(map[string]time.Time)}
}

// allow says whether a refusal of identity may be audited now.
func (r *refusalLimiter) allow(identity string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[identity]; ok && now.Sub(t) < r.interval {
		return false
	}
	if len(r.last) >= maxRefusalsTracked {
		if now.Sub(r.sweptAt) < r.interval/8 {
			return false
		}
		r.sweptAt = now
		for id, t := range r.last {
			if now.Sub(t) >= r.interval {
				delete(r.last, id)
			}
		}
		if len(r.last) >= maxRefusalsTracked {
			return false
		}
	}
	r.last[identity] = now
	return true
}
