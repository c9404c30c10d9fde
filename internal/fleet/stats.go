package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/activator"
)

// Latency summarises the latencies of the answered requests.
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Result is what one run measured.
type Result struct {
	// Name says what ran: "nbpair register", "go-coap register", "udp-echo".
	Name string
	// OK counts the requests answered with the expected code.
	OK int
	// Elapsed is the wall time of the measured part of the run.
	Elapsed time.Duration
	// Latency is over the OK requests.
	Latency Latency
	// Retransmitted counts the CoAP retransmissions the generator sent
	// (each request may have up to Transmission.MaxRetransmit).
	Retransmitted int
	// CPU is the processor time (user and system) the generator's process
	// used during the measured part. For a baseline the bare server runs
	// in the same process, so its share is in CPU too.
	CPU time.Duration
	// Sources is the number of source addresses the devices sent from
	// (device i from source i mod Sources); Sockets the sockets the
	// generator opened during the measured part, PeakOpen the most it had
	// open at once. Skipped counts the addresses passed over because some
	// other socket held them, Moved the sources that moved to a fresh
	// address once their 65,536 message IDs were used.
	Sources, Sockets, PeakOpen, Skipped, Moved int
	// Shared is the number of shared sockets all sources sent from (each
	// datagram from its source's IP), 0 when each source had its own.
	Shared int
	// Downlinks counts the server's requests the simulated devices
	// answered (the Writes to their Pairing object).
	Downlinks int
	// Server holds the server's own figures from its /metrics, for runs
	// against nbpair.
	Server *ServerFigures
	// Pairing holds the figures of a Pair run.
	Pairing *PairFigures
	// Setup is the Register storm of new devices that came before the
	// measured Updates or De-registers, measured too.
	Setup *Result
	// Idle and Storm are what a Pair run with a storm adds: the same
	// number of binds measured without the storm, before it, and the
	// storm's Registers that ran while the measured binds did.
	Idle, Storm *Result
	// Errors counts the failed requests by kind: "timeout", a CoAP code
	// such as "4.04 NotFound" or "5.00 InternalServerError", or "other".
	Errors map[string]int
	// OtherError is the message of one failure of kind "other", which
	// its kind does not explain: the first that the first worker with
	// such a failure saw, not necessarily the first in time.
	OtherError string
}

// Failed is the number of failed requests.
func (r Result) Failed() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Throughput is the OK requests per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method, zero for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarise sorts lat in place and returns its percentiles.
func summarise(lat []time.Duration) Latency {
	slices.Sort(lat)
	l := Latency{P50: Percentile(lat, 50), P90: Percentile(lat, 90), P99: Percentile(lat, 99)}
	if len(lat) > 0 {
		l.Max = lat[len(lat)-1]
	}
	return l
}

// CPUPerRequest is the generator's processor time per OK request.
func (r Result) CPUPerRequest() time.Duration {
	if r.OK == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.OK)
}

// recorder collects the samples of one run. Each worker writes to its own
// shard, so recording takes no lock; done is read by the progress line.
type recorder struct {
	done   atomic.Int64
	shards []shard
}

// shard is one worker's samples; only that worker touches it.
type shard struct {
	lat     []time.Duration
	retrans int
	errs    map[string]int
	other   string // the first failure of kind "other"
}

func newRecorder(workers int) *recorder {
	r := &recorder{shards: make([]shard, workers)}
	for i := range r.shards {
		r.shards[i].errs = map[string]int{}
	}
	return r
}

// record notes one request of worker w that took d and was retransmitted
// retrans times; err is nil when it was answered as expected.
func (r *recorder) record(w int, d time.Duration, retrans int, err error) {
	s := &r.shards[w]
	s.retrans += retrans
	if err != nil {
		kind := errorKind(err)
		s.errs[kind]++
		if kind == "other" && s.other == "" {
			s.other = err.Error()
		}
	} else {
		s.lat = append(s.lat, d)
	}
	r.done.Add(1)
}

// result merges the shards; call it after the workers have stopped.
func (r *recorder) result(name string, elapsed time.Duration) Result {
	res := Result{Name: name, Elapsed: elapsed, Errors: map[string]int{}}
	var lat []time.Duration
	for _, s := range r.shards {
		lat = append(lat, s.lat...)
		res.Retransmitted += s.retrans
		if res.OtherError == "" {
			res.OtherError = s.other
		}
		for k, v := range s.errs {
			res.Errors[k] += v
		}
	}
	res.OK = len(lat)
	res.Latency = summarise(lat)
	return res
}

// codeError is a CoAP answer with an unexpected code.
type codeError struct{ code codes.Code }

func (e *codeError) Error() string { return "answered " + codeName(e.code) }

// codeName writes a CoAP code the way RFC 7252 does, with its name.
func codeName(c codes.Code) string {
	return fmt.Sprintf("%d.%02d %v", c>>5, c&31, c)
}

// errorKind names the kind of a failed request for the summary.
func errorKind(err error) string {
	var ce *codeError
	var ae *activator.Error
	switch {
	case errors.As(err, &ae):
		return "activation " + ae.Name
	case errors.As(err, &ce):
		return codeName(ce.code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, errTimeout):
		return "timeout"
	case errors.Is(err, errReset):
		return "reset"
	}
	return "other"
}

// errTimeout is a request that got no answer in time.
var errTimeout = errors.New("no answer in time")
