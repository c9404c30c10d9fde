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
	"strings"

	"github.com/nbpair/nbpair/internal/fleet"
)

// runFleet is the load generator: a fleet of simulated devices against a
// server, and the bare baselines next to it.
func runFleet(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	def := fleet.DefaultConfig()
	server := fs.String("server", "coap://127.0.0.1:5683", "CoAP address of the nbpair server (coap://HOST:PORT)")
	httpURL := fs.String("http", "http://localhost:8080", "base URL of the server's HTTP API, for the batch import")
	tokenFile := fs.String("token-file", filepath.Join("nbpair-data", "admin.token"), "file holding the admin token")
	product := fs.String("product", "", "product to provision the fleet for (default: the default product)")
	devices := fs.Int("devices", def.Devices, "number of simulated devices")
	scenario := fs.String("scenario", string(def.Scenario), "register (a Register storm), update (Updates for --duration) or deregister (the De-register wave)")
	concurrency := fs.Int("concurrency", def.Concurrency, "requests in flight")
	sockets := fs.Int("sockets", def.Sockets, "UDP sockets the devices share")
	duration := fs.Duration("duration", def.Duration, "how long the update scenario runs")
	imeiBase := fs.String("imei-base", def.IMEIBase, "first digits of the fleet's IMEIs; the device number fills the rest")
	ackTimeout := fs.Duration("ack-timeout", def.Transmission.ACKTimeout, "CoAP ACK_TIMEOUT of the devices (retransmit after it)")
	maxRetransmit := fs.Int("max-retransmit", def.Transmission.MaxRetransmit, "CoAP MAX_RETRANSMIT of the devices")
	baseline := fs.String("baseline", "", "run baselines instead of nbpair: udp-echo, go-coap, or both comma-separated")
	compare := fs.Bool("compare", false, "run nbpair and both baselines and print them side by side")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: nbpair fleet [flags]\n\nProvisions --devices devices with one batch import, runs --scenario from --sockets UDP sockets,\nand prints throughput, latency percentiles, retransmissions and errors.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg := def
	cfg.HTTPURL, cfg.ProductID, cfg.Devices, cfg.IMEIBase = *httpURL, *product, *devices, *imeiBase
	cfg.Scenario, cfg.Concurrency, cfg.Sockets, cfg.Duration = fleet.Scenario(*scenario), *concurrency, *sockets, *duration
	cfg.Transmission = fleet.Transmission{ACKTimeout: *ackTimeout, MaxRetransmit: *maxRetransmit}
	cfg.Progress = os.Stderr
	runNbpair, baselines, err := fleetTargets(*baseline, *compare)
	if err != nil {
		return err
	}
	if runNbpair {
		if cfg.CoAPAddr, err = coapHostPort(*server); err != nil {
			return err
		}
		tok, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("admin token: %w (the server writes it to DATA_DIR/admin.token on first start)", err)
		}
		cfg.Token = strings.TrimSpace(string(tok))
	}
	return fleetRuns(ctx, cfg, runNbpair, baselines, stdout)
}

// fleetTargets reads --baseline and --compare: whether nbpair runs, and
// which baselines.
func fleetTargets(list string, compare bool) (bool, []fleet.Baseline, error) {
	if compare {
		if list != "" {
			return false, nil, fmt.Errorf("%w: --compare runs every baseline; leave out --baseline", errUsage)
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
			return false, nil, fmt.Errorf("%w: baseline %q: want %s or %s", errUsage, b, fleet.UDPEcho, fleet.GoCoAP)
		}
	}
	return false, bs, nil
}

// fleetRuns runs the targets one after the other, prints each summary,
// and, when there are several, a table of them with ratios.
func fleetRuns(ctx context.Context, cfg fleet.Config, runNbpair bool, baselines []fleet.Baseline, stdout io.Writer) error {
	var rs []fleet.Result
	if runNbpair {
		r, err := fleet.Run(ctx, cfg)
		if err != nil {
			return err
		}
		rs = append(rs, r)
		fleet.WriteSummary(stdout, r)
	}
	for _, b := range baselines {
		r, err := fleet.RunBaseline(ctx, cfg, b)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", b, err)
		}
		rs = append(rs, r)
		fleet.WriteSummary(stdout, r)
	}
	if len(rs) > 1 {
		fmt.Fprintln(stdout)
		fleet.WriteTable(stdout, rs)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Failed() > 0 {
			return errors.New("some requests failed")
		}
	}
	return nil
}

// coapHostPort turns coap://HOST[:PORT] into HOST:PORT.
func coapHostPort(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "coap" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: --server %q: want coap://HOST:PORT (the fleet speaks plain CoAP over UDP)", errUsage, s)
	}
	port := u.Port()
	if port == "" {
		port = "5683"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
