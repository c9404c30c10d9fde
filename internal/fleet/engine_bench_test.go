package fleet

import (
	"context"
	"fmt"
	"net"
	"testing"
)

// BenchmarkEchoRegister measures the generator's cost per Register round
// trip to a bare UDP echo in this process, with few sources, one source
// per device kept open, one per device opened for each exchange, and one
// per device on 16 shared sockets.
func BenchmarkEchoRegister(b *testing.B) {
	for _, tc := range []struct {
		name                     string
		sources, maxOpen, shared int
	}{
		{"sources=16", 16, DefaultMaxOpen, 0},
		{"sources=all/kept-open", AllSources, 1 << 30, 0},
		{"sources=all/per-exchange", AllSources, 64, 0},
		{"sources=all/shared-16", AllSources, DefaultMaxOpen, 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			srv.SetReadBuffer(4 << 20)
			done := make(chan struct{})
			go func() { defer close(done); echo(srv) }()
			defer func() { srv.Close(); <-done }()
			cfg := DefaultConfig()
			cfg.Devices, cfg.Sources, cfg.MaxOpen, cfg.Concurrency = max(b.N, 1), tc.sources, tc.maxOpen, 16
			cfg.Awake, cfg.SharedSockets = 0, tc.shared
			if cfg.Devices > 15000 && tc.maxOpen > 15000 {
				b.Skip("more open sockets than the file limit allows")
			}
			e, err := dialEngine(srv.LocalAddr().String(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer e.close()
			imeis, _ := IMEIs("35", cfg.Devices)
			b.ResetTimer()
			r := drive(context.Background(), cfg, e, "echo", cfg.Devices, 0, 0, func(ctx context.Context, _, i int) (int, error) {
				_, n, err := e.register(ctx, i, imeis[i])
				return n, err
			})
			if r.Failed() > 0 {
				b.Fatal(fmt.Sprint(r.Errors))
			}
			b.ReportMetric(float64(r.CPUPerRequest().Nanoseconds()), "cpu-ns/op")
		})
	}
}
