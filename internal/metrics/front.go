package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// FrontStats are the counters of the CoAP/UDP device front, read at each
// scrape.
type FrontStats struct {
	Datagrams        uint64 // datagrams read
	DroppedQueueFull uint64 // dropped because every worker was busy and the queue full
	DroppedMalformed uint64 // dropped because they did not decode
	DroppedPending   uint64 // duplicates dropped because the first copy was still being handled
	Duplicates       uint64 // retransmitted requests answered from the duplicate cache
	DedupEvictions   uint64 // cache entries evicted early to stay under the cap
	DedupBytes       int64  // accounted size of the duplicate cache
	InFlight         int64  // downlink exchanges in flight
	Retransmissions  uint64 // downlink retransmissions
}

// ReportFront sets how the front's counters are read; until it is set,
// they are not reported.
func (m *Metrics) ReportFront(read func() FrontStats) {
	m.front.mu.Lock()
	m.front.read = read
	m.front.mu.Unlock()
}

// frontCollector reports FrontStats.
type frontCollector struct {
	datagrams, dropped, duplicates, evictions, bytes, inFlight, retrans *prometheus.Desc

	mu   sync.Mutex
	read func() FrontStats // guarded by mu
}

func newFrontCollector() *frontCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &frontCollector{
		datagrams:  desc("nbpair_coap_datagrams_total", "Datagrams read from the CoAP/UDP socket."),
		dropped:    desc("nbpair_coap_dropped_total", "Datagrams dropped, by reason: queue_full (every worker busy; the device retransmits), malformed, or in_progress (a retransmission that came while the first copy was still being handled).", "reason"),
		duplicates: desc("nbpair_coap_duplicates_total", "Retransmitted requests answered from the duplicate cache, not processed again."),
		evictions:  desc("nbpair_coap_dedup_evictions_total", "Duplicate-cache entries evicted before their exchange lifetime to stay under the memory cap."),
		bytes:      desc("nbpair_coap_dedup_bytes", "Accounted size of the duplicate cache."),
		inFlight:   desc("nbpair_coap_downlinks_in_flight", "Downlink exchanges (confirmable requests to devices) in flight on CoAP/UDP."),
		retrans:    desc("nbpair_coap_downlink_retransmissions_total", "Retransmissions of downlinks on CoAP/UDP."),
	}
}

func (c *frontCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.datagrams, c.dropped, c.duplicates, c.evictions, c.bytes, c.inFlight, c.retrans} {
		ch <- d
	}
}

func (c *frontCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	read := c.read
	c.mu.Unlock()
	if read == nil {
		return
	}
	st := read()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.datagrams, st.Datagrams)
	counter(c.dropped, st.DroppedQueueFull, "queue_full")
	counter(c.dropped, st.DroppedMalformed, "malformed")
	counter(c.dropped, st.DroppedPending, "in_progress")
	counter(c.duplicates, st.Duplicates)
	counter(c.evictions, st.DedupEvictions)
	counter(c.retrans, st.Retransmissions)
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.DedupBytes))
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(st.InFlight))
}
