package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run provisions the fleet on the nbpair server of cfg (one batch import
// per 10,000 devices), runs cfg.Scenario against it, and returns what the
// measured part did, with the server's figures from its /metrics.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	imeis, _ := IMEIs(cfg.IMEIBase, cfg.fleetSize())
	admin := &Admin{URL: cfg.HTTPURL, Token: cfg.Token}
	var devs []FactoryRow
	if cfg.DTLS || cfg.Scenario == Pair {
		// The storm's devices need no keys or pairing IDs: provisioned only.
		keyed := len(imeis) - cfg.StormDevices
		var err error
		if devs, err = admin.ProvisionRows(ctx, cfg.ProductID, imeis[:keyed]); err != nil {
			return Result{}, err
		}
		if _, err := admin.Provision(ctx, cfg.ProductID, imeis[keyed:]); err != nil {
			return Result{}, err
		}
	} else if _, err := admin.Provision(ctx, cfg.ProductID, imeis); err != nil {
		return Result{}, err
	}
	before, _ := admin.Metrics(ctx)
	var r Result
	var err error
	switch {
	case cfg.Scenario == Pair:
		r, err = runPair(ctx, cfg, devs, imeis[len(devs):])
	case cfg.DTLS:
		r, err = runDTLS(ctx, cfg, devs)
	default:
		r, err = runPlain(ctx, cfg, imeis)
	}
	if after, aerr := admin.Metrics(ctx); aerr == nil && before != nil {
		r.Server = serverFigures(before, after)
	}
	return r, err
}

// runPlain runs a plain-CoAP scenario, through the lossy relay when cfg
// asks for one.
func runPlain(ctx context.Context, cfg Config, imeis []string) (Result, error) {
	addr, stop, err := cfg.route(cfg.CoAPAddr)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	e, err := dialEngine(addr, cfg)
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	return runScenario(ctx, e, cfg, imeis, "nbpair")
}

// route is the address the generator sends to: addr itself, or a lossy
// relay to it when cfg has loss or delay; stop stops the relay.
func (c Config) route(addr string) (string, func(), error) {
	if c.Loss == 0 && c.Delay == 0 {
		return addr, func() {}, nil
	}
	r, err := StartRelay(addr, c.Loss, c.Delay, c.Seed)
	if err != nil {
		return "", nil, err
	}
	return r.Addr(), func() { r.Close() }, nil
}

// runScenario runs cfg.Scenario from the sources of e for the devices.
func runScenario(ctx context.Context, e *engine, cfg Config, imeis []string, target string) (Result, error) {
	name := target + " " + string(cfg.Scenario)
	regIDs := make([]string, len(imeis))
	register := func(ctx context.Context, _, i int) (retrans int, err error) {
		regIDs[i], retrans, err = e.register(ctx, i, imeis[i])
		return retrans, err
	}
	if cfg.Scenario == Register {
		return drive(ctx, cfg, e, name, len(imeis), 0, 0, register), nil
	}
	setup := drive(ctx, cfg, e, target+" register (setup)", len(imeis), 0, 0, register)
	if n := setup.Failed(); n > 0 {
		return setup, fmt.Errorf("%d of %d Registers before the %s failed: %s", n, len(imeis), cfg.Scenario, FormatErrors(setup.Errors))
	}
	var r Result
	if cfg.Scenario == Update {
		r = drive(ctx, cfg, e, name, 0, cfg.Duration, cfg.Rate, func(ctx context.Context, _, i int) (int, error) {
			return e.update(ctx, i%len(regIDs), regIDs[i%len(regIDs)])
		})
	} else {
		r = drive(ctx, cfg, e, name, len(imeis), 0, 0, func(ctx context.Context, _, i int) (int, error) {
			return e.deregister(ctx, i, regIDs[i])
		})
	}
	r.Setup = &setup
	return r, nil
}

// drive runs do from cfg.Concurrency workers, for request numbers 0 to
// total-1, or, when total is 0, until the duration has passed; at most
// rate requests a second when rate is above 0. It stops starting requests
// when ctx ends. do returns the retransmissions of its request. e, when
// not nil, is the engine whose sources, sockets and downlinks the result
// counts.
func drive(ctx context.Context, cfg Config, e *engine, name string, total int, duration time.Duration, rate float64,
	do func(ctx context.Context, worker, i int) (int, error)) Result {
	rec := newRecorder(cfg.Concurrency)
	var downlinks int64
	var socks socketFigures
	if e != nil {
		downlinks, socks = e.downlinks.Load(), e.figures()
	}
	cpu := processCPU()
	start := time.Now()
	deadline := start.Add(duration)
	stopProgress := showProgress(cfg.Progress, cfg.ProgressLive, name, total, rec)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if total > 0 && i >= total || total == 0 && !time.Now().Before(deadline) {
					return
				}
				if rate > 0 {
					due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if total == 0 && !due.Before(deadline) {
						return
					}
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				t0 := time.Now()
				retrans, err := do(ctx, w, i)
				rec.record(w, time.Since(t0), retrans, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	r := rec.result(name, elapsed)
	r.CPU = processCPU() - cpu
	if e != nil {
		after := e.figures()
		r.Sources, r.Sockets, r.PeakOpen, r.Shared = e.n, int(after.opened-socks.opened), after.peak, len(e.shared)
		r.Moved, r.Skipped = int(after.moved-socks.moved), int(after.skipped-socks.skipped)
		r.Downlinks = int(e.downlinks.Load() - downlinks)
	}
	return r
}

// FormatErrors writes error counts as "kind ×n, …", most frequent first.
func FormatErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "none"
	}
	kinds := slices.SortedFunc(maps.Keys(errs), func(a, b string) int {
		if errs[a] != errs[b] {
			return errs[b] - errs[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", k, errs[k])
	}
	return strings.Join(parts, ", ")
}
