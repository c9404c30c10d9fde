package fleet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
)

// Baseline is a bare server started in this process on 127.0.0.1:0 and
// measured with the same sockets and concurrency as nbpair.
type Baseline string

// The baselines.
const (
	// UDPEcho echoes datagrams the size of a Register: the cost of the
	// loopback round trip alone.
	UDPEcho Baseline = "udp-echo"
	// GoCoAP is a go-coap server whose handler answers 2.01 at once: the
	// cost of the CoAP library, measured with the same Register storm.
	GoCoAP Baseline = "go-coap"
)

// RunBaseline starts the baseline server, sends it cfg.Devices requests
// (Registers for GoCoAP, round trips for UDPEcho), stops it, and returns
// what it measured. Only Devices, Concurrency, Sockets, IMEIBase,
// Transmission and Progress of cfg are used.
func RunBaseline(ctx context.Context, cfg Config, b Baseline) (Result, error) {
	cfg.Scenario = Register
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	switch b {
	case GoCoAP:
		return runGoCoAP(ctx, cfg)
	case UDPEcho:
		return runUDPEcho(ctx, cfg)
	}
	return Result{}, fmt.Errorf("baseline %q: want %s or %s", b, UDPEcho, GoCoAP)
}

func runGoCoAP(ctx context.Context, cfg Config) (Result, error) {
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
	p, err := dialPool(l.LocalAddr().String(), cfg.Sockets, cfg.perSocket(), cfg.Transmission)
	if err != nil {
		return Result{}, err
	}
	defer p.close()
	imeis, _ := IMEIs(cfg.IMEIBase, cfg.Devices)
	return runScenario(ctx, p, cfg, imeis, string(GoCoAP))
}

// echoSize is about the size of a Register datagram of the fleet.
const echoSize = 96

func runUDPEcho(ctx context.Context, cfg Config) (Result, error) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return Result{}, err
	}
	go echo(srv)
	defer srv.Close()
	e, err := dialEcho(srv.LocalAddr().(*net.UDPAddr), cfg.Sockets, cfg.Concurrency)
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	timeout := cfg.Transmission.ACKTimeout
	cfg.Transmission.ACKTimeout = 0 // the echo never retransmits
	return drive(ctx, cfg, string(UDPEcho), cfg.Devices, 0, func(ctx context.Context, w, i int) error {
		return e.roundTrip(ctx, w, uint32(i), timeout)
	}), nil
}

// echo sends every datagram back until the socket is closed.
func echo(c *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		n, addr, err := c.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		c.WriteToUDP(buf[:n], addr)
	}
}

// echoClient is the socket pool of the echo baseline: a datagram carries
// the worker and request numbers, and a reader per socket hands each echo
// to its worker.
type echoClient struct {
	conns   []*net.UDPConn
	replies []chan uint32 // per worker
}

func dialEcho(addr *net.UDPAddr, sockets, workers int) (*echoClient, error) {
	e := &echoClient{replies: make([]chan uint32, workers)}
	for i := range e.replies {
		e.replies[i] = make(chan uint32, 1)
	}
	for range sockets {
		c, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			e.close()
			return nil, err
		}
		e.conns = append(e.conns, c)
		go e.read(c)
	}
	return e, nil
}

func (e *echoClient) close() {
	for _, c := range e.conns {
		c.Close()
	}
}

func (e *echoClient) read(c *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		n, err := c.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n < 8 {
			continue
		}
		w := binary.BigEndian.Uint32(buf)
		if int(w) < len(e.replies) {
			select {
			case e.replies[w] <- binary.BigEndian.Uint32(buf[4:]):
			default: // a late echo of a request that timed out
			}
		}
	}
}

// roundTrip sends request i of worker w and waits for its echo.
func (e *echoClient) roundTrip(ctx context.Context, w int, i uint32, timeout time.Duration) error {
	var msg [echoSize]byte
	binary.BigEndian.PutUint32(msg[:], uint32(w))
	binary.BigEndian.PutUint32(msg[4:], i)
	if _, err := e.conns[w%len(e.conns)].Write(msg[:]); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case got := <-e.replies[w]:
			if got == i {
				return nil
			}
		case <-t.C:
			return errTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
