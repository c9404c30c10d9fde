package coapfront

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"
)

// BenchmarkFront compares the front with an empty handler to a bare UDP
// echo server with as many reader goroutines, both driven by the same
// closed-loop clients: 64 sockets, each sending a CON request and waiting
// for its answer; and go-coap's UDP server with an empty handler, which
// the front replaced, for comparison. Run with
//
//	go test -run X -bench Front -benchtime 200000x ./internal/coapfront/
//
// and compare the req/s of the two.
func BenchmarkFront(b *testing.B) {
	b.Run("echo", func(b *testing.B) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.SetReadBuffer(4 << 20)
		for range DefaultReaders {
			go echo(c)
		}
		drive(b, c.LocalAddr().(*net.UDPAddr).AddrPort())
	})
	b.Run("front", func(b *testing.B) {
		f := startFront(b, Config{}, HandlerFunc(func(context.Context, *Request) Response {
			return Response{Code: codes.Changed}
		}))
		drive(b, f.LocalAddr().(*net.UDPAddr).AddrPort())
		b.ReportMetric(float64(f.Stats().DroppedQueueFull), "drops")
	})
	b.Run("gocoap", func(b *testing.B) { // go-coap's UDP server, which the front replaced
		l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := udpserver.New(options.WithMux(mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
			w.SetResponse(codes.Changed, message.TextPlain, nil)
		})))
		go srv.Serve(l)
		defer srv.Stop()
		drive(b, l.LocalAddr().(*net.UDPAddr).AddrPort())
	})
}

// echo sends every datagram back until c is closed.
func echo(c *net.UDPConn) {
	buf := make([]byte, MaxDatagram)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err == nil {
			c.WriteToUDPAddrPort(buf[:n], from)
		}
	}
}

// drive sends b.N requests to addr from 64 sockets and reports requests a
// second and retransmissions.
func drive(b *testing.B, addr netip.AddrPort) {
	var retrans atomic.Int64
	b.SetParallelism(max(1, 64/max(1, runtimeProcs())))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		req := encodeMsg(b, message.Message{Type: message.Confirmable, Code: codes.POST, Token: []byte{1, 2, 3, 4},
			Options: message.Options{{ID: message.URIPath, Value: []byte("rd")}}, Payload: []byte("</1/0>,</3/0>")})
		buf := make([]byte, MaxDatagram)
		for mid := uint16(0); pb.Next(); mid++ {
			req[2], req[3] = byte(mid>>8), byte(mid)
			for {
				c.Write(req)
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err == nil {
					break
				}
				retrans.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64(retrans.Load()), "retrans")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
