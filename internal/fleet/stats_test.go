package fleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := map[string]struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		"empty":             {nil, 50, 0},
		"one, p50":          {ms(7), 50, 7 * time.Millisecond},
		"one, p99":          {ms(7), 99, 7 * time.Millisecond},
		"two, p50 is lower": {ms(1, 2), 50, time.Millisecond},
		"two, p51 is upper": {ms(1, 2), 51, 2 * time.Millisecond},
		"four, p50":         {ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		"four, p90":         {ms(1, 2, 3, 4), 90, 4 * time.Millisecond},
		"hundred, p50":      {hundred, 50, 50 * time.Millisecond},
		"hundred, p90":      {hundred, 90, 90 * time.Millisecond},
		"hundred, p99":      {hundred, 99, 99 * time.Millisecond},
		"hundred, p100":     {hundred, 100, 100 * time.Millisecond},
		"hundred, p0.1":     {hundred, 0.1, time.Millisecond},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	rec := newRecorder(2)
	// Worker 0: 1..50 ms; worker 1: 51..99 ms and one of 3 s, answered
	// after one retransmission; a timeout after 4.
	for i := 1; i <= 50; i++ {
		rec.record(0, time.Duration(i)*time.Millisecond, 0, nil)
	}
	for i := 51; i <= 99; i++ {
		rec.record(1, time.Duration(i)*time.Millisecond, 0, nil)
	}
	rec.record(1, 3*time.Second, 1, nil)
	rec.record(0, 0, 0, &codeError{codes.NotFound})
	rec.record(1, 0, 0, &codeError{codes.NotFound})
	rec.record(1, 0, 0, &codeError{codes.InternalServerError})
	rec.record(0, 0, 0, fmt.Errorf("write: %w", context.DeadlineExceeded))
	rec.record(0, 0, 4, errTimeout)
	rec.record(1, 0, 0, fmt.Errorf("connection refused"))

	r := rec.result("test", time.Second)
	want := Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 3 * time.Second}
	if r.Latency != want {
		t.Errorf("latency %+v, want %+v", r.Latency, want)
	}
	if r.OK != 100 || r.Retransmitted != 5 || r.Throughput() != 100 || rec.done.Load() != 106 {
		t.Errorf("ok %d, retransmitted %d, throughput %v, done %d; want 100, 5, 100, 106", r.OK, r.Retransmitted, r.Throughput(), rec.done.Load())
	}
	wantErrs := map[string]int{"4.04 NotFound": 2, "5.00 InternalServerError": 1, "timeout": 2, "other": 1}
	if fmt.Sprint(r.Errors) != fmt.Sprint(wantErrs) || r.Failed() != 6 {
		t.Errorf("errors %v (%d), want %v", r.Errors, r.Failed(), wantErrs)
	}
	if got, want := FormatErrors(r.Errors), "4.04 NotFound ×2, timeout ×2, 5.00 InternalServerError ×1, other ×1"; got != want {
		t.Errorf("FormatErrors = %q, want %q", got, want)
	}
	if r.OtherError != "connection refused" {
		t.Errorf("error of kind other %q, want the connection refused", r.OtherError)
	}
}

func TestIMEIs(t *testing.T) {
	tests := map[string]struct {
		base      string
		n         int
		first     string
		last      string
		wantError bool
	}{
		"short base":          {base: "35", n: 3, first: "350000000000000", last: "350000000000002"},
		"long base":           {base: "3599999999999", n: 100, first: "359999999999900", last: "359999999999999"},
		"base too long":       {base: "3599999999999", n: 101, wantError: true},
		"base of 15 digits":   {base: "359999999999999", n: 1, wantError: true},
		"base with a letter":  {base: "35a", n: 1, wantError: true},
		"empty base, one":     {base: "", n: 1, first: "000000000000000", last: "000000000000000"},
		"one digit left, ten": {base: "35000000000000", n: 10, first: "350000000000000", last: "350000000000009"},
		"one digit left, 11":  {base: "35000000000000", n: 11, wantError: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := IMEIs(tt.base, tt.n)
			if tt.wantError {
				if err == nil {
					t.Fatalf("IMEIs(%q, %d) = %d IMEIs, want an error", tt.base, tt.n, len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n || got[0] != tt.first || got[len(got)-1] != tt.last {
				t.Errorf("IMEIs(%q, %d) = %d from %s to %s, want from %s to %s", tt.base, tt.n, len(got), got[0], got[len(got)-1], tt.first, tt.last)
			}
		})
	}
}
