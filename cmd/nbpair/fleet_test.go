package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/fleet"
	"github.com/nbpair/nbpair/internal/testkit"
)

func TestFleetFlags(t *testing.T) {
	tests := map[string]struct {
		baseline  string
		compare   bool
		nbpair    bool
		baselines string
		err       bool
	}{
		"nbpair only":          {nbpair: true, baselines: "[]"},
		"compare":              {compare: true, nbpair: true, baselines: "[go-coap udp-echo]"},
		"one baseline":         {baseline: "udp-echo", baselines: "[udp-echo]"},
		"both baselines":       {baseline: "go-coap, udp-echo", baselines: "[go-coap udp-echo]"},
		"unknown":              {baseline: "tcp", err: true},
		"compare and baseline": {baseline: "go-coap", compare: true, err: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			nbpair, bs, err := fleetTargets(tt.baseline, tt.compare)
			if tt.err {
				if !errors.Is(err, errUsage) {
					t.Fatalf("err %v, want a usage error", err)
				}
				return
			}
			if err != nil || nbpair != tt.nbpair || fmt.Sprint(bs) != tt.baselines {
				t.Errorf("got %v %v %v, want %v %s", nbpair, bs, err, tt.nbpair, tt.baselines)
			}
		})
	}
	for in, want := range map[string]string{
		"coap://127.0.0.1:5700": "127.0.0.1:5700", "coap://[::1]": "[::1]:5683", "coaps://h:1": "", "127.0.0.1:5683": "",
	} {
		got, err := hostPort(in, "coap", "5683")
		if got != want || (err == nil) != (want != "") {
			t.Errorf("hostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// The baselines need no server: both run and are printed side by side.
func TestFleetBaselines(t *testing.T) {
	var out bytes.Buffer
	err := runFleet(context.Background(), []string{"--baseline", "go-coap,udp-echo", "--devices", "100", "--concurrency", "8",
		"--sources", "all", "--max-open", "40"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go-coap register: 100 ok, 0 failed", "udp-echo register: 100 ok, 0 failed", "×rate",
		"sources: 100 (device i sends from source i mod 100); sockets opened 100, at most"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}

func TestFleetSweepSteps(t *testing.T) {
	for in, want := range map[string]string{
		"10k,100k,1M": "[10000 100000 1000000]",
		"500, 2k":     "[500 2000]",
		"1000":        "[1000]",
		"10k,10k":     "",
		"100k,10k":    "",
		"ten":         "",
		"":            "",
		"1.5M":        "",
		"0":           "",
	} {
		got, err := parseSteps(in)
		if want == "" {
			if !errors.Is(err, errUsage) {
				t.Errorf("parseSteps(%q) = %v, %v; want a usage error", in, got, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("parseSteps(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

// The lossy-pair preset fills in what the flags leave out, and only that.
func TestFleetLossyPairPreset(t *testing.T) {
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"defaults":   {nil, "pair activate-first 1000 0.2 1s 1000"},
		"fewer":      {[]string{"--devices", "50"}, "pair activate-first 50 0.2 1s 50"},
		"no delay":   {[]string{"--delay", "0s", "--loss", "0.1"}, "pair activate-first 1000 0.1 0s 1000"},
		"concurrent": {[]string{"--concurrency", "10"}, "pair activate-first 1000 0.2 1s 10"},
	} {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			cfg := fleet.DefaultConfig()
			fs.IntVar(&cfg.Devices, "devices", cfg.Devices, "")
			fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "")
			fs.Float64Var(&cfg.Loss, "loss", 0, "")
			fs.DurationVar(&cfg.Delay, "delay", 0, "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			lossyPair(&cfg, fs)
			got := fmt.Sprint(cfg.Scenario, " ", cfg.PairOrder, " ", cfg.Devices, " ", cfg.Loss, " ", cfg.Delay, " ", cfg.Concurrency)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFleetSourcesFlag(t *testing.T) {
	for in, want := range map[string]string{"all": "all", "16": "16", "1": "1", "20000": "20000", "0": "", "-3": "", "many": "", "": ""} {
		var s sourcesFlag
		err := s.Set(in)
		if want == "" {
			if err == nil {
				t.Errorf("--sources %q accepted as %v", in, s.String())
			}
			continue
		}
		if err != nil || s.String() != want {
			t.Errorf("--sources %q = %v, %v; want %s", in, s.String(), err, want)
		}
	}
	if d := sourcesFlag(fleet.DefaultConfig().Sources); d.String() != "all" {
		t.Errorf("default --sources %s, want all", d.String())
	}
}

// TestFleetSources runs the fleet command against a real node and reads
// back, through the admin API, the source address the server holds for
// each device: one per device with --sources all, device i's the same as
// device j's exactly when i and j are equal mod N with --sources N, with a
// socket per source or on shared sockets; and the
// server counts every Write of the Pairing object that followed a Register
// as sent (the simulated device answered it).
func TestFleetSources(t *testing.T) {
	testkit.Long(t, "a fleet against a node")
	n := apptest.Start(t, "", apptest.QuietLogs)
	admin := &fleet.Admin{URL: "http://" + n.HTTPAddr(), Token: n.Token}
	const devices = 24
	for name, tt := range map[string]struct {
		sources, base, shared string
		n                     int
	}{
		"one per device":                    {"all", "39", "0", devices},
		"five shared":                       {"5", "40", "0", 5},
		"one per device, on shared sockets": {"all", "41", "3", devices},
	} {
		t.Run(name, func(t *testing.T) {
			sent := func() float64 {
				m, err := admin.Metrics(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return m[`nbpair_downlinks_total{event="sent"}`]
			}
			before := sent()
			var out bytes.Buffer
			err := runFleet(context.Background(), []string{"--server", "coap://" + n.CoAPAddr(), "--http", "http://" + n.HTTPAddr(),
				"--token-file", filepath.Join(n.Dir, "admin.token"), "--devices", fmt.Sprint(devices), "--sources", tt.sources,
				"--scenario", "update", "--duration", "300ms", "--concurrency", "8", "--imei-base", tt.base, "--shared-sockets", tt.shared}, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			want := fmt.Sprintf("sources: %d (device i sends from source i mod %d)", tt.n, tt.n)
			if tt.shared != "0" {
				want += " on " + tt.shared + " shared sockets"
			}
			if !strings.Contains(out.String(), want) {
				t.Errorf("missing %q in:\n%s", want, out.String())
			}
			imeis, _ := fleet.IMEIs(tt.base, devices)
			addrs := make([]string, devices)
			distinct := map[string]bool{}
			for i, imei := range imeis {
				var d struct {
					Registration *struct {
						RemoteAddr string `json:"remoteAddr"`
					} `json:"registration"`
				}
				n.API(t, "GET", "/v1/admin/devices/"+imei, nil, &d)
				if d.Registration == nil {
					t.Fatalf("device %s has no registration", imei)
				}
				addrs[i] = d.Registration.RemoteAddr
				distinct[addrs[i]] = true
			}
			if len(distinct) != tt.n {
				t.Errorf("the server holds %d source addresses for %d devices, want %d: %v", len(distinct), devices, tt.n, addrs)
			}
			for i := range devices {
				for j := range i {
					if (addrs[i] == addrs[j]) != (i%tt.n == j%tt.n) {
						t.Fatalf("devices %d and %d at %s and %s (%d sources)", i, j, addrs[i], addrs[j], tt.n)
					}
				}
			}
			testkit.Eventually(t, "a Pairing-object Write sent to every device", func() bool {
				return sent()-before >= devices
			})
		})
	}
}
