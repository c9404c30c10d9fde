package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
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
	err := runFleet(context.Background(), []string{"--baseline", "go-coap,udp-echo", "--devices", "100", "--concurrency", "8", "--sockets", "2"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go-coap register: 100 ok, 0 failed", "udp-echo register: 100 ok, 0 failed", "×rate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
