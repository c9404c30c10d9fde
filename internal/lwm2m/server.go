// Package lwm2m is the device-facing edge of nbpair: the OMA LwM2M
// registration interface (Register, Update, De-register) on CoAP over UDP
// and over DTLS 1.2 with PSK, and the downlinks (Writes to the Pairing
// object) that go back to devices.
// It parses what devices send, calls the pairing service, and maps the
// domain's errors to CoAP response codes.
package lwm2m

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	dtlsserver "github.com/plgd-dev/go-coap/v3/dtls/server"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nbpair/nbpair/internal/coapfront"
	"github.com/nbpair/nbpair/internal/coaptx"
	"github.com/nbpair/nbpair/internal/pairing"
)

var _ pairing.Downlinker = (*Server)(nil)

// Config holds the listen addresses and the CoAP transmission parameters
// (RFC 7252, 4.8). NB-IoT links often need a longer ACK timeout than the
// 2 s default.
type Config struct {
	Addr       string
	ACKTimeout time.Duration
	// MaxRetransmit is MAX_RETRANSMIT for downlinks: 4 when zero, none
	// when negative.
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
	// Front sizes the plain CoAP front (readers, workers, queue,
	// deduplication cache); zero fields take coapfront's defaults. Its
	// transmission parameters are ACKTimeout and MaxRetransmit.
	Front coapfront.Config
	// Block1 bounds the block-wise requests the plain front reassembles.
	Block1 Block1Config
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

// Server serves the LwM2M registration interface on one UDP socket (the
// plain front) and, when configured, on one DTLS socket.
type Server struct {
	svc      *pairing.Service
	log      *slog.Logger
	cfg      Config
	dtlsSrv  *dtlsserver.Server // nil without SecureAddr
	sessions sessions
	blocks   *block1Table // partial Block1 requests on the plain front

	mu    sync.Mutex
	front *coapfront.Front // guarded by mu
	sl    *secureListener  // guarded by mu; nil without SecureAddr
}

// New returns a server that calls svc for every registration message.
func New(svc *pairing.Service, log *slog.Logger, cfg Config) *Server {
	if cfg.ACKTimeout <= 0 {
		cfg.ACKTimeout = 2 * time.Second
	}
	switch {
	case cfg.MaxRetransmit == 0:
		cfg.MaxRetransmit = 4
	case cfg.MaxRetransmit < 0:
		cfg.MaxRetransmit = 0
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	cfg.Front.Transmission = transmission(cfg)
	s := &Server{svc: svc, log: log, cfg: cfg,
		blocks: newBlock1Table(cfg.Block1, cfg.Front.Transmission.ExchangeLifetime())}
	// A session's response cache must live at least EXCHANGE_LIFETIME (the
	// default one, or the configured one if longer) for retransmissions to
	// be answered from it. The gate runs the handshakes (HandshakeTimeout);
	// go-coap gets established sessions.
	lifetime := max(coaptx.Default.ExchangeLifetime(), cfg.Front.Transmission.ExchangeLifetime())
	if cfg.SecureAddr != "" {
		s.dtlsSrv = coapdtls.NewServer(
			options.WithMux(mux.HandlerFunc(s.serveDTLS)),
			options.WithTransmission(1, cfg.ACKTimeout, uint32(cfg.MaxRetransmit)),
			options.WithInactivityMonitor(max(lifetime, cfg.SessionIdle), func(cc *udpclient.Conn) { cc.Close() }),
			options.WithErrors(func(err error) { log.Debug("coaps", "err", err) }),
		)
	}
	return s
}

// transmission is the configured transmission parameters with RFC 7252's
// ACK_RANDOM_FACTOR.
func transmission(cfg Config) coaptx.Params {
	return coaptx.Params{ACKTimeout: cfg.ACKTimeout, MaxRetransmit: cfg.MaxRetransmit, RandomFactor: coaptx.Default.RandomFactor}
}

// Listen binds the UDP socket and the DTLS socket, so that Addr and
// SecureAddr are known before Serve.
func (s *Server) Listen() error {
	if s.cfg.Registerer != nil {
		if err := s.blocks.register(s.cfg.Registerer); err != nil {
			return fmt.Errorf("block1 metrics: %w", err)
		}
	}
	front, err := coapfront.Listen(s.cfg.Addr, s.cfg.Front, coapfront.HandlerFunc(s.servePlain), s.log)
	if err != nil {
		return err
	}
	var sl *secureListener
	if s.dtlsSrv != nil {
		if sl, err = s.listenDTLS(); err != nil {
			front.Close()
			return err
		}
	}
	s.mu.Lock()
	s.front, s.sl = front, sl
	s.mu.Unlock()
	return nil
}

// Addr is the bound address of the UDP socket.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.front.LocalAddr()
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
	front, sl := s.front, s.sl
	s.mu.Unlock()
	errs := make(chan error, 2)
	n := 1
	go func() {
		s.log.Info("coap listening", "addr", front.LocalAddr().String())
		errs <- front.Serve()
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
	if s.dtlsSrv != nil {
		s.dtlsSrv.Stop() // closes the listener
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.front != nil {
		s.front.Close()
	}
	if s.sl != nil {
		s.sl.Close() // in case Serve never ran
	}
}

// FrontStats returns the counters of the plain front.
func (s *Server) FrontStats() coapfront.Stats {
	s.mu.Lock()
	front := s.front
	s.mu.Unlock()
	if front == nil {
		return coapfront.Stats{}
	}
	return front.Stats()
}

// servePlain answers a request that came to the plain front.
func (s *Server) servePlain(ctx context.Context, req *coapfront.Request) coapfront.Response {
	m := req.Msg
	r := request{code: m.Code, confirmable: m.Type == message.Confirmable, body: m.Payload, addr: req.From.String()}
	if id, ok := unrecognizedCritical(m.Options); ok {
		if !r.confirmable { // a NON is rejected without an answer (RFC 7252, 4.3)
			return coapfront.Response{}
		}
		return plainResponse(s.errorResponse(&r, &coapError{codes.BadOption,
			fmt.Sprintf("critical option %d is not supported on plain CoAP", id)}), nil)
	}
	var blockOpts message.Options
	if i := slices.IndexFunc(m.Options, func(o message.Option) bool { return o.ID == message.Block1 }); i >= 0 {
		body, opts, done := s.reassemble(req, &r, m.Options[i].Value)
		if done != nil {
			return *done
		}
		r.body, blockOpts = body, opts
	}
	r.path, _ = m.Options.Path()
	r.queries, _ = m.Options.Queries()
	if cf, err := m.Options.ContentFormat(); err == nil {
		r.format, r.hasFormat = cf, true
	}
	return plainResponse(s.handle(ctx, &r), blockOpts)
}

// reassemble takes one block of a block-wise request (RFC 7959, 2.5).
// It returns the whole payload and the Block1 option of the response
// once the last block is in, or else the response to send now.
func (s *Server) reassemble(req *coapfront.Request, r *request, v []byte) ([]byte, message.Options, *coapfront.Response) {
	b, err := parseBlock1(v)
	if err != nil {
		code := codes.BadRequest
		if errors.Is(err, errBlock1Length) {
			code = codes.BadOption
		}
		resp := plainResponse(s.errorResponse(r, &coapError{code, err.Error()}), nil)
		return nil, nil, &resp
	}
	size1 := -1
	if v, err := req.Msg.Options.GetUint32(message.Size1); err == nil {
		size1 = int(v)
	}
	step := s.blocks.add(time.Now(), keyOf(req.From, req.Msg), b, req.Msg.Payload, size1)
	echo := message.Options{{ID: message.Block1, Value: b.encode()}}
	switch step.code {
	case 0:
		return step.payload, echo, nil
	case codes.Continue:
		return nil, nil, &coapfront.Response{Code: codes.Continue, Options: echo}
	case codes.RequestEntityTooLarge:
		resp := plainResponse(s.errorResponse(r, &coapError{step.code, step.diag}), message.Options{
			{ID: message.Size1, Value: uintValue(uint32(s.blocks.cfg.MaxPayload))}})
		return nil, nil, &resp
	default:
		resp := plainResponse(s.errorResponse(r, &coapError{step.code, step.diag}), nil)
		return nil, nil, &resp
	}
}

// plainResponse turns resp into the front's response, with extra options
// numbered above Content-Format appended.
func plainResponse(resp response, extra message.Options) coapfront.Response {
	var payload []byte
	if resp.diagnostic != "" {
		payload = []byte(resp.diagnostic)
	}
	return coapfront.Response{Code: resp.code, Options: append(resp.options(nil), extra...), Payload: payload}
}

// BlockStats returns the counters of Block1 reassembly on the plain
// front.
func (s *Server) BlockStats() Block1Stats { return s.blocks.stats() }

// unrecognizedCritical returns the first critical option (an odd number,
// RFC 7252, 5.4.1) of a plain request that the registration interface
// does not understand, which must not be ignored. Block1 is reassembled
// (blockwise.go); Block2 and Accept are ignored safely: every answer is
// one small datagram.
func unrecognizedCritical(opts message.Options) (message.OptionID, bool) {
	for _, o := range opts {
		switch {
		case o.ID&1 == 0:
		case o.ID == message.URIHost, o.ID == message.URIPort, o.ID == message.URIPath, o.ID == message.URIQuery,
			o.ID == message.Accept, o.ID == message.Block2, o.ID == message.Block1:
		default:
			return o.ID, true
		}
	}
	return 0, false
}

// serveDTLS answers a request that came over a DTLS session, through
// go-coap's DTLS server.
func (s *Server) serveDTLS(w mux.ResponseWriter, m *mux.Message) {
	s.heard(w.Conn())
	r := request{code: m.Code(), confirmable: m.Type() == message.Confirmable,
		addr: w.Conn().RemoteAddr().String(), peer: s.peer(w.Conn())}
	r.path, _ = m.Path()
	r.queries, _ = m.Queries()
	if cf, err := m.ContentFormat(); err == nil {
		r.format, r.hasFormat = cf, true
	}
	if m.Body() != nil {
		body, err := m.ReadBody()
		if err != nil {
			s.setResponse(w, s.errorResponse(&r, &coapError{codes.BadRequest, "unreadable payload"}))
			return
		}
		r.body = body
	}
	s.setResponse(w, s.handle(m.Context(), &r))
}

// setResponse writes resp through go-coap's response writer.
func (s *Server) setResponse(w mux.ResponseWriter, resp response) {
	var body io.ReadSeeker
	if resp.diagnostic != "" {
		body = strings.NewReader(resp.diagnostic)
	}
	if err := w.SetResponse(resp.code, message.TextPlain, body, resp.options(nil)...); err != nil {
		s.log.Error("setting response", "remote_addr", w.Conn().RemoteAddr().String(), "err", err)
	}
}
