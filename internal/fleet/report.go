package fleet

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteSummary writes one result for a person: throughput, latency
// percentiles, retransmissions and errors by kind.
func WriteSummary(w io.Writer, r Result) {
	fmt.Fprintf(w, "%s: %d ok, %d failed in %v: %.0f/s\n", r.Name, r.OK, r.Failed(), r.Elapsed.Round(time.Millisecond), r.Throughput())
	fmt.Fprintf(w, "  latency   p50 %v  p90 %v  p99 %v  max %v\n", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	fmt.Fprintf(w, "  answered after a retransmission: %d\n", r.Retransmitted)
	fmt.Fprintf(w, "  errors: %s\n", FormatErrors(r.Errors))
}

// WriteTable writes results side by side, each with its throughput and
// median latency as a ratio to the first row's.
func WriteTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tok\tfailed\tretrans\trate/s\t×rate\tp50\tp90\tp99\tmax\t×p50\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%v\t%v\t%v\t%v\t%s\t\n", r.Name, r.OK, r.Failed(), r.Retransmitted,
			r.Throughput(), ratio(r.Throughput(), rs[0].Throughput()),
			ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max),
			ratio(float64(r.Latency.P50), float64(rs[0].Latency.P50)))
	}
	tw.Flush()
	for _, r := range rs {
		if r.Failed() > 0 {
			fmt.Fprintf(w, "errors of %s: %s\n", r.Name, FormatErrors(r.Errors))
		}
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// ms rounds a latency for reading: µs below a millisecond, else 0.01 ms.
func ms(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}
