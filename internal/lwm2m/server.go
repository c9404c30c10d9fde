// Package lwm2m is the device-facing edge of nbpair: the OMA LwM2M
// registration interface (Register, Update, De-register) on CoAP over UDP
// and over DTLS 1.2 with PSK, and the downlinks (Writes to the Pairing
// object) that go back to devices.
// It parses what devices send, calls the pairing service, and maps the
// domain's errors to CoAP response codes.
package lwm2m

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	dtlsserver "github.com/plgd-dev/go-coap/v3/dtls/server"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Downlinker = (*Server)(nil)

// Config holds the listen addresses and the CoAP transmission parameters
// (RFC 7252, 4.8). NB-IoT links often need a longer ACK timeout than the
// 2 s default.
type Config struct {
	Addr          string
	ACKTimeout    time.Duration
	MaxRetransmit int
	// SecureAddr is the DTLS (coaps) listen address; empty turns DTLS off.
	SecureAddr string
	// HandshakeTimeout bounds a DTLS handshake (DefaultHandshakeTimeout
	// when zero).
	HandshakeTimeout time.Duration
	// SessionIdle is how long a DTLS session may stay silent before the
	// server forgets it (DefaultSessionIdle when zero). A device that
	// sleeps longer must do a new handshake when it wakes.
	SessionIdle time.Duration
	// MaxHandshakes caps the DTLS handshakes in progress
	// (dtlsgate.DefaultMaxHandshakes when zero).
	MaxHandshakes int
	// Registerer, if set, gets the DTLS gate's metrics.
	Registerer prometheus.Registerer
}

// Defaults of the DTLS settings.
const (
	// DefaultHandshakeTimeout bounds a DTLS handshake: a few round trips
	// of 1-3 s on NB-IoT, with retransmissions.
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultSessionIdle keeps a silent DTLS session for a day, the
	// default LwM2M lifetime, so that a device in PSM wakes up into it.
	DefaultSessionIdle = 24*time.Hour + 5*time.Minute
)

// exchangeLifetime is how long a peer may retransmit one request with the
// default parameters (RFC 7252, 4.8.2); a connection's response cache must
// live at least that long for retransmissions to be answered from it.
const exchangeLifetime = 247 * time.Second

// Server serves the LwM2M registration interface on one UDP socket and,
// when configured, on one DTLS socket.
type Server struct {
	svc      *pairing.Service
	log      *slog.Logger
	cfg      Config
	srv      *udpserver.Server
	dtlsSrv  *dtlsserver.Server // nil without SecureAddr
	sessions sessions

	mu sync.Mutex
	l  *coapnet.UDPConn // guarded by mu
	sl *secureListener  // guarded by mu; nil without SecureAddr
}

// New returns a server that calls svc for every registration message.
func New(svc *pairing.Service, log *slog.Logger, cfg Config) *Server {
	if cfg.ACKTimeout <= 0 {
		cfg.ACKTimeout = 2 * time.Second
	}
	if cfg.MaxRetransmit <= 0 {
		cfg.MaxRetransmit = 4
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	s := &Server{svc: svc, log: log, cfg: cfg}
	lifetime := max(exchangeLifetime, exchangeLifetimeOf(cfg))
	s.srv = udpserver.New(
		options.WithMux(mux.HandlerFunc(s.serveCOAP)),
		options.WithTransmission(1, cfg.ACKTimeout, uint32(cfg.MaxRetransmit)),
		options.WithInactivityMonitor(lifetime, func(cc *udpclient.Conn) { cc.Close() }),
		options.WithErrors(func(err error) { log.Debug("coap", "err", err) }),
	)
	if cfg.SecureAddr != "" {
		s.dtlsSrv = coapdtls.NewServer(
			options.WithMux(mux.HandlerFunc(s.serveCOAP)),
			options.WithTransmission(1, cfg.ACKTimeout, uint32(cfg.MaxRetransmit)),
			options.WithDTLSHandshakeTimeout(cfg.HandshakeTimeout),
			options.WithInactivityMonitor(max(lifetime, cfg.SessionIdle), func(cc *udpclient.Conn) { cc.Close() }),
			options.WithErrors(func(err error) { log.Debug("coaps", "err", err) }),
		)
	}
	return s
}

// exchangeLifetimeOf computes EXCHANGE_LIFETIME for the configured
// transmission parameters (RFC 7252, 4.8.2), with MAX_LATENCY = 100 s.
func exchangeLifetimeOf(cfg Config) time.Duration {
	span := time.Duration(float64(cfg.ACKTimeout) * float64(int(1)<<cfg.MaxRetransmit-1) * 1.5)
	return span + 200*time.Second + cfg.ACKTimeout
}

// Listen binds the UDP socket and the DTLS socket, so that Addr and
// SecureAddr are known before Serve.
func (s *Server) Listen() error {
	l, err := coapnet.NewListenUDP("udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("coap listen %s: %w", s.cfg.Addr, err)
	}
	var sl *secureListener
	if s.dtlsSrv != nil {
		if sl, err = s.listenDTLS(); err != nil {
			l.Close()
			return err
		}
	}
	s.mu.Lock()
	s.l, s.sl = l, sl
	s.mu.Unlock()
	return nil
}

// Addr is the bound address of the UDP socket.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l.LocalAddr()
}

// SecureAddr is the bound address of the DTLS socket, nil when DTLS is
// off.
func (s *Server) SecureAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sl == nil {
		return nil
	}
	return s.sl.Addr()
}

// Serve answers devices on both sockets until Shutdown. If one of them
// fails, it stops the other and returns the error.
func (s *Server) Serve() error {
	s.mu.Lock()
	l, sl := s.l, s.sl
	s.mu.Unlock()
	errs := make(chan error, 2)
	n := 1
	go func() {
		s.log.Info("coap listening", "addr", l.LocalAddr().String())
		errs <- s.srv.Serve(l)
	}()
	if sl != nil {
		n++
		go func() {
			s.log.Info("coaps listening", "addr", sl.Addr().String(), "connection_id_len", cidLen)
			errs <- s.dtlsSrv.Serve(sl)
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && !errors.Is(err, net.ErrClosed) && first == nil {
			first = err
			s.Shutdown()
		}
	}
	return first
}

// Shutdown stops serving and closes the sockets; DTLS sessions end with a
// close_notify.
func (s *Server) Shutdown() {
	s.srv.Stop()
	if s.dtlsSrv != nil {
		s.dtlsSrv.Stop() // closes the listener
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l != nil {
		s.l.Close()
	}
	if s.sl != nil {
		s.sl.Close() // in case Serve never ran
	}
}

// conn returns the connection to addr, creating one if the device has not
// talked to us from that address lately.
func (s *Server) conn(addr string) (*udpclient.Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("device address %q: %w", addr, err)
	}
	return s.srv.NewConn(ua)
}
