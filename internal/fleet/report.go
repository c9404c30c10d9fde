package fleet

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes one result for a person: throughput, latency
// percentiles, retransmissions and errors by kind.
func WriteSummary(w io.Writer, r Result) {
	fmt.Fprintf(w, "%s: %d ok, %d failed in %v: %.0f/s\n", r.Name, r.OK, r.Failed(), r.Elapsed.Round(time.Millisecond), r.Throughput())
	fmt.Fprintf(w, "  latency   p50 %v  p90 %v  p99 %v  max %v\n", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	fmt.Fprintf(w, "  CoAP retransmissions: %d   server requests answered: %d\n", r.Retransmitted, r.Downlinks)
	writeSources(w, r)
	fmt.Fprintf(w, "  errors: %s\n", FormatErrors(r.Errors))
	writeOtherError(w, r)
	fmt.Fprintf(w, "  generator CPU %v over %v wall (%.0f%% of one core), %v per request\n",
		r.CPU.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond), 100*r.CPU.Seconds()/max(r.Elapsed.Seconds(), 1e-9),
		r.CPUPerRequest().Round(100*time.Nanosecond))
	if u := r.Setup; u != nil {
		fmt.Fprintf(w, "  before it, %s: %d ok, %d failed, %.0f/s, p50 %v p99 %v; %s rate ×%s of it\n", u.Name, u.OK, u.Failed(),
			u.Throughput(), ms(u.Latency.P50), ms(u.Latency.P99), r.Name, ratio(r.Throughput(), u.Throughput()))
	}
	if u := r.Storm; u != nil {
		fmt.Fprintf(w, "  during it, %s: %d ok, %d failed, %.0f/s, p50 %v p99 %v\n", u.Name, u.OK, u.Failed(),
			u.Throughput(), ms(u.Latency.P50), ms(u.Latency.P99))
	}
	if u := r.Idle; u != nil {
		fmt.Fprintf(w, "  before it without the storm, %s: %d ok, %d failed, p50 %v p99 %v; %s p99 ×%s of it\n", u.Name, u.OK, u.Failed(),
			ms(u.Latency.P50), ms(u.Latency.P99), r.Name, ratio(float64(r.Latency.P99), float64(u.Latency.P99)))
	}
	if p := r.Pairing; p != nil {
		fmt.Fprintf(w, "  pairing (%s): %d users signed up in %v; %d devices registered, %d paired; %d Registers sent again after a timeout\n",
			p.Order, p.Users, p.SignUp.Round(time.Millisecond), p.Registered, p.Paired, p.RegisterRetries)
		if p.LatencyFrom != "" {
			fmt.Fprintf(w, "  latency from %s to the SDK's outcome\n", p.LatencyFrom)
		} else {
			fmt.Fprintf(w, "  latency from the SDK's call to its outcome\n")
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server /metrics: CPU %.2f s (%v per request), resident memory %.1f → %.1f MiB;"+
			" counted %.0f registers, %.0f updates, %.0f de-registers, %.0f paired\n",
			s.CPU, perRequest(s.CPU, r.OK), s.RSSBefore/(1<<20), s.RSS/(1<<20),
			s.Registrations, s.Updates, s.Deregistrations, s.Paired)
	}
}

// writeSources writes where the requests came from.
func writeSources(w io.Writer, r Result) {
	if r.Sources == 0 { // DTLS: a session and socket per device
		fmt.Fprintf(w, "  sources: one per device (%d sockets)\n", r.Sockets)
		return
	}
	if r.Shared > 0 {
		fmt.Fprintf(w, "  sources: %d (device i sends from source i mod %d) on %d shared sockets, each datagram from its source's IP",
			r.Sources, r.Sources, r.Shared)
	} else {
		fmt.Fprintf(w, "  sources: %d (device i sends from source i mod %d); sockets opened %d, at most %d open at once",
			r.Sources, r.Sources, r.Sockets, r.PeakOpen)
	}
	if r.Skipped > 0 || r.Moved > 0 {
		fmt.Fprintf(w, "; %d addresses skipped (held by another socket), %d sources moved (message IDs used up)", r.Skipped, r.Moved)
	}
	fmt.Fprintln(w)
}

// perRequest is seconds of processor time spread over n requests.
func perRequest(seconds float64, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(seconds / float64(n) * float64(time.Second)).Round(100 * time.Nanosecond)
}

// WriteTable writes results side by side, each with its throughput and
// median latency as a ratio to the reference row's: the UDP echo's when
// there is one, else the first.
func WriteTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	ref := rs[reference(rs)]
	fmt.Fprintf(tw, "run\tok\tfailed\tretrans\trate/s\t×rate\tp50\tp90\tp99\tmax\t×p50\tgen cpu/req\t\n")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%v\t%v\t%v\t%v\t%s\t%v\t\n", r.Name, r.OK, r.Failed(), r.Retransmitted,
			r.Throughput(), ratio(r.Throughput(), ref.Throughput()),
			ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max),
			ratio(float64(r.Latency.P50), float64(ref.Latency.P50)), r.CPUPerRequest().Round(100*time.Nanosecond))
	}
	tw.Flush()
	fmt.Fprintf(w, "ratios (×) are to %s, measured in the same run\n", ref.Name)
	for _, r := range rs {
		if r.Failed() > 0 {
			fmt.Fprintf(w, "errors of %s: %s\n", r.Name, FormatErrors(r.Errors))
			writeOtherError(w, r)
		}
	}
}

// reference is the row ratios are taken to: the UDP echo's, else the
// first.
func reference(rs []Result) int {
	for i, r := range rs {
		if strings.HasPrefix(r.Name, string(UDPEcho)) {
			return i
		}
	}
	return 0
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", a/b)
}

// ms rounds a latency for reading: µs below a millisecond, else 0.01 ms.
func ms(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// WriteMedians writes, for each run of the rounds (the same runs in the
// same order every round), the median of its throughput, latencies and
// generator CPU per request, and the median of its ratios to the
// reference run (see WriteTable) of the same round.
func WriteMedians(w io.Writer, rounds [][]Result) {
	if len(rounds) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\trounds\trate/s\t×rate\tp50\tp99\t×p99\tgen cpu/req\tfailed\t")
	for j := range rounds[0] {
		var rate, rateRatio, p50, p99, p99Ratio, cpu, failed []float64
		for _, rs := range rounds {
			if j >= len(rs) {
				continue
			}
			r, first := rs[j], rs[reference(rs)]
			rate = append(rate, r.Throughput())
			rateRatio = append(rateRatio, r.Throughput()/first.Throughput())
			p50 = append(p50, float64(r.Latency.P50))
			p99 = append(p99, float64(r.Latency.P99))
			p99Ratio = append(p99Ratio, float64(r.Latency.P99)/float64(first.Latency.P99))
			cpu = append(cpu, float64(r.CPUPerRequest()))
			failed = append(failed, float64(r.Failed()))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.3f\t%v\t%v\t%.2f\t%v\t%.0f\t\n", rounds[0][j].Name, len(rate),
			median(rate), median(rateRatio), ms(time.Duration(median(p50))), ms(time.Duration(median(p99))), median(p99Ratio),
			time.Duration(median(cpu)).Round(100*time.Nanosecond), median(failed))
	}
	tw.Flush()
	fmt.Fprintf(w, "ratios (×) are to %s of the same round\n", rounds[0][reference(rounds[0])].Name)
}

// median is the middle value (the mean of the two middle ones for an even
// count), 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// writeOtherError writes r's sample failure of kind "other", if any.
func writeOtherError(w io.Writer, r Result) {
	if r.OtherError != "" {
		fmt.Fprintf(w, "  one of kind other: %s\n", r.OtherError)
	}
}
