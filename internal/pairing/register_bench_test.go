package pairing_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/events"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/wire"
)

// benchNode is a service on a real SQLite file and the in-process bus as
// the app sets them up, with a device side that takes every downlink.
type benchNode struct {
	store *sqlite.Store
	bus   *events.Bus
	svc   *pairing.Service
}

func startBenchNode(b *testing.B) *benchNode {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	bus := events.New(4, 1024)
	svc, err := pairing.NewService(store, bus, slog.New(slog.DiscardHandler), pairing.Options{
		PublicURL: "https://pair.example.com", SecretKey: make([]byte, pairing.SecretKeyLen),
	})
	if err != nil {
		b.Fatal(err)
	}
	svc.SetDownlinker(acceptAll{})
	b.Cleanup(func() {
		bus.Close(ctx)
		svc.Drain(ctx)
		store.Close()
	})
	return &benchNode{store: store, bus: bus, svc: svc}
}

// settle waits until the follow-up tasks of what was sent have run, so
// that their CPU counts.
func (n *benchNode) settle(b *testing.B) {
	ctx := context.Background()
	if err := n.bus.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if err := n.svc.Drain(ctx); err != nil {
		b.Fatal(err)
	}
}

type acceptAll struct{}

func (acceptAll) WritePairing(_ context.Context, _ pairing.Registration, _ wire.PairingState, formats []int) (pairing.WriteResult, error) {
	return pairing.WriteResult{Format: formats[0]}, nil
}

func (n *benchNode) provision(b *testing.B, count int) []pairing.Provisioned {
	devs := make([]pairing.Provisioned, count)
	for i := range devs {
		p, err := n.svc.Provision(context.Background(), pairing.ProvisionRequest{IMEI: fmt.Sprintf("35%013d", i)})
		if err != nil {
			b.Fatal(err)
		}
		devs[i] = p
	}
	return devs
}

var benchObjects = []wire.ObjectLink{{Object: 1, Instance: 0}, {Object: 3, Instance: 0}, {Object: wire.PairingObjectID, Instance: 0}}

func registerRequest(imei string, i int) pairing.RegisterRequest {
	return pairing.RegisterRequest{
		Query:   wire.RegisterQuery{Endpoint: wire.EndpointForIMEI(imei), Lifetime: 86400, Version: "1.1", Binding: "U"},
		Objects: benchObjects,
		Addr:    fmt.Sprintf("127.0.%d.%d:%d", i>>16&255, i>>8&255, 1024+i&255),
	}
}

// BenchmarkServiceRegister measures the first durable Register of
// provisioned devices through the service on a real SQLite file, with many
// devices at once as under a storm, follow-up tasks included:
//
//	go test -run '^$' -bench BenchmarkServiceRegister -benchtime 20000x ./internal/pairing/
func BenchmarkServiceRegister(b *testing.B) { benchRegister(b, false) }

// BenchmarkServiceRegisterWebhook is BenchmarkServiceRegister with a
// webhook subscribed to device.registered and device.online: each Register
// also writes its two events to the outbox, in its own transaction. (No
// dispatcher runs: this measures what the events cost the Register.)
func BenchmarkServiceRegisterWebhook(b *testing.B) { benchRegister(b, true) }

func benchRegister(b *testing.B, webhook bool) {
	n := startBenchNode(b)
	if webhook {
		if _, err := n.svc.CreateWebhook(context.Background(), pairing.NewWebhook{URL: "http://127.0.0.1:9/hook",
			Events: []string{pairing.EventTypeRegistered, pairing.EventTypeOnline}}); err != nil {
			b.Fatal(err)
		}
	}
	devs := n.provision(b, b.N)
	reqs := make([]pairing.RegisterRequest, b.N)
	for i, d := range devs {
		reqs[i] = registerRequest(d.IMEI, i)
	}
	var next atomic.Int64
	runParallel(b, n, func(ctx context.Context) error {
		i := next.Add(1) - 1
		_, err := n.svc.Register(ctx, reqs[i])
		return err
	}, "registers/s")
}

// BenchmarkServiceUpdate measures Updates (wake-ups) of registered devices
// through the service on a real SQLite file:
//
//	go test -run '^$' -bench BenchmarkServiceUpdate -benchtime 20000x ./internal/pairing/
func BenchmarkServiceUpdate(b *testing.B) {
	n := startBenchNode(b)
	const devices = 2000
	devs := n.provision(b, devices)
	regIDs := make([]string, devices)
	for i, d := range devs {
		r, err := n.svc.Register(context.Background(), registerRequest(d.IMEI, i))
		if err != nil {
			b.Fatal(err)
		}
		regIDs[i] = r.ID
	}
	var next atomic.Int64
	runParallel(b, n, func(ctx context.Context) error {
		i := int(next.Add(1)-1) % devices
		_, err := n.svc.Update(ctx, pairing.UpdateRequest{RegistrationID: regIDs[i], Addr: fmt.Sprintf("127.0.0.2:%d", 1024+i)})
		return err
	}, "updates/s")
}

// BenchmarkServiceBind measures binds of registered devices through the
// service (StartActivation, which binds at once), as the HTTP API calls it:
//
//	go test -run '^$' -bench BenchmarkServiceBind -benchtime 5000x ./internal/pairing/
func BenchmarkServiceBind(b *testing.B) {
	n := startBenchNode(b)
	ctx := context.Background()
	devs := n.provision(b, b.N)
	for i, d := range devs {
		if _, err := n.svc.Register(ctx, registerRequest(d.IMEI, i)); err != nil {
			b.Fatal(err)
		}
	}
	u, err := n.svc.SignUp(ctx, "bench", "bench password")
	if err != nil {
		b.Fatal(err)
	}
	h, err := n.svc.CreateHome(ctx, u.ID, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	runParallel(b, n, func(ctx context.Context) error {
		d := devs[next.Add(1)-1]
		a, err := n.svc.StartActivation(ctx, u.ID, pairing.StartActivation{Type: pairing.ActivatorTypeNB, NbID: d.NbID, HomeID: h.ID})
		if err == nil && a.Status != pairing.ActivationPaired {
			err = fmt.Errorf("activation %s is %s", a.ID, a.Status)
		}
		return err
	}, "binds/s")
}

// runParallel runs op b.N times from 128 goroutines and reports the rate,
// and the CPU time of the whole process per op (follow-up tasks included).
func runParallel(b *testing.B, n *benchNode, op func(context.Context) error, unit string) {
	var failed atomic.Int64
	var firstErr atomic.Value
	b.ReportAllocs()
	stats0 := n.store.CommitStats()
	cpu0 := cpuTime(b)
	stopProfile := profileTimed(b)
	b.ResetTimer()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(context.Background()); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}
	})
	elapsed := b.Elapsed()
	n.settle(b)
	b.StopTimer()
	stopProfile()
	cpu := cpuTime(b) - cpu0
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d failed, first: %v", f, b.N, firstErr.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	stats := n.store.CommitStats()
	b.ReportMetric(float64(stats.Writes-stats0.Writes)/float64(max(1, stats.Commits-stats0.Commits)), "writes/commit")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServiceCallbackUnderStorm measures, while 64 goroutines keep
// re-registering 2,000 devices, how long after a device's Register returns
// the activation that waited for it is seen to end (the moment the SDK's
// callback is told), as percentiles:
//
//	go test -run '^$' -bench BenchmarkServiceCallbackUnderStorm -benchtime 200x ./internal/pairing/
func BenchmarkServiceCallbackUnderStorm(b *testing.B) {
	n := startBenchNode(b)
	ctx := context.Background()
	const stormDevices = 2000
	devs := n.provision(b, stormDevices+b.N)
	u, err := n.svc.SignUp(ctx, "bench", "bench password")
	if err != nil {
		b.Fatal(err)
	}
	h, err := n.svc.CreateHome(ctx, u.ID, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var storm sync.WaitGroup
	var stormed atomic.Int64
	for g := range 64 {
		storm.Add(1)
		go func() {
			defer storm.Done()
			for i := g; ; i += 64 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := n.svc.Register(ctx, registerRequest(devs[i%stormDevices].IMEI, i)); err == nil {
					stormed.Add(1)
				}
			}
		}()
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		d := devs[stormDevices+i]
		a, err := n.svc.StartActivation(ctx, u.ID, pairing.StartActivation{Type: pairing.ActivatorTypeNB, NbID: d.NbID, HomeID: h.ID})
		if err != nil {
			b.Fatal(err)
		}
		ended := make(chan time.Time, 1)
		go func() {
			if got, err := n.svc.WaitActivation(ctx, u.ID, a.ID); err == nil && got.Status == pairing.ActivationPaired {
				ended <- time.Now()
			}
			close(ended)
		}()
		if _, err := n.svc.Register(ctx, registerRequest(d.IMEI, i)); err != nil {
			b.Fatal(err)
		}
		registered := time.Now()
		at, ok := <-ended
		if !ok {
			b.Fatal("the activation did not end paired")
		}
		lat = append(lat, max(0, at.Sub(registered)))
	}
	b.StopTimer()
	close(stop)
	storm.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(stormed.Load())/b.Elapsed().Seconds(), "storm-registers/s")
}

// profileTimed writes a CPU profile of the timed part alone to the file
// that NBPAIR_BENCH_CPUPROFILE names (go test's -cpuprofile would take in
// the provisioning before it):
//
//	NBPAIR_BENCH_CPUPROFILE=register.pprof go test -run '^$' -bench BenchmarkServiceRegister -benchtime 20000x ./internal/pairing/
func profileTimed(b *testing.B) func() {
	path := os.Getenv("NBPAIR_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
