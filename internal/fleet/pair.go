package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// PairOrder is which condition of a bind comes last in the Pair scenario.
type PairOrder string

// The orders.
const (
	// RegisterFirst registers every device (not measured), then starts
	// the activations: each binds at once, and its latency runs from the
	// SDK call to its outcome (the start's round trip included).
	RegisterFirst PairOrder = "register-first"
	// ActivateFirst starts every activation, waits until the server has
	// them all, then registers the devices: each binds on its Register,
	// and its latency runs from the Register's answer to the SDK's
	// outcome. A device counts as paired only when its Register was
	// answered and its activation ended paired, within its timeout.
	ActivateFirst PairOrder = "activate-first"
)

// PairFigures are what a Pair run adds to its Result.
type PairFigures struct {
	Order PairOrder
	// Users signed up, and how long that took (argon2id, slow on purpose).
	Users  int
	SignUp time.Duration
	// Registered and Paired count the devices whose Register was answered
	// and whose activation ended paired.
	Registered, Paired int
	// LatencyFrom says where the latency of an activate-first run starts:
	// at the Register's answer on a plain link, at the device's first
	// Register datagram over a lossy or slow one. The latency ends at the
	// SDK's outcome.
	LatencyFrom string
	// RegisterRetries counts the Registers sent again after one went
	// unanswered with all its retransmissions.
	RegisterRetries int

	mu sync.Mutex
}

func (f *PairFigures) addRetry() {
	f.mu.Lock()
	f.RegisterRetries++
	f.mu.Unlock()
}

// fleetUser is one user of the Pair scenario with the home its devices go
// into.
type fleetUser struct {
	c    *activator.Client
	home string
}

// runPair runs the Pair scenario for the provisioned devices: devs bind,
// storm (empty unless cfg.StormDevices) register while half of them do.
func runPair(ctx context.Context, cfg Config, devs []FactoryRow, storm []string) (Result, error) {
	t0 := time.Now()
	users, err := signUpUsers(ctx, cfg, (len(devs)+cfg.DevicesPerUser-1)/cfg.DevicesPerUser)
	if err != nil {
		return Result{}, err
	}
	fig := &PairFigures{Order: cfg.PairOrder, Users: len(users), SignUp: time.Since(t0)}
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
	typeOf := func(i int) (*activator.Client, activator.TypeModel) {
		u := users[i/cfg.DevicesPerUser]
		return u.c, activator.TypeModel{Type: activator.TypeNB, TypeName: "NB", Timeout: cfg.ActivationTimeout,
			SpaceID: u.home, NbID: devs[i].NbID}
	}
	var r Result
	switch {
	case len(storm) > 0:
		return pairUnderStorm(ctx, cfg, e, devs, storm, typeOf, fig)
	case cfg.PairOrder == ActivateFirst:
		r, err = activateFirst(ctx, cfg, e, devs, 0, len(devs), 0, nil, typeOf, fig)
	default:
		r, err = registerFirst(ctx, cfg, e, devs, typeOf, fig)
	}
	r.Pairing = fig
	return r, err
}

// registerFirst registers the devices, then activates them from
// cfg.Concurrency workers; the result measures the activations.
func registerFirst(ctx context.Context, cfg Config, e *engine, devs []FactoryRow,
	typeOf func(int) (*activator.Client, activator.TypeModel), fig *PairFigures) (Result, error) {
	setup := drive(ctx, cfg, e, "nbpair register (setup)", len(devs), 0, 0, func(ctx context.Context, _, i int) (int, error) {
		_, retrans, err := e.register(ctx, i, devs[i].IMEI)
		return retrans, err
	})
	fig.Registered = setup.OK
	if n := setup.Failed(); n > 0 {
		return setup, fmt.Errorf("%d of %d Registers before the activations failed: %s", n, len(devs), FormatErrors(setup.Errors))
	}
	r := drive(ctx, cfg, e, "nbpair pair", len(devs), 0, 0, func(ctx context.Context, _, i int) (int, error) {
		c, t := typeOf(i)
		_, err := c.Activate(ctx, t)
		return 0, err
	})
	fig.Paired = r.OK
	return r, nil
}

// activateFirst starts the activations of the n devices from devs[first]
// on, waits until the server answered every start, calls before (when not
// nil), then registers the devices (at rate a second when above 0) and
// waits for the outcomes.
func activateFirst(ctx context.Context, cfg Config, e *engine, devs []FactoryRow, first, n int, rate float64, before func(),
	typeOf func(int) (*activator.Client, activator.TypeModel), fig *PairFigures) (Result, error) {
	outcome := make([]error, n)
	doneAt := make([]time.Time, n)
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for i := range n {
		c, t := typeOf(first + i)
		signal := onceFunc(started.Done)
		go func() {
			defer finished.Done()
			defer signal() // when it failed before the server answered its start
			_, outcome[i] = c.Activate(context.WithValue(ctx, startSignalKey{}, signal), t)
			doneAt[i] = time.Now()
		}()
	}
	started.Wait()
	if before != nil {
		before()
	}
	t0 := time.Now()
	regAt := make([]time.Time, n)
	regErr := make([]error, n)
	measured := "the Register's answer"
	if cfg.Loss > 0 || cfg.Delay > 0 {
		// Over a slow link the server has the Register, and may have
		// bound, long before the device has its answer.
		measured = "the device's first Register datagram"
	}
	fig.LatencyFrom = measured
	giveUp := t0.Add(cfg.ActivationTimeout)
	reg := drive(ctx, cfg, e, "nbpair register (paired)", n, 0, rate, func(ctx context.Context, _, i int) (int, error) {
		sent := time.Now()
		retrans, err := 0, error(nil)
		// A device whose Register went unanswered registers again, as an
		// LwM2M client does, while its activation may still bind it.
		for try := 0; ; try++ {
			var k int
			_, k, err = e.register(ctx, first+i, devs[first+i].IMEI)
			retrans += k
			if err == nil || errorKind(err) != "timeout" || time.Now().Add(cfg.Transmission.ACKTimeout).After(giveUp) {
				break
			}
			fig.addRetry()
		}
		regAt[i], regErr[i] = time.Now(), err
		if fig.LatencyFrom != "the Register's answer" {
			regAt[i] = sent
		}
		return retrans, err
	})
	finished.Wait()
	rec := newRecorder(1)
	var last time.Time
	for i := range n {
		err := regErr[i]
		if err == nil {
			fig.Registered++
			err = outcome[i]
		}
		if err == nil {
			fig.Paired++
			last = maxTime(last, doneAt[i])
		}
		rec.record(0, doneAt[i].Sub(regAt[i]), 0, err)
	}
	r := rec.result("nbpair pair", last.Sub(t0))
	r.Retransmitted, r.CPU, r.Downlinks = reg.Retransmitted, reg.CPU, reg.Downlinks
	r.Sources, r.Sockets, r.PeakOpen, r.Moved, r.Skipped, r.Shared = reg.Sources, reg.Sockets, reg.PeakOpen, reg.Moved, reg.Skipped, reg.Shared
	return r, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// signUpUsers signs up n users, each with a session and a home, two at a
// time (argon2id takes a core and 64 MiB for each).
func signUpUsers(ctx context.Context, cfg Config, n int) ([]fleetUser, error) {
	var tag [4]byte
	rand.Read(tag[:])
	prefix := "fleet-" + hex.EncodeToString(tag[:])
	users := make([]fleetUser, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			users[i], errs[i] = signUp(ctx, cfg.HTTPURL, fmt.Sprintf("%s-%d", prefix, i))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

// fleetPassword is the password of every fleet user.
const fleetPassword = "fleet password 1"

func signUp(ctx context.Context, base, name string) (fleetUser, error) {
	c := activator.NewClient(base, activator.WithHTTPClient(pairHTTP))
	if _, err := c.SignUp(ctx, name, fleetPassword); err != nil {
		return fleetUser{}, fmt.Errorf("sign up %s: %w", name, err)
	}
	if _, err := c.LogIn(ctx, name, fleetPassword); err != nil {
		return fleetUser{}, fmt.Errorf("log in %s: %w", name, err)
	}
	h, err := c.CreateHome(ctx, "Fleet")
	if err != nil {
		return fleetUser{}, fmt.Errorf("home of %s: %w", name, err)
	}
	return fleetUser{c: c, home: h.ID}, nil
}

// pairHTTP is the fleet's HTTP client for the SDK: one connection per
// activation being followed, so many idle connections per host.
var pairHTTP = &http.Client{Transport: &startSignal{base: &http.Transport{
	MaxIdleConnsPerHost: 1024, MaxIdleConns: 4096, IdleConnTimeout: 90 * time.Second,
}}}

// startSignalKey carries, in a request's context, what to call once the
// server has answered the start of an activation.
type startSignalKey struct{}

// onceFunc is f, called at most once however often it is called.
func onceFunc(f func()) func() {
	var once sync.Once
	return func() { once.Do(f) }
}

// startSignal is a RoundTripper that calls the request context's start
// signal when the answer to POST /v1/activations has come (whatever it
// says), so the fleet knows the activation is on the server before it
// registers the device.
type startSignal struct{ base http.RoundTripper }

func (s *startSignal) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if f, ok := req.Context().Value(startSignalKey{}).(func()); ok && req.Method == http.MethodPost &&
		strings.HasSuffix(req.URL.Path, "/v1/activations") {
		f()
	}
	return resp, err
}
