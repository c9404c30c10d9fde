// Package lwm2m is the device-facing edge of nbpair: the OMA LwM2M
// registration interface (Register, Update, De-register) on CoAP over UDP,
// and the downlinks (Writes to the Pairing object) that go back to devices.
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

	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"

	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Downlinker = (*Server)(nil)

// Config holds the CoAP transmission parameters (RFC 7252, 4.8). NB-IoT
// links often need a longer ACK timeout than the 2 s default.
type Config struct {
	Addr          string
	ACKTimeout    time.Duration
	MaxRetransmit int
}

// exchangeLifetime is how long a peer may retransmit one request with the
// default parameters (RFC 7252, 4.8.2); a connection's response cache must
// live at least that long for retransmissions to be answered from it.
const exchangeLifetime = 247 * time.Second

// Server serves the LwM2M registration interface on one UDP socket.
type Server struct {
	svc *pairing.Service
	log *slog.Logger
	cfg Config
	srv *udpserver.Server

	mu sync.Mutex
	l  *coapnet.UDPConn // guarded by mu
}

// New returns a server that calls svc for every registration message.
func New(svc *pairing.Service, log *slog.Logger, cfg Config) *Server {
	if cfg.ACKTimeout <= 0 {
		cfg.ACKTimeout = 2 * time.Second
	}
	if cfg.MaxRetransmit <= 0 {
		cfg.MaxRetransmit = 4
	}
	s := &Server{svc: svc, log: log, cfg: cfg}
	lifetime := max(exchangeLifetime, exchangeLifetimeOf(cfg))
	s.srv = udpserver.New(
		options.WithMux(mux.HandlerFunc(s.serveCOAP)),
		options.WithTransmission(1, cfg.ACKTimeout, uint32(cfg.MaxRetransmit)),
		options.WithInactivityMonitor(lifetime, func(cc *udpclient.Conn) { cc.Close() }),
		options.WithErrors(func(err error) { log.Debug("coap", "err", err) }),
	)
	return s
}

// exchangeLifetimeOf computes EXCHANGE_LIFETIME for the configured
// transmission parameters (RFC 7252, 4.8.2), with MAX_LATENCY = 100 s.
func exchangeLifetimeOf(cfg Config) time.Duration {
	span := time.Duration(float64(cfg.ACKTimeout) * float64(int(1)<<cfg.MaxRetransmit-1) * 1.5)
	return span + 200*time.Second + cfg.ACKTimeout
}

// Listen binds the UDP socket, so that Addr is known before Serve.
func (s *Server) Listen() error {
	l, err := coapnet.NewListenUDP("udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("coap listen %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	return nil
}

// Addr is the bound address of the UDP socket.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l.LocalAddr()
}

// Serve answers devices until Shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	l := s.l
	s.mu.Unlock()
	s.log.Info("coap listening", "addr", l.LocalAddr().String())
	err := s.srv.Serve(l)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops serving and closes the socket.
func (s *Server) Shutdown() {
	s.srv.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l != nil {
		s.l.Close()
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
