package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/fleet"
)

// runFleetSweep grows a fleet in steps and writes, after each, the
// Register throughput and latency, the echo baseline and the server's
// memory to a CSV.
func runFleetSweep(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("fleet sweep")
	def := fleet.DefaultConfig()
	var ff fleetFlags
	ff.register(fs, def)
	stepsFlag := fs.String("steps", "10000,100000,1000000", "fleet sizes to grow to, comma-separated (k and M allowed: 10k,100k,1M)")
	sample := fs.Int("sample", 2000, "Registers measured after each step (the first devices, again) and round trips of the echo baseline")
	out := fs.String("csv", "sweep.csv", "CSV file the steps are written to, each as soon as it is done")
	maxTime := fs.Duration("max-time", time.Hour, "stop after this long; the CSV keeps the steps done")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	steps, err := parseSteps(*stepsFlag)
	if err != nil {
		return err
	}
	cfg := def
	if err := ff.apply(&cfg, true); err != nil {
		return err
	}
	cfg.Progress, cfg.ProgressLive = os.Stderr, isTerminal(os.Stderr)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := fleet.NewSweepCSV(f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *maxTime)
	defer cancel()
	err = fleet.Sweep(ctx, cfg, steps, *sample, func(s fleet.SweepStep) error {
		fmt.Fprintf(stdout, "%d devices: fill %.0f/s (p99 %v, %d failed); sample %.0f/s p50 %v p99 %v; echo %.0f/s; server RSS %.1f MiB\n",
			s.Devices, s.Fill.Throughput(), s.Fill.Latency.P99.Round(10*time.Microsecond), s.Fill.Failed(),
			s.Sample.Throughput(), s.Sample.Latency.P50.Round(10*time.Microsecond), s.Sample.Latency.P99.Round(10*time.Microsecond),
			s.Echo.Throughput(), s.RSS/(1<<20))
		return w.Write(s)
	})
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stdout, "stopped after --max-time %v; %s holds the steps done\n", *maxTime, *out)
		return nil
	}
	return err
}

// parseSteps reads "10k,100k,1M".
func parseSteps(s string) ([]int, error) {
	var steps []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		mult := 1
		switch {
		case strings.HasSuffix(part, "k"):
			mult, part = 1000, strings.TrimSuffix(part, "k")
		case strings.HasSuffix(part, "M"):
			mult, part = 1000000, strings.TrimSuffix(part, "M")
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || len(steps) > 0 && n*mult <= steps[len(steps)-1] {
			return nil, usagef("fleet sweep", "--steps %q: want growing counts such as 10k,100k,1M", s)
		}
		steps = append(steps, n*mult)
	}
	return steps, nil
}
