package dtlsgate

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a datagram is dropped, the label of the drop counter.
const (
	DropUnknownSource = "unknown-source" // not a ClientHello, from no session
	DropUnknownCID    = "unknown-cid"    // a tls12_cid record no session owns
	DropMalformed     = "malformed"      // not a DTLS record
	DropHandshakeCap  = "handshake-cap"  // a valid hello over the handshake cap
	DropQueueFull     = "queue-full"     // a session's inbound queue was full
	DropBadHello      = "bad-hello"      // a hello with a valid cookie that cannot be served
)

var dropReasons = []string{DropUnknownSource, DropUnknownCID, DropMalformed, DropHandshakeCap, DropQueueFull, DropBadHello}

// Stats are the gate's counters since it started.
type Stats struct {
	HelloVerifyRequests int64            // HelloVerifyRequests sent
	HandshakesStarted   int64            // hellos with a valid cookie that got a session
	HandshakesFailed    int64            // of those, handshakes that failed or timed out
	HandshakesCompleted int64            // of those, handshakes that completed
	Handshaking         int64            // handshakes in progress now
	SessionsOpen        int64            // established sessions now
	Dropped             map[string]int64 // datagrams dropped, by reason
}

type counters struct {
	hvr, started, failed, completed, handshaking, open atomic.Int64
	dropped                                            [6]atomic.Int64 // by index in dropReasons
}

func (c *counters) drop(reason string) {
	for i, r := range dropReasons {
		if r == reason {
			c.dropped[i].Add(1)
			return
		}
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		HelloVerifyRequests: c.hvr.Load(), HandshakesStarted: c.started.Load(),
		HandshakesFailed: c.failed.Load(), HandshakesCompleted: c.completed.Load(),
		Handshaking: c.handshaking.Load(), SessionsOpen: c.open.Load(),
		Dropped: make(map[string]int64, len(dropReasons)),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = c.dropped[i].Load()
	}
	return s
}

// register puts the counters on reg as nbpair_dtls_* metrics.
func (c *counters) register(reg prometheus.Registerer) error {
	counter := func(name, help string, v *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	const hs = "nbpair_dtls_handshakes_total"
	const hsHelp = "DTLS handshakes by event: started (a hello with a valid cookie got a session), failed, completed."
	cs := []prometheus.Collector{
		counter("nbpair_dtls_hello_verify_requests_total", "HelloVerifyRequests sent, each computed without keeping state.", &c.hvr, nil),
		counter(hs, hsHelp, &c.started, prometheus.Labels{"event": "started"}),
		counter(hs, hsHelp, &c.failed, prometheus.Labels{"event": "failed"}),
		counter(hs, hsHelp, &c.completed, prometheus.Labels{"event": "completed"}),
		gauge("nbpair_dtls_handshakes_in_progress", "DTLS handshakes in progress.", &c.handshaking),
		gauge("nbpair_dtls_sessions_open", "Established DTLS sessions.", &c.open),
	}
	for i, r := range dropReasons {
		cs = append(cs, counter("nbpair_dtls_datagrams_dropped_total",
			"Datagrams on the DTLS socket dropped unanswered, by reason.", &c.dropped[i], prometheus.Labels{"reason": r}))
	}
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}
