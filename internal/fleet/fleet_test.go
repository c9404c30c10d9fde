package fleet_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/fleet"
	"github.com/nbpair/nbpair/internal/testkit"
)

// TestScenarios runs the three scenarios against a real node and checks
// with the admin API that the fleet came online and went offline again.
func TestScenarios(t *testing.T) {
	testkit.Long(t, "a fleet against a node")
	n := apptest.Start(t, "", apptest.QuietLogs)
	tok, err := os.ReadFile(filepath.Join(n.Dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	const devices = 200
	cfg := fleet.DefaultConfig()
	cfg.CoAPAddr, cfg.HTTPURL, cfg.Token = n.CoAPAddr(), "http://"+n.HTTPAddr(), strings.TrimSpace(string(tok))
	cfg.Devices, cfg.Concurrency, cfg.Sources, cfg.IMEIBase = devices, 16, fleet.AllSources, "35"
	cfg.Duration = 300 * time.Millisecond
	admin := &fleet.Admin{URL: cfg.HTTPURL, Token: cfg.Token}
	imeis, err := fleet.IMEIs(cfg.IMEIBase, devices)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	online := func() int {
		t.Helper()
		n, err := admin.Online(ctx, imeis)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	tests := []struct {
		scenario   fleet.Scenario
		wantOK     int // 0: at least one
		wantOnline int
	}{
		{fleet.Register, devices, devices},
		{fleet.Update, 0, devices},
		{fleet.Deregister, devices, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.scenario), func(t *testing.T) {
			cfg := cfg
			cfg.Scenario = tt.scenario
			var progress bytes.Buffer
			cfg.Progress = &progress
			r, err := fleet.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			fleet.WriteSummary(testLog{t}, r)
			if r.Failed() != 0 || tt.wantOK > 0 && r.OK != tt.wantOK || r.OK == 0 {
				t.Errorf("%d ok, errors %s; want %d ok and no errors", r.OK, fleet.FormatErrors(r.Errors), tt.wantOK)
			}
			if r.Throughput() <= 0 || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 || r.Latency.P99 < r.Latency.P50 {
				t.Errorf("throughput %v, latency %+v", r.Throughput(), r.Latency)
			}
			if !strings.Contains(progress.String(), "nbpair "+string(tt.scenario)) {
				t.Errorf("progress line: %q", progress.String())
			}
			testkit.Eventually(t, "the fleet's online count", func() bool { return online() == tt.wantOnline })
		})
	}
}

// TestBaselines runs both baselines and checks they measured something.
func TestBaselines(t *testing.T) {
	cfg := fleet.DefaultConfig()
	cfg.Devices, cfg.Concurrency, cfg.Sources = 200, 16, 4
	var rs []fleet.Result
	for _, b := range []fleet.Baseline{fleet.GoCoAP, fleet.UDPEcho} {
		r, err := fleet.RunBaseline(context.Background(), cfg, b)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK != cfg.Devices || r.Failed() != 0 || r.Throughput() <= 0 {
			t.Errorf("%s: %d ok, errors %s, %v/s; want %d ok, none failed", b, r.OK, fleet.FormatErrors(r.Errors), r.Throughput(), cfg.Devices)
		}
		rs = append(rs, r)
	}
	var table bytes.Buffer
	fleet.WriteTable(&table, rs)
	t.Log("\n" + table.String())
	if !strings.Contains(table.String(), "go-coap register") || !strings.Contains(table.String(), "udp-echo") {
		t.Errorf("table:\n%s", table.String())
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// node starts a real node with the rate limits off and returns a config
// pointing at it.
func node(t *testing.T) (*apptest.Node, fleet.Config) {
	t.Helper()
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) {
		c.RateLimitPerUser, c.RateLimitPerAddr = 0, 0
	})
	cfg := fleet.DefaultConfig()
	cfg.CoAPAddr, cfg.DTLSAddr, cfg.HTTPURL, cfg.Token = n.CoAPAddr(), n.CoAPSAddr(), "http://"+n.HTTPAddr(), n.Token
	cfg.Concurrency = 8
	return n, cfg
}

// TestPair pairs a small fleet in both orders through the SDK and checks
// with the admin API that every device ended bound.
func TestPair(t *testing.T) {
	testkit.Long(t, "a fleet against a node")
	n, cfg := node(t)
	for i, order := range []fleet.PairOrder{fleet.ActivateFirst, fleet.RegisterFirst} {
		t.Run(string(order), func(t *testing.T) {
			cfg := cfg
			cfg.Scenario, cfg.PairOrder, cfg.Devices, cfg.DevicesPerUser = fleet.Pair, order, 30, 20
			cfg.IMEIBase = fmt.Sprintf("35%d", i)
			cfg.ActivationTimeout = time.Minute
			r, err := fleet.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			fleet.WriteSummary(testLog{t}, r)
			p := r.Pairing
			if r.OK != 30 || r.Failed() != 0 || p == nil || p.Users != 2 || p.Registered != 30 || p.Paired != 30 {
				t.Fatalf("%d ok, errors %s, pairing %+v; want 30 paired by 2 users", r.OK, fleet.FormatErrors(r.Errors), p)
			}
			if r.Server == nil || r.Server.Paired != 30 {
				t.Errorf("server figures %+v, want 30 paired", r.Server)
			}
			imeis, _ := fleet.IMEIs(cfg.IMEIBase, cfg.Devices)
			for _, imei := range imeis {
				var d struct {
					OwnerUID string `json:"ownerUid"`
				}
				n.API(t, "GET", "/v1/admin/devices/"+imei, nil, &d)
				if d.OwnerUID == "" {
					t.Errorf("device %s is not bound", imei)
				}
			}
		})
	}
}

// TestPairUnderStorm binds a few devices idle, then as many while other
// devices register, one source per device on shared sockets as
// BENCHMARKS.md's runs do, and checks that every bind succeeded, that the
// storm ran alongside the binds and that its devices came online.
func TestPairUnderStorm(t *testing.T) {
	testkit.Long(t, "a fleet against a node")
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) {
		// Every activation followed over an event stream of its own, as
		// tools/bench/with-server.sh lets them.
		c.RateLimitPerUser, c.RateLimitPerAddr, c.MaxStreamsPerUser = 0, 0, 20
	})
	cfg := fleet.DefaultConfig()
	cfg.CoAPAddr, cfg.HTTPURL, cfg.Token, cfg.Concurrency = n.CoAPAddr(), "http://"+n.HTTPAddr(), n.Token, 8
	const binds, storm = 20, 200
	cfg.Scenario, cfg.PairOrder, cfg.Devices, cfg.DevicesPerUser = fleet.Pair, fleet.ActivateFirst, binds, 20
	cfg.StormDevices, cfg.IMEIBase, cfg.SharedSockets = storm, "39", 4
	cfg.ActivationTimeout = time.Minute
	r, err := fleet.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fleet.WriteSummary(testLog{t}, r)
	if r.Idle == nil || r.Storm == nil || r.Pairing == nil || r.Idle.Pairing == nil {
		t.Fatalf("idle %v, storm %v, pairing %v: want all three", r.Idle, r.Storm, r.Pairing)
	}
	for _, b := range []fleet.Result{*r.Idle, r} {
		if p := b.Pairing; b.OK != binds || b.Failed() != 0 || p.Registered != binds || p.Paired != binds {
			t.Errorf("%s: %d ok, errors %s, pairing %+v; want %d paired", b.Name, b.OK, fleet.FormatErrors(b.Errors), p, binds)
		}
	}
	// The binds began once the storm had 2 Registers per worker answered;
	// it kept going while they ran.
	if s := r.Storm; s.Failed() != 0 || s.OK <= 2*cfg.Concurrency || s.Throughput() <= 0 || s.Shared != 4 || s.Sources != 2*binds+storm {
		t.Errorf("storm: %d ok, errors %s, %.0f/s from %d sources on %d shared sockets; want more than %d ok from %d sources on 4",
			s.OK, fleet.FormatErrors(s.Errors), s.Throughput(), s.Sources, s.Shared, 2*cfg.Concurrency, 2*binds+storm)
	}
	imeis, _ := fleet.IMEIs(cfg.IMEIBase, 2*binds+storm)
	for _, imei := range imeis[:2*binds] {
		var d struct {
			OwnerUID string `json:"ownerUid"`
		}
		n.API(t, "GET", "/v1/admin/devices/"+imei, nil, &d)
		if d.OwnerUID == "" {
			t.Errorf("device %s is not bound", imei)
		}
	}
	on, err := (&fleet.Admin{URL: cfg.HTTPURL, Token: cfg.Token}).Online(context.Background(), imeis[2*binds:])
	if err != nil || on == 0 || r.Server == nil || r.Server.Registrations < float64(r.Storm.OK+2*binds) {
		t.Errorf("%d storm devices online (%v), server figures %+v; want some online and every Register counted", on, err, r.Server)
	}
}

// TestDTLS runs a small fleet's Registers, Updates and De-registers over
// DTLS with the keys of the factory CSV.
func TestDTLS(t *testing.T) {
	_, cfg := node(t)
	cfg.DTLS, cfg.Devices, cfg.IMEIBase, cfg.Duration = true, 10, "36", 200*time.Millisecond
	admin := &fleet.Admin{URL: cfg.HTTPURL, Token: cfg.Token}
	imeis, _ := fleet.IMEIs(cfg.IMEIBase, cfg.Devices)
	for _, tt := range []struct {
		scenario   fleet.Scenario
		wantOnline int
	}{{fleet.Register, 10}, {fleet.Update, 10}, {fleet.Deregister, 0}} {
		t.Run(string(tt.scenario), func(t *testing.T) {
			cfg := cfg
			cfg.Scenario = tt.scenario
			r, err := fleet.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			fleet.WriteSummary(testLog{t}, r)
			if r.Failed() != 0 || r.OK == 0 || tt.scenario != fleet.Update && r.OK != 10 || r.Sockets != 10 {
				t.Errorf("%d ok over %d sockets, errors %s", r.OK, r.Sockets, fleet.FormatErrors(r.Errors))
			}
			testkit.Eventually(t, "the online count", func() bool {
				on, err := admin.Online(context.Background(), imeis)
				return err == nil && on == tt.wantOnline
			})
		})
	}
}

// TestLossyRegister registers through a relay that drops a tenth of the
// datagrams each way: every Register gets through by retransmission (a
// Register fails all 7 tries with a chance of 0.19⁷, about 1 in 100,000).
func TestLossyRegister(t *testing.T) {
	testkit.Long(t, "a fleet against a node")
	_, cfg := node(t)
	cfg.Devices, cfg.IMEIBase, cfg.Loss, cfg.Delay, cfg.Seed = 100, "37", 0.1, time.Millisecond, 3
	cfg.Transmission = fleet.Transmission{ACKTimeout: 200 * time.Millisecond, MaxRetransmit: 6}
	r, err := fleet.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fleet.WriteSummary(testLog{t}, r)
	if r.OK != 100 || r.Failed() != 0 || r.Retransmitted == 0 {
		t.Errorf("%d ok, %d retransmissions, errors %s; want 100 ok, some retransmissions", r.OK, r.Retransmitted, fleet.FormatErrors(r.Errors))
	}
}

// TestSweep grows a small fleet in two steps, one source per device on
// shared sockets as BENCHMARKS.md's sweeps do, and checks the CSV.
func TestSweep(t *testing.T) {
	_, cfg := node(t)
	cfg.IMEIBase, cfg.SharedSockets = "38", 4
	var buf bytes.Buffer
	w, err := fleet.NewSweepCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var steps []fleet.SweepStep
	err = fleet.Sweep(context.Background(), cfg, []int{40, 100}, 20, func(s fleet.SweepStep) error {
		steps = append(steps, s)
		return w.Write(s)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Fill.OK != 40 || steps[1].Fill.OK != 60 || steps[1].Sample.OK != 20 || steps[1].Echo.OK != 20 || steps[1].RSS <= 0 {
		t.Fatalf("steps %+v", steps)
	}
	if s := steps[1]; s.Fill.Sources != 100 || s.Echo.Sources != 100 || s.Echo.Shared != 4 || s.Sample.Shared != 4 {
		t.Errorf("fill from %d sources, echo from %d on %d shared sockets, sample on %d; want 100, 100, 4, 4",
			s.Fill.Sources, s.Echo.Sources, s.Echo.Shared, s.Sample.Shared)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(fleet.SweepCSVHeader, ",") || rows[1][0] != "40" || rows[2][0] != "100" {
		t.Errorf("CSV:\n%v", rows)
	}
}
