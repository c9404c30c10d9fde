package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
)

// Baseline is a bare server started in this process on 127.0.0.1:0 and
// measured with the same generator, sources and concurrency as nbpair.
type Baseline string

// The baselines.
const (
	// UDPEcho sends every datagram back with two header bytes changed,
	// the type to ACK and the code to 2.01, so that the generator takes
	// the echo of a Register as its answer: the cost of the loopback round
	// trip and of the generator alone.
	UDPEcho Baseline = "udp-echo"
	// GoCoAP is a go-coap server whose handler answers 2.01 at once: the
	// cost of the CoAP library, measured with the same Register storm.
	GoCoAP Baseline = "go-coap"
)

// RunBaseline starts the baseline server, sends it a Register storm of
// cfg.Devices requests, stops it, and returns what it measured. Only
// Devices, Concurrency, Sources, MaxOpen, Awake, IMEIBase, Transmission,
// Loss, Delay, Seed and Progress of cfg are used.
func RunBaseline(ctx context.Context, cfg Config, b Baseline) (Result, error) {
	cfg.Scenario, cfg.DTLS = Register, false
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	var addr string
	switch b {
	case GoCoAP:
		l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
		if err != nil {
			return Result{}, err
		}
		s := udp.NewServer(options.WithMux(mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
			w.SetResponse(codes.Created, message.TextPlain, nil,
				message.Option{ID: message.LocationPath, Value: []byte("rd")},
				message.Option{ID: message.LocationPath, Value: []byte("abcdefghijklm")})
		})), options.WithErrors(func(error) {}))
		served := make(chan struct{})
		go func() { defer close(served); s.Serve(l) }()
		defer func() { s.Stop(); l.Close(); <-served }()
		addr = l.LocalAddr().String()
	case UDPEcho:
		srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return Result{}, err
		}
		srv.SetReadBuffer(4 << 20)
		done := make(chan struct{})
		go func() { defer close(done); echo(srv) }()
		defer func() { srv.Close(); <-done }()
		addr = srv.LocalAddr().String()
	default:
		return Result{}, fmt.Errorf("baseline %q: want %s or %s", b, UDPEcho, GoCoAP)
	}
	addr, stop, err := cfg.route(addr)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	e, err := dialEngine(addr, cfg)
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	imeis, _ := IMEIs(cfg.IMEIBase, cfg.Devices)
	return runScenario(ctx, e, cfg, imeis, string(b))
}

// echo sends every datagram back, as a piggy-backed 2.01 when it is a
// CoAP CON, until the socket is closed.
func echo(c *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		n, addr, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n >= 4 && buf[0]>>4 == 0x4 { // version 1, CON
			buf[0] = buf[0]&0x0f | 0x60 // version 1, ACK
			buf[1] = byte(codes.Created)
		}
		c.WriteToUDPAddrPort(buf[:n], addr)
	}
}
