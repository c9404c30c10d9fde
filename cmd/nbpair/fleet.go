package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/fleet"
)

// fleetFlags are the flags every fleet command shares.
type fleetFlags struct {
	server, serverDTLS, httpURL, tokenFile, product, imeiBase string
	concurrency, maxOpen, maxRetransmit, sharedSockets        int
	sources                                                   sourcesFlag
	ackTimeout, delay, awake                                  time.Duration
	loss                                                      float64
	seed                                                      uint64
}

func (f *fleetFlags) register(fs *flag.FlagSet, def fleet.Config) {
	fs.StringVar(&f.server, "server", "coap://127.0.0.1:5683", "CoAP address of the nbpair server (coap://HOST:PORT)")
	fs.StringVar(&f.serverDTLS, "server-dtls", "coaps://127.0.0.1:5684", "DTLS address of the nbpair server, for --dtls (coaps://HOST:PORT)")
	fs.StringVar(&f.httpURL, "http", "http://localhost:8080", "base `URL` of the server's HTTP API (batches, /metrics, the SDK)")
	fs.StringVar(&f.tokenFile, "token-file", filepath.Join("nbpair-data", "admin.token"), "`FILE` holding the admin token")
	fs.StringVar(&f.product, "product", "", "product to provision the fleet for (default: the default product)")
	fs.StringVar(&f.imeiBase, "imei-base", def.IMEIBase, "first digits of the fleet's IMEIs; the device number fills the rest")
	fs.IntVar(&f.concurrency, "concurrency", def.Concurrency, "requests in flight")
	f.sources = sourcesFlag(def.Sources)
	fs.Var(&f.sources, "sources", "source addresses the devices send from: all (one per device, as a real fleet behind NAT), or N (device i sends from source i mod N)")
	fs.IntVar(&f.maxOpen, "max-open", def.MaxOpen, "most UDP sockets kept open: with more sources, a source's socket is opened for each exchange and closed after --awake")
	fs.IntVar(&f.sharedSockets, "shared-sockets", 0, "send every source's datagrams from this many sockets, each datagram from its source's own IP of 127.0.0.0/8 (IP_PKTINFO; a server on loopback): no socket opened per exchange, every device always reachable (0: a socket per source)")
	fs.DurationVar(&f.awake, "awake", def.Awake, "how long a device's socket stays open after its exchange, answering the server's Writes, when sources outnumber --max-open")
	fs.DurationVar(&f.ackTimeout, "ack-timeout", def.Transmission.ACKTimeout, "CoAP ACK_TIMEOUT of the devices (retransmit after it, then after twice as long, …)")
	fs.IntVar(&f.maxRetransmit, "max-retransmit", def.Transmission.MaxRetransmit, "CoAP MAX_RETRANSMIT of the devices")
	fs.Float64Var(&f.loss, "loss", 0, "fraction of datagrams a relay on 127.0.0.1 drops each way (0 to below 1)")
	fs.DurationVar(&f.delay, "delay", 0, "delay the relay adds to each datagram each way")
	fs.Uint64Var(&f.seed, "seed", def.Seed, "seed of the relay's drops")
}

// sourcesFlag is --sources: "all" (fleet.AllSources) or a count.
type sourcesFlag int

func (s *sourcesFlag) String() string {
	if *s == fleet.AllSources {
		return "all"
	}
	return strconv.Itoa(int(*s))
}

// Type names the flag's value in help texts.
func (s *sourcesFlag) Type() string { return "all|N" }

func (s *sourcesFlag) Set(v string) error {
	if v == "all" {
		*s = fleet.AllSources
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("want all or a count of 1 or more, not %q", v)
	}
	*s = sourcesFlag(n)
	return nil
}

// apply copies the shared flags into cfg; with server, it also reads the
// server's addresses and the admin token.
func (f *fleetFlags) apply(cfg *fleet.Config, server bool) error {
	cfg.HTTPURL, cfg.ProductID, cfg.IMEIBase = f.httpURL, f.product, f.imeiBase
	cfg.Concurrency, cfg.Sources, cfg.MaxOpen, cfg.Awake = f.concurrency, int(f.sources), f.maxOpen, f.awake
	cfg.SharedSockets = f.sharedSockets
	cfg.Transmission = fleet.Transmission{ACKTimeout: f.ackTimeout, MaxRetransmit: f.maxRetransmit}
	cfg.Loss, cfg.Delay, cfg.Seed = f.loss, f.delay, f.seed
	if !server {
		return nil
	}
	var err error
	if cfg.CoAPAddr, err = hostPort(f.server, "coap", "5683"); err != nil {
		return err
	}
	if cfg.DTLSAddr, err = hostPort(f.serverDTLS, "coaps", "5684"); err != nil {
		return err
	}
	tok, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return fmt.Errorf("admin token: %w (the server writes it to DATA_DIR/admin.token on first start)", err)
	}
	cfg.Token = strings.TrimSpace(string(tok))
	return nil
}

// runFleet is the load generator: a fleet of simulated devices against a
// server, and the bare baselines next to it; "fleet sweep" grows the fleet
// in steps.
func runFleet(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "sweep" {
		return runFleetSweep(ctx, args[1:], stdout)
	}
	fs := newFlagSet("fleet")
	def := fleet.DefaultConfig()
	var ff fleetFlags
	ff.register(fs, def)
	devices := fs.Int("devices", def.Devices, "number of simulated devices")
	scenario := fs.String("scenario", string(def.Scenario), "register, update, deregister, pair, or lossy-pair (pair with 1,000 devices, 20% loss and 1 s delay unless set otherwise)")
	duration := fs.Duration("duration", def.Duration, "how long the update scenario runs")
	rate := fs.Float64("rate", 0, "Updates a second of the update scenario (0: full speed)")
	dtls := fs.Bool("dtls", false, "run over DTLS-PSK to --server-dtls, each device with its own session and key")
	perUser := fs.Int("devices-per-user", def.DevicesPerUser, "devices each user of the pair scenario pairs")
	actTimeout := fs.Duration("activation-timeout", def.ActivationTimeout, "timeout of each activation of the pair scenario")
	order := fs.String("pair-order", string(def.PairOrder), "which condition of a bind comes last: activate-first (the Register) or register-first (the activation's start)")
	stormDevices := fs.Int("storm-devices", 0, "with the pair scenario (activations first): bind --devices devices idle, then as many others while this many other devices register round and round; the binds register one at a time, or at --bind-rate")
	stormRate := fs.Float64("storm-rate", 0, "Registers a second of the --storm-devices storm (0: full speed)")
	bindRate := fs.Float64("bind-rate", 0, "with --storm-devices, binding devices registering a second (0: one at a time)")
	baseline := fs.String("baseline", "", "run baselines instead of nbpair: udp-echo, go-coap, or both comma-separated")
	compare := fs.Bool("compare", false, "run nbpair and both baselines and print them side by side")
	runs := fs.Int("runs", 1, "rounds of the runs, interleaved; with more than one, the medians are printed too")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg := def
	cfg.Devices, cfg.Scenario, cfg.Duration, cfg.Rate, cfg.DTLS = *devices, fleet.Scenario(*scenario), *duration, *rate, *dtls
	cfg.DevicesPerUser, cfg.ActivationTimeout, cfg.PairOrder = *perUser, *actTimeout, fleet.PairOrder(*order)
	cfg.StormDevices, cfg.StormRate, cfg.BindRate = *stormDevices, *stormRate, *bindRate
	cfg.Progress, cfg.ProgressLive = os.Stderr, isTerminal(os.Stderr)
	runNbpair, baselines, err := fleetTargets(*baseline, *compare)
	if err != nil {
		return err
	}
	if err := ff.apply(&cfg, runNbpair); err != nil {
		return err
	}
	if cfg.Scenario == "lossy-pair" {
		lossyPair(&cfg, fs)
	}
	if *runs < 1 {
		return usagef("fleet", "--runs must be 1 or more")
	}
	return fleetRuns(ctx, cfg, runNbpair, baselines, *runs, stdout)
}

// lossyPair turns the lossy-pair preset into the pair scenario over a
// lossy link: 1,000 devices all waking at once (one request in flight
// each), 20% of datagrams lost each way, 1 s delay, the Register last,
// unless the flags say otherwise.
func lossyPair(cfg *fleet.Config, fs *flag.FlagSet) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.Scenario, cfg.PairOrder = fleet.Pair, fleet.ActivateFirst
	if !set["devices"] {
		cfg.Devices = 1000
	}
	if !set["loss"] {
		cfg.Loss = 0.2
	}
	if !set["delay"] {
		cfg.Delay = time.Second
	}
	if !set["concurrency"] {
		cfg.Concurrency = cfg.Devices
	}
}

// fleetTargets reads --baseline and --compare: whether nbpair runs, and
// which baselines.
func fleetTargets(list string, compare bool) (bool, []fleet.Baseline, error) {
	if compare {
		if list != "" {
			return false, nil, usagef("fleet", "--compare runs every baseline; leave out --baseline")
		}
		return true, []fleet.Baseline{fleet.GoCoAP, fleet.UDPEcho}, nil
	}
	if list == "" {
		return true, nil, nil
	}
	var bs []fleet.Baseline
	for b := range strings.SplitSeq(list, ",") {
		switch b := fleet.Baseline(strings.TrimSpace(b)); b {
		case fleet.GoCoAP, fleet.UDPEcho:
			bs = append(bs, b)
		default:
			return false, nil, usagef("fleet", "baseline %q: want %s or %s", b, fleet.UDPEcho, fleet.GoCoAP)
		}
	}
	return false, bs, nil
}

// fleetRuns runs the targets one after the other, rounds times, prints
// each summary, and, when there are several, a table of each round with
// ratios, and with several rounds the medians.
func fleetRuns(ctx context.Context, cfg fleet.Config, runNbpair bool, baselines []fleet.Baseline, rounds int, stdout io.Writer) error {
	var all [][]fleet.Result
	failed := false
	for round := range rounds {
		rcfg := cfg
		if rounds > 1 {
			// New devices every round: a register storm of devices that
			// registered before would measure re-registrations.
			rcfg.IMEIBase = fmt.Sprintf("%s%02d", cfg.IMEIBase, round)
			fmt.Fprintf(stdout, "round %d of %d\n", round+1, rounds)
		}
		rs, err := fleetRound(ctx, rcfg, runNbpair, baselines, stdout)
		if err != nil {
			return err
		}
		rs = withSetups(rs)
		for _, r := range rs {
			failed = failed || r.Failed() > 0
		}
		if len(rs) > 1 {
			fmt.Fprintln(stdout)
			fleet.WriteTable(stdout, rs)
		}
		all = append(all, rs)
	}
	if rounds > 1 {
		fmt.Fprintf(stdout, "\nmedians of %d rounds (ratios taken within each round, then their median):\n", rounds)
		fleet.WriteMedians(stdout, all)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed && cfg.Loss == 0 {
		return errors.New("some requests failed")
	}
	return nil
}

// withSetups puts before each result the Register storm it began with, or
// the idle binds and the storm of a pair run under a storm, if any, so the
// tables show them all and the ratios between them.
func withSetups(rs []fleet.Result) []fleet.Result {
	var out []fleet.Result
	for _, r := range rs {
		for _, s := range []*fleet.Result{r.Setup, r.Idle, r.Storm} {
			if s != nil {
				out = append(out, *s)
			}
		}
		out = append(out, r)
	}
	return out
}

func fleetRound(ctx context.Context, cfg fleet.Config, runNbpair bool, baselines []fleet.Baseline, stdout io.Writer) ([]fleet.Result, error) {
	var rs []fleet.Result
	if runNbpair {
		r, err := fleet.Run(ctx, cfg)
		if err != nil && r.Name == "" {
			return nil, err
		}
		fleet.WriteSummary(stdout, r)
		if cfg.Scenario == fleet.Pair && r.Pairing != nil {
			p := r.Pairing
			fmt.Fprintf(stdout, "  registered and paired within the %v activation timeout: %d of %d (%.1f%%)\n",
				cfg.ActivationTimeout, p.Paired, cfg.Devices, 100*float64(p.Paired)/float64(cfg.Devices))
		}
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	for _, b := range baselines {
		r, err := fleet.RunBaseline(ctx, cfg, b)
		if err != nil {
			return nil, fmt.Errorf("baseline %s: %w", b, err)
		}
		rs = append(rs, r)
		fleet.WriteSummary(stdout, r)
	}
	return rs, nil
}

// hostPort turns SCHEME://HOST[:PORT] into HOST:PORT.
func hostPort(s, scheme, defPort string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != scheme || u.Hostname() == "" {
		return "", usagef("fleet", "%q: want %s://HOST:PORT", s, scheme)
	}
	port := u.Port()
	if port == "" {
		port = defPort
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
