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

// Run provisions the fleet on the nbpair server of cfg through one batch
// import (one per 10000 devices), then runs cfg.Scenario against it and
// returns what the measured part did.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	imeis, _ := IMEIs(cfg.IMEIBase, cfg.Devices)
	admin := &Admin{URL: cfg.HTTPURL, Token: cfg.Token}
	if err := admin.Provision(ctx, cfg.ProductID, imeis); err != nil {
		return Result{}, err
	}
	p, err := dialPool(cfg.CoAPAddr, cfg.Sockets, cfg.perSocket(), cfg.Transmission)
	if err != nil {
		return Result{}, err
	}
	defer p.close()
	return runScenario(ctx, p, cfg, imeis, "nbpair")
}

// runScenario runs cfg.Scenario from the sockets of p for the devices.
func runScenario(ctx context.Context, p *coapPool, cfg Config, imeis []string, target string) (Result, error) {
	name := target + " " + string(cfg.Scenario)
	regIDs := make([]string, len(imeis))
	register := func(ctx context.Context, w, i int) (err error) {
		regIDs[i], err = p.register(ctx, p.conn(w), imeis[i])
		return err
	}
	if cfg.Scenario == Register {
		return drive(ctx, cfg, name, len(imeis), 0, register), nil
	}
	setup := drive(ctx, cfg, target+" register (setup)", len(imeis), 0, register)
	if n := setup.Failed(); n > 0 {
		return setup, fmt.Errorf("%d of %d Registers before the %s failed: %s", n, len(imeis), cfg.Scenario, FormatErrors(setup.Errors))
	}
	if cfg.Scenario == Update {
		return drive(ctx, cfg, name, 0, cfg.Duration, func(ctx context.Context, w, i int) error {
			return p.update(ctx, p.conn(w), regIDs[i%len(regIDs)])
		}), nil
	}
	return drive(ctx, cfg, name, len(imeis), 0, func(ctx context.Context, w, i int) error {
		return p.deregister(ctx, p.conn(w), regIDs[i])
	}), nil
}

// drive runs do from cfg.Concurrency workers, for request numbers 0 to
// total-1, or, when total is 0, until the duration has passed. It stops
// starting requests when ctx ends.
func drive(ctx context.Context, cfg Config, name string, total int, duration time.Duration,
	do func(ctx context.Context, worker, i int) error) Result {
	rec := newRecorder(cfg.Concurrency, cfg.Transmission.ACKTimeout)
	start := time.Now()
	deadline := start.Add(duration)
	stopProgress := showProgress(cfg.Progress, name, total, rec)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if total > 0 && i >= total || total == 0 && !time.Now().Before(deadline) {
					return
				}
				t0 := time.Now()
				err := do(ctx, w, i)
				rec.record(w, time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	return rec.result(name, elapsed)
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
