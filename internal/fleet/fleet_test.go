package fleet_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/fleet"
)

// TestScenarios runs the three scenarios against a real node and checks
// with the admin API that the fleet came online and went offline again.
func TestScenarios(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs)
	tok, err := os.ReadFile(filepath.Join(n.Dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	const devices = 200
	cfg := fleet.DefaultConfig()
	cfg.CoAPAddr, cfg.HTTPURL, cfg.Token = n.CoAPAddr(), "http://"+n.HTTPAddr(), strings.TrimSpace(string(tok))
	cfg.Devices, cfg.Concurrency, cfg.Sockets, cfg.IMEIBase = devices, 16, 4, "35"
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
			apptest.WaitFor(t, "the fleet's online count", 10*time.Second, func() bool { return online() == tt.wantOnline })
		})
	}
}

// TestBaselines runs both baselines and checks they measured something.
func TestBaselines(t *testing.T) {
	cfg := fleet.DefaultConfig()
	cfg.Devices, cfg.Concurrency, cfg.Sockets = 200, 16, 4
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
