// Package metrics holds nbpair's Prometheus collectors on a registry of its
// own (not the global one) and serves them in the text exposition format.
// The pairing service and the HTTP API record into it through small
// interfaces they declare themselves.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the registry and the collectors of one nbpair node. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	registrations      prometheus.Counter
	updates            prometheus.Counter
	deregistrations    prometheus.Counter
	expiries           prometheus.Counter
	activations        *prometheus.CounterVec
	activationDuration prometheus.Histogram
	httpRequests       *prometheus.CounterVec
	downlinks          *prometheus.CounterVec
	webhookDeliveries  *prometheus.CounterVec
	online             *onlineCollector
	front              *frontCollector
	history            *History
}

// DashboardEvery is how often the dashboard's history reads the registry.
const DashboardEvery = 5 * time.Second

// New returns the collectors registered on a new registry, together with
// the Go runtime and process collectors.
func New() *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		reg:             prometheus.NewRegistry(),
		registrations:   counter("nbpair_registrations_total", "LwM2M Registers accepted."),
		updates:         counter("nbpair_updates_total", "LwM2M Updates accepted."),
		deregistrations: counter("nbpair_deregistrations_total", "LwM2M De-registers accepted."),
		expiries:        counter("nbpair_expiries_total", "Registrations removed because their lifetime ran out."),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nbpair_activations_total",
			Help: "Activations ended, by outcome: paired, stopped, or the reason of the failure (timeout, already-bound, ...).",
		}, []string{"outcome"}),
		activationDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "nbpair_activation_duration_seconds",
			Help:    "Time from the start of an activation to its end, whatever the outcome.",
			Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nbpair_http_requests_total",
			Help: "HTTP API requests, by route (the route pattern, empty for none) and status.",
		}, []string{"route", "status"}),
		downlinks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nbpair_downlinks_total",
			Help: "Downlinks (Pairing object writes) by what happened: queued, sent, failed (an attempt that got no answer; it stays queued), retried (an attempt after failed ones), superseded (cancelled by an uplink from a new address and sent there), format-refused (the device refused a content format; the next was tried) or dropped (given up for good: 4.04, 4.05, every format refused, or too many attempts without an answer). On a cluster a node counts what it queued and what it sent, which need not be the same downlinks.",
		}, []string{"event"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nbpair_webhook_deliveries_total",
			Help: "Webhook events by what happened to them: delivered (a 2xx answer), retry (an attempt that failed; tried again later) or expired (given up past the outbox's maximum age, after a last attempt or unsent by the retention).",
		}, []string{"outcome"}),
		online: &onlineCollector{desc: prometheus.NewDesc("nbpair_devices_online",
			"Devices with a live registration, read from the store (so the same on every node of a cluster) at most every 10 s.", nil, nil)},
		front: newFrontCollector(),
	}
	m.reg.MustRegister(m.registrations, m.updates, m.deregistrations, m.expiries,
		m.activations, m.activationDuration, m.httpRequests, m.downlinks, m.webhookDeliveries, m.online, m.front,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.history = m.NewHistory(DashboardEvery)
	return m
}

// History is the dashboard's history of the registry; it is sampled while
// its Run runs.
func (m *Metrics) History() *History { return m.history }

// Registry is the registry the collectors are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registered counts an accepted Register.
func (m *Metrics) Registered() { m.registrations.Inc() }

// Updated counts an accepted Update.
func (m *Metrics) Updated() { m.updates.Inc() }

// Deregistered counts an accepted De-register.
func (m *Metrics) Deregistered() { m.deregistrations.Inc() }

// Expired counts a registration removed at the end of its lifetime.
func (m *Metrics) Expired() { m.expiries.Inc() }

// ActivationEnded counts an activation that ended with outcome after took.
func (m *Metrics) ActivationEnded(outcome string, took time.Duration) {
	m.activations.WithLabelValues(outcome).Inc()
	m.activationDuration.Observe(took.Seconds())
}

// HTTPRequest counts a request answered with status on route, a ServeMux
// pattern such as "GET /v1/activations/{id}" (never the raw path, which
// would make a series per ID).
func (m *Metrics) HTTPRequest(route string, status int) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// Downlink counts what happened to a downlink (see pairing.Metrics).
func (m *Metrics) Downlink(what string) { m.downlinks.WithLabelValues(what).Inc() }

// WebhookDeliveries counts n webhook events with outcome (see
// webhooks.Config.Count).
func (m *Metrics) WebhookDeliveries(outcome string, n int) {
	m.webhookDeliveries.WithLabelValues(outcome).Add(float64(n))
}

// CountOnline sets how nbpair_devices_online is counted; until it is set,
// the gauge is not reported.
func (m *Metrics) CountOnline(count func(ctx context.Context) (int, error)) {
	m.online.mu.Lock()
	m.online.count = count
	m.online.mu.Unlock()
}

// onlineCollector reports the count of online devices, counted at a scrape
// but at most every onlineMaxAge, so that frequent scrapes of several
// nodes do not each count a large table.
type onlineCollector struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	count func(ctx context.Context) (int, error) // guarded by mu
	value float64                                // guarded by mu
	at    time.Time                              // guarded by mu
}

const onlineMaxAge = 10 * time.Second

func (c *onlineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *onlineCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.count == nil {
		return
	}
	if time.Since(c.at) > onlineMaxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		n, err := c.count(ctx)
		cancel()
		if err != nil {
			return // a gap in the series rather than a wrong value
		}
		c.value, c.at = float64(n), time.Now()
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, c.value)
}
