package lwm2m

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"

	"github.com/nbpair/nbpair/internal/dtlsgate"
	"github.com/nbpair/nbpair/internal/pairing"
)

// cipherSuites are the PSK suites the server accepts: CCM_8, which LwM2M
// 1.1 requires of PSK clients, and CBC, which some modules offer instead.
var cipherSuites = []dtls.CipherSuiteID{
	dtls.TLS_PSK_WITH_AES_128_CCM_8,
	dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
}

// cidLen is the length of the Connection IDs (RFC 9146) the server hands
// out: records that carry one reach their session from any address.
const cidLen = dtlsgate.CIDLen

// pskLookupTimeout bounds the store lookup of a handshake's PSK.
const pskLookupTimeout = 5 * time.Second

// listenDTLS binds the DTLS socket behind the gate: hellos without a
// valid cookie are answered without state, handshakes are capped, and a
// wrong key is answered with an alert and audited.
func (s *Server) listenDTLS() (*secureListener, error) {
	l, err := dtlsgate.Listen("udp", s.cfg.SecureAddr, dtlsgate.Config{
		PSK:                  s.psk,
		CipherSuites:         cipherSuites,
		ExtendedMasterSecret: dtls.RequestExtendedMasterSecret,
		MaxHandshakes:        s.cfg.MaxHandshakes,
		HandshakeTimeout:     s.cfg.HandshakeTimeout,
		OnRefused:            s.dtlsRefused,
		OnKeyUsed:            s.keyUsed,
		Log:                  s.log,
		Registerer:           s.cfg.Registerer,
	})
	if err != nil {
		return nil, fmt.Errorf("coaps listen %s: %w", s.cfg.SecureAddr, err)
	}
	return &secureListener{Listener: l}, nil
}

// dtlsRefused audits a handshake refused for a wrong key; the gate calls
// it at most once a minute per identity. An unknown identity is only
// logged: anyone can name one.
func (s *Server) dtlsRefused(r dtlsgate.Refusal) {
	if r.Reason != dtlsgate.ReasonWrongKey || s.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pskLookupTimeout)
	defer cancel()
	s.svc.AuditDTLSRefused(ctx, dtlsgate.ClipIdentity(r.Identity), r.RemoteAddr, "wrong key: "+r.Err.Error())
}

// keyUsed tells the service how a handshake fared with the key psk gave,
// for a PSK rotation to learn which key the device holds.
func (s *Server) keyUsed(identity string, key []byte, ok bool) {
	if s.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pskLookupTimeout)
	defer cancel()
	s.svc.KeyUsed(ctx, identity, key, ok)
}

// psk answers a handshake's PSK identity (the endpoint name) with the
// device's key. An unknown identity, or a key that does not open, fails
// the handshake; the gate logs it with the peer's address.
func (s *Server) psk(identity []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pskLookupTimeout)
	defer cancel()
	key, err := s.svc.DevicePSK(ctx, string(identity))
	if err != nil {
		return nil, fmt.Errorf("no PSK for identity %q: %w", dtlsgate.ClipIdentity(string(identity)), err)
	}
	return key, nil
}

// secureListener hands go-coap's DTLS server the gate's established
// sessions.
type secureListener struct {
	*dtlsgate.Listener
}

// AcceptWithContext implements go-coap's dtls/server.Listener.
func (l *secureListener) AcceptWithContext(ctx context.Context) (net.Conn, error) {
	c, err := l.Listener.AcceptWithContext(ctx)
	if errors.Is(err, dtlsgate.ErrClosed) {
		return nil, fmt.Errorf("%w: %w", coapnet.ErrListenerIsClosed, err)
	}
	if err != nil {
		return nil, err
	}
	return &secureConn{Session: c.(*dtlsgate.Session)}, nil
}

// secureConn is an established server-side DTLS session; its handshake
// proved the PSK identity.
type secureConn struct {
	*dtlsgate.Session
}

// peer says who sent a request: over DTLS, the PSK identity the handshake
// proved; plain CoAP knows nothing of the sender.
func (s *Server) peer(c mux.Conn) pairing.Peer {
	sc, ok := c.NetConn().(*secureConn)
	if !ok {
		return pairing.Peer{}
	}
	return pairing.Peer{Secure: true, Identity: sc.Identity()}
}

// sessions keeps, per endpoint, the DTLS connection the device was last
// heard on; downlinks to a device that registered over DTLS go through it.
type sessions struct {
	mu sync.Mutex
	m  map[string]mux.Conn // guarded by mu
}

// heard records that endpoint (a proven PSK identity) sent on cc.
func (ss *sessions) heard(endpoint string, cc mux.Conn) {
	ss.mu.Lock()
	if ss.m == nil {
		ss.m = make(map[string]mux.Conn)
	}
	prev := ss.m[endpoint]
	ss.m[endpoint] = cc
	ss.mu.Unlock()
	if prev == cc {
		return
	}
	cc.AddOnClose(func() { ss.drop(endpoint, cc) })
	if isDone(cc) { // closed before the hook was added
		ss.drop(endpoint, cc)
	}
}

// drop forgets cc if it is still endpoint's connection.
func (ss *sessions) drop(endpoint string, cc mux.Conn) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m[endpoint] == cc {
		delete(ss.m, endpoint)
	}
}

// get returns endpoint's live DTLS connection.
func (ss *sessions) get(endpoint string) (mux.Conn, bool) {
	ss.mu.Lock()
	cc, ok := ss.m[endpoint]
	ss.mu.Unlock()
	if ok && isDone(cc) {
		ss.drop(endpoint, cc)
		return nil, false
	}
	return cc, ok
}

func isDone(cc mux.Conn) bool {
	select {
	case <-cc.Done():
		return true
	default:
		return false
	}
}

// heard records the DTLS connection a device was heard on, before its
// request is handled, so that the downlinks the request leads to find it.
func (s *Server) heard(c mux.Conn) {
	if p := s.peer(c); p.Secure && p.Identity != "" {
		s.sessions.heard(p.Identity, c)
	}
}
