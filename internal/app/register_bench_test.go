package app_test

import (
	"context"
	"fmt"
	"github.com/nbpair/nbpair/internal/apptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	"github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/internal/pairing"
)

// BenchmarkRegister measures LwM2M Registers of apptest.Provisioned devices over
// real UDP on loopback, each a durable write, next to a bare go-coap server
// whose handler answers 2.01 without doing anything, measured in the same
// run with the same clients:
//
//	go test -run '^$' -bench BenchmarkRegister -benchtime 3000x ./internal/app/
func BenchmarkRegister(b *testing.B) {
	b.Run("nbpair", func(b *testing.B) {
		n := apptest.Start(b, "", apptest.QuietLogs)
		imeis := make([]string, b.N)
		for i := range imeis {
			imeis[i] = fmt.Sprintf("35%013d", i)
			if _, err := n.Service().Provision(context.Background(), pairing.ProvisionRequest{IMEI: imeis[i]}); err != nil {
				b.Fatal(err)
			}
		}
		benchRegisters(b, n.CoAPAddr(), imeis)
	})
	b.Run("bare-go-coap", func(b *testing.B) {
		addr := startBareCoAP(b)
		imeis := make([]string, b.N)
		for i := range imeis {
			imeis[i] = fmt.Sprintf("35%013d", i)
		}
		benchRegisters(b, addr, imeis)
	})
}

// benchRegisters sends one Register per IMEI from 8 concurrent clients.
func benchRegisters(b *testing.B, addr string, imeis []string) {
	const clients = 8
	conns := make([]*client.Conn, clients)
	for i := range conns {
		cc, err := udp.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		conns[i] = cc
	}
	var next, failed atomic.Int64
	var conn atomic.Int64
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.SetParallelism(4) // 4 × GOMAXPROCS goroutines share the clients
	b.RunParallel(func(pb *testing.PB) {
		cc := conns[int(conn.Add(1)-1)%clients]
		for pb.Next() {
			i := next.Add(1) - 1
			if !registerOnce(cc, imeis[i]) {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d Registers failed", f, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registers/s")
	// CPU time per Register, server and clients together (both run in this
	// process): on a busy machine it varies far less than the rate.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func registerOnce(cc *client.Conn, imei string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := cc.Post(ctx, "/rd", message.AppLinkFormat, strings.NewReader("</1/0>,</3/0>,</33050/0>"),
		message.Option{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)},
		message.Option{ID: message.URIQuery, Value: []byte("lt=86400")},
		message.Option{ID: message.URIQuery, Value: []byte("lwm2m=1.1")})
	if err != nil {
		return false
	}
	defer cc.ReleaseMessage(resp)
	return resp.Code() == codes.Created
}

// startBareCoAP runs a go-coap server that answers every request 2.01.
func startBareCoAP(b *testing.B) string {
	l, err := net.NewListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := udp.NewServer(options.WithMux(mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
		w.SetResponse(codes.Created, message.TextPlain, nil,
			message.Option{ID: message.LocationPath, Value: []byte("rd")},
			message.Option{ID: message.LocationPath, Value: []byte("abcdefghijklm")})
	})))
	go s.Serve(l)
	b.Cleanup(func() { s.Stop(); l.Close() })
	return l.LocalAddr().String()
}
