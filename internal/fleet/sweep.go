package fleet

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// SweepStep is what a sweep measured once the fleet had grown to Devices.
type SweepStep struct {
	// Devices is the number of devices registered after the step.
	Devices int
	// Fill is the Register storm of the devices the step added.
	Fill Result
	// Sample is a fixed number of Registers of the same devices at every
	// step (the first ones of the fleet, registering again), and Echo as
	// many round trips to a bare UDP echo through the same generator,
	// measured right after it.
	Sample, Echo Result
	// RSS is the server's resident memory after the step and Heap its Go
	// heap in use, in bytes, from its /metrics.
	RSS, Heap float64
}

// Sweep grows the fleet of cfg on the nbpair server to each of steps in
// turn (provisioned through batches of at most 10,000 devices, then
// registered), and after each step measures sample Registers and the echo
// baseline and reads the server's memory; it calls step with each step's
// figures. cfg.Devices is ignored; the IMEIs start at cfg.IMEIBase.
func Sweep(ctx context.Context, cfg Config, steps []int, sample int, step func(SweepStep) error) error {
	if len(steps) == 0 || sample < 1 {
		return fmt.Errorf("a sweep needs steps and a sample of 1 or more Registers")
	}
	cfg.Devices, cfg.Scenario = steps[len(steps)-1], Register
	if err := cfg.Validate(); err != nil {
		return err
	}
	imeis, _ := IMEIs(cfg.IMEIBase, cfg.Devices)
	admin := &Admin{URL: cfg.HTTPURL, Token: cfg.Token}
	e, err := dialEngine(cfg.CoAPAddr, cfg)
	if err != nil {
		return err
	}
	defer e.close()
	have := 0
	for _, n := range steps {
		if n <= have || n > len(imeis) || n < sample {
			return fmt.Errorf("sweep steps must grow and be at least the sample of %d: %v", sample, steps)
		}
		s, err := sweepStep(ctx, cfg, e, admin, imeis, have, n, sample)
		if err != nil {
			return err
		}
		if err := step(s); err != nil {
			return err
		}
		have = n
	}
	return nil
}

// sweepStep provisions and registers devices have to n-1 of the fleet,
// then measures the sample (devices 0 to sample-1, each from its own
// source again) and the echo, and reads the server's memory.
func sweepStep(ctx context.Context, cfg Config, e *engine, admin *Admin, imeis []string, have, n, sample int) (SweepStep, error) {
	s := SweepStep{Devices: n}
	if _, err := admin.Provision(ctx, cfg.ProductID, imeis[have:n]); err != nil {
		return s, err
	}
	register := func(first int) func(context.Context, int, int) (int, error) {
		return func(ctx context.Context, _, i int) (int, error) {
			_, retrans, err := e.register(ctx, first+i, imeis[first+i])
			return retrans, err
		}
	}
	s.Fill = drive(ctx, cfg, e, fmt.Sprintf("nbpair register (to %d)", n), n-have, 0, 0, register(have))
	if err := ctx.Err(); err != nil {
		return s, err
	}
	s.Sample = drive(ctx, cfg, e, fmt.Sprintf("nbpair register (sample at %d)", n), sample, 0, 0, register(0))
	// The echo gets as many sources as the fleet, so that its sockets are
	// opened and closed (or kept) as the sample's are.
	echoCfg := cfg
	echoCfg.Devices, echoCfg.Sources = sample, e.n
	var err error
	if s.Echo, err = RunBaseline(ctx, echoCfg, UDPEcho); err != nil {
		return s, err
	}
	m, err := admin.Metrics(ctx)
	if err != nil {
		return s, err
	}
	s.RSS, s.Heap = m["process_resident_memory_bytes"], m["go_memstats_heap_inuse_bytes"]
	return s, nil
}

// SweepCSVHeader is the header of a sweep's CSV, in column order.
var SweepCSVHeader = []string{"devices", "fill_rate", "fill_p50_ms", "fill_p99_ms", "fill_failed",
	"sample_rate", "sample_p50_ms", "sample_p99_ms", "sample_failed", "echo_rate", "rss_bytes", "heap_bytes"}

// SweepCSV writes the rows of a sweep as CSV.
type SweepCSV struct{ w *csv.Writer }

// NewSweepCSV writes the header to w and returns the writer of the rows.
func NewSweepCSV(w io.Writer) (*SweepCSV, error) {
	c := &SweepCSV{w: csv.NewWriter(w)}
	c.w.Write(SweepCSVHeader)
	c.w.Flush()
	return c, c.w.Error()
}

// Write writes one step and flushes it, so a sweep cut short keeps the
// steps it finished.
func (c *SweepCSV) Write(s SweepStep) error {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	msf := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 3, 64) }
	c.w.Write([]string{strconv.Itoa(s.Devices),
		f(s.Fill.Throughput()), msf(s.Fill.Latency.P50), msf(s.Fill.Latency.P99), strconv.Itoa(s.Fill.Failed()),
		f(s.Sample.Throughput()), msf(s.Sample.Latency.P50), msf(s.Sample.Latency.P99), strconv.Itoa(s.Sample.Failed()),
		f(s.Echo.Throughput()), f(s.RSS), f(s.Heap)})
	c.w.Flush()
	return c.w.Error()
}
