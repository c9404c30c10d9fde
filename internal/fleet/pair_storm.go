package fleet

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// pairUnderStorm measures the binds of the Pair scenario (activations
// first) twice with the same engine: cfg.Devices binds of devs[:Devices]
// with the server otherwise idle, then as many of devs[Devices:] while
// the storm devices register round and round. The result is the binds
// under the storm, with the idle binds in Idle and the storm in Storm.
func pairUnderStorm(ctx context.Context, cfg Config, e *engine, devs []FactoryRow, storm []string,
	typeOf func(int) (*activator.Client, activator.TypeModel), fig *PairFigures) (Result, error) {
	n := cfg.Devices
	bind := cfg
	bind.Concurrency = 1 // one at a time, or paced by the bind rate
	if cfg.BindRate > 0 {
		bind.Concurrency = cfg.Concurrency
	}
	idleFig := &PairFigures{Order: fig.Order, Users: fig.Users, SignUp: fig.SignUp}
	idle, err := activateFirst(ctx, bind, e, devs, 0, n, cfg.BindRate, nil, typeOf, idleFig)
	idle.Name, idle.Pairing = "nbpair pair (idle)", idleFig
	if err != nil {
		return idle, err
	}
	s := &stormRun{ctx: ctx, cfg: cfg, e: e, first: len(devs), imeis: storm}
	r, err := activateFirst(ctx, bind, e, devs, n, n, cfg.BindRate, s.start, typeOf, fig)
	stormed := s.stop()
	r.Name, r.Pairing, r.Idle, r.Storm = "nbpair pair (storm)", fig, &idle, &stormed
	return r, err
}

// stormRun is a storm of Registers from the storm devices, engine devices
// first to first+len(imeis)-1, that runs between start and stop.
type stormRun struct {
	ctx   context.Context // the run's: ends the Registers in flight too
	cfg   Config
	e     *engine
	first int
	imeis []string

	cancel context.CancelFunc
	done   chan struct{}
	result Result
}

// warmUp is how many of its Registers the storm has answered before
// the measured binds begin: its workers' first requests, so that every
// bind happens with the storm at its pace.
func (s *stormRun) warmUp() int64 {
	return int64(min(len(s.imeis), 2*s.cfg.Concurrency))
}

// start starts the storm from cfg.Concurrency workers at cfg.StormRate
// Registers a second (0: full speed), the storm devices in turn and round
// again (re-Registers) after the last, and returns once it has warmed up.
// It stops by itself an activation timeout and a minute after it started,
// should stop not come.
func (s *stormRun) start() {
	cfg := s.cfg
	if cfg.ProgressLive {
		cfg.Progress = nil // one live line: the binds'
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.cancel, s.done = cancel, make(chan struct{})
	warm := make(chan struct{})
	signal := onceFunc(func() { close(warm) })
	var answered atomic.Int64
	go func() {
		defer close(s.done)
		defer signal()
		// ctx only stops new Registers: those in flight are answered
		// (or time out) as any other, under the run's own context, so
		// none counts as failed for the stop.
		s.result = drive(ctx, cfg, s.e, "nbpair register (storm)", 0, cfg.ActivationTimeout+time.Minute, cfg.StormRate,
			func(_ context.Context, _, i int) (int, error) {
				k := i % len(s.imeis)
				_, retrans, err := s.e.register(s.ctx, s.first+k, s.imeis[k])
				if answered.Add(1) == s.warmUp() {
					signal()
				}
				return retrans, err
			})
	}()
	<-warm
}

// stop stops the storm, waits for its Registers in flight, and returns
// what it measured.
func (s *stormRun) stop() Result {
	if s.cancel == nil {
		return Result{Name: "nbpair register (storm)", Errors: map[string]int{}}
	}
	s.cancel()
	<-s.done
	return s.result
}
