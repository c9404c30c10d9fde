package metrics

import (
	"context"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The series of the admin dashboard, in the order of Minute.Values. Each is
// read from a family of the registry, the same numbers GET /metrics shows:
// Online is the nbpair_devices_online gauge at the end of the minute, the
// others are how much a counter grew in the minute.
const (
	SeriesOnline       = iota // nbpair_devices_online
	SeriesRegisters           // nbpair_registrations_total
	SeriesUpdates             // nbpair_updates_total
	SeriesStarted             // nbpair_http_requests_total{route="POST /v1/activations",status="202"}
	SeriesPaired              // nbpair_activations_total{outcome="paired"}
	SeriesStopped             // nbpair_activations_total{outcome="stopped"}
	SeriesTimeout             // nbpair_activations_total{outcome="timeout"}
	SeriesAlreadyBound        // nbpair_activations_total{outcome="already-bound"}
	SeriesFactoryReset        // nbpair_activations_total{outcome="factory-reset"}
	SeriesPermission          // nbpair_activations_total{outcome="permission"}
	SeriesOtherFailure        // nbpair_activations_total, any other outcome
	SeriesQueued              // nbpair_downlinks_total{event="queued"}
	SeriesDelivered           // nbpair_downlinks_total{event="sent"}
	NumSeries
)

// SeriesNames name the series, by index.
var SeriesNames = [NumSeries]string{
	"online", "registers", "updates", "started", "paired", "stopped",
	"timeout", "already-bound", "factory-reset", "permission", "other-failure",
	"downlinksQueued", "downlinksDelivered",
}

// HistoryMinutes is how many closed minutes History keeps: a day.
const HistoryMinutes = 24 * 60

// Minute is one minute of the dashboard's series. Counts fit in 32 bits:
// a node does not answer four billion Registers a minute.
type Minute struct {
	// Start is the minute's start, in Unix seconds.
	Start  int64
	Values [NumSeries]uint32
}

// History samples the registry every few seconds and keeps the last
// HistoryMinutes closed minutes in a ring of fixed size
// (HistoryBytes), and the minute in progress. Watchers are told after
// every sample.
type History struct {
	reg interface {
		Gather() ([]*dto.MetricFamily, error)
	}
	every time.Duration
	now   func() time.Time

	mu       sync.Mutex
	ring     [HistoryMinutes]Minute     // guarded by mu
	n, head  int                        // guarded by mu: how many are kept, where the next goes
	cur      Minute                     // guarded by mu: the minute in progress
	base     [NumSeries]float64         // guarded by mu: the counters when cur began
	last     [NumSeries]float64         // guarded by mu: the counters at the last sample
	started  bool                       // guarded by mu
	watchers map[chan struct{}]struct{} // guarded by mu
}

// HistoryBytes is the size of the ring of closed minutes: 1,440 minutes of
// 64 bytes each, 92,160 bytes.
const HistoryBytes = HistoryMinutes * minuteBytes

const minuteBytes = 8 + 4*NumSeries + 4 // Start, Values, padding to 8 bytes

// NewHistory returns the history of m's registry, sampled every every.
func (m *Metrics) NewHistory(every time.Duration) *History {
	return &History{reg: m.reg, every: every, now: time.Now, watchers: map[chan struct{}]struct{}{}}
}

// Run samples until ctx ends.
func (h *History) Run(ctx context.Context) error {
	h.Sample()
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.Sample()
		}
	}
}

// Sample reads the registry once: it closes the minute in progress if a
// new one has begun, and brings the one in progress up to date.
func (h *History) Sample() {
	fams, err := h.reg.Gather()
	if err != nil && len(fams) == 0 {
		return
	}
	vals := readSeries(fams)
	minute := h.now().Unix() / 60 * 60
	h.mu.Lock()
	if vals[SeriesOnline] < 0 { // not counted this time: keep the last count
		vals[SeriesOnline] = h.last[SeriesOnline]
	}
	if !h.started {
		h.started, h.base, h.cur.Start = true, vals, minute
	}
	if minute != h.cur.Start {
		h.push(h.cur)
		h.base, h.cur = h.last, Minute{Start: minute}
	}
	h.last = vals
	h.cur.Values = deltas(h.base, vals)
	for w := range h.watchers {
		select {
		case w <- struct{}{}:
		default: // it has not read the last one yet; one is enough
		}
	}
	h.mu.Unlock()
}

func (h *History) push(m Minute) {
	h.ring[h.head] = m
	h.head = (h.head + 1) % HistoryMinutes
	h.n = min(h.n+1, HistoryMinutes)
}

// deltas is what the counters grew by since base; Online is the gauge.
func deltas(base, now [NumSeries]float64) [NumSeries]uint32 {
	var out [NumSeries]uint32
	for i := range now {
		v := now[i]
		if i != SeriesOnline {
			v -= base[i]
		}
		if v > 0 {
			out[i] = uint32(min(v, 1<<32-1))
		}
	}
	return out
}

// Snapshot returns the closed minutes, oldest first, and the minute in
// progress.
func (h *History) Snapshot() ([]Minute, Minute) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Minute, 0, h.n)
	for i := range h.n {
		out = append(out, h.ring[(h.head-h.n+i+HistoryMinutes)%HistoryMinutes])
	}
	return out, h.cur
}

// Latest returns the last closed minute (zero if none) and the minute in
// progress.
func (h *History) Latest() (Minute, Minute) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last Minute
	if h.n > 0 {
		last = h.ring[(h.head-1+HistoryMinutes)%HistoryMinutes]
	}
	return last, h.cur
}

// Watch returns a channel that is sent to after each sample, and a
// function that ends the watch; ok is false, and nothing is watched, when
// max watches are running already.
func (h *History) Watch(max int) (ch <-chan struct{}, stop func(), ok bool) {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.watchers) >= max {
		return nil, nil, false
	}
	h.watchers[c] = struct{}{}
	return c, func() {
		h.mu.Lock()
		delete(h.watchers, c)
		h.mu.Unlock()
	}, true
}

// outcomeSeries maps an activation outcome to its series.
var outcomeSeries = map[string]int{
	"paired": SeriesPaired, "stopped": SeriesStopped, "timeout": SeriesTimeout,
	"already-bound": SeriesAlreadyBound, "factory-reset": SeriesFactoryReset, "permission": SeriesPermission,
}

// readSeries picks the dashboard's series out of the registry's families.
func readSeries(fams []*dto.MetricFamily) [NumSeries]float64 {
	var v [NumSeries]float64
	v[SeriesOnline] = -1 // absent
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "nbpair_devices_online":
				v[SeriesOnline] = m.GetGauge().GetValue()
			case "nbpair_registrations_total":
				v[SeriesRegisters] = m.GetCounter().GetValue()
			case "nbpair_updates_total":
				v[SeriesUpdates] = m.GetCounter().GetValue()
			case "nbpair_http_requests_total":
				if label(m, "route") == "POST /v1/activations" && label(m, "status") == "202" {
					v[SeriesStarted] += m.GetCounter().GetValue()
				}
			case "nbpair_activations_total":
				i, ok := outcomeSeries[label(m, "outcome")]
				if !ok {
					i = SeriesOtherFailure
				}
				v[i] += m.GetCounter().GetValue()
			case "nbpair_downlinks_total":
				switch label(m, "event") {
				case "queued":
					v[SeriesQueued] += m.GetCounter().GetValue()
				case "sent":
					v[SeriesDelivered] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return v
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
